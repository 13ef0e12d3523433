"""``realtime-cppn shader``: the source it prints is the renderer's program for that network, it
compiles as OpenGL GLSL, and bad flags end as one line and exit 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from realtime_cppn import CPPN, to_spec
from realtime_cppn.cli import main as cli
from realtime_cppn.rendering.codegen import glsl

VALIDATOR = shutil.which("glslangValidator")

CASES = {
    "w32d4-compute-ubo": (["--width", "32", "--depth", "4", "--path", "compute", "--storage", "ubo"],
                          dict(width=32, depth=4), "compute", "ubo"),
    "w16d2-fragment-default": (["--width", "16", "--depth", "2", "--seed", "3", "--path", "fragment"],
                               dict(width=16, depth=2, seed=3), "fragment", "ubo"),
    "w64d12-compute-too-big-for-a-block": (["--width", "64", "--depth", "12", "--path", "compute"],
                                           dict(width=64, depth=12), "compute", "ubo"),
    "w8d3-sin-texture": (["--width", "8", "--depth", "3", "--activation", "sin,relu,tanh",
                          "--path", "fragment", "--storage", "texture"],
                         dict(width=8, depth=3, activation=("sin", "relu", "tanh")),
                         "fragment", "texture"),
}


def expected(config: dict, path: str, storage: str) -> str:
    # A desktop GPU: 64 KiB uniform blocks (4096 vec4s each where a network needs several), and
    # networks over 32,768 multiply-adds a pixel loop over their hidden layers.
    spec = to_spec(CPPN(**config))
    block = 4096 if storage == "ubo" and 16 * glsl.layout(spec).size > 65536 else None
    return glsl.source(spec, path, storage, block=block, loop_above=32768)


@pytest.mark.parametrize("case", list(CASES))
def test_the_printed_source_is_what_the_renderer_compiles(case, capsys, tmp_path):
    flags, config, path, storage = CASES[case]
    assert cli.main(["shader", *flags]) == 0
    printed = capsys.readouterr().out
    assert printed == expected(config, path, storage)
    out = tmp_path / f"{case}.{path[:4]}"
    assert cli.main(["shader", *flags, "-o", str(out)]) == 0
    assert f"{storage} weights" in capsys.readouterr().out
    assert out.read_text() == printed
    if VALIDATOR is None:
        pytest.skip("glslangValidator is missing: apt-get install glslang-tools")
    # OpenGL GLSL (no -V): loose uniforms and all, as the driver receives it.
    res = subprocess.run([VALIDATOR, str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{case}:\n{res.stdout}{res.stderr}"


def test_bad_flags_exit_2_with_one_line(tmp_path):
    exe = shutil.which("realtime-cppn") or str(Path(sys.executable).parent / "realtime-cppn")
    cases = {
        "width out of range": ["--width", "100000", "--path", "compute"],
        "width not a number": ["--width", "wide", "--path", "compute"],
        "unknown path": ["--path", "vertex"],
        "no path": ["--width", "8"],
        "unknown storage": ["--path", "compute", "--storage", "ssbo-ish"],
        "unknown activation": ["--path", "fragment", "--activation", "foo"],
        "over every uniform block": ["--width", "512", "--depth", "4", "--path", "compute",
                                     "--storage", "ubo"],
    }
    procs = {name: subprocess.Popen([exe, "shader", *args, "-o", str(tmp_path / "never.comp")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        assert proc.returncode == 2, f"{name}: exit {proc.returncode}: {err}"
        assert len(lines) == 1 and lines[0].startswith("realtime-cppn: error: "), f"{name}: {err!r}"
        assert out == ""
    assert not (tmp_path / "never.comp").exists()
