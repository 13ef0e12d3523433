"""Hostile input: every loader of untrusted files and the OSC handler, fuzzed with hypothesis.

The contract is the same everywhere: a valid input loads, anything else raises CPPNError (one
clear line), and nothing else escapes (no KeyError, TypeError, struct.error, MemoryError...).
Cases that once failed stay here as explicit ``@example``s.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from realtime_cppn import perflog, scenefile
from realtime_cppn.errors import CPPNError
from realtime_cppn.scene import Scene

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
    from realtime_cppn.build import scene_config

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

    from realtime_cppn.export import to_spec
    from realtime_cppn.model import CPPN

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
    from realtime_cppn import keys

    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(text)
    try:
        keys.load_config(path)
    except CPPNError:
        pass


@FUZZ
@given(text=st.text(max_size=300))
def test_midi_config_files(tmp_path_factory, text):
    from realtime_cppn import midi

    path = tmp_path_factory.mktemp("midi") / "config.toml"
    path.write_text("[midi]\n" + text)
    try:
        midi.load_config(path)
    except CPPNError:
        pass


@FUZZ
@given(doc=json_values)
def test_banks(tmp_path_factory, doc):
    from realtime_cppn import bank

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
@given(address=st.sampled_from(["/cppn/reseed", "/cppn/width", "/cppn/z/3", "/cppn/z/999",
                                 "/cppn/activation", "/cppn/zoom", "/cppn/speed", "/cppn/symmetry",
                                 "/cppn/action", "/cppn/render_scale", "/nope", "/cppn/"])
       | st.text(max_size=24), args=osc_args)
@example(address="/cppn/z/-1", args=[1.0])
@example(address="/cppn/speed", args=[float("nan")])
@example(address="/cppn/width", args=[1e308])
def test_osc_messages_are_actions_or_one_clear_error(address, args):
    """The server thread logs a CPPNError once and goes on; anything else would be a bug."""
    from realtime_cppn import actions, osc

    try:
        out, _clamped = osc.message_actions(address, args)
    except CPPNError:
        return
    state = actions.AppState()
    for action in out:
        try:
            state = actions.apply(state, action)
        except CPPNError:
            pass  # host-level actions (latent, record) are the app's; the reducer may refuse
