"""Celery task of invitations: email a candidate their link.

The task name keeps the dotted name it had in ``assessments/tasks.py`` (queued messages
carry it); ``invitations.services`` sends it by that name.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.invitations.models import Invitation
from assessments.invitations.services import SEND_INVITATION_TASK, invitation_email_send


@shared_task(
    bind=True, name=SEND_INVITATION_TASK, max_retries=5, default_retry_delay=30, acks_late=True,
    queue="default", routing_key="default",
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
