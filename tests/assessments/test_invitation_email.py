"""The invitation email: an unbroken link in the console backend, plurals that agree."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.console import EmailBackend as ConsoleBackend

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.invitations.services import invitation_email_send
from tests.candidates.conftest import invite
from tests.factories import ChallengeSetFactory, challenge_with_options


def _published(organization, *, problems: int, title: str):
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization, title=title)
        for position in range(1, problems + 1):
            challenge_with_options(challenge_set, position=position)
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None)
    return version


def _console_output(invitation) -> str:
    """Send through Django's console backend, as `make run` does, and return what it wrote."""
    stream = io.StringIO()
    original = mail.get_connection

    def console_connection(*args, **kwargs):
        return ConsoleBackend(stream=stream)

    mail.get_connection = console_connection
    try:
        with tenant_context(invitation.organization_id):
            invitation_email_send(invitation)
    finally:
        mail.get_connection = original
    return stream.getvalue()


@pytest.mark.django_db
def test_console_email_shows_the_link_on_one_unbroken_line(tenant_a):
    # A long, non-ASCII title: before, the body went out quoted-printable and the link was
    # cut with "=" at 76 characters.
    version = _published(
        tenant_a.organization,
        problems=5,
        title="BatchNorm Mastery — élève avancé, a rather long title for a challenge set",
    )
    invitation = invite(version)
    output = _console_output(invitation)
    link = settings.SITE_URL + invitation.candidate_path()
    assert "quoted-printable" not in output.lower()
    assert any(line.strip() == link for line in output.splitlines()), output
    assert "a timed challenge of 5 problems." in output.replace("\n", " ")
    body = output.split("\n\n", 1)[1].rstrip().rstrip("-")
    assert max(len(line) for line in body.splitlines()) <= 78


@pytest.mark.django_db
def test_one_problem_is_singular(tenant_a):
    version = _published(tenant_a.organization, problems=1, title="One question")
    output = _console_output(invite(version))
    assert "a timed challenge of 1 problem." in output.replace("\n", " ")
    assert "1 problems" not in output.replace("\n", " ")


@pytest.mark.django_db
def test_invitation_list_offers_invite_candidates_as_the_docs_say(author_client):
    page = author_client.get("/admin/assessments/invitation/").content.decode()
    assert "Invite candidates" in page and "Add invitation" not in page
    docs = (settings.BASE_DIR / "docs" / "candidates.md").read_text()
    assert "*Invitations → Invite candidates*" in docs
