"""The dependency rule: plain modules import none of torch, moderngl or glfw.

Only renderer.py may import moderngl, only the window app glfw, only model/export (and modules
whose docstring says they work in torch) torch. Everything else must import on a machine without
them, so each plain module is imported in a fresh interpreter and sys.modules is checked.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import realtime_cppn

HEAVY_DEPS = ("torch", "moderngl", "glfw")
# Modules whose job is a heavy dependency (the rule in the brief), and the api/build bridges.
HEAVY_MODULES = {"renderer", "app", "model", "export", "build", "api"}
REQUIRED_PLAIN = ("spec", "glsl", "activations", "animation", "scene", "images", "cli", "errors",
                  "cpu")
# A docstring that says the module works in/through/with a heavy dependency ("in torch on the
# CPU", "uses moderngl") exempts it; "imports no torch" does not.
_DOCUMENTS_HEAVY = re.compile(
    r"\b(?:in|with|through|needs?|requires?|uses?|imports?)\s+(torch|moderngl|glfw)\b"
)

PACKAGE_DIR = Path(realtime_cppn.__file__).parent


def _docstring(name: str) -> str:
    return ast.get_docstring(ast.parse((PACKAGE_DIR / f"{name}.py").read_text("utf-8"))) or ""


def plain_modules() -> list[str]:
    names = sorted(p.stem for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__")
    return [n for n in names if n not in HEAVY_MODULES and (
        n in REQUIRED_PLAIN or not _DOCUMENTS_HEAVY.search(_docstring(n)))]


_PROBE = """
import importlib, json, sys
heavy = {heavy!r}
blame = {{}}
import realtime_cppn
blame["realtime_cppn"] = [h for h in heavy if h in sys.modules]
for name in {names!r}:
    before = {{h for h in heavy if h in sys.modules}}
    importlib.import_module("realtime_cppn." + name)
    blame[name] = [h for h in heavy if h in sys.modules and h not in before]
print(json.dumps(blame))
"""


def test_required_plain_modules_are_discovered():
    found = plain_modules()
    for name in REQUIRED_PLAIN:
        assert name in found
        assert not _DOCUMENTS_HEAVY.search(_docstring(name)), name


def test_plain_modules_import_no_heavy_dependency(tmp_path):
    names = plain_modules()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY_DEPS, names=names)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    blame = json.loads(proc.stdout.strip().splitlines()[-1])
    offenders = {name: deps for name, deps in blame.items() if deps}
    assert not offenders, f"plain modules imported heavy dependencies: {offenders}"
    assert set(blame) == {"realtime_cppn", *names}


def test_the_rule_detects_a_heavy_import(tmp_path):
    # Guard the probe itself: importing a heavy module is seen.
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY_DEPS, names=["model"])],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1])["model"] == ["torch"]
