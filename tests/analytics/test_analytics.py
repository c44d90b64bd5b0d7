"""Set analytics computed over constructed sessions, each figure checked by hand."""

from __future__ import annotations

import statistics

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.models import Challenge, ChallengeOption, Invitation
from assessments.reports import analytics_flags
from assessments.reports.analytics import set_analytics
from tests.analytics.conftest import Q, publish_analytics_set, session

pytestmark = pytest.mark.django_db

RIGHT = "running statistics"

# Ten sessions (s1..s10) of the four challenges. Totals out of 5 (Q1, Q2, Q4: 1 point;
# Q3: 2 points): s1 5 · s2 4 · s3 4 · s4 3 · s5 3 · s6 3 · s7 2 · s8 1 · s9 1 · s10 1, so the
# upper 27% (3 sessions) are s1-s3 and the lower 27% are s8-s10, with no tie at either edge.
Q1 = [
    Q(True, ("A",), 6),
    Q(False, ("B", "C"), 12, hint=True),
    Q(True, ("B", "A"), 18),
    Q(False, ("B", "B"), 24, hint=True),
    Q(False, ("C", "B"), 30, hint=True),
    Q(True, ("A",), 36),
    Q(True, ("C", "A"), 42),
    Q(False, ("B",), 60, timed_out=True),
    Q(False, (), 60, timed_out=True),
    Q(False, ("C",), 60, timed_out=True),
]
Q2 = [
    Q(True, ("A",)),
    Q(True, ("B", "A")),
    Q(False, ("B", "B")),
    Q(False, ("B", "C")),
    Q(False, ("B",), 60, timed_out=True),
    Q(True, ("B", "A")),
    Q(False, ("B", "C")),
    Q(False, ("C", "B")),
    Q(False, ("B", "B")),
    Q(False, ("B",), 60, timed_out=True),
]
Q3 = [
    Q(True, (RIGHT,), 30),
    Q(True, ("x", RIGHT), 60),
    Q(True, ("x", "y", RIGHT), 90),
    Q(True, (RIGHT,), 60),
    Q(True, ("x", RIGHT), 30),
    Q(False, ("x",), 120, hint=True, timed_out=True),
    Q(False, (), 120, hint=True, timed_out=True),
    Q(False, (), 120, hint=True, timed_out=True),
    Q(False, ("x", "y"), 120, hint=True, timed_out=True),
    Q(False, (), 120, hint=True, timed_out=True),
]
Q4 = Q(True, ("A",), 15)
SHARES = [1.0, 0.8, 0.8, 0.6, 0.6, 0.6, 0.4, 0.2, 0.2, 0.2]  # s1..s10 total / 5


@pytest.fixture
def version(tenant_a):
    return publish_analytics_set(tenant_a.organization)


@pytest.fixture
def ten_sessions(version):
    for n in range(10):
        session(version, {1: Q1[n], 2: Q2[n], 3: Q3[n], 4: Q4})
    # Neither a session still running nor a cancelled one counts, whatever they hold.
    wrong = Q(False, ("B", "B"), 60, timed_out=True)
    for status in (Invitation.Status.STARTED, Invitation.Status.CANCELLED):
        session(version, {1: wrong, 2: wrong, 3: Q(False, ()), 4: wrong}, status=status)
    return version


def _compute(published, **kw):
    with tenant_context(published.organization_id):
        return set_analytics(published.challenge_set, now=timezone.now(), **kw)


def _by_position(result):
    return {c.position: c for c in result.challenges}


def test_counts_correct_share_hints_and_attempts(ten_sessions):
    result = _compute(ten_sessions)
    assert result.sessions == 10 and result.versions == [(1, 10)]
    q = _by_position(result)
    assert [c.position for c in result.challenges] == [1, 2, 3, 4]
    # Q1: correct s1 s3 s6 s7; hints s2 s4 s5; 1 attempt s1 s6 s8 s10, 2 attempts s2-s5 s7,
    # none s9.
    assert (q[1].n, q[1].correct, q[1].share_correct) == (10, 4, 0.4)
    assert (q[1].hints, q[1].share_hint) == (3, 0.3)
    assert q[1].attempts == [(1, 4), (2, 5), (0, 1)]
    # Q2: correct s1 s2 s6; 1 attempt s1 s5 s10; no hint.
    assert (q[2].share_correct, q[2].share_hint) == (0.3, 0.0)
    assert q[2].attempts == [(1, 3), (2, 7), (0, 0)]
    # Q3: correct s1-s5; hints s6-s10; 1: s1 s4 s6 · 2: s2 s5 s9 · 3: s3 · none: s7 s8 s10.
    assert (q[3].share_correct, q[3].share_hint) == (0.5, 0.5)
    assert q[3].attempts == [(1, 3), (2, 3), (3, 1), (0, 3)]
    assert (q[4].share_correct, q[4].attempts) == (1.0, [(1, 10), (2, 0), (0, 0)])


