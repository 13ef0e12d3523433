"""Hostile input: every loader of untrusted files and the OSC handler, fuzzed with hypothesis.

The contract is the same everywhere: a valid input loads, anything else raises CPPNError (one
clear line), and nothing else escapes (no KeyError, TypeError, struct.error, MemoryError...).
Cases that once failed stay here as explicit ``@example``s.
"""

from __future__ import annotations

import hashlib
import io
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import View
from realtime_cppn.media import perflog, scenefile
from realtime_cppn.show import actions

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)

SCENE_KEYS = ("format", "version", "network", "view", "loop", "path_seed", "phase", "texture")
NETWORK_KEYS = ("seed", "width", "depth", "activation", "inputs", "z_dim", "out_channels", "sigma",
                "scale", "output_activation")


def _valid_scene() -> dict:
    return Scene(network={"seed": 1, "width": 4, "depth": 1}).to_dict()


def _mutations(base: dict):
    """A valid document with one field replaced by anything JSON can hold."""
    return st.builds(
        lambda key, value, sub: _mutate(base, key, value, sub),
        st.sampled_from(SCENE_KEYS), json_values, st.sampled_from(NETWORK_KEYS),
    )


def _mutate(base: dict, key: str, value, sub: str) -> dict:
    doc = json.loads(json.dumps(base))
    if key == "network" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        doc["network"][sub] = value
    else:
        doc[key] = value
    return doc


@FUZZ
@given(doc=json_values | _mutations(_valid_scene()))
@example(doc={**_valid_scene(), "view": {"center": [0.0]}})
@example(doc={**_valid_scene(), "view": {"center": [float("nan"), 0.0]}})
@example(doc={**_valid_scene(), "loop": float("inf")})
def test_scene_documents(doc):
    try:
        scene = Scene.from_dict(doc)
    except CPPNError:
        return
    assert math.isfinite(scene.loop) and scene.loop > 0


@FUZZ
@given(doc=_mutations(_valid_scene()))
@example(doc=_mutate(_valid_scene(), "network", "tanh(x); } void main() { //", "activation"))
@example(doc=_mutate(_valid_scene(), "network", 10**9, "width"))
@example(doc=_mutate(_valid_scene(), "network", -3, "z_dim"))
@example(doc=_mutate(_valid_scene(), "network", 1, "inputs"))  # found by hypothesis: a traceback
@example(doc=_mutate(_valid_scene(), "network", 1, "activation"))  # likewise
@example(doc=_mutate(_valid_scene(), "network", "big", "scale"))
def test_scene_networks_are_validated_before_any_glsl(doc):
    """A scene names activations and sizes: they are checked against the registry and bounds
    before torch allocates or GLSL is generated (no shader injection, no huge allocations)."""
    from realtime_cppn.nn.build import scene_config

    try:
        config = scene_config(Scene.from_dict(doc))
    except CPPNError:
        return
    assert config.width <= 1024 and config.depth <= 64


@FUZZ
@given(meta=json_values, blob=st.binary(max_size=300))
def test_scene_files_with_hostile_weights(tmp_path_factory, meta, blob):
    d = tmp_path_factory.mktemp("fuzz")
    doc = _valid_scene()
    doc["weights"] = meta if not isinstance(meta, dict) else {"file": "w.npz", **meta}
    (d / "s.json").write_text(json.dumps(doc))
    (d / "w.npz").write_bytes(blob)
    try:
        scenefile.load(d / "s.json")
    except CPPNError:
        pass


