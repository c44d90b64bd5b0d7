"""Code answers: the candidate writes a function; the author's tests decide.

Each test's inputs are built by a short setup snippet (``args = (torch.randn(4, 3),)``)
after seeding torch. The candidate's function and the author's reference run in separate
sandbox jobs through the same harness (``build_harness``); only the plain results come
back, and ``grade`` compares them here, outside any process the candidate's code ran in.
Partial credit is the share of tests passed; feedback shows the results of shown tests
and only the count of hidden ones.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from grading.graders.base import AnswerError, Grader, Verdict, register
from grading.graders.checks import ConfigError, config_tolerance, no_options, only_keys
from grading.values import TensorValue, ValueParseError, compare_tensors

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
        {results}[__grading_test["name"]] = {{
            "ok": False, "error": type(__grading_exc).__name__ + ": " + str(__grading_exc)[:500]
        }}
"""


def build_harness(*, source: str, config: dict[str, Any]) -> str:
    """Return the program that defines ``source`` and runs every test against its function."""
    tests = [{"name": t["name"], "setup": t["setup"]} for t in config["tests"]]
    harness = _HARNESS.format(
        tests=json.dumps(tests), results=RESULTS_NAME, entry=config["entry_point"],
        seed=int(config.get("seed", 0)),
    )  # fmt: skip
    return f"import json\n{source}\n{harness}"


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
        try:
            ast.parse(raw)
        except SyntaxError as exc:
            raise AnswerError(f"Syntax error on line {exc.lineno}: {exc.msg}.") from exc
        return raw

    def grade(self, *, key, config, answer) -> Verdict:
        """Compare the candidate's results (``answer``: test name → result) with the key's."""
        expected = key["expected"]
        shown, hidden_passed, hidden_total, passed = [], 0, 0, 0
        for test in config["tests"]:
            ok, message = compare_result(
                answer.get(test["name"]), expected.get(test["name"]), config
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
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(field, f"syntax error on line {exc.lineno}: {exc.msg}") from exc


def compare_result(actual: Any, expected: Any, config: dict[str, Any]) -> tuple[bool, str]:
    """Return (passed, message) for one test's result against the reference's."""
    if not isinstance(expected, dict) or not expected.get("ok"):
        return False, "the reference failed on this test"
    if not isinstance(actual, dict):
        return False, "no result (the program stopped before this test)"
    if not actual.get("ok"):
        return False, str(actual.get("error", "raised an exception"))[:300]
    try:
        mine = TensorValue.from_plain(actual.get("value"))
        theirs = TensorValue.from_plain(expected.get("value"))
    except ValueParseError as exc:
        return False, f"the result is not a tensor or number: {exc}"
    equal, reason = compare_tensors(mine, theirs, atol=config["atol"], rtol=config["rtol"])
    return equal, "passed" if equal else reason
