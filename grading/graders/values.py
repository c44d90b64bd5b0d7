"""Typed answers: a tensor value, an exception, free text."""

from __future__ import annotations

import unicodedata
from typing import Any

from grading.graders.base import AnswerError, Grader, Verdict, register
from grading.graders.checks import ConfigError, config_bool, config_tolerance, no_options, only_keys
from grading.schema import tensor_from_plain
from grading.values import (
    TensorValue,
    ValueParseError,
    compare_tensors,
    parse_exception_text,
    parse_tensor_text,
)


def _text(raw: Any, what: str, limit: int = 20_000) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise AnswerError(f"Type {what}.")
    if len(raw) > limit:
        raise AnswerError(f"The answer is longer than {limit} characters.")
    return raw


@register
class TensorValueGrader(Grader):
    """The candidate types a value; it is read without eval and compared with tolerance.

    Key: ``{"value": <plain tensor data>}`` (captured in the sandbox) or
    ``{"printed": "tensor(...)"}`` (what the snippet printed).
    """

    answer_format = "tensor_value"

    def validate_config(self, config, options):
        only_keys(config, {"atol", "rtol"})
        no_options(options, "tensor value")
        return {
            "atol": config_tolerance(config, "atol", 1e-4),
            "rtol": config_tolerance(config, "rtol", 1e-4),
        }

    def parse_answer(self, raw: Any) -> TensorValue:
        try:
            return parse_tensor_text(_text(raw, "a value such as tensor([[1., 2.]])"))
        except ValueParseError as exc:
            raise AnswerError(f"Cannot read that value: {exc}.") from exc

    def grade(self, *, key, config, answer) -> Verdict:
        if "value" in key:
            expected = tensor_from_plain(key["value"])
        else:
            expected = parse_tensor_text(key["printed"])
        equal, reason = compare_tensors(
            answer, expected, atol=config.get("atol", 1e-4), rtol=config.get("rtol", 1e-4)
        )
        feedback = "" if equal or "shape" not in reason else f"Your value has {reason}."
        return Verdict(correct=equal, score=1.0 if equal else 0.0, feedback=feedback)


@register
class ExceptionGrader(Grader):
    """The candidate names the exception class, and the message when the author asks for it.

    Key: ``{"type": "RuntimeError", "message": "..."}`` (what the snippet raised).
    """

    answer_format = "exception"

    def validate_config(self, config, options):
        only_keys(config, {"match_message"})
        no_options(options, "exception")
        return {"match_message": config_bool(config, "match_message", False)}

    def parse_answer(self, raw: Any) -> tuple[str, str]:
        try:
            return parse_exception_text(_text(raw, "the exception, e.g. RuntimeError: message"))
        except ValueParseError as exc:
            raise AnswerError(str(exc)) from exc

    def grade(self, *, key, config, answer) -> Verdict:
        name, message = answer
        if name != key["type"]:
            return Verdict(correct=False, score=0.0)
        if config.get("match_message"):
            expected = " ".join(key.get("message", "").split())
            if message.casefold() != expected.casefold():
                return Verdict(
                    correct=False, score=0.0, feedback="The class is right; the message is not."
                )
        return Verdict(correct=True, score=1.0)


def normalize_text(text: str, *, case_sensitive: bool) -> str:
    """Fold Unicode forms and white space (and case unless asked not to)."""
    text = " ".join(unicodedata.normalize("NFKC", text).split()).strip(" .")
    return text if case_sensitive else text.casefold()


@register
class TextGrader(Grader):
    """Free text compared with the accepted answers after normalization."""

    answer_format = "text"

    def validate_config(self, config, options):
        only_keys(config, {"accepted", "case_sensitive"})
        no_options(options, "text")
        accepted = config.get("accepted")
        if (
            not isinstance(accepted, list)
            or not accepted
            or not all(isinstance(item, str) and item.strip() for item in accepted)
        ):
            raise ConfigError("grading.accepted", "must be a non-empty list of accepted answers")
        return {
            "accepted": [item.strip() for item in accepted],
            "case_sensitive": config_bool(config, "case_sensitive", False),
        }

    def parse_answer(self, raw: Any) -> str:
        return _text(raw, "an answer", limit=2_000)

    def grade(self, *, key, config, answer) -> Verdict:
        case_sensitive = config.get("case_sensitive", False)
        given = normalize_text(answer, case_sensitive=case_sensitive)
        accepted = {normalize_text(a, case_sensitive=case_sensitive) for a in config["accepted"]}
        correct = given in accepted
        return Verdict(correct=correct, score=1.0 if correct else 0.0)
