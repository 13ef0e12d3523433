"""The CLI as a user runs it: a subprocess of the installed ``realtime-cppn`` script.

A still carries its scene in the PNG; rendering that scene again gives identical pixels. Every bad
flag ends as exit 2 with one line on stderr and no traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_cppn.core.scene import PNG_KEY, Scene

# The still command opens its own EGL context: this one only shows that one can exist (or skips,
# like every GL test, under RCPPN_ALLOW_NO_GL=1).
pytestmark = pytest.mark.usefixtures("_session_context")


def cli() -> list[str]:
    exe = shutil.which("realtime-cppn") or str(Path(sys.executable).parent / "realtime-cppn")
    assert Path(exe).exists(), "the realtime-cppn console script is not installed"
    return [exe]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*cli(), *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def still(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "X.png"
    proc = run("still", "--seed", "7", "--width", "8", "--depth", "2", "--activation", "tanh",
               "--size", "96x54", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return out


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_still_writes_png_with_scene(still):
    with Image.open(still) as im:
        assert im.format == "PNG" and im.size == (96, 54)
        scene = Scene.from_json(im.text[PNG_KEY])
    assert scene.network["seed"] == 7
    assert scene.network["width"] == 8 and scene.network["depth"] == 2
    assert scene.network["activation"] == "tanh"
    img = pixels(still)
    assert img.std() > 1.0, "a flat picture"


def test_scene_renders_again_identically(still, tmp_path):
    again = tmp_path / "Y.png"
    proc = run("still", "--scene", still, "-o", again, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(pixels(still), pixels(again))
    with Image.open(still) as a, Image.open(again) as b:
        assert Scene.from_json(a.text[PNG_KEY]) == Scene.from_json(b.text[PNG_KEY])


def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    corrupt = tmp / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    plain = tmp / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    out = str(tmp / "never.png")
    return {
        "size": ["still", "--size", "10", "-o", out],
        "activation": ["still", "--activation", "foo", "-o", out],
        "width": ["still", "--width", "0", "--size", "8x8", "-o", out],
        "depth": ["still", "--depth", "-1", "--size", "8x8", "-o", out],
        "missing scene": ["still", "--scene", str(tmp / "nope.png"), "-o", out],
        "corrupt png": ["still", "--scene", str(corrupt), "-o", out],
        "png without scene": ["still", "--scene", str(plain), "-o", out],
        "unknown flag": ["still", "--frobnicate", "-o", out],
    }


def test_bad_flags_exit_2_with_one_line(tmp_path):
    cases = _bad_inputs(tmp_path)
    # In parallel: each pays Python and sometimes torch start-up.
    procs = {name: subprocess.Popen([*cli(), *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, args in cases.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        assert proc.returncode == 2, f"{name}: exit {proc.returncode}: {err}"
        assert len(lines) == 1, f"{name}: {err!r}"
        assert lines[0].startswith("realtime-cppn: error: "), f"{name}: {err!r}"
        assert "Traceback" not in err
    assert not (tmp_path / "never.png").exists()


def test_activation_error_lists_valid_names(tmp_path):
    proc = run("still", "--activation", "foo", "-o", tmp_path / "x.png")
    assert proc.returncode == 2
    assert "foo" in proc.stderr and "tanh" in proc.stderr and "softplus" in proc.stderr


def test_still_of_a_scene_file_uses_its_stored_weights(tmp_path, renderer):
    """A fitted or morphed network has weights no seed reproduces: still must render those."""
    import realtime_cppn as rc
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.media import scenefile

    network = {"seed": 1, "width": 8, "depth": 2, "z_dim": 0}
    stored = rc.to_spec(rc.CPPN(seed=2, width=8, depth=2, z_dim=0))  # not seed 1's weights
    path = scenefile.save(tmp_path / "s.json", Scene(network=network), stored)
    out = tmp_path / "s.png"
    done = subprocess.run([sys.executable, "-m", "realtime_cppn.cli", "still", "--scene",
                           str(path), "--size", "32x24", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    renderer.set_network(stored)
    want = renderer.read(renderer.draw((32, 24), display=True, dtype="f1"), 3)
    got = np.asarray(Image.open(out).convert("RGB"))
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
