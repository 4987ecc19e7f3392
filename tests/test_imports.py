"""Import hygiene: every module imports on its own, and layers import downwards only.

- Each module of the package is imported first, alone, in a fresh interpreter: an
  import-time cycle fails there whichever module happens to be imported first.
- The runtime, storage drivers and protocol never import the server, the client, the
  inspector, the CLI or the top-level entry points; the client and protocol never import the
  runtime, the server or the drivers. Checked twice: statically (every import statement,
  lazy ones in functions included, except those under ``if TYPE_CHECKING:``) and by what a
  fresh interpreter has loaded after importing the layer.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import actorkit

PACKAGE = Path(actorkit.__file__).resolve().parent
SRC = PACKAGE.parent

LOWER = ("actorkit._runtime", "actorkit.storage", "actorkit.protocol")
CLIENT = ("actorkit.client", "actorkit.protocol")
# Above both the runtime and the client: they join the two.
ENTRY_POINTS = ("actorkit.registry", "actorkit.local", "actorkit.testing", "actorkit.cli")
ABOVE_RUNTIME = ("actorkit.server", "actorkit.client", "actorkit.inspector", *ENTRY_POINTS)
ABOVE_CLIENT = (
    "actorkit._runtime",
    "actorkit.storage",
    "actorkit.server",
    "actorkit.inspector",
    *ENTRY_POINTS,
)


def _walk(path: Path, prefix: str) -> list[str]:
    # pkgutil.walk_packages imports each package to find its children; listing the files
    # imports nothing, so a broken package cannot hide its modules.
    names = []
    for info in pkgutil.iter_modules([str(path)], prefix):
        names.append(info.name)
        if info.ispkg:
            names += _walk(path / info.name.rpartition(".")[2], info.name + ".")
    return names


MODULES = ["actorkit", *sorted(_walk(PACKAGE, "actorkit."))]


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.fixture(scope="module")
def import_errors() -> dict[str, str]:
    """Each module imported alone in a fresh interpreter: name → stderr of a failure."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda name: (name, _python(f"import {name}")), MODULES)
        return {name: proc.stderr for name, proc in results if proc.returncode != 0}


def test_modules_are_found() -> None:
    expected = {"actorkit._runtime.node", "actorkit.inspector.routes", "actorkit.server.app"}
    assert expected <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str, import_errors: dict[str, str]) -> None:
    assert module not in import_errors, import_errors[module]


def _executed_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of each import in ``path`` that runs (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    package = path.relative_to(SRC).parts[:-1]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_stmt(stmt)
                continue
            visit_stmt(child)

    def visit_stmt(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # `from actorkit import server` imports the module actorkit.server
            submodules = [f"{module}.{alias.name}" for alias in node.names]
            found.extend((node.lineno, m) for m in [module, *submodules] if _is_module(m))
        visit(node)

    visit(tree)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_module(name: str) -> bool:
    return not name.startswith("actorkit") or _source(name).is_file()


def _source(module: str) -> Path:
    path = SRC.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [(LOWER, ABOVE_RUNTIME), (CLIENT, ABOVE_CLIENT)],
    ids=["runtime-storage-protocol", "client-protocol"],
)
def test_layer_imports_point_downwards(layer: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    upward = [
        f"{module}:{line} imports {target}"
        for module in MODULES
        if _within(module, layer)
        for line, target in _executed_imports(_source(module))
        # the bare package is the public facade, which re-exports every layer
        if target == "actorkit" or _within(target, forbidden)
    ]
    assert not upward


# ``actorkit/__init__.py`` is the public facade: it re-exports the client and the runtime
# alike, so a layer is imported under a bare ``actorkit`` package to see what it pulls in.
_BARE_PACKAGE = """
import importlib, sys, types
package = types.ModuleType("actorkit")
package.__path__ = [{path!r}]
sys.modules["actorkit"] = package
for name in {modules!r}:
    importlib.import_module(name)
print("\\n".join(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [(LOWER, ABOVE_RUNTIME), (CLIENT, ABOVE_CLIENT)],
    ids=["runtime-storage-protocol", "client-protocol"],
)
def test_layer_loads_nothing_above_it(layer: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    modules = [m for m in MODULES if _within(m, layer)]
    proc = _python(_BARE_PACKAGE.format(path=str(PACKAGE), modules=modules))
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.split()
    assert set(modules) <= set(loaded)
    assert [m for m in loaded if _within(m, forbidden)] == []
