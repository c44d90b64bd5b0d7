"""The entry point that validates a grading configuration with its format's grader.

``assessments`` calls ``validate_grading_config`` from ``Challenge.clean()`` and the YAML
importer, so a bad configuration never reaches the database nor a grader. The shared
checks (``ConfigError``, ``OptionSpec``...) live in ``grading.graders.checks`` and are
re-exported here for callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grading.graders import get_grader
from grading.graders.checks import (
    ConfigError,
    OptionSpec,
    config_bool,
    config_tolerance,
    no_options,
    only_keys,
)

__all__ = [
    "ConfigError",
    "OptionSpec",
    "config_bool",
    "config_tolerance",
    "no_options",
    "only_keys",
    "validate_grading_config",
]


def validate_grading_config(
    answer_format: str, config: Any, options: Sequence[OptionSpec]
) -> dict[str, Any]:
    """Return ``config`` normalized for ``answer_format``, or raise ``ConfigError``."""
    grader = get_grader(answer_format)
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError("grading", f"must be a mapping, not {type(config).__name__}")
    return grader.validate_config(config, options)


def validate_variable_grading_config(
    answer_format: str, config: Any, options: Sequence[OptionSpec]
) -> dict[str, Any]:
    """Validate a variable question's configuration, whose code tests' setup are templates.

    Each ``{{ name }}`` is read as ``0`` for the checks (syntax and all), and the setups are
    kept as written: they are rendered per variant, and a variant whose rendered setup fails
    refuses publishing with its variables shown.
    """
    from grading.variants import PLACEHOLDER  # imports graders, which import this module

    tests = config.get("tests") if isinstance(config, dict) else None
    if not isinstance(tests, list):
        return validate_grading_config(answer_format, config, options)
    stand_in = [
        {**test, "setup": PLACEHOLDER.sub("0", test["setup"])}
        if isinstance(test, dict) and isinstance(test.get("setup"), str)
        else test
        for test in tests
    ]
    validated = validate_grading_config(answer_format, {**config, "tests": stand_in}, options)
    for checked, written in zip(validated.get("tests", []), tests, strict=False):
        checked["setup"] = written["setup"]
    return validated
