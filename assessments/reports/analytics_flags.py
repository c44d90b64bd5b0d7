"""The flags of item analysis: why a challenge deserves another look, and the thresholds.

``flags_for`` reads one challenge's figures (``reports.analytics``) and returns its flags;
the thresholds are the named constants below (docs/analytics.md explains them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the figures module imports this one
    from assessments.reports.analytics import ChallengeFigures

# No flag is raised on fewer sessions than this: below it, one candidate moves a share by 10%.
MIN_SESSIONS_FOR_FLAGS = 10
# "Nearly nobody" and "nearly everybody" answered correctly.
TOO_HARD_BELOW = 0.10
TOO_EASY_ABOVE = 0.95
# Wrong first answers cluster on one wrong option when it drew at least this share of them...
DISTRACTOR_MIN_SHARE = 0.40
# ...and at least this many times what an even spread over the wrong options would give it
# (with two wrong options one of them always has half: the bar is then 75%).
DISTRACTOR_MIN_LIFT = 1.5
# ...counted over at least this many wrong first answers.
DISTRACTOR_MIN_WRONG_ANSWERS = 5
# The limit is too short when at least this share of those who opened it ran out of time.
TIME_OUT_SHARE = 0.50
# Below this D a challenge barely tells strong candidates from weak ones.
LOW_DISCRIMINATION_BELOW = 0.10


@dataclass(frozen=True)
class Flag:
    """A reason to look at a challenge again: a short name and the figures behind it."""

    code: str
    title: str
    explanation: str


def pct(value: float) -> str:
    # Half up, as people round: 32.5% shows as 33%, not as round()'s even 32%.
    return f"{math.floor(100 * value + 0.5)}%"


# --- the computation -----------------------------------------------------------------------


def distractor_threshold(wrong_options: int) -> float:
    """Return the share of wrong first answers one wrong option needs to be flagged."""
    return max(DISTRACTOR_MIN_SHARE, DISTRACTOR_MIN_LIFT / max(wrong_options, 1))


def flags_for(figure: ChallengeFigures) -> list[Flag]:
    """Return why ``figure``'s challenge looks broken, if it does (needs enough sessions)."""
    flags: list[Flag] = []
    if figure.n < MIN_SESSIONS_FOR_FLAGS:
        return flags
    share = figure.share_correct or 0.0
    if share < TOO_HARD_BELOW:
        flags.append(
            Flag(
                "too_hard",
                "Nearly nobody answers correctly",
                f"{pct(share)} of {figure.n} candidates were correct (flagged below "
                f"{pct(TOO_HARD_BELOW)}). Check the key, the wording and the time limit.",
            )
        )
    elif share > TOO_EASY_ABOVE:
        flags.append(
            Flag(
                "too_easy",
                "Nearly everybody answers correctly",
                f"{pct(share)} of {figure.n} candidates were correct (flagged above "
                f"{pct(TOO_EASY_ABOVE)}). It adds little to telling candidates apart.",
            )
        )
    if figure.is_choice and figure.wrong_first_answers >= DISTRACTOR_MIN_WRONG_ANSWERS:
        bar = distractor_threshold(figure.wrong_options)
        for option in figure.options:
            if not option.correct and (option.share_of_wrong or 0.0) >= bar:
                flags.append(
                    Flag(
                        "distractor",
                        "Wrong answers cluster on one option",
                        f"“{option.text}” drew {pct(option.share_of_wrong)} of the "
                        f"{figure.wrong_first_answers} wrong first answers (flagged from "
                        f"{pct(bar)} with {figure.wrong_options} wrong options). Check "
                        "whether it is right too, or whether the prompt points to it.",
                    )
                )
    if (
        figure.opened >= MIN_SESSIONS_FOR_FLAGS
        and (figure.share_timed_out or 0.0) >= TIME_OUT_SHARE
    ):
        flags.append(
            Flag(
                "time",
                "Most candidates run out of time",
                f"{pct(figure.share_timed_out)} of the {figure.opened} candidates who opened it "
                f"ran out of time (flagged from {pct(TIME_OUT_SHARE)}). The limit may be too "
                "short for the work it asks.",
            )
        )
    if figure.discrimination is not None and figure.discrimination < LOW_DISCRIMINATION_BELOW:
        if figure.discrimination < 0:
            explanation = (
                f"D = {figure.discrimination:.2f}: the weakest {figure.group_size} candidates "
                f"did better on it than the strongest {figure.group_size}. Check the key."
            )
        else:
            explanation = (
                f"D = {figure.discrimination:.2f} (flagged below {LOW_DISCRIMINATION_BELOW:.2f}): "
                f"the strongest {figure.group_size} candidates did barely better on it than "
                f"the weakest {figure.group_size}."
            )
        flags.append(Flag("discrimination", "Does not separate strong from weak", explanation))
    return flags
