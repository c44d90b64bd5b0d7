"""Code answers: the candidate writes a function; the author's tests decide.

Each test's inputs are built by a short setup snippet (``args = (torch.randn(4, 3),)``)
after seeding torch. The candidate's function and the author's reference run in separate
sandbox jobs through the same harness (``build_harness``); only the plain results come
back, and ``grade`` compares them here, outside any process the candidate's code ran in,
after reading them through ``grading.schema``. An answer's shown and hidden tests run in
separate sandbox runs (``split_tests``): the process that can send text back never had a
hidden test's setup, and the hidden run reports no error text at all. Partial credit is the
share of tests passed; feedback shows the results of shown tests and only the count of
hidden ones.
"""

from __future__ import annotations

import ast
import json
import logging
from typing import Any

from grading.graders.base import AnswerError, Grader, Verdict, register
from grading.graders.checks import ConfigError, config_tolerance, no_options, only_keys
from grading.schema import SchemaError, compare_values, read_value

logger = logging.getLogger(__name__)

RESULTS_NAME = "__grading_results__"
MAX_CODE_CHARS = 50_000

_HARNESS = """
import torch as __grading_torch
__grading_tests = json.loads({tests!r})
{results} = {{}}
for __grading_test in __grading_tests:
    __grading_torch.manual_seed({seed})
    __grading_ns = {{"torch": __grading_torch}}
    try:
        exec(__grading_test["setup"], __grading_ns)
        __grading_value = {entry}(*__grading_ns["args"])
        {results}[__grading_test["name"]] = {{"ok": True, "value": __grading_value}}
    except Exception as __grading_exc:
        {results}[__grading_test["name"]] = {{"ok": False, "error": {error}}}
"""
# Shown tests report what the function raised; hidden tests report nothing but the failure.
_SHOWN_ERROR = 'type(__grading_exc).__name__ + ": " + str(__grading_exc)[:500]'
_HIDDEN_ERROR = '""'


def build_harness(
    *, source: str, config: dict[str, Any], tests: list[dict[str, Any]] | None = None,
    hidden: bool = False,
) -> str:  # fmt: skip
    """Return the program that defines ``source`` and runs ``tests`` against its function.

    ``tests`` defaults to every test of ``config`` (the reference's run); ``hidden`` leaves
    the exceptions' text out of the results.
    """
    chosen = config["tests"] if tests is None else tests
    harness = _HARNESS.format(
        tests=json.dumps([{"name": t["name"], "setup": t["setup"]} for t in chosen]),
        results=RESULTS_NAME, entry=config["entry_point"], seed=int(config.get("seed", 0)),
        error=_HIDDEN_ERROR if hidden else _SHOWN_ERROR,
    )  # fmt: skip
    return f"import json\n{source}\n{harness}"