def test_scene_file_weights_cannot_be_pickles(tmp_path):
    """An .npz holding an object array (a pickle) is refused, never unpickled."""
    import hashlib

    from realtime_cppn.nn.export import to_spec
    from realtime_cppn.nn.model import CPPN

    spec = to_spec(CPPN(width=4, depth=1, seed=1))
    path = scenefile.save(tmp_path / "s.json", Scene(network={"width": 4, "depth": 1}), spec)
    npz = path.with_suffix(".npz")
    arrays = dict(np.load(npz))
    arrays["layer0.weight"] = np.array([object()], dtype=object)
    np.savez(npz, **arrays)
    doc = json.loads(path.read_text())
    doc["weights"]["sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    path.write_text(json.dumps(doc))
    with pytest.raises(CPPNError):
        scenefile.load(path)


@FUZZ
@given(text=st.text(max_size=400) | st.lists(json_values, max_size=6).map(
    lambda rows: "\n".join(json.dumps(r) for r in rows)))
@example(text='{"t": 1e400, "action": "reseed"}')
@example(text='{"format": "realtime-cppn/perflog"}\n{"t": "x"}')
def test_performance_logs(text):
    try:
        perflog.parse(text)
    except CPPNError:
        pass


@FUZZ
@given(text=st.text(max_size=300) | st.dictionaries(
    st.sampled_from(["r", "shift+r", "ctrl+q", "f99", "", "x+y", "space"]),
    st.text(max_size=12) | st.integers(), max_size=4).map(
    lambda d: "[keys]\n" + "\n".join(f'"{k}" = {json.dumps(v)}' for k, v in d.items())))
@example(text='[keys]\n"r" = "reseed=1e999"')
@example(text="[keys]\nr = 3")
def test_key_config_files(tmp_path_factory, text):
    from realtime_cppn.show import keys

    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(text)
    try:
        keys.load_config(path)
    except CPPNError:
        pass


@FUZZ
@given(text=st.text(max_size=300))
def test_midi_config_files(tmp_path_factory, text):
    from realtime_cppn.instrument import midi

    path = tmp_path_factory.mktemp("midi") / "config.toml"
    path.write_text("[midi]\n" + text)
    try:
        midi.load_config(path)
    except CPPNError:
        pass


@FUZZ
@given(doc=json_values)
def test_banks(tmp_path_factory, doc):
    from realtime_cppn.instrument import bank

    path = tmp_path_factory.mktemp("bank") / "bank.json"
    path.write_text(json.dumps(doc))
    try:
        bank.load(path)
    except CPPNError:
        pass


osc_args = st.lists(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats()
    | st.text(max_size=16) | st.binary(max_size=16), max_size=5)


@FUZZ
@given(address=st.sampled_from([*(f"/cppn/{name}" for name in sorted(actions.ACTIONS)),
                                 "/cppn/z/3", "/cppn/z/999", "/cppn/action", "/nope", "/cppn/"])
       | st.text(max_size=24), args=osc_args)
@example(address="/cppn/z/-1", args=[1.0])
@example(address="/cppn/speed", args=[float("nan")])
@example(address="/cppn/width", args=[1e308])
def test_osc_messages_are_actions_or_one_clear_error(address, args):
    """The server thread logs a CPPNError once and goes on; anything else would be a bug."""
    from realtime_cppn.instrument import osc

    try:
        out, _clamped = osc.message_actions(address, args)
    except CPPNError:
        return
    state = actions.AppState()
    for action in out:
        assert action == actions.make(action.name, action.value)  # checked by the one table
        try:
            state = actions.apply(state, action)
        except CPPNError:
            pass  # the instrument's actions (tempo, bank) are not the reducer's


# --- round trips, architecture bounds, hostile images ----------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)
scenes = st.builds(
    lambda net, zoom, center, sym, color, loop, path_seed, phase, texture: Scene(
        network=net, view=View(zoom=zoom, center=center, symmetry=sym, color=color),
        loop=loop, path_seed=path_seed, phase=phase, texture=texture),
    st.fixed_dictionaries({}, optional={
        "seed": st.integers(0, 2**64 - 1), "width": st.integers(1, 1024),
        "depth": st.integers(1, 64), "z_dim": st.integers(0, 256),
        "activation": st.sampled_from(["tanh", "sin"]) | st.lists(st.sampled_from(["tanh", "relu"]),
                                                                  min_size=1, max_size=4),
        "sigma": st.floats(1e-3, 10.0)}),
    st.floats(1e-3, 1e3), st.tuples(finite, finite), st.sampled_from(["none", "x", "k5"]),
    st.sampled_from(["rgb", "hsv"]), st.floats(1e-3, 1e4), st.integers(0, 2**64 - 1), finite,
    st.text(max_size=30))


@FUZZ
@given(scene=scenes)
def test_scenes_round_trip_through_json_and_png_chunks(tmp_path_factory, scene):
    from realtime_cppn.media.images import read_scene, save_png

    assert Scene.from_json(scene.to_json()) == scene
    path = tmp_path_factory.mktemp("png") / "s.png"
    save_png(path, np.zeros((2, 2, 3)), scene)
    assert read_scene(path) == scene


@FUZZ
@given(slots=st.dictionaries(st.integers(1, 9), scenes, max_size=9))
def test_banks_round_trip(tmp_path_factory, slots):
    from realtime_cppn.instrument import bank

    path = bank.save(bank.Bank(slots), tmp_path_factory.mktemp("bank") / "b.json")
    assert dict(bank.load(path).slots) == slots


sizes = st.integers(-2, 3000) | st.sampled_from([0, 1024, 1025, 2**31, 2**64]) | st.floats() \
    | st.booleans() | st.none()


@FUZZ
@given(shapes=st.lists(st.lists(sizes, min_size=0, max_size=3), min_size=0, max_size=70),
       z_dim=sizes)
@example(shapes=[[8, 5]] + [[8, 8]] * 64 + [[3, 8]], z_dim=2)  # depth 65: one too many
@example(shapes=[[1025, 5], [3, 1025]], z_dim=2)
def test_no_scene_file_declaring_too_big_a_network_loads(tmp_path_factory, shapes, z_dim):
    """Whatever the weights entry declares, a file that loads holds a network within the
    model's limits (width <= 1024, depth <= 64, z <= 256); nothing else escapes."""
    from realtime_cppn.show.actions import DEPTH_RANGE, WIDTH_RANGE

    d = tmp_path_factory.mktemp("arch")
    arrays, fan_in = {}, 3 + (z_dim if isinstance(z_dim, int) and 0 <= z_dim < 300 else 0)
    for i, s in enumerate(shapes):
        if len(s) == 2 and all(type(n) is int and 0 < n <= 1100 for n in s):
            arrays[f"layer{i}.weight"] = np.zeros(s, np.float32)
            arrays[f"layer{i}.bias"] = np.zeros(s[0], np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (d / "w.npz").write_bytes(buf.getvalue())
    doc = _valid_scene()
    doc["weights"] = {"file": "w.npz", "inputs": ["x", "y", "r"], "z_dim": z_dim, "scale": 1.0,
                      "activations": ["tanh"] * len(shapes), "shapes": shapes,
                      "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
    (d / "s.json").write_text(json.dumps(doc))
    try:
        spec = scenefile.load(d / "s.json").spec
    except CPPNError:
        return
    assert fan_in and len(spec.layers) <= DEPTH_RANGE[1] + 1 and spec.z_dim <= 256
    assert all(layer.weight.shape[0] <= WIDTH_RANGE[1] for layer in spec.layers)


@FUZZ
@given(doc=_mutations(_valid_scene()))
@example(doc=_mutate(_valid_scene(), "network", 2**64, "seed"))
@example(doc=_mutate(_valid_scene(), "network", float("nan"), "seed"))
@example(doc=_mutate(_valid_scene(), "path_seed", float("inf"), "seed"))
@example(doc=_mutate(_valid_scene(), "path_seed", 2**64, "seed"))
@example(doc=_mutate(_valid_scene(), "network", 1025, "width"))
def test_loaded_scenes_and_banks_stay_within_the_ranges(tmp_path_factory, doc):
    """A scene that loads (alone or in a bank) declares a network within the model's ranges."""
    from realtime_cppn.instrument import bank

    d = tmp_path_factory.mktemp("range")
    (d / "s.json").write_text(json.dumps(doc))
    (d / "b.json").write_text(json.dumps({"format": bank.FORMAT, "version": bank.VERSION,
                                          "slots": {"1": doc}}))
    for load in (lambda: scenefile.load(d / "s.json").scene,
                 lambda: bank.load(d / "b.json").slots[1]):
        try:
            scene = load()
        except CPPNError:
            continue
        net = scene.network
        assert 1 <= net.get("width", 1) <= 1024 and 1 <= net.get("depth", 1) <= 64
        assert 0 <= net.get("seed", 0) < 2**64 and 0 <= scene.path_seed < 2**64
        assert 0 <= net.get("z_dim", 0) <= 256


def _image_files() -> dict[str, bytes]:
    """Small real files of each format Pillow reads (and writes) here."""
    from PIL import Image

    rgb = (np.arange(12 * 10 * 3).reshape(10, 12, 3) * 7 % 256).astype(np.uint8)
    out = {}
    for fmt in ("QOI", "SGI", "PPM", "ICO", "DDS", "PNG", "BMP", "GIF", "TIFF", "TGA"):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt)
        out[fmt] = buf.getvalue()
    return out


IMAGES = _image_files()


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(IMAGES)), edits=st.lists(
    st.tuples(st.sampled_from(["flip", "cut", "insert", "set"]), st.integers(0, 4000),
              st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_images_as_texture_or_fit_input_are_one_line(tmp_path_factory, fmt, edits):
    """Pillow's decoders raise ValueError, SyntaxError, struct.error, IndexError, EOFError...
    on corrupt files: each becomes one CPPNError line; an image that decodes is RGBA uint8."""
    from realtime_cppn.cli.fit import load_target
    from realtime_cppn.media.images import load_texture

    data = bytearray(IMAGES[fmt])
    for op, at, value in edits:
        at %= max(1, len(data))
        if op == "flip" and data:
            data[at] ^= 1 << (value % 8)
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = bytes([value]) * (value % 17 + 1)
        elif data:
            data[at] = value
    path = tmp_path_factory.mktemp("img") / f"t.{fmt.lower()}"
    path.write_bytes(bytes(data))
    for load in (load_texture, lambda p: load_target(p, 16)):
        try:
            out = load(path)
        except CPPNError as exc:
            assert "\n" not in str(exc)
            continue
        assert out.ndim == 3 and out.shape[2] in (3, 4)
