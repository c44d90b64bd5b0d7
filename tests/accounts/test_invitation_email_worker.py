"""The colleague invitation email goes through the real queue and a real worker."""

import email
import time

import pytest

from accounts.services import member_invite

SEPARATOR = "-" * 79


def _sent_messages(email_dir):
    for path in email_dir.iterdir():
        for chunk in path.read_text().split(SEPARATOR):
            if chunk.strip():
                message = email.message_from_string(chunk.strip())
                yield message["To"], message.get_payload(decode=True).decode()


@pytest.mark.django_db(transaction=True)
def test_invitation_email_is_sent_by_the_worker(tenant_a, celery_worker, email_dir):
    invitation = member_invite(
        organization=tenant_a.organization,
        email="queued@x.example",
        role="author",
        invited_by=tenant_a.owner,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = [body for to, body in _sent_messages(email_dir) if to == "queued@x.example"]
        if sent:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"no email sent; worker log:\n{celery_worker.log()}")
    assert f"/accounts/join/{invitation.token}/" in sent[0]
