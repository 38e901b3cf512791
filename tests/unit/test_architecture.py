"""The dependency rule of DESIGN.md ("Layout"), read from the imports themselves (ast).

Entry points (cli, serve) -> web -> services -> core; nothing imports above its layer, the
product never imports `lab`, and no two units import each other, directly or around a circle.
Imports under `if TYPE_CHECKING:` are annotations only and do not count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("controller", "captive_portal", "exporters", "lab")

# Units by layer, lowest first. A unit is a top-level package, or a module or package directly
# under controller/. A new unit must be placed here: an unplaced one fails the test.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("controller.units", "controller.secrets", "controller.settings",
             "controller.store", "controller.inventory", "controller.schedules",
             "controller.devices", "controller.shard", "controller.context",
             "controller.ratelimit", "controller.allocation_history", "controller.gitpack"),
    "services": ("controller.configs", "controller.hotspot_gateway", "controller.jobs",
                 "controller.pushes", "controller.backups", "controller.drift",
                 "controller.bandwidth", "controller.accountability", "controller.auth",
                 "controller.overview", "controller.device_health", "controller.archive",
                 "controller.radius_config", "captive_portal", "exporters", "controller.worker"),
    "web": ("controller.web",),
    "entry": ("controller.cli", "controller.serve"),
}
RANK = {unit: rank for rank, units in enumerate(LAYERS.values()) for unit in units}
LAB = "lab"  # outside the product: it may use the core, and nothing in the product uses it


def unit_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "controller" and len(parts) > 1 else parts[0]


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import outside `if TYPE_CHECKING:` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def import_edges(root: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, from unit, to unit) for every import between two different units."""
    edges = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            source = unit_of(_module_name(root, path))
            for line, target in _runtime_imports(ast.parse(path.read_text(), str(path))):
                if target.split(".")[0] in PACKAGES and unit_of(target) != source:
                    edges.append((str(path.relative_to(root)), line, source,
                                  unit_of(target)))
    return edges


def violations(root: Path) -> list[str]:
    problems: list[str] = []
    graph: dict[str, set[str]] = defaultdict(set)
    for where, line, source, target in import_edges(root):
        place = f"{where}:{line}: {source} imports {target}"
        graph[source].add(target)
        if target == LAB and source != LAB:
            problems.append(f"{place}: the product never imports the lab")
        elif source == LAB:
            if RANK.get(target) != 0:
                problems.append(f"{place}: the lab may use only the core")
        elif source not in RANK or target not in RANK:
            unplaced = source if source not in RANK else target
            problems.append(f"{place}: {unplaced} has no layer in LAYERS (DESIGN.md Layout)")
        elif RANK[target] > RANK[source]:
            problems.append(f"{place}: a lower layer imports a higher one")
    problems += [f"import circle: {' -> '.join(cycle)}" for cycle in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component) + [sorted(component)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_product_follows_the_dependency_rule() -> None:
    assert violations(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name in PACKAGES:
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "__init__.py").touch()
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(("files", "expected"), [
    ({"controller/units.py": "from controller.configs import render\n"},
     "controller/units.py:1: controller.units imports controller.configs: a lower layer "
     "imports a higher one"),
    ({"exporters/snmp.py": "import controller.web.app\n"},
     "exporters/snmp.py:1: exporters imports controller.web: a lower layer imports a higher "
     "one"),
    ({"controller/serve.py": "def f():\n    from lab.runner import run_lab\n"},
     "controller/serve.py:2: controller.serve imports lab: the product never imports the lab"),
    ({"lab/runner.py": "from controller.jobs import ConfigJobs\n"},
     "lab/runner.py:1: lab imports controller.jobs: the lab may use only the core"),
    ({"controller/widgets.py": "from controller.units import parse_rate_bps\n"},
     "controller/widgets.py:1: controller.widgets imports controller.units: controller.widgets "
     "has no layer in LAYERS (DESIGN.md Layout)"),
    ({"controller/jobs.py": "from controller.configs import render\n",
      "controller/configs.py": "from controller.bandwidth import x\n",
      "controller/bandwidth/__init__.py": "from controller.jobs import ConfigJobs\n"},
     "import circle: controller.bandwidth -> controller.configs -> controller.jobs -> "
     "controller.bandwidth"),
])
def test_a_wrong_import_is_named_with_its_place(tmp_path: Path, files: dict[str, str],
                                                 expected: str) -> None:
    assert expected in violations(_tree(tmp_path, files))


def test_annotation_only_imports_do_not_count(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"controller/context.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from exporters.state import LatestReadings\n")})
    assert violations(root) == []
