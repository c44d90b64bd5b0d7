"""The grader interface and its registry.

A grader owns one answer format. It checks an author's configuration before it is saved
(``validate_config``), reads a candidate's raw answer (``parse_answer``) and compares it
with the key (``grade``). Graders know nothing of challenge sets or candidates: they take
a key, a configuration and an answer, and return a ``Verdict``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from grading.graders.checks import OptionSpec


class AnswerError(ValueError):
    """The candidate's answer cannot be read; the message tells them why (no attempt used)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of grading one answer."""

    correct: bool
    score: float  # share of the points earned, 0..1
    feedback: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Grader(ABC):
    """Base of every grader. Subclasses set ``answer_format`` and implement the hooks."""

    answer_format: ClassVar[str]
    #: Whether grading runs candidate code (and so must go through the sandbox, on a worker).
    needs_sandbox: ClassVar[bool] = False

    @abstractmethod
    def validate_config(self, config: dict[str, Any], options: Sequence[OptionSpec]) -> dict:
        """Return the configuration normalized, or raise ``ConfigError`` naming the field."""

    def parse_answer(self, raw: Any) -> Any:
        """Return the answer in the form ``grade`` takes, or raise ``AnswerError``."""
        return raw

    @abstractmethod
    def grade(self, *, key: dict[str, Any], config: dict[str, Any], answer: Any) -> Verdict:
        """Compare a parsed answer with the key and return the verdict."""


#: Filled by ``register`` when ``grading.graders`` imports every grader module; read it
#: through ``grading.graders.get_grader``, which guarantees that import happened.
_REGISTRY: dict[str, Grader] = {}


def register(grader_class: type[Grader]) -> type[Grader]:
    """Class decorator: make the grader the one for its answer format."""
    fmt = grader_class.answer_format
    if fmt in _REGISTRY:
        raise RuntimeError(f"two graders for {fmt!r}")
    _REGISTRY[fmt] = grader_class()
    return grader_class
