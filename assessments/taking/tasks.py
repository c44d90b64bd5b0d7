"""Celery tasks of taking a test: a graded answer comes back, and the session sweeper.

Task names keep the dotted names they had in ``assessments/tasks.py``: the grading worker
sends ``answer_graded`` by name, and the beat schedule names ``sweep_sessions``.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.invitations.models import Invitation
from assessments.invitations.services import invitations_expire
from assessments.taking.answering import ANSWER_GRADED_TASK, answers_graded_sweep
from assessments.taking.answering import answer_graded as answer_graded_apply
from assessments.taking.session import session_sync, sessions_overdue
from assessments.taking.variants import VARIANT_READY_TASK, variant_store


@shared_task(name=ANSWER_GRADED_TASK, acks_late=True, queue="default", routing_key="default")
def answer_graded(*, organization_id: int, job_id: int) -> None:
    """A worker graded a candidate's answer: store the verdict on the answer (idempotent)."""
    with tenant_context(organization_id):
        answer_graded_apply(job_id=job_id, now=timezone.now())


@shared_task(name="assessments.tasks.sweep_sessions", queue="default", routing_key="default")
def sweep_sessions() -> dict[str, int]:
    """Expire unused invitations; close questions and sessions whose time is up.

    Candidates who close the tab never send the request that would close their session, so
    the sweeper does it for every organization.
    """
    now = timezone.now()
    expired = invitations_expire(now=now)
    # Before the clock: a verdict whose callback was lost leaves its question pending.
    answers_graded_sweep(now=now)
    finished = 0
    for organization_id, invitation_id in sessions_overdue(now=now):
        with tenant_context(organization_id):
            invitation = Invitation.objects.select_related("version").get(pk=invitation_id)
            session_sync(invitation, now=now)
            finished += invitation.status == Invitation.Status.COMPLETED
    return {"expired": expired, "completed": finished}


@shared_task(name=VARIANT_READY_TASK, acks_late=True, queue="default", routing_key="default")
def variant_ready(*, organization_id: int, job_id: int) -> None:
    """A worker drew a candidate's variant (or gave up): store it on the question."""
    with tenant_context(organization_id):
        variant_store(job_id=job_id, now=timezone.now())
