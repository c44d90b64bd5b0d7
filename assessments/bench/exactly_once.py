"""The load benchmark's exactly-once check: what the server said against what it stored.

Every answer the server accepted is stored exactly once (none lost, none stored twice or
without an accepted response), attempts stay within their maximum and match the answers,
and each answer was graded as its option deserved (an answer after the question's time
is kept as late, as the rules say, and counted apart).
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Q

from assessments.bench.load import Outcome
from assessments.invitations.models import Invitation
from assessments.taking.models import Answer, QuestionState
from grading.models import GradingJob


def exactly_once_check(tokens: list[str], outcome: Outcome) -> dict[str, int]:
    """Compare what the server said with what it stored (in the tokens' tenant context)."""
    sent_by_id = {s.submission_id: s for s in outcome.sent}
    accepted = {s.submission_id for s in outcome.sent if {200, 201} & set(s.statuses)}
    unanswered = {s.submission_id for s in outcome.sent if 0 in s.statuses}
    stored = list(
        Answer.objects.filter(question__invitation__token__in=tokens).values_list(
            "submission_id",
            "question__invitation__token",
            "question__position",
            "correct",
            "status",
        )
    )
    stored_ids = Counter(str(row[0]) for row in stored)
    misgraded = late = 0
    for submission_id, token, position, correct, status in stored:
        sent = sent_by_id.get(str(submission_id))
        if sent is None or (sent.token, sent.position) != (token, position):
            continue
        if status == Answer.Status.LATE:
            # A candidate who thought past the question's time (lognormal thinking has a long
            # tail): kept unjudged and refused, as the rules say; not a grading.
            late += 1
            continue
        if correct is not sent.correct or any(
            g is not None and g is not sent.correct for g in sent.graded_correct
        ):
            misgraded += 1
    double_created = sum(1 for s in outcome.sent if s.statuses.count(201) > 1)
    questions = QuestionState.objects.filter(invitation__token__in=tokens).annotate(
        accepted_answers=Count("answers", filter=Q(answers__attempt__isnull=False))
    )
    over_max = sum(1 for q in questions if q.attempts_used > q.max_attempts)
    miscounted = sum(1 for q in questions if q.attempts_used != q.accepted_answers)
    ungraded = (
        Answer.objects.filter(question__invitation__token__in=tokens)
        .exclude(grading_job__status=GradingJob.Status.DONE)
        .exclude(status=Answer.Status.LATE)
        .count()
    )
    statuses = Counter(Invitation.objects.filter(token__in=tokens).values_list("status", flat=True))
    return {
        "sent": len(outcome.sent),
        "accepted": len(accepted),
        "stored": sum(stored_ids.values()),
        "lost": len(accepted - set(stored_ids)),
        "stored_twice": sum(n - 1 for n in stored_ids.values() if n > 1),
        "stored_not_accepted": len(set(stored_ids) - accepted - unanswered),
        "stored_unanswered": len(set(stored_ids) & (unanswered - accepted)),
        "created_twice": double_created,
        "doubles": sum(1 for s in outcome.sent if len(s.statuses) > 1),
        "attempts_over_max": over_max,
        "attempts_miscounted": miscounted,
        "misgraded": misgraded,
        "ungraded": ungraded,
        "late": late,
        "completed": statuses.get(Invitation.Status.COMPLETED, 0),
        "candidates": len(tokens),
    }


def exactly_once(check: dict[str, int], *, all_completed: bool = True) -> bool:
    """Whether nothing was lost, doubled or misgraded (and every session ended, if asked)."""
    bad = (
        "lost",
        "stored_twice",
        "stored_not_accepted",
        "created_twice",
        "attempts_over_max",
        "attempts_miscounted",
        "misgraded",
        "ungraded",
    )
    if not all(check[name] == 0 for name in bad):
        return False
    return not all_completed or check["completed"] == check["candidates"]
