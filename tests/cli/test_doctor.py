"""`realtime-cppn doctor`, `--version`, and the command line's first word, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "realtime_cppn.cli", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def rows(stdout: str) -> dict[str, str]:
    """doctor's report: what -> its whole line (``  ok  what  detail``)."""
    return {line[6:].split("  ")[0].strip(): line for line in stdout.splitlines()[1:]}


def test_doctor_names_the_renderer_the_path_and_every_optional_feature(renderer):
    out = cli("doctor")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("realtime-cppn ") and "torch " in lines[0]
    report = rows(out.stdout)
    assert {"OpenGL", "display", "video", "OSC", "MIDI", "audio"} <= set(report), report
    # The path doctor names is the one the default renderer takes on this machine.
    assert renderer.gl_renderer in report["OpenGL"]
    assert f"render path {renderer.path} " in report["OpenGL"]
    assert report["video"].lstrip().startswith("ok") and "H.264" in report["video"]
    assert report["OSC"].lstrip().startswith("ok")
    for name in ("virtualcam", "syphon", "spout", "ndi"):
        assert any(f"video out {name}" in line for line in lines), name
    for line in lines[1:]:  # every missing piece says why or what to install
        if line.lstrip().startswith("--"):
            assert len(line.split("  ")[-1]) > 10, line


def test_doctor_without_a_display_says_so_and_how_to_render_instead():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    row = rows(cli("doctor", env=env).stdout)["display"]
    assert row.lstrip().startswith("--") and "DISPLAY is not set" in row and "still" in row


def test_no_opengl_is_one_line_naming_what_to_install_and_exit_2(tmp_path):
    # No EGL vendor library and no display: what a machine without libEGL / Mesa sees.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["__EGL_VENDOR_LIBRARY_FILENAMES"] = str(tmp_path / "none.json")
    env["LIBGL_DRIVERS_PATH"] = str(tmp_path)
    for args in (("doctor",), ("still", "-o", str(tmp_path / "a.png"))):
        out = cli(*args, env=env)
        assert out.returncode == 2, (args, out)
        assert "Traceback" not in out.stderr
        (err,) = out.stderr.strip().splitlines()
        assert err.startswith("realtime-cppn: error:")
        if args[0] == "still":
            assert "libegl1" in err, err
        assert not (tmp_path / "a.png").exists()


@pytest.mark.gl
def test_version_prints_versions_and_the_gl_renderer():
    out = cli("--version")
    assert out.returncode == 0, out.stderr
    first, gl = out.stdout.splitlines()[:2]
    from realtime_cppn import __version__

    assert first.startswith(f"realtime-cppn {__version__} (Python ")
    assert gl.startswith("OpenGL: ") and "render path" in gl


@pytest.mark.parametrize("word, near", [("stil", "still"), ("rendr", "render"), ("exprt", "export"),
                                        ("zzz", None)])
def test_a_mistyped_command_suggests_the_nearest_one(word, near):
    out = cli(word, "-o", "a.png")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (err,) = out.stderr.strip().splitlines()
    assert f"unknown command {word!r}" in err
    assert (f"did you mean {near!r}?" in err) if near else "did you mean" not in err
    assert "commands: live, still" in err
