"""Scene files: a scene and its actual weights as ``NAME.json`` + ``NAME.npz``. Never pickle.

The JSON is a plain scene (``Scene.to_dict``: network config, view, loop, latent path, phase), so
any reader of scenes takes it, plus one ``weights`` entry that describes the ``.npz`` beside it::

    "weights": {
      "file": "NAME.npz",                 # relative to the JSON
      "inputs": ["x", "y", "r"], "z_dim": 8, "scale": 2.0,
      "activations": ["tanh", "tanh", "sigmoid"],      # one per layer
      "shapes": [[32, 11], [32, 32], [3, 32]],         # weight (out, in) per layer
      "sha256": "..."                                  # of the .npz bytes
    }

The ``.npz`` holds float32 arrays ``layer0.weight`` (out, in), ``layer0.bias`` (out,), ... and
nothing else. Weights are stored rather than re-drawn from the seed so fitted or morphed networks
survive. Loading trusts nothing: ``np.load(allow_pickle=False)``, the hash, every key, shape,
dtype, finiteness and activation name are checked, and any failure is one CPPNError line.
A PNG this tool wrote is also a scene (config only, no weights).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import activations
from .errors import CPPNError
from .scene import Scene
from .spec import INPUTS, MAX_Z, Layer, NetworkSpec

MAX_UNITS = 4096  # far above any real-time width; bounds what a hostile file can allocate


@dataclass(frozen=True)
class SceneFile:
    scene: Scene
    spec: NetworkSpec | None  # the stored weights, or None when the file names a config only


def save(path: str | Path, scene: Scene, spec: NetworkSpec | None = None) -> Path:
    """Write ``path`` (.json) and, with ``spec``, its weights beside it as .npz.

    Both files are written to temporary names and moved into place, the weights first, so a
    failure leaves any earlier version of the scene whole.
    """
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise CPPNError(f"a scene file ends in .json, not {path.name!r}")
    doc = scene.to_dict()
    if spec is not None:
        blob = _npz_bytes(spec)
        npz = path.with_suffix(".npz")
        doc["weights"] = {
            "file": npz.name,
            "inputs": list(spec.inputs),
            "z_dim": spec.z_dim,
            "scale": float(spec.scale),
            "activations": [layer.activation for layer in spec.layers],
            "shapes": [list(layer.weight.shape) for layer in spec.layers],
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
        atomic_write(npz, blob)
    atomic_write(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return path


def _npz_bytes(spec: NetworkSpec) -> bytes:
    arrays = {}
    for i, layer in enumerate(spec.layers):
        arrays[f"layer{i}.weight"] = np.ascontiguousarray(layer.weight, dtype=np.float32)
        arrays[f"layer{i}.bias"] = np.ascontiguousarray(layer.bias, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file beside ``path`` and move it into place: a failure leaves
    any earlier file whole (scene files, weights, banks)."""
    parent = path.absolute().parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=parent)
    except OSError as exc:
        raise CPPNError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CPPNError(f"cannot write {path}: {exc.strerror or exc}") from None


def load(path: str | Path) -> SceneFile:
    """A scene file (.json, with or without weights) or a PNG this tool wrote."""
    path = Path(path)
    if not path.is_file():
        raise CPPNError(f"no such scene file: {path}")
    if path.suffix.lower() == ".png":
        from .images import read_scene

        return SceneFile(read_scene(path), None)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CPPNError(f"cannot read scene {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CPPNError(f"scene {path} is not valid JSON: {exc}") from None
    scene = Scene.from_dict(doc)
    meta = doc.get("weights")
    if meta is None:
        return SceneFile(scene, None)
    return SceneFile(scene, _load_weights(path, meta))


def _load_weights(path: Path, meta: object) -> NetworkSpec:
    where = f"scene {path.name}"
    if not isinstance(meta, dict):
        raise CPPNError(f"{where}: 'weights' must be an object")
    try:
        name = str(meta["file"])
        inputs = tuple(str(i) for i in meta["inputs"])
        z_dim = int(meta["z_dim"])
        scale = float(meta["scale"])
        acts = [str(a) for a in meta["activations"]]
        shapes = [tuple(int(n) for n in s) for s in meta["shapes"]]
        digest = str(meta["sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CPPNError(f"{where}: malformed 'weights' entry ({exc!r})") from None
    # The weights live beside the JSON: a name with a folder in it could read any file.
    if Path(name).name != name or not name.endswith(".npz"):
        raise CPPNError(f"{where}: weights file must be a .npz beside it, got {name!r}")
    if any(i not in INPUTS for i in inputs) or not 0 <= z_dim <= MAX_Z:
        raise CPPNError(f"{where}: bad inputs {inputs!r} or z size {z_dim}")
    if not shapes or len(acts) != len(shapes):
        raise CPPNError(f"{where}: {len(acts)} activations for {len(shapes)} layers")
    for a in acts:
        activations.get(a)
    for s in shapes:
        if len(s) != 2 or not all(1 <= n <= MAX_UNITS for n in s):
            raise CPPNError(f"{where}: layer shape {s} out of bounds (1..{MAX_UNITS})")
    npz = path.with_name(name)
    try:
        blob = npz.read_bytes()
    except OSError as exc:
        raise CPPNError(f"{where}: cannot read its weights {npz.name}: "
                        f"{exc.strerror or exc}") from None
    if hashlib.sha256(blob).hexdigest() != digest:
        raise CPPNError(f"{where}: weights {npz.name} do not match the scene (changed or corrupt)")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CPPNError(f"{where}: cannot read weights {npz.name}: {exc}") from None
    expected = {f"layer{i}.{p}" for i in range(len(shapes)) for p in ("weight", "bias")}
    if set(arrays) != expected:
        raise CPPNError(f"{where}: weights {npz.name} hold {sorted(arrays)}, "
                        f"expected {sorted(expected)}")
    layers = []
    for i, (shape, act) in enumerate(zip(shapes, acts)):
        w, b = arrays[f"layer{i}.weight"], arrays[f"layer{i}.bias"]
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise CPPNError(f"{where}: layer {i} weights are {w.dtype}, not floats")
        if w.shape != shape or b.shape != (shape[0],):
            raise CPPNError(f"{where}: layer {i} is {w.shape} / {b.shape}, the scene says {shape}")
        layers.append(Layer(w.astype(np.float32), b.astype(np.float32), act))
    # NetworkSpec checks what is left: fan-in chaining, finiteness, output channels, scale.
    return NetworkSpec(inputs=inputs, z_dim=z_dim, layers=tuple(layers), scale=scale)


def network(sf: SceneFile, scene: Scene | None = None) -> NetworkSpec:
    """The network to render: the stored weights when ``scene`` (default: the file's) still has
    the file's network config, otherwise the config's seeded weights (needs torch)."""
    scene = scene or sf.scene
    if sf.spec is not None and scene.network == sf.scene.network:
        return sf.spec
    from .build import scene_network

    try:
        return scene_network(scene)
    except CPPNError as exc:
        if sf.spec is None:
            raise
        # Stored weights (fitted, morphed) need not come from a config a flag can change.
        raise CPPNError(f"this scene's network is stored weights; network options cannot "
                        f"change it ({exc})") from None
