"""Graders, one per answer format; importing this package registers them all."""

from grading.graders import choice, code, values  # noqa: F401
from grading.graders.base import AnswerError, Grader, Verdict, get_grader, registered_formats

__all__ = ["AnswerError", "Grader", "Verdict", "get_grader", "registered_formats"]
