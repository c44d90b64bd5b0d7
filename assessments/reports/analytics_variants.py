"""Item analysis across variants: pools and the misconceptions of variable questions.

A pool fills one position of a set with one of its members per candidate, so its members
should be about as hard as each other: ``pool_figures`` groups them and flags a member much
harder or easier than its siblings (the others of its pool taken together). A variable
question's options are drawn per candidate, so they cannot be matched by text across
candidates; ``variable_option_figures`` matches them by what made them, the key or a named
misconception, which is the variant class worth counting. Share correct of a variable question
already counts every candidate's variant (they all point at the same published challenge).

The thresholds are the named constants below (docs/analytics.md explains them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from assessments.invitations.models import Invitation
from assessments.reports.analytics_flags import MIN_SESSIONS_FOR_FLAGS, Flag, pct
from assessments.taking.models import Answer

if TYPE_CHECKING:  # the figures module imports this one
    from assessments.reports.analytics import ChallengeFigures

# A member is flagged when its share correct is this far (or further) from its siblings'...
POOL_MEMBER_GAP = 0.25
# ...and the two-proportion z statistic says so too (|z| from 1.96: chance alone would give
# such a gap about once in twenty), each side counted over MIN_SESSIONS_FOR_FLAGS sessions.
POOL_MEMBER_MIN_Z = 1.96


@dataclass(frozen=True)
class MemberComparison:
    """A pool member against its siblings (the other members taken together)."""

    member: ChallengeFigures
    sibling_n: int
    sibling_share: float | None
    z: float | None


@dataclass
class PoolFigures:
    """One pool: its members' figures side by side, and the pool's own share correct."""

    name: str
    members: list[ChallengeFigures]
    n: int = 0
    correct: int = 0
    share_correct: float | None = None
    comparisons: list[MemberComparison] = field(default_factory=list)


def two_proportion_z(correct_a: int, n_a: int, correct_b: int, n_b: int) -> float | None:
    """Return the pooled two-proportion z statistic of a - b (None when it is undefined)."""
    if not n_a or not n_b:
        return None
    pooled = (correct_a + correct_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return None
    return (correct_a / n_a - correct_b / n_b) / spread


def pool_figures(figures: list[ChallengeFigures]) -> list[PoolFigures]:
    """Group pool members, compare each with its siblings and flag the outliers (in place)."""
    by_pool: dict[str, list[ChallengeFigures]] = defaultdict(list)
    for figure in figures:
        if figure.pool:
            by_pool[figure.pool].append(figure)
    pools = []
    for name, members in by_pool.items():
        pool = PoolFigures(name, members)
        pool.n = sum(m.n for m in members)
        pool.correct = sum(m.correct for m in members)
        pool.share_correct = pool.correct / pool.n if pool.n else None
        for member in members:
            _compare_with_siblings(pool, member)
        pools.append(pool)
    return pools


def _compare_with_siblings(pool: PoolFigures, member: ChallengeFigures) -> None:
    sibling_n, sibling_correct = pool.n - member.n, pool.correct - member.correct
    sibling_share = sibling_correct / sibling_n if sibling_n else None
    z = two_proportion_z(member.correct, member.n, sibling_correct, sibling_n)
    pool.comparisons.append(MemberComparison(member, sibling_n, sibling_share, z))
    if member.n < MIN_SESSIONS_FOR_FLAGS or sibling_n < MIN_SESSIONS_FOR_FLAGS or z is None:
        return
    gap = (member.share_correct or 0.0) - (sibling_share or 0.0)
    if abs(gap) < POOL_MEMBER_GAP or abs(z) < POOL_MEMBER_MIN_Z:
        return
    harder = gap < 0
    member.flags.append(
        Flag(
            "pool_member",
            f"Much {'harder' if harder else 'easier'} than its pool siblings",
            f"{pct(member.share_correct)} of {member.n} candidates were correct on it against "
            f"{pct(sibling_share)} of {sibling_n} on the other members of pool “{pool.name}” "
            f"(z = {z:.2f}; flagged from a gap of {pct(POOL_MEMBER_GAP)} with |z| ≥ "
            f"{POOL_MEMBER_MIN_Z}). Candidates drawing it are "
            f"{'disadvantaged' if harder else 'advantaged'}: rebalance it or take it out.",
        )
    )


class OptionCount(NamedTuple):
    """How often first answers picked one option (of a variable question: one origin)."""

    text: str
    correct: bool
    picked: int
    picked_wrong: int


def variable_option_counts(
    figures: dict[UUID, ChallengeFigures], variable_choice: list[Any]
) -> dict[UUID, list[OptionCount]]:
    """Which misconception (or the key) first answers of variable choice questions picked.

    Counts each figure's first and wrong first answers as it goes. One query, one row per
    first answer with its question's variant (the options' ids are the candidate's own);
    only run when the scope has variable choice questions.
    """
    if not variable_choice:
        return {}
    rows = Answer.objects.filter(
        question__challenge__in=[c.pk for c in variable_choice],
        question__invitation__status=Invitation.Status.COMPLETED,
        attempt=1,
    ).values_list("question__challenge__source_id", "raw", "correct", "question__variant")
    picked: dict[UUID, dict[tuple[str, bool], int]] = defaultdict(lambda: defaultdict(int))
    picked_wrong: dict[UUID, dict[tuple[str, bool], int]] = defaultdict(lambda: defaultdict(int))
    labels: dict[UUID, list[tuple[str, bool]]] = defaultdict(list)
    for challenge in variable_choice:  # the key first, then the misconceptions as written
        labels[challenge.source_id] = [("key", True)] + [
            (m["label"], False) for m in challenge.misconceptions
        ]
    for source_id, raw, correct, variant in rows.iterator():
        figure = figures[source_id]
        figure.first_answers += 1
        figure.wrong_first_answers += correct is False
        by_id = {o["id"]: o for o in (variant or {}).get("options", [])}
        for option_id in _ids(raw):
            option = by_id.get(option_id)
            if option is None:
                continue
            label = ("key", True) if option["correct"] else (option.get("label", "?"), False)
            picked[source_id][label] += 1
            if correct is False:
                picked_wrong[source_id][label] += 1
    counts: dict[UUID, list[OptionCount]] = {}
    for source_id, keys in labels.items():
        counts[source_id] = [
            OptionCount(
                "the key (this candidate's own)" if correct else f"misconception: {label}",
                correct,
                picked[source_id][(label, correct)],
                picked_wrong[source_id][(label, correct)],
            )
            for label, correct in keys
        ]
        figures[source_id].wrong_options = len(keys) - 1
    return counts


def _ids(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    return [str(item) for item in raw] if isinstance(raw, list) else []