def test_time_used_against_the_limit(ten_sessions):
    q = _by_position(_compute(ten_sessions))
    # Q1 (60 s): 6 12 18 24 30 36 42 s, then three timed out (the limit: 1.0).
    assert q[1].time_shares == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1, 1, 1])
    # Median at rank 4.5: (0.5 + 0.6) / 2; p25 at rank 2.25: 0.3 + 0.25 * 0.1; p75 at rank
    # 6.75: 0.7 + 0.75 * 0.3.
    assert (q[1].time_median, q[1].time_p25, q[1].time_p75) == pytest.approx((0.55, 0.325, 0.925))
    assert (q[1].timed_out, q[1].opened, q[1].share_timed_out) == (3, 10, 0.3)
    # Q3 (120 s): 30 60 90 60 30 s, then five timed out: .25 .25 .5 .5 .75 1 1 1 1 1.
    assert (q[3].time_median, q[3].time_p25, q[3].time_p75) == pytest.approx((0.875, 0.5, 1.0))
    assert q[3].share_timed_out == 0.5
    assert (q[2].time_median, q[2].time_p25, q[2].time_p75) == pytest.approx((0.5, 0.5, 0.5))
    assert q[4].time_median == pytest.approx(0.25)


def test_discrimination_index_and_point_biserial(ten_sessions):
    q = _by_position(_compute(ten_sessions))
    # Upper s1-s3, lower s8-s10. Q1: upper s1 s3 correct, lower none: D = 2/3 - 0.
    assert q[1].group_size == 3
    assert (q[1].p_upper, q[1].p_lower) == pytest.approx((2 / 3, 0.0))
    assert q[1].discrimination == pytest.approx(2 / 3)
    # Q2: upper s1 s2, lower none. Q3: upper all, lower none. Q4: everybody: D = 0.
    assert q[2].discrimination == pytest.approx(2 / 3)
    assert q[3].discrimination == pytest.approx(1.0)
    assert q[4].discrimination == 0.0
    # Point-biserial of Q1: mean share of the correct (s1 s3 s6 s7) 2.8/4 = 0.7, of the
    # others 2.6/6; population sd of the shares sqrt(0.0724); p = 0.4.
    expected = (0.7 - 2.6 / 6) / 0.0724**0.5 * (0.4 * 0.6) ** 0.5
    assert q[1].point_biserial == pytest.approx(expected)
    assert q[1].point_biserial == pytest.approx(
        statistics.correlation([1, 0, 1, 0, 0, 1, 1, 0, 0, 0], SHARES)
    )
    assert q[4].point_biserial is None  # nobody was wrong: no correlation to speak of


def test_options_picked_on_first_attempts(ten_sessions):
    q = _by_position(_compute(ten_sessions))
    options = {o.text: o for o in q[1].options}
    # Q1 first answers: A s1 s6 · B s2 s3 s4 s8 · C s5 s7 s10 (s9 never answered).
    assert (q[1].first_answers, q[1].wrong_first_answers, q[1].wrong_options) == (9, 7, 2)
    assert [(o.text, o.correct, o.picked) for o in q[1].options] == [
        ("A", True, 2),
        ("B", False, 4),
        ("C", False, 3),
    ]
    assert options["B"].share_of_first == pytest.approx(4 / 9)
    assert options["B"].share_of_wrong == pytest.approx(4 / 7)
    assert options["A"].share_of_wrong is None
    # Q2: A s1 · B everyone else but s8 · C s8.
    assert [o.picked for o in q[2].options] == [1, 8, 1]
    assert q[2].options[1].share_of_wrong == pytest.approx(8 / 9)
    assert q[3].options == [] and not q[3].is_choice


def test_flags_with_their_reasons(ten_sessions):
    q = _by_position(_compute(ten_sessions))
    # Q1: B drew 4/7 = 57% of wrong first answers: above 40%, but with two wrong options
    # the bar is 1.5 / 2 = 75%; 30% ran out of time; D = 0.67.
    assert q[1].flags == []
    assert analytics_flags.distractor_threshold(2) == 0.75
    assert analytics_flags.distractor_threshold(5) == 0.40
    (distractor,) = q[2].flags
    assert distractor.code == "distractor"
    assert "“B” drew 89% of the 9 wrong first answers" in distractor.explanation
    assert "from 75% with 2 wrong options" in distractor.explanation
    (time,) = q[3].flags
    assert time.code == "time"
    assert "50% of the 10 candidates who opened it ran out of time" in time.explanation
    assert [f.code for f in q[4].flags] == ["too_easy", "discrimination"]
    assert "100% of 10 candidates were correct (flagged above 95%)" in q[4].flags[0].explanation
    assert "D = 0.00 (flagged below 0.10)" in q[4].flags[1].explanation
    assert [c.position for c in _compute(ten_sessions).flagged] == [2, 3, 4]


