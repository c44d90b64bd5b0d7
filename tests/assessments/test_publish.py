"""Publishing freezes a version; the draft moves on without touching it."""

import pytest

from accounts.models import AuditEvent
from accounts.tenancy import tenant_context
from assessments.authoring.models.versions import FrozenRowError
from assessments.authoring.publishing import PublishRefused, challenge_set_publish
from assessments.authoring.services import challenge_set_archive, challenge_set_duplicate
from assessments.models import ChallengeSet, PublishedChallenge
from tests.factories import ChallengeFactory, ChallengeSetFactory, challenge_with_options


@pytest.fixture
def draft(in_a):
    challenge_set = ChallengeSetFactory(organization=in_a.organization)
    challenge_with_options(challenge_set, title="First")
    challenge_with_options(challenge_set, title="Second")
    return challenge_set


def test_publish_freezes_content_and_later_edits_do_not_reach_it(draft, in_a):
    version, created = challenge_set_publish(challenge_set=draft, actor=in_a.author)
    assert created and version.number == 1
    challenge = draft.challenges.get(title="First")
    challenge.prompt = "Edited after publishing"
    challenge.save()
    frozen = PublishedChallenge.objects.get(version=version, position=1)
    assert frozen.prompt != "Edited after publishing"
    assert [o["correct"] for o in frozen.options] == [True, False, False]
    draft.refresh_from_db()
    assert draft.status == ChallengeSet.Status.PUBLISHED
    second, created = challenge_set_publish(challenge_set=draft, actor=in_a.author)
    assert created and second.number == 2
    assert (
        PublishedChallenge.objects.get(version=second, position=1).prompt
        == "Edited after publishing"
    )
    assert AuditEvent.objects.filter(action="published").count() == 2


def test_publishing_an_unchanged_draft_creates_no_version(draft, in_a):
    first, _ = challenge_set_publish(challenge_set=draft, actor=None)
    again, created = challenge_set_publish(challenge_set=draft, actor=None)
    assert not created and again.pk == first.pk


def test_frozen_rows_refuse_changes(draft):
    version, _ = challenge_set_publish(challenge_set=draft, actor=None)
    version.title = "Changed"
    with pytest.raises(FrozenRowError):
        version.save()
    frozen = version.challenges.first()
    frozen.prompt = "Changed"
    with pytest.raises(FrozenRowError):
        frozen.save()


def test_invalid_draft_is_refused_with_reasons_and_nothing_written(draft):
    broken = ChallengeFactory(challenge_set=draft, title="Broken", kind="debug", code="")
    with pytest.raises(PublishRefused) as excinfo:
        challenge_set_publish(challenge_set=draft, actor=None)
    problems = "\n".join(excinfo.value.problems)
    assert "Challenge 3 ('Broken'): code: A Debug challenge needs a code snippet." in problems
    assert "options" in problems  # no options for a single-choice question
    assert not draft.versions.exists()
    broken.delete()


def test_empty_set_is_refused(in_a):
    with pytest.raises(PublishRefused, match="no challenges"):
        challenge_set_publish(
            challenge_set=ChallengeSetFactory(organization=in_a.organization), actor=None
        )


def test_archived_set_cannot_be_published(draft):
    challenge_set_archive(challenge_set=draft, actor=None)
    with pytest.raises(PublishRefused, match="archived"):
        challenge_set_publish(challenge_set=draft, actor=None)


def test_duplicate_is_a_new_draft_with_a_free_slug(draft, in_a):
    copy = challenge_set_duplicate(challenge_set=draft, actor=in_a.author)
    copy2 = challenge_set_duplicate(challenge_set=draft, actor=in_a.author)
    assert copy.slug == f"{draft.slug}-copy" and copy2.slug == f"{draft.slug}-copy-2"
    assert copy.status == ChallengeSet.Status.DRAFT
    assert copy.challenges.count() == 2


def test_publish_needs_the_tenant_context(tenant_a):
    from accounts.tenancy import NoTenantContext

    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSetFactory(organization=tenant_a.organization)
        challenge_with_options(challenge_set)
    with pytest.raises(NoTenantContext):
        challenge_set_publish(challenge_set=challenge_set, actor=None)
