"""Fixtures of candidate tests: a published three-question set and an invitation to it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.invitations.services import Candidate, invitations_create
from assessments.models import ChallengeSetVersion, Invitation
from tests.factories import ChallengeFactory, ChallengeSetFactory, challenge_with_options

HINT = "Think about eval mode (hint text)."
EXPLANATION = "The running mean is used in eval mode (explanation text)."


def publish_set(organization, *, navigation="sequential", feedback="after_wrong_answer", **kw):
    """Publish a set of two single-choice questions and one text question."""
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(
            organization=organization, navigation=navigation, feedback=feedback, **kw
        )
        for n in (1, 2):
            challenge_with_options(
                challenge_set, position=n, hint=HINT, explanation=EXPLANATION, time_limit=60
            )
        ChallengeFactory(
            challenge_set=challenge_set,
            position=3,
            answer_format="text",
            grading_config={"accepted": ["running statistics"]},
            time_limit=120,
            max_attempts=3,
            points=2,
        )
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None)
    return version


def invite(version: ChallengeSetVersion, email="ada@example.com", **kw) -> Invitation:
    with tenant_context(version.organization_id):
        (invitation,) = invitations_create(
            version=version,
            candidates=[Candidate(email=email, first_name="Ada", last_name="Lovelace")],
            actor=None,
            send_email=False,
            **kw,
        )
    return invitation


@pytest.fixture
def version(tenant_a) -> ChallengeSetVersion:
    return publish_set(tenant_a.organization)


@pytest.fixture
def invitation(version) -> Invitation:
    return invite(version)


def correct_option(version: ChallengeSetVersion, position: int) -> str:
    with tenant_context(version.organization_id):
        challenge = version.challenges.get(position=position)
    return challenge.key["correct"][0]


def wrong_option(version: ChallengeSetVersion, position: int) -> str:
    with tenant_context(version.organization_id):
        challenge = version.challenges.get(position=position)
    return next(o["id"] for o in challenge.options if not o["correct"])


def now():
    return timezone.now()