def test_nearly_nobody_correct_is_flagged_but_not_under_ten_sessions(version):
    # Wrong first answers alternate between B and C: no clustering on one of them.
    hard = [Q(False, ("B", "C")), Q(False, ("C", "B"))]
    for n in range(9):
        session(version, {1: hard[n % 2], 2: Q4, 3: Q(True, (RIGHT,)), 4: Q4})
    q = _by_position(_compute(version))
    assert q[1].share_correct == 0.0 and q[1].flags == []  # 9 sessions: too few to judge
    session(version, {1: hard[1], 2: Q4, 3: Q(True, (RIGHT,)), 4: Q4})
    q = _by_position(_compute(version))
    assert [f.code for f in q[1].flags] == ["too_hard", "discrimination"]
    assert "0% of 10 candidates were correct (flagged below 10%)" in q[1].flags[0].explanation


def test_weak_candidates_doing_better_is_a_negative_discrimination(version):
    # Five strong sessions (Q2, Q3, Q4 right: 4 of 5) miss Q1 (B or C in turn); five weak
    # ones (Q1, Q4: 2 of 5) get it: the upper 3 have 0% on Q1, the lower 3 have 100%.
    for n in range(10):
        strong = n < 5
        session(
            version,
            {
                1: Q(not strong, (("B", "C")[n % 2],) if strong else ("A",)),
                2: Q(strong, ("A",) if strong else ("C",)),
                3: Q(strong, (RIGHT,) if strong else ("x",)),
                4: Q4,
            },
        )
    q = _by_position(_compute(version))
    assert q[1].discrimination == -1.0 and (q[1].p_upper, q[1].p_lower) == (0.0, 1.0)
    (flag,) = q[1].flags
    assert flag.code == "discrimination"
    assert "D = -1.00: the weakest 3 candidates did better on it than the strongest 3" in (
        flag.explanation
    )
    assert q[1].point_biserial == pytest.approx(-1.0)


def test_versions_are_matched_by_source_and_can_be_filtered(tenant_a, version):
    session(version, {1: Q(True, ("A",)), 2: Q4, 3: Q(True, (RIGHT,)), 4: Q4})
    with tenant_context(tenant_a.organization):
        # Edit the draft: a longer limit and a renamed wrong option; publish version 2.
        challenge = Challenge.objects.get(challenge_set=version.challenge_set, position=1)
        challenge.time_limit = 120
        challenge.save()
        ChallengeOption.objects.filter(challenge=challenge, text="B").update(text="B2")
        second, created = challenge_set_publish(challenge_set=version.challenge_set, actor=None)
    assert created and second.number == 2
    session(second, {1: Q(False, ("B2", "A"), 60), 2: Q4, 3: Q(True, (RIGHT,)), 4: Q4})
    session(second, {1: Q(False, ("C", "C"), 30), 2: Q4, 3: Q(True, (RIGHT,)), 4: Q4})

    every = _compute(version)
    assert every.versions == [(2, 2), (1, 1)] and every.sessions == 3
    q1 = _by_position(every)[1]
    assert (q1.n, q1.correct, q1.versions, q1.time_limit) == (3, 1, [2, 1], 120)
    # Each session's time against its own limit: 30/60 in v1, 60/120 and 30/120 in v2.
    assert q1.time_shares == pytest.approx([0.25, 0.5, 0.5])
    # Options match across versions by text and key: B (v1 only) comes after v2's options.
    assert [(o.text, o.picked) for o in q1.options] == [("A", 1), ("B2", 1), ("C", 1), ("B", 0)]

    only_second = _compute(version, version=2)
    assert only_second.sessions == 2 and only_second.version == 2
    q1 = _by_position(only_second)[1]
    assert (q1.n, q1.versions) == (2, [2])
    assert [(o.text, o.picked) for o in q1.options] == [("A", 0), ("B2", 1), ("C", 1)]
    assert _by_position(_compute(version, version=1))[1].n == 1
    with pytest.raises(ValueError):
        _compute(version, version=3)


def test_no_completed_session_gives_empty_figures(version):
    session(version, {1: Q4, 2: Q4, 3: Q(True, (RIGHT,)), 4: Q4}, status="started")
    result = _compute(version)
    assert result.sessions == 0 and result.flagged == []
    assert [(c.n, c.share_correct, c.time_median) for c in result.challenges] == [
        (0, None, None)
    ] * 4


def _queries(version) -> int:
    with CaptureQueriesContext(connection) as queries:
        _compute(version)
    return len(queries)


def test_a_constant_number_of_queries_whatever_the_number_of_sessions(version):
    for n in range(3):
        session(version, {1: Q1[n], 2: Q2[n], 3: Q3[n], 4: Q4})
    few = _queries(version)
    for n in range(3, 10):
        for _ in range(3):
            session(version, {1: Q1[n], 2: Q2[n], 3: Q3[n], 4: Q4})
    assert _queries(version) == few == 5
