"""The layer contract: each subpackage imports only the layers below it, and nothing cycles.

Every module is parsed (imports at the top and inside functions, and strings naming a module,
such as the cli's command table), so a lazy import counts as much as a top-level one. The
heavy dependencies have one home each: torch in nn/, moderngl in rendering/, glfw in window/;
plain modules are also imported in a fresh interpreter to see that nothing heavy comes along.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import realtime_cppn

PACKAGE = "realtime_cppn"
PACKAGE_DIR = Path(realtime_cppn.__file__).parent
REPO = PACKAGE_DIR.parent

# layer -> the layers it may import directly; a layer may also import whatever those may
# (the table is read transitively). A module belongs to the longest layer its name starts with.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "show": {"core"},
    "rendering.codegen": {"core"},
    "rendering": {"rendering.codegen", "show"},
    "nn": {"show"},
    "instrument": {"show"},
    # A scene file rebuilds its network from the config when its stored weights do not apply.
    "media": {"show", "nn"},
    "exports": {"rendering.codegen"},
    "api": {"rendering", "nn"},  # realtime_cppn.render(): a torch module in, pixels out
    "live": {"instrument", "media", "rendering", "nn", "exports"},
    "window": {"live"},
    "cli": {"window", "api", ""},
    "": {"api"},  # the package itself: the lazily loaded public API
}
# The only layers that may import each heavy dependency.
HEAVY_HOMES = {"torch": {"nn"}, "moderngl": {"rendering"}, "glfw": {"window"}}
# Layers whose every module must import without any heavy dependency arriving.
PLAIN_LAYERS = ("core", "show", "rendering.codegen", "instrument", "media", "exports", "live")


def modules(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``root`` (packages by their __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def layer_of(module: str, package: str = PACKAGE) -> str:
    rest = module[len(package) + 1:] if module != package else ""
    matches = [name for name in MAY_IMPORT if name and (rest == name or rest.startswith(name + "."))]
    return max(matches, key=len) if matches else rest


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module a dotted name lives in (``pkg.mod.attr`` -> ``pkg.mod``), if it is ours."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, known: dict[str, Path],
               package: str = PACKAGE) -> tuple[set[str], set[str]]:
    """(our modules it imports, external top-level names it imports) anywhere in the file."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    here = module if path.name == "__init__.py" else module.rpartition(".")[0]
    ours: set[str] = set()
    external: set[str] = set()

    def add(name: str) -> None:
        if name == package or name.startswith(package + "."):
            owner = _owner(name, known)
            if owner and owner != module:
                ours.add(owner)
        else:
            external.add(name.partition(".")[0])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:  # ``from . import mod`` imports the module mod
                full = f"{name}.{alias.name}"
                add(full if full in known else name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # importlib.import_module("realtime_cppn.cli.render"), or the package's own
            # lazy table (``"rendering.renderer"``, relative to the package).
            text = node.value
            if text in known and text != package:  # the bare name is resources.files()
                add(text)
            elif module == package and f"{package}.{text}" in known:
                add(f"{package}.{text}")
    return ours, external


def import_graph(root: Path = PACKAGE_DIR, package: str = PACKAGE
                 ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    known = modules(root, package)
    graph, external = {}, {}
    for name, path in known.items():
        graph[name], external[name] = imports_of(name, path, known, package)
    return graph, external


def reachable(layer: str) -> set[str]:
    seen, todo = set(), [layer]
    while todo:
        for below in MAY_IMPORT.get(todo.pop(), ()):
            if below not in seen:
                seen.add(below)
                todo.append(below)
    return seen


def upward_imports(graph: dict[str, set[str]], package: str = PACKAGE) -> list[str]:
    bad = []
    for module, deps in sorted(graph.items()):
        mine = layer_of(module, package)
        for dep in sorted(deps):
            theirs = layer_of(dep, package)
            if theirs != mine and theirs not in reachable(mine):
                bad.append(f"{module} ({mine or 'package'}) imports {dep} ({theirs or 'package'})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other (strongly connected, more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def heavy_imports(external: dict[str, set[str]], package: str = PACKAGE) -> list[str]:
    bad = []
    for module, names in sorted(external.items()):
        mine = layer_of(module, package)
        for dep, homes in HEAVY_HOMES.items():
            if dep in names and not any(mine == h or mine.startswith(h + ".") for h in homes) \
                    or dep in names and mine == "rendering.codegen":
                bad.append(f"{module} ({mine}) imports {dep}, which only {', '.join(sorted(homes))}/ may")
    return bad


GRAPH, EXTERNAL = import_graph()


def test_every_module_is_in_a_declared_layer():
    assert set(MAY_IMPORT) >= {layer_of(m) for m in GRAPH}


def test_the_layer_table_has_no_cycle():
    for layer in MAY_IMPORT:
        assert layer not in reachable(layer), layer


def test_no_module_imports_a_layer_above_or_beside_it():
    bad = upward_imports(GRAPH)
    assert not bad, "imports against the layer table:\n  " + "\n  ".join(bad)


def test_no_import_cycles():
    found = cycles(GRAPH)
    assert not found, f"import cycles: {found}"


def test_heavy_dependencies_stay_in_their_layer():
    bad = heavy_imports(EXTERNAL)
    assert not bad, "\n".join(bad)


def test_the_checks_see_lazy_imports_strings_and_cycles(tmp_path):
    # A fake package where core imports show inside a function, show names cli in a string
    # table, and cli imports core back: one upward import, one string import, one cycle.
    pkg = tmp_path / "fake"
    for sub in ("core", "show", "cli"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("def f():\n    from ..show import b\n    import torch\n")
    (pkg / "show" / "b.py").write_text("TABLE = {'x': 'fake.cli.c'}\n")
    (pkg / "cli" / "c.py").write_text("from fake.core import a\n")
    graph, external = import_graph(pkg, "fake")
    assert graph["fake.core.a"] == {"fake.show.b"}
    assert graph["fake.show.b"] == {"fake.cli.c"}
    assert upward_imports(graph, "fake") == ["fake.core.a (core) imports fake.show.b (show)",
                                             "fake.show.b (show) imports fake.cli.c (cli)"]
    assert cycles(graph) == [["fake.cli.c", "fake.core.a", "fake.show.b"]]
    assert heavy_imports(external, "fake") == [
        "fake.core.a (core) imports torch, which only nn/ may"]


def test_the_wheel_lists_every_subpackage():
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    packages = {m for m, p in modules().items() if p.name == "__init__.py"}
    assert set(config["packages"]) == packages | {f"{PACKAGE}.shaders"}


_PROBE = """
import importlib, json, sys
heavy = {heavy!r}
blame = {{}}
for name in {names!r}:
    before = {{h for h in heavy if h in sys.modules}}
    importlib.import_module(name)
    blame[name] = [h for h in heavy if h in sys.modules and h not in before]
print(json.dumps(blame))
"""


def test_plain_modules_import_no_heavy_dependency(tmp_path):
    names = [PACKAGE] + [m for m in GRAPH if layer_of(m) in PLAIN_LAYERS]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=tuple(HEAVY_HOMES), names=names)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    blame = json.loads(proc.stdout.strip().splitlines()[-1])
    offenders = {name: deps for name, deps in blame.items() if deps}
    assert not offenders, f"plain modules imported heavy dependencies: {offenders}"
    assert {"realtime_cppn.core.spec", "realtime_cppn.rendering.codegen.glsl",
            "realtime_cppn.show.keys", "realtime_cppn.live.hud"} <= set(blame)
