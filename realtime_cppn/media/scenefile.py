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
survive. Loading trusts nothing: the declared architecture is checked against the model's
limits first, then the hash, then each array's .npy header (shape, float dtype: never a pickle)
before its data is inflated, then finiteness; any failure is one CPPNError line, and no file can
make it read or allocate more than the declared network needs.
A PNG this tool wrote is also a scene (config only, no weights).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from ..core import activations
from ..core.errors import CPPNError
from ..core.safeio import check_name, open_regular, read_limited, write_atomic
from ..core.scene import Scene, parse_json
from ..core.spec import INPUTS, MAX_Z, Layer, NetworkSpec
from ..show.actions import DEPTH_RANGE, WIDTH_RANGE
from .images import PNG_MAGIC, read_scene

MAX_SCENE_BYTES = 1 << 20  # a scene is a few kilobytes of JSON
NPY_OVERHEAD = 4096  # bytes per .npz member beyond its data: zip entry and .npy header


@dataclass(frozen=True)
class SceneFile:
    scene: Scene
    spec: NetworkSpec | None  # the stored weights, or None when the file names a config only


def save(path: str | Path, scene: Scene, spec: NetworkSpec | None = None) -> Path:
    """Write ``path`` (.json) and, with ``spec``, its weights beside it as .npz.

    Both files are written to temporary names and moved into place, the weights first, so a
    failure leaves any earlier version of the scene whole.
    """
    path = check_output(path)
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
        write_atomic(npz, blob)
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def check_output(path: str | Path, flag: str = "scene file") -> Path:
    """A path a scene file may be written to: a .json name within the OS limits."""
    path = check_name(path)
    if path.suffix.lower() != ".json":
        raise CPPNError(f"a {flag} ends in .json, not {path.name!r}")
    return path


