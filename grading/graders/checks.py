"""Checks of grading configurations shared by every grader (a leaf: imports nothing of ours).

Each grader validates its own format (``Grader.validate_config``) with these helpers; the
entry point that picks the grader is ``grading.formats.validate_grading_config``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def only_keys(config: dict[str, Any], allowed: set[str]) -> None:
    """Refuse keys the format does not know (a typo must not be ignored silently)."""
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(
            "grading",
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed)) or 'none'}",
        )


def config_bool(config: dict[str, Any], key: str, default: bool) -> bool:
    """Return a boolean setting, or raise ``ConfigError``."""
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"grading.{key}", f"must be true or false, not {value!r}")
    return value


def config_tolerance(config: dict[str, Any], key: str, default: float) -> float:
    """Return a tolerance between 0 and 1, or raise ``ConfigError``."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"grading.{key}", f"must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0 or value > 1:
        raise ConfigError(f"grading.{key}", f"must be between 0 and 1, not {value!r}")
    return float(value)


def no_options(options: Sequence[OptionSpec], fmt: str) -> None:
    """Refuse answer options on a format that has none."""
    if options:
        raise ConfigError("options", f"answer options are only for choice questions, not {fmt}")
