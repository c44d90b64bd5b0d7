"""Item analysis of a challenge set: how each challenge behaved over completed sessions.

Scope: every completed session of every version of the set, or of one version. A challenge
is the same across versions when its ``PublishedChallenge.source_id`` (the draft challenge's
uuid) is, so its figures keep accumulating when the set is republished; filtering to one
version shows whether an edit (a fixed key, a longer limit) changed anything. Options get new
ids on every publish, so across versions they are matched by their text and correctness.

The whole set costs a constant number of queries whatever the number of candidates: counts
and the attempts distribution are grouped in SQL; medians, quartiles and the discrimination
index need each session's row and are computed here. Only completed sessions count: a
started one may still change, an expired or cancelled one never ran to its end.

The flags and their thresholds are in ``reports.analytics_flags`` (docs/analytics.md
explains them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count, F, Q

from assessments.authoring.models import ChallengeSet, PublishedChallenge
from assessments.core.choices import CHOICE_FORMATS
from assessments.invitations.models import Invitation
from assessments.reports.analytics_flags import Flag, flags_for
from assessments.reports.analytics_variants import (
    PoolFigures,
    pool_figures,
    variable_option_counts,
)
from assessments.reports.item_statistics import discrimination_index, point_biserial, quantile
from assessments.taking.models import Answer, QuestionState
from assessments.taking.session import time_used


@dataclass(frozen=True)
class OptionFigure:
    """One option of a choice question and how often first answers picked it."""

    text: str
    correct: bool
    picked: int
    share_of_first: float | None
    share_of_wrong: float | None


@dataclass
class ChallengeFigures:
    """Everything the analytics page shows of one challenge."""

    source_id: UUID
    position: int
    title: str
    kind: str
    answer_format: str
    kind_label: str
    format_label: str
    time_limit: int
    versions: list[int]
    pool: str = ""
    is_variable: bool = False
    n: int = 0
    correct: int = 0
    share_correct: float | None = None
    hints: int = 0
    share_hint: float | None = None
    opened: int = 0
    timed_out: int = 0
    share_timed_out: float | None = None
    # time used / the candidate's own limit, per opened question, ascending
    time_shares: list[float] = field(default_factory=list)
    time_p25: float | None = None
    time_median: float | None = None
    time_p75: float | None = None
    # [(attempts used, sessions)], 1..max then 0 (= unanswered) last
    attempts: list[tuple[int, int]] = field(default_factory=list)
    group_size: int = 0
    p_upper: float | None = None
    p_lower: float | None = None
    discrimination: float | None = None
    point_biserial: float | None = None
    is_choice: bool = False
    wrong_options: int = 0
    first_answers: int = 0
    wrong_first_answers: int = 0
    options: list[OptionFigure] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)


@dataclass
class SetAnalytics:
    challenge_set: ChallengeSet
    # [(version number, completed sessions)], newest first: what the page can filter by
    versions: list[tuple[int, int]]
    version: int | None
    sessions: int
    challenges: list[ChallengeFigures]
    pools: list[PoolFigures] = field(default_factory=list)

    @property
    def flagged(self) -> list[ChallengeFigures]:
        return [c for c in self.challenges if c.flags]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def set_analytics(
    challenge_set: ChallengeSet, *, now: datetime, version: int | None = None
) -> SetAnalytics:
    """Return the figures and flags of every challenge of ``challenge_set`` (5 queries, 6
    when variable choice questions are in scope).

    ``version`` (a number) restricts them to that version's sessions; ``ValueError`` if the
    set has no such version.
    """
    published = list(
        PublishedChallenge.objects.filter(version__challenge_set=challenge_set)
        .select_related("version")
        .only(
            "source_id",
            "position",
            "title",
            "kind",
            "answer_format",
            "time_limit",
            "max_attempts",
            "options",
            "pool",
            "variables",
            "misconceptions",
            "version__number",
        )
        .order_by("-version__number", "position")
    )
    sessions_per_version = dict(
        Invitation.objects.filter(
            version__challenge_set=challenge_set, status=Invitation.Status.COMPLETED
        )
        .values_list("version__number")
        .annotate(n=Count("id"))
        .order_by()
    )
    numbers = sorted({c.version.number for c in published}, reverse=True)
    versions = [(number, sessions_per_version.get(number, 0)) for number in numbers]
    if version is not None:
        if version not in numbers:
            raise ValueError(f"{challenge_set} has no version {version}")
        published = [c for c in published if c.version.number == version]

    figures = _challenges(published)
    sessions_total = (
        sessions_per_version.get(version, 0)
        if version is not None
        else sum(sessions_per_version.values())
    )
    result = SetAnalytics(challenge_set, versions, version, sessions_total, list(figures.values()))
    if not sessions_total:
        return result

    questions = QuestionState.objects.filter(
        challenge__in=[c.pk for c in published], invitation__status=Invitation.Status.COMPLETED
    )
    _count(figures, questions, published)
    _per_session(figures, questions, now=now)
    _options(figures, [c for c in published if not c.is_variable])
    variable_choice = [c for c in published if c.is_variable and c.answer_format in CHOICE_FORMATS]
    for source_id, counts in variable_option_counts(figures, variable_choice).items():
        figure = figures[source_id]
        figure.options = [_option_figure(figure, *count) for count in counts]
    for figure in figures.values():
        figure.flags = flags_for(figure)
    result.pools = pool_figures(result.challenges)  # adds its flags to the members
    return result


def _challenges(published: list[PublishedChallenge]) -> dict[UUID, ChallengeFigures]:
    """One entry per source challenge, described by its newest version in scope."""
    figures: dict[UUID, ChallengeFigures] = {}
    for challenge in published:  # newest version first
        figure = figures.get(challenge.source_id)
        if figure is None:
            figures[challenge.source_id] = ChallengeFigures(
                source_id=challenge.source_id,
                position=challenge.position,
                title=challenge.title,
                kind=challenge.kind,
                answer_format=challenge.answer_format,
                kind_label=challenge.get_kind_display(),
                format_label=challenge.get_answer_format_display(),
                time_limit=challenge.time_limit,
                versions=[challenge.version.number],
                pool=challenge.pool,
                is_variable=challenge.is_variable,
                is_choice=challenge.answer_format in CHOICE_FORMATS,
            )
        else:
            figure.versions.append(challenge.version.number)
    # The newest version's order, then challenges it no longer has.
    return dict(
        sorted(
            figures.items(),
            key=lambda item: (-item[1].versions[0], item[1].position),
        )
    )


def _count(
    figures: dict[UUID, ChallengeFigures], questions, published: list[PublishedChallenge]
) -> None:
    """Counts and the attempts distribution, grouped in SQL by challenge and attempts used."""
    rows = (
        questions.values("challenge__source_id", "attempts_used")
        .annotate(
            n=Count("id"),
            correct=Count("id", filter=Q(correct=True)),
            hints=Count("id", filter=Q(hint_revealed_at__isnull=False)),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            timed_out=Count("id", filter=Q(closed_reason=QuestionState.Closed.TIME)),
        )
        .order_by()
    )
    attempts: dict[UUID, dict[int, int]] = defaultdict(dict)
    for row in rows:
        figure = figures[row["challenge__source_id"]]
        figure.n += row["n"]
        figure.correct += row["correct"]
        figure.hints += row["hints"]
        figure.opened += row["opened"]
        figure.timed_out += row["timed_out"]
        attempts[figure.source_id][row["attempts_used"]] = row["n"]
    max_attempts: dict[UUID, int] = defaultdict(int)
    for challenge in published:
        max_attempts[challenge.source_id] = max(
            max_attempts[challenge.source_id], challenge.max_attempts
        )
    for figure in figures.values():
        figure.share_correct = _share(figure.correct, figure.n)
        figure.share_hint = _share(figure.hints, figure.n)
        figure.share_timed_out = _share(figure.timed_out, figure.opened)
        counts = attempts[figure.source_id]
        top = max([max_attempts[figure.source_id], *counts])
        if figure.n:
            figure.attempts = [(k, counts.get(k, 0)) for k in range(1, top + 1)]
            figure.attempts.append((0, counts.get(0, 0)))


def _per_session(figures: dict[UUID, ChallengeFigures], questions, *, now: datetime) -> None:
    """Time used against the limit and the discrimination index, from each session's row."""
    rows = (
        questions.only(
            "invitation_id", "opened_at", "closed_at", "deadline", "time_limit", "correct"
        )
        .annotate(
            source=F("challenge__source_id"),
            session_score=F("invitation__score"),
            session_max=F("invitation__max_score"),
        )
        .order_by("invitation_id")
    )
    outcomes: dict[UUID, list[tuple[float, bool]]] = defaultdict(list)
    for question in rows:
        figure = figures[question.source]
        used = time_used(question, now=now)
        if used is not None and question.time_limit:
            figure.time_shares.append(min(1.0, used / question.time_limit))
        share = (
            (question.session_score or 0.0) / question.session_max if question.session_max else 0.0
        )
        outcomes[question.source].append((share, bool(question.correct)))
    for figure in figures.values():
        figure.time_shares.sort()
        figure.time_p25 = quantile(figure.time_shares, 0.25)
        figure.time_median = quantile(figure.time_shares, 0.5)
        figure.time_p75 = quantile(figure.time_shares, 0.75)
        pairs = outcomes[figure.source_id]
        if len(pairs) >= 2:
            figure.discrimination, figure.p_upper, figure.p_lower, figure.group_size = (
                discrimination_index(pairs)
            )
            figure.point_biserial = point_biserial(pairs)


