"""Scene files: JSON + .npz round trip of real weights, and refusal of anything malformed."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from realtime_cppn.cli import args as cli_args
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import Layer, NetworkSpec, View
from realtime_cppn.media import scenefile


def make_spec(seed: int = 0, z_dim: int = 2) -> NetworkSpec:
    rng = np.random.default_rng(seed)
    return NetworkSpec(("x", "y", "r"), z_dim, (
        Layer(rng.normal(size=(8, 3 + z_dim)).astype(np.float32),
              rng.normal(size=8).astype(np.float32), "tanh"),
        Layer(rng.normal(size=(8, 8)).astype(np.float32), rng.normal(size=8).astype(np.float32),
              "sin"),
        Layer(rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=3).astype(np.float32),
              "sigmoid"),
    ), scale=1.5)


SCENE = Scene(network={"width": 8, "depth": 2, "seed": 4, "z_dim": 2}, view=View(zoom=2.0),
              loop=4.0, path_seed=7, phase=0.375)


def test_round_trip_keeps_every_weight(tmp_path):
    spec = make_spec()
    path = scenefile.save(tmp_path / "s.json", SCENE, spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.npz"]
    sf = scenefile.load(path)
    assert sf.scene == SCENE
    assert sf.spec.inputs == spec.inputs and sf.spec.z_dim == 2 and sf.spec.scale == 1.5
    for a, b in zip(sf.spec.layers, spec.layers):
        assert a.activation == b.activation
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
    assert scenefile.network(sf) is sf.spec


def test_json_is_a_plain_scene_for_every_reader(tmp_path):
    path = scenefile.save(tmp_path / "s.json", SCENE, make_spec())
    doc = json.loads(path.read_text())
    assert doc["weights"]["file"] == "s.npz"
    assert doc["weights"]["activations"] == ["tanh", "sin", "sigmoid"]
    assert cli_args.load_scene(path) == SCENE  # the CLI's --scene reads it (config only)


def test_scene_without_weights_and_png_scene(tmp_path):
    path = scenefile.save(tmp_path / "s.json", SCENE)
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
    assert scenefile.load(path) == scenefile.SceneFile(SCENE, None)
    from realtime_cppn.media.images import save_png

    png = save_png(tmp_path / "still.png", np.zeros((4, 4, 3), np.float32), SCENE)
    assert scenefile.load(png) == scenefile.SceneFile(SCENE, None)


def test_overridden_config_uses_the_seeded_network(tmp_path):
    pytest.importorskip("torch")
    from dataclasses import replace

    sf = scenefile.load(scenefile.save(tmp_path / "s.json", SCENE, make_spec()))
    other = replace(SCENE, network={**SCENE.network, "seed": 5})
    net = scenefile.network(sf, other)
    assert net is not sf.spec and net.layers[0].weight.shape == (8, 5)


def test_save_replaces_atomically_and_refuses_other_suffixes(tmp_path):
    path = scenefile.save(tmp_path / "s.json", SCENE, make_spec(0))
    scenefile.save(path, SCENE, make_spec(1))
    np.testing.assert_array_equal(scenefile.load(path).spec.layers[2].bias,
                                  make_spec(1).layers[2].bias)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.npz"]
    with pytest.raises(CPPNError, match=".json"):
        scenefile.save(tmp_path / "s.txt", SCENE)
    with pytest.raises(CPPNError, match="cannot write"):
        scenefile.save(tmp_path / "missing" / "s.json", SCENE)


# --- malformed files ---------------------------------------------------------------------------


def saved(tmp_path):
    path = scenefile.save(tmp_path / "s.json", SCENE, make_spec())
    return path, json.loads(path.read_text())


def rewrite_npz(tmp_path, doc, arrays: dict) -> None:
    """Replace the weights and fix the hash, so the checks behind the hash are what is tested."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (tmp_path / "s.npz").write_bytes(buf.getvalue())
    doc["weights"]["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (tmp_path / "s.json").write_text(json.dumps(doc))


def arrays_of(spec: NetworkSpec) -> dict:
    out = {}
    for i, layer in enumerate(spec.layers):
        out[f"layer{i}.weight"], out[f"layer{i}.bias"] = layer.weight, layer.bias
    return out


def expect_error(path, match: str) -> None:
    with pytest.raises(CPPNError, match=match) as info:
        scenefile.load(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.json", "no such scene file")


def test_missing_weights(tmp_path):
    path, _ = saved(tmp_path)
    (tmp_path / "s.npz").unlink()
    expect_error(path, "no such weights file")


def test_corrupt_weights_fail_the_hash(tmp_path):
    path, _ = saved(tmp_path)
    blob = (tmp_path / "s.npz").read_bytes()
    (tmp_path / "s.npz").write_bytes(blob[: len(blob) // 2])
    expect_error(path, "changed or corrupt")


def test_truncated_archive_with_matching_hash(tmp_path):
    path, doc = saved(tmp_path)
    blob = (tmp_path / "s.npz").read_bytes()[:100]
    (tmp_path / "s.npz").write_bytes(blob)
    doc["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    path.write_text(json.dumps(doc))
    expect_error(path, "cannot be read")


def test_pickled_arrays_are_never_loaded(tmp_path):
    path, doc = saved(tmp_path)
    arrays = arrays_of(make_spec())
    arrays["layer0.bias"] = np.array([{"evil": 1}] * 8, dtype=object)
    rewrite_npz(tmp_path, doc, arrays)
    expect_error(path, "holds object, not floats")


def test_shape_mismatch(tmp_path):
    path, doc = saved(tmp_path)
    arrays = arrays_of(make_spec())
    arrays["layer1.weight"] = np.zeros((8, 7), np.float32)
    rewrite_npz(tmp_path, doc, arrays)
    expect_error(path, "layer1.weight")


def test_extra_or_missing_arrays(tmp_path):
    path, doc = saved(tmp_path)
    arrays = arrays_of(make_spec())
    del arrays["layer2.bias"]
    arrays["payload"] = np.zeros(3)
    rewrite_npz(tmp_path, doc, arrays)
    expect_error(path, "expected")


def test_non_finite_and_non_float_weights(tmp_path):
    path, doc = saved(tmp_path)
    arrays = arrays_of(make_spec())
    arrays["layer0.weight"] = arrays["layer0.weight"].copy()
    arrays["layer0.weight"][0, 0] = np.nan
    rewrite_npz(tmp_path, doc, arrays)
    expect_error(path, "non-finite")
    arrays = arrays_of(make_spec())
    arrays["layer2.bias"] = np.zeros(3, np.int64)
    rewrite_npz(tmp_path, doc, arrays)
    expect_error(path, "not floats")


@pytest.mark.parametrize(("key", "value", "match"), [
    ("activations", ["tanh", "swish", "sigmoid"], "unknown activation"),
    ("activations", ["tanh", "sigmoid"], "activations for 3 layers"),
    ("shapes", [[8, 5], [8, 8], [3, 100000]], "out of bounds"),
    ("file", "../../etc/passwd.npz", "beside it"),
    ("file", "s.npy", "beside it"),
    ("z_dim", "many", "malformed"),
    ("inputs", ["x", "q"], "bad inputs"),
])
def test_bad_weights_entry(tmp_path, key, value, match):
    path, doc = saved(tmp_path)
    doc["weights"][key] = value
    path.write_text(json.dumps(doc))
    expect_error(path, match)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"format": "realtime-cppn/scene"}',
                                  '{"format": "realtime-cppn/scene", "version": 1, "loop": -1}'])
def test_corrupt_json(tmp_path, text):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(CPPNError):
        scenefile.load(path)


def test_plain_modules_stay_light():
    """scenefile and the recorder import neither torch, moderngl, glfw nor av."""
    code = ("import sys, realtime_cppn.media.scenefile, realtime_cppn.media.writers, "
            "realtime_cppn.media.take, realtime_cppn.media.perflog;"
            "bad = [m for m in ('torch', 'moderngl', 'glfw', 'av') if m in sys.modules];"
            "print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
