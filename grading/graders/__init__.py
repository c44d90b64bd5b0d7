"""Graders, one per answer format; importing this package registers them all.

The registry's readers live here rather than in ``base`` so that ``base`` (which every
grader imports) imports none of its users.
"""

from grading.graders import choice, code, values  # noqa: F401 - registers every grader
from grading.graders.base import _REGISTRY, AnswerError, Grader, Verdict
from grading.graders.checks import ConfigError

__all__ = ["AnswerError", "Grader", "Verdict", "get_grader", "registered_formats"]


def get_grader(answer_format: str) -> Grader:
    """Return the grader for an answer format, or raise ``ConfigError``."""
    try:
        return _REGISTRY[answer_format]
    except KeyError:
        raise ConfigError("answer_format", f"unknown answer format {answer_format!r}") from None


def registered_formats() -> list[str]:
    """Return every answer format that has a grader."""
    return sorted(_REGISTRY)