def _npz_bytes(spec: NetworkSpec) -> bytes:
    arrays = {}
    for i, layer in enumerate(spec.layers):
        arrays[f"layer{i}.weight"] = np.ascontiguousarray(layer.weight, dtype=np.float32)
        arrays[f"layer{i}.bias"] = np.ascontiguousarray(layer.bias, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load(path: str | Path) -> SceneFile:
    """A scene file (.json, with or without weights) or a PNG this tool wrote."""
    path = Path(path)
    with open_regular(path, "scene file") as f:
        head = f.read(64)
    if head.startswith(PNG_MAGIC):
        return SceneFile(read_scene(path), None)
    if not head.lstrip()[:1] == b"{":
        raise CPPNError(f"{path} is not a scene file (a .json scene or a PNG this tool wrote)")
    data = read_limited(path, MAX_SCENE_BYTES, "scene file")
    doc = parse_json(data, f"scene {path}")
    scene = Scene.from_dict(doc)
    meta = doc.get("weights")
    if meta is None:
        return SceneFile(scene, None)
    return SceneFile(scene, _load_weights(path, meta))


def _weights_meta(meta: object, where: str) -> tuple:
    """The 'weights' entry's fields, typed: (file, inputs, z_dim, scale, acts, shapes, sha256)."""
    if not isinstance(meta, dict):
        raise CPPNError(f"{where}: 'weights' must be an object")
    try:
        name = meta["file"]
        inputs = tuple(meta["inputs"])
        z_dim = meta["z_dim"]
        scale = meta["scale"]
        acts = list(meta["activations"])
        shapes = [tuple(s) for s in meta["shapes"]]
        digest = meta["sha256"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CPPNError(f"{where}: malformed 'weights' entry ({exc!r})") from None
    texts = [name, digest, *inputs, *acts]
    numbers = [z_dim, *(n for s in shapes for n in s)]
    if (not all(isinstance(t, str) for t in texts)
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
            or isinstance(scale, bool) or not isinstance(scale, (int, float))):
        raise CPPNError(f"{where}: malformed 'weights' entry (names must be text, sizes "
                        f"integers, the scale a number)")
    return name, inputs, z_dim, float(scale), acts, shapes, digest


def _check_architecture(inputs: tuple, z_dim: int, acts: list, shapes: list, where: str) -> None:
    """The declared architecture within the model's limits and chained layer to layer, checked
    before a byte of the weights is read: it bounds what they may hold."""
    max_units = max(WIDTH_RANGE[1], len(INPUTS) + MAX_Z)
    if any(i not in INPUTS for i in inputs) or not 0 <= z_dim <= MAX_Z:
        raise CPPNError(f"{where}: bad inputs {inputs!r} or z size {z_dim}")
    if not shapes or len(acts) != len(shapes):
        raise CPPNError(f"{where}: {len(acts)} activations for {len(shapes)} layers")
    if len(shapes) > DEPTH_RANGE[1] + 1:
        raise CPPNError(f"{where}: {len(shapes)} layers; a network has at most "
                        f"{DEPTH_RANGE[1]} hidden layers")
    for a in acts:
        activations.get(a)
    fan_in = len(inputs) + z_dim
    for i, s in enumerate(shapes):
        if len(s) != 2 or not all(1 <= n <= max_units for n in s):
            raise CPPNError(f"{where}: layer shape {list(s)} out of bounds (1..{WIDTH_RANGE[1]} "
                            f"units)")
        if s[1] != fan_in:
            raise CPPNError(f"{where}: layer {i} takes {s[1]} inputs, the layer before gives "
                            f"{fan_in}")
        fan_in = s[0]


def _load_weights(path: Path, meta: object) -> NetworkSpec:
    where = f"scene {path.name}"
    name, inputs, z_dim, scale, acts, shapes, digest = _weights_meta(meta, where)
    # The weights live beside the JSON: a name with a folder in it could read any file.
    if Path(name).name != name or not name.endswith(".npz"):
        raise CPPNError(f"{where}: weights file must be a .npz beside it, got {name!r}")
    _check_architecture(inputs, z_dim, acts, shapes, where)
    expected = {}
    for i, (out, fan_in) in enumerate(shapes):
        expected[f"layer{i}.weight"] = (out, fan_in)
        expected[f"layer{i}.bias"] = (out,)
    npz = path.with_name(name)
    limit = sum(8 * math.prod(s) + NPY_OVERHEAD for s in expected.values()) + NPY_OVERHEAD
    blob = read_limited(npz, limit, f"weights file for {where}")
    if hashlib.sha256(blob).hexdigest() != digest:
        raise CPPNError(f"{where}: weights {npz.name} do not match the scene (changed or corrupt)")
    arrays = read_npz(blob, expected, f"{where}: weights {npz.name}")
    layers = tuple(Layer(arrays[f"layer{i}.weight"], arrays[f"layer{i}.bias"], act)
                   for i, act in enumerate(acts))
    # NetworkSpec checks what is left: finiteness, output channels, scale.
    return NetworkSpec(inputs=inputs, z_dim=z_dim, layers=layers, scale=scale)


def read_npz(blob: bytes, expected: dict[str, tuple[int, ...]], where: str) -> dict:
    """The float arrays of an .npz, as float32, when it holds exactly the members ``expected``
    (name -> shape). Each member's .npy header is read inside the zip before its data, so a
    member that is not an array, of another shape or dtype, or claiming terabytes is refused
    before anything is inflated; at most the expected arrays' bytes are ever decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            infos = zf.infolist()
            names = sorted(i.filename for i in infos)
            if names != sorted(f"{k}.npy" for k in expected):
                raise CPPNError(f"{where} hold {names[:8]}, expected "
                                f"{sorted(f'{k}.npy' for k in expected)[:8]}")
            return {info.filename[:-4]: _read_member(zf, info, expected[info.filename[:-4]],
                                                     where)
                    for info in infos}
    except CPPNError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RuntimeError, struct.error, SyntaxError, RecursionError, KeyError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CPPNError(f"{where} cannot be read: {why}") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...],
                 where: str) -> np.ndarray:
    name = info.filename
    if info.file_size > 8 * math.prod(shape) + NPY_OVERHEAD:
        raise CPPNError(f"{where}: {name} inflates to {info.file_size:,} bytes, more than a "
                        f"{shape} array")
    with zf.open(info) as m:
        try:
            version = npformat.read_magic(m)
        except ValueError:
            raise CPPNError(f"{where}: {name} is not a numpy array") from None
        if version == (1, 0):
            got, fortran, dtype = npformat.read_array_header_1_0(m)
        elif version in ((2, 0), (3, 0)):
            got, fortran, dtype = npformat.read_array_header_2_0(m)
        else:
            raise CPPNError(f"{where}: {name} has an unknown .npy version {version}")
        if dtype.hasobject or dtype.kind != "f" or dtype.itemsize > 8 or dtype.fields:
            raise CPPNError(f"{where}: {name} holds {dtype}, not floats")
        if tuple(got) != shape:
            raise CPPNError(f"{where}: {name} is {tuple(got)}, the scene says {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        data = m.read(nbytes)
    if len(data) != nbytes:
        raise CPPNError(f"{where}: {name} ends after {len(data):,} of {nbytes:,} bytes")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.astype(np.float32)


def network(sf: SceneFile, scene: Scene | None = None) -> NetworkSpec:
    """The network to render: the stored weights when ``scene`` (default: the file's) still has
    the file's network config, otherwise the config's seeded weights (needs torch)."""
    scene = scene or sf.scene
    if sf.spec is not None and scene.network == sf.scene.network:
        return sf.spec
    from ..nn.build import scene_network

    try:
        return scene_network(scene)
    except CPPNError as exc:
        if sf.spec is None:
            raise
        # Stored weights (fitted, morphed) need not come from a config a flag can change.
        raise CPPNError(f"this scene's network is stored weights; network options cannot "
                        f"change it ({exc})") from None
