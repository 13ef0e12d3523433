"""A wheel built from the repo, installed (not editable) in a fresh venv, renders a still.

The venv sees the test environment's packages (torch, moderngl: no download), wherever pytest
runs (a venv, pyenv, the system Python), through a .pth file naming the site directories this
interpreter imports from. The package itself comes from the wheel, run from a directory outside
the repo, so the shaders must be the ones shipped inside the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("_session_context")]

REPO = Path(__file__).resolve().parent.parent


def sh(*cmd: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_wheel_installs_and_renders(tmp_path):
    wheels = tmp_path / "wheels"
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
       "-w", wheels, REPO)
    (wheel,) = wheels.glob("realtime_cppn-*.whl")

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    site = Path(sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # `venv --system-site-packages` would see the base interpreter's packages, not those of a
    # venv pytest runs in. A .pth line adds a directory without running the .pth files in it,
    # so the test environment's editable install of this package stays out.
    ours = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (site / "test-environment.pth").write_text("\n".join(ours) + "\n")
    # --ignore-installed: the machine's editable install must not stand in for the wheel.
    sh(py, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", wheel)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out = outside / "out.png"
    # 320x240 is several chunks on the cpu path (llvmpipe's default): its worker pool and BLAS
    # limit run from the installed package too.
    sh(venv / "bin" / "realtime-cppn", "still", "--size", "320x240", "--width", "8", "--depth",
       "2", "-o", out, cwd=outside)
    with Image.open(out) as im:
        assert im.size == (320, 240)

    # The package and its shaders resolve inside the venv, not the checkout.
    where = sh(py, "-c", "import realtime_cppn, realtime_cppn.rendering.codegen.glsl as g; "
                         "print(realtime_cppn.__file__); print(g._shader_dir())", cwd=outside)
    package_file, shader_dir = where.split("\n")[:2]
    assert Path(package_file).is_relative_to(site)
    assert Path(shader_dir).is_relative_to(site)
    shipped = sorted(p.name for p in (site / "realtime_cppn" / "shaders").glob("*.glsl"))
    assert "common.glsl" in shipped
    # Every template in shaders/ ships (a new one must match the package-data globs).
    templates = {p.name for p in (REPO / "shaders").iterdir() if p.is_file()}
    assert templates >= {"network.frag", "network.comp", "pixel.comp", "fullscreen.vert"}
    for name in templates:
        assert (site / "realtime_cppn" / "shaders" / name).is_file(), name
