"""What each answer format's grading configuration may contain, checked before saving.

Each answer format has one validator that returns the configuration normalized (defaults
filled in) or raises ``ConfigError`` naming the field. ``assessments`` calls
``validate_grading_config`` from ``Challenge.clean()`` and the YAML importer, so a bad
configuration never reaches the database and never reaches a grader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A grading configuration or option list is invalid; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OptionSpec:
    """The part of an answer option a validator looks at."""

    text: str
    correct: bool


def _only_keys(config: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(
            "grading",
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed)) or 'none'}",
        )


def _bool(config: dict[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"grading.{key}", f"must be true or false, not {value!r}")
    return value


def _tolerance(config: dict[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"grading.{key}", f"must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0 or value > 1:
        raise ConfigError(f"grading.{key}", f"must be between 0 and 1, not {value!r}")
    return float(value)


def _choices(options: Sequence[OptionSpec], *, single: bool) -> None:
    if len(options) < 2:
        raise ConfigError("options", "a choice question needs at least two options")
    texts = [option.text.strip() for option in options]
    if any(not text for text in texts):
        raise ConfigError("options", "every option needs a text")
    if len(set(texts)) != len(texts):
        raise ConfigError("options", "two options have the same text")
    correct = sum(1 for option in options if option.correct)
    if single and correct != 1:
        raise ConfigError(
            "options", f"a single-choice question needs exactly one correct option, not {correct}"
        )
    if not single and correct < 1:
        raise ConfigError("options", "a multiple-choice question needs at least one correct option")


def _no_options(options: Sequence[OptionSpec], fmt: str) -> None:
    if options:
        raise ConfigError("options", f"answer options are only for choice questions, not {fmt}")


def _single_choice(config: dict[str, Any], options: Sequence[OptionSpec]) -> dict[str, Any]:
    _only_keys(config, {"shuffle"})
    _choices(options, single=True)
    return {"shuffle": _bool(config, "shuffle", True)}


def _multiple_choice(config: dict[str, Any], options: Sequence[OptionSpec]) -> dict[str, Any]:
    _only_keys(config, {"shuffle", "partial_credit"})
    _choices(options, single=False)
    return {
        "shuffle": _bool(config, "shuffle", True),
        "partial_credit": _bool(config, "partial_credit", False),
    }


def _tensor_value(config: dict[str, Any], options: Sequence[OptionSpec]) -> dict[str, Any]:
    _only_keys(config, {"atol", "rtol"})
    _no_options(options, "tensor value")
    return {"atol": _tolerance(config, "atol", 1e-4), "rtol": _tolerance(config, "rtol", 1e-4)}


def _exception(config: dict[str, Any], options: Sequence[OptionSpec]) -> dict[str, Any]:
    _only_keys(config, {"match_message"})
    _no_options(options, "exception")
    return {"match_message": _bool(config, "match_message", False)}


def _text(config: dict[str, Any], options: Sequence[OptionSpec]) -> dict[str, Any]:
    _only_keys(config, {"accepted", "case_sensitive"})
    _no_options(options, "text")
    accepted = config.get("accepted")
    if (
        not isinstance(accepted, list)
        or not accepted
        or not all(isinstance(item, str) and item.strip() for item in accepted)
    ):
        raise ConfigError("grading.accepted", "must be a non-empty list of accepted answers")
    return {
        "accepted": [item.strip() for item in accepted],
        "case_sensitive": _bool(config, "case_sensitive", False),
    }


def _code(config: dict[str, Any], options: Sequence[OptionSpec]) -> dict[str, Any]:
    _only_keys(config, {"entry_point", "reference", "tests"})
    _no_options(options, "code")
    entry_point = config.get("entry_point")
    if not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise ConfigError("grading.entry_point", "must name the function the candidate writes")
    reference = config.get("reference", "")
    if not isinstance(reference, str):
        raise ConfigError("grading.reference", "must be Python source text")
    tests = config.get("tests", [])
    if not isinstance(tests, list):
        raise ConfigError("grading.tests", "must be a list of tests")
    names = set()
    for index, test in enumerate(tests):
        if not isinstance(test, dict) or not isinstance(test.get("name"), str):
            raise ConfigError(f"grading.tests[{index}]", "needs a name")
        if test["name"] in names:
            raise ConfigError(f"grading.tests[{index}]", f"duplicate name {test['name']!r}")
        names.add(test["name"])
        if not isinstance(test.get("hidden", False), bool):
            raise ConfigError(f"grading.tests[{index}].hidden", "must be true or false")
    return {"entry_point": entry_point, "reference": reference, "tests": tests}


VALIDATORS: dict[str, Callable[[dict[str, Any], Sequence[OptionSpec]], dict[str, Any]]] = {
    "single_choice": _single_choice,
    "multiple_choice": _multiple_choice,
    "tensor_value": _tensor_value,
    "exception": _exception,
    "text": _text,
    "code": _code,
}


def validate_grading_config(
    answer_format: str, config: Any, options: Sequence[OptionSpec]
) -> dict[str, Any]:
    """Return ``config`` normalized for ``answer_format``, or raise ``ConfigError``."""
    validator = VALIDATORS.get(answer_format)
    if validator is None:
        raise ConfigError("answer_format", f"unknown answer format {answer_format!r}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError("grading", f"must be a mapping, not {type(config).__name__}")
    return validator(config, options)