def split_tests(config: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """Return the configuration's (shown, hidden) tests."""
    shown = [test for test in config["tests"] if not test.get("hidden")]
    hidden = [test for test in config["tests"] if test.get("hidden")]
    return shown, hidden


@register
class CodeGrader(Grader):
    """Key: ``{"expected": {test name: result}}`` from running the reference."""

    answer_format = "code"
    needs_sandbox = True

    def validate_config(self, config, options):
        only_keys(config, {"entry_point", "reference", "tests", "seed", "atol", "rtol", "limits"})
        no_options(options, "code")
        entry_point = config.get("entry_point")
        if not isinstance(entry_point, str) or not entry_point.isidentifier():
            raise ConfigError("grading.entry_point", "must name the function the candidate writes")
        reference = config.get("reference")
        if not isinstance(reference, str) or not reference.strip():
            raise ConfigError("grading.reference", "must be the reference solution's source")
        _check_syntax(reference, "grading.reference")
        tests = config.get("tests")
        if not isinstance(tests, list) or not tests:
            raise ConfigError("grading.tests", "must be a non-empty list of tests")
        names: set[str] = set()
        normalized = []
        for index, test in enumerate(tests):
            where = f"grading.tests[{index}]"
            if not isinstance(test, dict) or not isinstance(test.get("name"), str):
                raise ConfigError(where, "needs a name")
            only_keys(test, {"name", "setup", "hidden"})
            if test["name"] in names:
                raise ConfigError(where, f"duplicate name {test['name']!r}")
            names.add(test["name"])
            setup = test.get("setup")
            if not isinstance(setup, str) or "args" not in setup:
                raise ConfigError(f"{where}.setup", "must be code that defines args = (...)")
            _check_syntax(setup, f"{where}.setup")
            hidden = test.get("hidden", False)
            if not isinstance(hidden, bool):
                raise ConfigError(f"{where}.hidden", "must be true or false")
            normalized.append({"name": test["name"], "setup": setup, "hidden": hidden})
        seed = config.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError("grading.seed", "must be a whole number")
        return {
            "entry_point": entry_point,
            "reference": reference,
            "tests": normalized,
            "seed": seed,
            "limits": _limits(config.get("limits", {})),
            "atol": config_tolerance(config, "atol", 1e-5),
            "rtol": config_tolerance(config, "rtol", 1e-4),
        }

    def parse_answer(self, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise AnswerError("Write your function before submitting.")
        if len(raw) > MAX_CODE_CHARS:
            raise AnswerError(f"The code is longer than {MAX_CODE_CHARS} characters.")
        problem = _unreadable(raw)
        if problem:
            raise AnswerError(f"{problem[0].upper()}{problem[1:]}.")
        return raw

    def grade(self, *, key, config, answer) -> Verdict:
        """Compare the candidate's results (``answer``: test name → result) with the key's.

        ``answer`` is whatever the job left in its results variable: anything at all.
        """
        expected = key["expected"]
        results = answer if isinstance(answer, dict) else {}
        shown, hidden_passed, hidden_total, passed = [], 0, 0, 0
        for test in config["tests"]:
            ok, message = compare_result(
                results.get(test["name"]), expected.get(test["name"]), config
            )
            passed += ok
            if test["hidden"]:
                hidden_total += 1
                hidden_passed += ok
            else:
                shown.append({"name": test["name"], "passed": ok, "message": message})
        total = len(config["tests"])
        feedback = f"{passed} of {total} tests passed."
        if hidden_total:
            feedback += f" Hidden tests: {hidden_passed} of {hidden_total}."
        return Verdict(
            correct=passed == total,
            score=passed / total,
            feedback=feedback,
            details={"tests": shown, "hidden": {"passed": hidden_passed, "total": hidden_total}},
        )


# The most a challenge may give one run of a candidate's code; the sandbox clamps again.
LIMIT_MAXIMA = {"wall_seconds": 30, "cpu_seconds": 20, "memory_mb": 2048}


def _limits(limits: Any) -> dict[str, float]:
    if not isinstance(limits, dict):
        raise ConfigError("grading.limits", "must be a mapping of limits")
    only_keys(limits, set(LIMIT_MAXIMA))
    checked = {}
    for name, value in limits.items():
        maximum = LIMIT_MAXIMA[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= maximum
        ):
            raise ConfigError(f"grading.limits.{name}", f"must be a number in (0, {maximum}]")
        checked[name] = value
    return checked


def _check_syntax(source: str, field: str) -> None:
    problem = _unreadable(source)
    if problem:
        raise ConfigError(field, problem)


def _unreadable(source: str) -> str | None:
    """Return why Python cannot parse ``source`` (None when it can); never raise.

    Deep nesting (``1+1+...``, ``----1``) makes the parser raise RecursionError or
    MemoryError rather than SyntaxError: the source is refused all the same.
    """
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return f"syntax error on line {exc.lineno}: {exc.msg}"
    except (RecursionError, MemoryError, ValueError):
        return "the code is nested too deeply to be read"
    return None


def compare_result(actual: Any, expected: Any, config: dict[str, Any]) -> tuple[bool, str]:
    """Return (passed, message) for one test's result against the reference's; never raise.

    A value outside the schema fails the test with a message saying what came back; any
    other error while comparing fails this test alone, with a generic message (the details
    go to the log, not to the candidate).
    """
    try:
        return _compare_result(actual, expected, config)
    except Exception:
        logger.exception("comparing a code test's result failed")
        return False, "this test's result could not be checked"


def _compare_result(actual: Any, expected: Any, config: dict[str, Any]) -> tuple[bool, str]:
    if not isinstance(expected, dict) or expected.get("ok") is not True:
        return False, "the reference failed on this test"
    try:
        theirs = read_value(expected.get("value"))
    except SchemaError:
        return False, "the reference's result cannot be compared"
    if not isinstance(actual, dict) or type(actual.get("ok")) is not bool:
        return False, "no result (the program stopped before this test)"
    if not actual["ok"]:
        error = actual.get("error")
        return False, error[:300] if isinstance(error, str) and error else "raised an exception"
    try:
        mine = read_value(actual.get("value"))
    except SchemaError as exc:
        return False, f"your function returned {exc}; {theirs.noun} was expected"
    equal, reason = compare_values(mine, theirs, atol=config["atol"], rtol=config["rtol"])
    return equal, "passed" if equal else reason
