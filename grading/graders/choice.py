"""Single and multiple choice: the answer is the set of option ids the candidate picked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grading.graders.base import AnswerError, Grader, Verdict, register
from grading.graders.checks import ConfigError, OptionSpec, config_bool, only_keys


def _check_options(options: Sequence[OptionSpec], *, single: bool) -> None:
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


class _ChoiceGrader(Grader):
    single: bool

    def parse_answer(self, raw: Any) -> frozenset[str]:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
            raise AnswerError("Choose an option.")
        picked = frozenset(raw)
        if not picked:
            raise AnswerError("Choose an option.")
        if self.single and len(picked) != 1:
            raise AnswerError("Choose exactly one option.")
        return picked

    def grade(self, *, key: dict[str, Any], config: dict[str, Any], answer: Any) -> Verdict:
        correct = frozenset(key["correct"])
        known = frozenset(key.get("options", correct))
        picked = frozenset(answer)
        if not picked <= known:
            raise AnswerError("That option is not part of this question.")
        if picked == correct:
            return Verdict(correct=True, score=1.0)
        if self.single or not config.get("partial_credit"):
            return Verdict(correct=False, score=0.0)
        # Partial credit: right picks minus wrong picks, over the number of right options.
        earned = len(picked & correct) - len(picked - correct)
        return Verdict(correct=False, score=max(0.0, earned / len(correct)))


@register
class SingleChoiceGrader(_ChoiceGrader):
    answer_format = "single_choice"
    single = True

    def validate_config(self, config, options):
        only_keys(config, {"shuffle"})
        _check_options(options, single=True)
        return {"shuffle": config_bool(config, "shuffle", True)}


@register
class MultipleChoiceGrader(_ChoiceGrader):
    answer_format = "multiple_choice"
    single = False

    def validate_config(self, config, options):
        only_keys(config, {"shuffle", "partial_credit"})
        _check_options(options, single=False)
        return {
            "shuffle": config_bool(config, "shuffle", True),
            "partial_credit": config_bool(config, "partial_credit", False),
        }
