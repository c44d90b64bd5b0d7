"""Reading one field of a challenge-set file: every problem is noted, none stops the reading.

``assessments.authoring.content`` reads a whole file with these, so one pass reports every
problem with the challenge and field it concerns.
"""

from __future__ import annotations


class Problems:
    """Gather problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def field_text(data: dict, key: str, where: str, errors: Problems, *, required: bool) -> str:
    """Return a text field, stripped (code keeps its indentation); note what is wrong."""
    value = data.get(key)
    if value is None:
        if required:
            errors.add(where, f"field '{key}' is required")
        return ""
    if not isinstance(value, str):
        errors.add(where, f"field '{key}' must be text, not {type(value).__name__}")
        return ""
    if required and not value.strip():
        errors.add(where, f"field '{key}' must not be empty")
    return value.strip("\n") if key in {"code", "variables"} else value.strip()


def field_int(
    data: dict,
    key: str,
    where: str,
    errors: Problems,
    *,
    default: int | None,
    bounds: tuple[int, int],
) -> int | None:
    """Return a whole-number field within ``bounds``; note what is wrong."""
    value = data.get(key, default)
    if value is None:
        if default is None and key in data:
            return None
        if default is None:
            errors.add(where, f"field '{key}' is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(where, f"field '{key}' must be a whole number, not {value!r}")
        return default
    low, high = bounds
    if not low <= value <= high:
        errors.add(where, f"field '{key}' must be between {low} and {high}, not {value}")
    return value


def field_choice(data: dict, key: str, where: str, errors: Problems, choices, default=None) -> str:
    """Return a field that must be one of ``choices``; note what is wrong."""
    value = data.get(key, default)
    if value is None:
        errors.add(where, f"field '{key}' is required")
        return ""
    if value not in choices.values:
        errors.add(
            where, f"field '{key}' must be one of {', '.join(choices.values)}, not {value!r}"
        )
        return ""
    return value
