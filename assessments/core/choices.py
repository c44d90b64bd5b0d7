"""The vocabularies of challenges: kinds, difficulties, answer formats and their rules."""

from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    PREDICT_OUTPUT = "predict_output", "Predict Output"
    CONCEPTUAL = "conceptual", "Conceptual"
    HYPERPARAMETER = "hyperparameter", "Hyperparameter"
    DEBUG = "debug", "Debug"
    MODEL_CHOICE = "model_choice", "Model Choice"
    CODE = "code", "Code"


class Difficulty(models.TextChoices):
    BEGINNER = "beginner", "Beginner"
    INTERMEDIATE = "intermediate", "Intermediate"
    ADVANCED = "advanced", "Advanced"
    EXPERT = "expert", "Expert"


class AnswerFormat(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    TENSOR_VALUE = "tensor_value", "Tensor value"
    EXCEPTION = "exception", "Exception"
    TEXT = "text", "Text"
    CODE = "code", "Code"


class Navigation(models.TextChoices):
    SEQUENTIAL = "sequential", "One after another"
    FREE = "free", "Any order"


class FeedbackPolicy(models.TextChoices):
    """When a candidate may read a question's explanation.

    ``after_close`` (the default) keeps the explanation until no answer can change the
    score. ``after_wrong_answer`` is practice: the explanation follows a wrong answer while
    attempts are left, and any answer given after it was shown scores nothing.
    """

    AFTER_CLOSE = "after_close", "Once the question is closed"
    AFTER_WRONG_ANSWER = (
        "after_wrong_answer",
        "After each wrong answer (practice: later answers score nothing)",
    )


# Kinds whose challenge shows a code snippet that the candidate reasons about (and that the
# grader runs to compute the key); "code" has starter code instead.
KINDS_WITH_SNIPPET = frozenset({Kind.PREDICT_OUTPUT, Kind.DEBUG})
KINDS_WITH_CODE = KINDS_WITH_SNIPPET | {Kind.CODE}

# Which answer formats make sense for which kind; the first is the default.
FORMATS_BY_KIND: dict[str, tuple[str, ...]] = {
    Kind.PREDICT_OUTPUT: (AnswerFormat.SINGLE_CHOICE, AnswerFormat.TENSOR_VALUE, AnswerFormat.TEXT),
    Kind.CONCEPTUAL: (AnswerFormat.SINGLE_CHOICE, AnswerFormat.MULTIPLE_CHOICE, AnswerFormat.TEXT),
    Kind.HYPERPARAMETER: (
        AnswerFormat.SINGLE_CHOICE,
        AnswerFormat.MULTIPLE_CHOICE,
        AnswerFormat.TEXT,
    ),
    Kind.DEBUG: (AnswerFormat.SINGLE_CHOICE, AnswerFormat.EXCEPTION, AnswerFormat.TEXT),
    Kind.MODEL_CHOICE: (
        AnswerFormat.SINGLE_CHOICE,
        AnswerFormat.MULTIPLE_CHOICE,
        AnswerFormat.TEXT,
    ),
    Kind.CODE: (AnswerFormat.CODE,),
}

CHOICE_FORMATS = frozenset({AnswerFormat.SINGLE_CHOICE, AnswerFormat.MULTIPLE_CHOICE})

KIND_ICONS = {
    Kind.PREDICT_OUTPUT: "❓",
    Kind.CONCEPTUAL: "🧠",
    Kind.HYPERPARAMETER: "⚙️",
    Kind.DEBUG: "🔧",
    Kind.MODEL_CHOICE: "🧩",
    Kind.CODE: "⌨️",
}

TIME_LIMIT_RANGE = (10, 3600)
ATTEMPTS_RANGE = (1, 10)
