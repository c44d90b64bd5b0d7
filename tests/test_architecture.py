"""The shape of the code, checked like behaviour: no import cycles, a closed sandbox, and every
task sent by name is one the worker has.

Which way dependencies point between packages is checked by import-linter (`make lint`,
contracts in pyproject.toml); these checks need a graph walk of their own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest
from django.conf import settings

from config.celery import app

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("accounts", "assessments", "grading", "config")
# Packages whose modules must not import each other in a circle, function-level imports
# included.
CYCLE_FREE_PACKAGES = ("accounts", "assessments", "grading")
# Task names are dotted paths under one of these: a string literal like that is a task name.
TASK_NAME = re.compile(r"^(accounts|assessments|grading)\.tasks\.[a-z_]+$")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # The same graph lint-imports builds: annotations-only imports are no dependency.
    return grimp.build_graph(*PROJECT_PACKAGES, exclude_type_checking_imports=True)


def import_cycles(graph: grimp.ImportGraph, packages: tuple[str, ...]) -> list[list[str]]:
    """Return every set of modules of ``packages`` that import each other in a circle
    (Tarjan's strongly connected components of the module import graph)."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] in packages)
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowlink[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                lowlink[module] = min(lowlink[module], lowlink[imported])
            elif imported in on_stack:
                lowlink[module] = min(lowlink[module], index[imported])
        if lowlink[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in edges[module]:
                cycles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_itself_through_a_circle(graph):
    assert import_cycles(graph, CYCLE_FREE_PACKAGES) == []


def test_the_cycle_finder_finds_a_circle():
    circle = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        circle.add_module(module)
    circle.add_import(importer="pkg.a", imported="pkg.b")
    circle.add_import(importer="pkg.b", imported="pkg.c")
    circle.add_import(importer="pkg.c", imported="pkg.a")
    assert import_cycles(circle, ("pkg",)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_sandbox_imports_nothing_of_the_project_outside_itself(graph):
    outside = {
        (module, imported)
        for module in graph.find_descendants("grading.sandbox")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported != "grading.sandbox" and not imported.startswith("grading.sandbox.")
    }
    assert outside == set()


def _task_names_in_source() -> dict[str, str]:
    """Map every string literal in the project's code that names a task to where it is."""
    found = {}
    for package in PROJECT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and TASK_NAME.match(node.value)
                ):
                    found[node.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_task_sent_by_name_is_registered_with_the_worker():
    app.loader.import_default_modules()  # what a worker imports at start-up
    registered = set(app.tasks)
    sent = _task_names_in_source()
    for key, entry in settings.CELERY_BEAT_SCHEDULE.items():
        sent[entry["task"]] = f"CELERY_BEAT_SCHEDULE[{key!r}]"
    # The names services send by name and the worker's callbacks: the check is not vacuous.
    assert {
        "assessments.tasks.answer_graded",
        "assessments.tasks.key_job_done",
        "assessments.tasks.deliver_webhook",
        "assessments.tasks.deliver_greenhouse_callback",
        "assessments.tasks.send_candidate_invitation",
    } <= set(sent)
    missing = {name: where for name, where in sent.items() if name not in registered}
    assert missing == {}
