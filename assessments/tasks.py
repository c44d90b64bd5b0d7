"""Celery tasks of assessments: finished grading jobs, invitation emails, the session sweeper,
webhook deliveries and Greenhouse's completion callbacks, and their sweepers."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.key_checks import key_check_finish
from assessments.authoring.models import KeyCheckJob
from assessments.hr.greenhouse.services import (
    greenhouse_callback_attempt,
    greenhouse_callbacks_resend,
)
from assessments.hr.webhooks.services import webhook_deliveries_resend, webhook_delivery_attempt
from assessments.invitations.models import Invitation
from assessments.invitations.services import invitation_email_send, invitations_expire
from assessments.taking.answering import answer_graded as answer_graded_apply
from assessments.taking.session import session_sync, sessions_overdue


@shared_task(acks_late=True, queue="default", routing_key="default")
def key_job_done(*, organization_id: int, job_id: int) -> None:
    """A key job finished: finish its key check if it was the last one (idempotent)."""
    with tenant_context(organization_id):
        link = KeyCheckJob.objects.filter(job_id=job_id).first()
        if link is not None:
            key_check_finish(key_check_id=link.key_check_id)


@shared_task(acks_late=True, queue="default", routing_key="default")
def answer_graded(*, organization_id: int, job_id: int) -> None:
    """A worker graded a candidate's answer: store the verdict on the answer (idempotent)."""
    with tenant_context(organization_id):
        answer_graded_apply(job_id=job_id, now=timezone.now())


@shared_task(
    bind=True, max_retries=5, default_retry_delay=30, acks_late=True, queue="default",
    routing_key="default",
)  # fmt: skip
def send_candidate_invitation(self, *, organization_id: int, invitation_id: int) -> None:
    """Email a candidate their link; skip an invitation that is finished or gone."""
    with tenant_context(organization_id):
        invitation = (
            Invitation.objects.select_related("version", "organization")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.status not in (
            Invitation.Status.INVITED,
            Invitation.Status.STARTED,
        ):
            return
        try:
            invitation_email_send(invitation)
        except OSError as exc:  # SMTP unreachable: an infrastructure failure, retry later
            raise self.retry(exc=exc) from exc
        Invitation.objects.filter(pk=invitation.pk).update(email_sent_at=timezone.now())


@shared_task(queue="default", routing_key="default")
def sweep_sessions() -> dict[str, int]:
    """Expire unused invitations; close questions and sessions whose time is up.

    Candidates who close the tab never send the request that would close their session, so
    the sweeper does it for every organization.
    """
    now = timezone.now()
    expired = invitations_expire(now=now)
    finished = 0
    for organization_id, invitation_id in sessions_overdue(now=now):
        with tenant_context(organization_id):
            invitation = Invitation.objects.select_related("version").get(pk=invitation_id)
            session_sync(invitation, now=now)
            finished += invitation.status == Invitation.Status.COMPLETED
    return {"expired": expired, "completed": finished}


@shared_task(acks_late=True, queue="default", routing_key="default", time_limit=120)
def deliver_webhook(*, organization_id: int, delivery_id: int) -> None:
    """Attempt one webhook delivery if it is due and nobody holds it (idempotent)."""
    with tenant_context(organization_id):
        webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(queue="default", routing_key="default")
def sweep_webhook_deliveries() -> int:
    """Re-send due webhook deliveries whose message was lost (every organization)."""
    return webhook_deliveries_resend(now=timezone.now())


@shared_task(acks_late=True, queue="default", routing_key="default", time_limit=120)
def deliver_greenhouse_callback(*, organization_id: int, callback_id: int) -> None:
    """PATCH Greenhouse's callback URL of a completed test if due and unheld (idempotent)."""
    with tenant_context(organization_id):
        greenhouse_callback_attempt(callback_id=callback_id)


@shared_task(queue="default", routing_key="default")
def sweep_greenhouse_callbacks() -> int:
    """Re-send due Greenhouse callbacks whose message was lost (every organization)."""
    return greenhouse_callbacks_resend(now=timezone.now())
