"""Background work of accounts: emails to colleagues."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from accounts.models import MemberInvitation
from accounts.tenancy import tenant_context


@shared_task(bind=True, max_retries=5, default_retry_delay=30, acks_late=True)
def send_member_invitation(self, *, organization_id: int, invitation_id: int) -> None:
    """Email the invitation link; skip an invitation that was accepted or revoked meanwhile."""
    with tenant_context(organization_id):
        invitation = (
            MemberInvitation.objects.select_related("organization", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or not invitation.is_open:
            return
        link = settings.SITE_URL + reverse("accounts:join", args=[invitation.token])
        inviter = invitation.invited_by.get_full_name() if invitation.invited_by else "A colleague"
        try:
            send_mail(
                subject=f"Join {invitation.organization.name} on ML Assess",
                message=(
                    f"{inviter} invited you to join {invitation.organization.name} "
                    f"as {invitation.get_role_display().lower()}.\n\n"
                    f"Accept the invitation: {link}\n\n"
                    f"The link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
                ),
                from_email=None,
                recipient_list=[invitation.email],
            )
        except OSError as exc:  # SMTP unreachable: an infrastructure failure, retry later
            raise self.retry(exc=exc) from exc
