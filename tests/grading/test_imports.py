"""``grading`` stands on its own: no import cycle inside it, and it never imports ``assessments``
or ``config`` (settings come through ``django.conf``). Function-level imports count too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """Return every module ``path`` imports, anywhere in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def grading_graph() -> dict[str, set[str]]:
    """Return the import graph of the modules of ``grading`` (edges inside ``grading`` only)."""
    files = {
        _module_name(path): path
        for path in (ROOT / "grading").rglob("*.py")
        if "migrations" not in path.parts
    }
    return {
        module: {name for name in _imports(path, module) if name in files and name != module}
        for module, path in files.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_grading_has_no_import_cycle():
    assert cycles(grading_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("forbidden", ["assessments", "config"])
def test_grading_never_imports_the_apps_above_it(forbidden):
    offenders = {
        _module_name(path): sorted(
            name
            for name in _imports(path, _module_name(path))
            if name == forbidden or name.startswith(f"{forbidden}.")
        )
        for path in (ROOT / "grading").rglob("*.py")
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_every_task_grading_sends_by_name_is_registered():
    from config.celery import app
    from grading.jobs import RUN_TASK

    app.loader.import_default_modules()
    assert RUN_TASK in app.tasks