def _picked(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return []


def _option_figure(
    figure: ChallengeFigures, text: str, correct: bool, picked: int, picked_wrong: int
) -> OptionFigure:
    return OptionFigure(
        text=text,
        correct=correct,
        picked=picked,
        share_of_first=_share(picked, figure.first_answers),
        share_of_wrong=None if correct else _share(picked_wrong, figure.wrong_first_answers),
    )


def _options(figures: dict[UUID, ChallengeFigures], published: list[PublishedChallenge]) -> None:
    """Which options first attempts picked, grouped in SQL by challenge, answer and verdict."""
    choice = [c for c in published if c.answer_format in CHOICE_FORMATS]
    if not choice:
        return
    # An option is the same across versions when its text and its correctness are.
    option_key: dict[str, tuple[str, bool]] = {}
    order: dict[UUID, list[tuple[str, bool]]] = defaultdict(list)
    wrong_options: dict[UUID, int] = {}
    for challenge in choice:  # newest version first: its order and its count of wrong options
        wrong_options.setdefault(
            challenge.source_id, sum(1 for o in challenge.options if not o["correct"])
        )
        for option in challenge.options:
            key = (option["text"], bool(option["correct"]))
            option_key[option["id"]] = key
            if key not in order[challenge.source_id]:
                order[challenge.source_id].append(key)
    rows = (
        Answer.objects.filter(
            question__challenge__in=[c.pk for c in choice],
            question__invitation__status=Invitation.Status.COMPLETED,
            attempt=1,
        )
        .values("question__challenge__source_id", "raw", "correct")
        .annotate(n=Count("id"))
        .order_by()
    )
    picked: dict[UUID, dict[tuple[str, bool], int]] = defaultdict(lambda: defaultdict(int))
    picked_wrong: dict[UUID, dict[tuple[str, bool], int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        figure = figures[row["question__challenge__source_id"]]
        figure.first_answers += row["n"]
        if row["correct"] is False:
            figure.wrong_first_answers += row["n"]
        for option_id in _picked(row["raw"]):
            key = option_key.get(option_id)
            if key is None:
                continue
            picked[figure.source_id][key] += row["n"]
            if row["correct"] is False:
                picked_wrong[figure.source_id][key] += row["n"]
    for source_id, keys in order.items():
        figure = figures[source_id]
        figure.options = [
            _option_figure(
                figure, text, correct, picked[source_id][key], picked_wrong[source_id][key]
            )
            for key in keys
            for text, correct in (key,)
        ]
        figure.wrong_options = wrong_options[source_id]


# --- flags ---------------------------------------------------------------------------------
