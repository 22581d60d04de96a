"""The package layers only look down, and no module imports itself back through others.

    preprocessing  <-  datamodules  <-  lightning_module  <-  export
    preprocessing  <-  serving (torch-free: never torch, Lightning or the training side)  <-  export
    preprocessing  <-  demo

Read from the source (every ``import``, at module level or inside a function), so a lazy import
counts too: a cycle or an upward import is a design error whether or not it runs at import time.
"""

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("preprocessing", "datamodules", "lightning_module", "export", "serving", "demo")
ALLOWED = {  # package -> first-party packages it may import
    "preprocessing": set(),
    "datamodules": {"preprocessing"},
    "lightning_module": {"preprocessing", "datamodules"},
    "serving": {"preprocessing"},
    "export": {"preprocessing", "datamodules", "lightning_module", "serving"},
    "demo": {"preprocessing"},
}
TORCH_FREE = ("serving", "preprocessing", "demo")
TRAINING_LIBRARIES = ("torch", "pytorch_lightning", "lightning", "torchmetrics")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute imports; the project uses no relative ones)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
    return names


def graph() -> dict[str, set[str]]:
    """First-party module -> the first-party modules it imports."""
    files = [path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))] + [REPO / "cli.py"]
    modules = {module_name(path): path for path in files}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            while imported and imported not in modules:  # `from a.b import c`: the module a.b
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def test_each_package_imports_only_the_layers_below_it() -> None:
    edges = graph()
    wrong = [
        f"{source} imports {target}"
        for source, targets in edges.items()
        for target in targets
        if source != "cli"
        and target != "cli"
        and target.split(".")[0] not in ALLOWED[source.split(".")[0]] | {source.split(".")[0]}
    ]
    assert not wrong, wrong


def test_the_scoring_side_never_imports_torch_or_lightning() -> None:
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for package in TORCH_FREE
        for path in sorted((REPO / package).rglob("*.py"))
        for name in imports_of(path)
        if name.split(".")[0] in TRAINING_LIBRARIES
    ]
    assert not wrong, wrong


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_the_landmark_table_is_blazepose_order_and_its_mirror_swaps_every_pair() -> None:
    import mediapipe as mp
    import numpy as np

    from preprocessing.landmarks import MIRROR_PERMUTATION, PAIRS, Landmark

    assert [(mark.name, mark.value) for mark in Landmark] == [
        (mark.name, mark.value) for mark in mp.solutions.pose.PoseLandmark
    ]
    assert len(PAIRS) == 16 and all(left.name.replace("LEFT", "RIGHT") == right.name for left, right in PAIRS)
    assert MIRROR_PERMUTATION[Landmark.NOSE] == Landmark.NOSE
    assert MIRROR_PERMUTATION[Landmark.LEFT_KNEE] == Landmark.RIGHT_KNEE
    assert np.array_equal(MIRROR_PERMUTATION[MIRROR_PERMUTATION], np.arange(len(Landmark)))
