"""The library's folders are its architecture: each subpackage imports only the base and lower
layers, and only their public names; no workbench module pulls in Streamlit or torch.

Layers, lowest first (DESIGN.md): base (`errors`, `fileio`, `safeyaml`, `safetext`,
`workspace`) -> catalog -> sources -> pdf -> notes -> {intake, graph, runs} -> sessions -> app
-> cli. The CLI sits above the app because `workbench app` starts it (and checks who may use it
with `app.serving`); the app never imports the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

WORKBENCH = REPO / "workbench"
LAYERS = {"catalog": 1, "sources": 2, "pdf": 3, "notes": 4, "intake": 5, "graph": 5, "runs": 5,
          "sessions": 6, "app": 7, "cli": 8}
BASE = {"errors", "fileio", "safeyaml", "safetext", "workspace", "__init__", "__main__",
        "__version__"}


def package_of(path: Path) -> str | None:
    """The subpackage a file of workbench/ belongs to; None for the base modules."""
    parts = path.relative_to(WORKBENCH).parts
    return parts[0] if len(parts) > 1 else None


def public_names(package: str) -> set[str]:
    """The names a package's `__init__` lists in `__all__` (a module may be one: app.serving)."""
    tree = ast.parse((WORKBENCH / package / "__init__.py").read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def violations(source: str, package: str | None, where: str = "<planted>") -> list[str]:
    """Why each workbench import in `source` (a module of `package`) breaks the layering."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] if node.module != "workbench" else \
                [f"workbench.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            if parts[0] != "workbench" or len(parts) < 2 or parts[1] in BASE:
                continue
            other = parts[1]
            if other not in LAYERS:
                found.append(f"{where}:{node.lineno}: imports {target}, a module of workbench/ "
                             "that belongs to no layer")
            elif other == package:
                continue
            elif package is None or LAYERS[other] >= LAYERS[package]:
                found.append(f"{where}:{node.lineno}: {package or 'base'} imports {target}, "
                             f"which is not below it")
            elif len(parts) > 2:
                found.append(f"{where}:{node.lineno}: imports {target}, a private module of "
                             f"{other}/; import its public names from workbench.{other}")
            elif isinstance(node, ast.ImportFrom) and node.module == target:
                found += [f"{where}:{node.lineno}: imports the module {other}.{a.name}, private "
                          f"to {other}/; import its public names from workbench.{other}"
                          for a in node.names if (WORKBENCH / other / f"{a.name}.py").exists()
                          and a.name not in public_names(other)]
    return found


def test_every_module_imports_only_lower_layers_and_their_public_names():
    found = []
    for path in sorted(WORKBENCH.rglob("*.py")):
        if path.parent == WORKBENCH and path.stem in ("__init__", "__main__"):
            continue  # `python -m workbench` runs the CLI
        found += violations(path.read_text("utf-8"), package_of(path),
                            str(path.relative_to(REPO)))
    assert found == []


def test_only_the_base_modules_sit_directly_in_workbench():
    flat = sorted(p.stem for p in WORKBENCH.glob("*.py"))
    assert set(flat) <= BASE, flat
    assert {p.name for p in WORKBENCH.iterdir() if p.is_dir() and p.name != "__pycache__"} \
        == set(LAYERS)
    # a folder without __init__.py (say, one a .gitignore pattern hid) is a namespace package
    # with no public names at all
    assert [p for p in LAYERS if not (WORKBENCH / p / "__init__.py").is_file()] == []


def test_the_layer_check_catches_planted_violations():
    planted = ("from workbench.graph import build_graph\n"          # catalog -> higher layer
               "from workbench.sources.cache import ResponseCache\n"  # private module
               "from workbench import sessions\n"                     # higher, module form
               "import workbench.cli.commands\n")                    # higher and private
    found = violations(planted, "catalog")
    assert len(found) == 4, found
    assert len(violations("from workbench.pdf import document\n", "graph")) == 1  # private
    assert violations("from workbench.catalog import load\nfrom workbench.errors import "
                      "WorkbenchError\n", "graph") == []


def test_every_public_name_is_listed_and_importable():
    code = ("import importlib\n"
            f"for pkg in {sorted(LAYERS)!r}:\n"
            "    m = importlib.import_module('workbench.' + pkg)\n"
            "    missing = [n for n in getattr(m, '__all__', []) if not hasattr(m, n)]\n"
            "    assert not missing, (pkg, missing)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr


def test_importing_any_workbench_module_imports_neither_streamlit_nor_torch():
    """The library and the CLI stay plain (the app's pages and `app.common` are Streamlit)."""
    code = (
        "import sys, pkgutil, importlib, workbench\n"
        "skip = ('workbench.app.views', 'workbench.app.main', 'workbench.app.common')\n"
        "names = [m.name for m in pkgutil.walk_packages(workbench.__path__, 'workbench.')\n"
        "         if not m.name.startswith(skip) and not m.name.endswith('__main__')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "assert len(names) > 40, names\n"
        "print(','.join(m for m in ('streamlit', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def _runtime_imports(tree: ast.AST):
    """Import nodes that run (at module level or in a function), not those under
    `if TYPE_CHECKING:`."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
            and id(n) not in skip]


def test_no_import_cycle_between_workbench_modules():
    """A module that imports another which (directly or not) imports it back: the dependency
    direction is lost (issue 17 found overrides <-> reproductions and catalog cache <->
    validate). A package's `__init__` re-exporting its own modules does not count."""
    import networkx as nx

    root = REPO / "workbench"
    graph = nx.DiGraph()
    for path in root.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        mod = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in _runtime_imports(ast.parse(path.read_text("utf-8"))):
            targets = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [f"{node.module}.{a.name}" if (REPO / f"{node.module}.{a.name}".replace(
                           ".", "/")).with_suffix(".py").exists() else node.module
                        for a in node.names] if node.module and node.level == 0 else [])
            for target in targets:
                if target.startswith("workbench") and not (
                        path.name == "__init__.py" and target.startswith(mod + ".")):
                    graph.add_edge(mod, target)
    cycles = [c for c in nx.simple_cycles(graph) if len(c) > 1]
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
