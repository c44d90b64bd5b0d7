"""Publishing: run the publish checks and freeze a draft into an immutable version."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, User
from assessments.authoring.models import (
    Challenge,
    ChallengeOption,
    ChallengeSet,
    ChallengeSetVersion,
    PublishedChallenge,
)
from assessments.authoring.selectors import challenges_needing_execution
from assessments.authoring.services import challenge_set_refresh_draft_hash
from assessments.core.choices import CHOICE_FORMATS


class PublishRefused(Exception):
    """Publishing was refused; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# A publish check takes the set and returns problems (empty when it passes). The grading
# issue appends the answer-key check here.
PublishCheck = Callable[[ChallengeSet], list[str]]


def check_challenges_valid(challenge_set: ChallengeSet) -> list[str]:
    """Return every validation problem of the draft's challenges and options."""
    problems = []
    challenges = list(challenge_set.challenges.order_by("position", "id"))
    if not challenges:
        return ["The set has no challenges."]
    for number, challenge in enumerate(challenges, start=1):
        for check in (
            lambda c: c.full_clean(exclude=["organization"]),
            lambda c: c.clean_with_options(c.option_specs()),
        ):
            try:
                check(challenge)
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    for message in messages:
                        label = "" if field == "__all__" else f"{field}: "
                        problems.append(
                            f"Challenge {number} ({challenge.title!r}): {label}{message}"
                        )
    return problems


PUBLISH_CHECKS: list[PublishCheck] = [check_challenges_valid]


def challenge_set_publish(
    *,
    challenge_set: ChallengeSet,
    actor: User | None,
    keys: dict[str, dict[str, Any]] | None = None,
    torch_version: str = "",
) -> tuple[ChallengeSetVersion, bool]:
    """Freeze the draft into a new version; return (version, created).

    ``keys`` maps a challenge's public id to the key its code produced when executed
    (``authoring.key_checks``): a challenge whose key comes from running code cannot be
    published without one. An unchanged draft returns the latest version with ``created``
    False. Any failed check raises ``PublishRefused`` and nothing is written.
    """
    keys = keys or {}
    with transaction.atomic():
        # Two authors pressing Publish at once must not both create version N+1.
        challenge_set = ChallengeSet.objects.select_for_update().get(pk=challenge_set.pk)
        if challenge_set.status == ChallengeSet.Status.ARCHIVED:
            raise PublishRefused(["The set is archived; restore it before publishing."])
        problems = [problem for check in PUBLISH_CHECKS for problem in check(challenge_set)]
        problems += _unverified_keys(challenge_set, keys)
        if problems:
            raise PublishRefused(problems)
        digest = challenge_set_refresh_draft_hash(challenge_set)
        latest = challenge_set.versions.order_by("-number").first()
        if latest is not None and latest.content_hash == digest:
            return latest, False
        number = (challenge_set.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ChallengeSetVersion.objects.create(
            organization_id=challenge_set.organization_id,
            challenge_set=challenge_set,
            number=number,
            **{
                name: getattr(challenge_set, name) for name in ChallengeSetVersion.COPIED_FROM_DRAFT
            },
            content_hash=digest,
            torch_version=torch_version,
            published_by=actor if actor is not None and actor.is_authenticated else None,
            published_at=timezone.now(),
        )
        _freeze_challenges(challenge_set, version, keys)
        challenge_set.status = ChallengeSet.Status.PUBLISHED
        challenge_set.save(update_fields=["status", "updated_at"])
        audit_record(
            organization=challenge_set.organization,
            actor=actor,
            action=AuditEvent.Action.PUBLISHED,
            target=challenge_set,
            changes={"version": number},
        )
    return version, True


def _unverified_keys(challenge_set: ChallengeSet, keys: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"Challenge {c.position} ({c.title!r}): its answer key has not been verified by running "
        "the code; use Publish (which verifies) or Verify keys."
        for c in challenges_needing_execution(challenge_set)
        if str(c.public_id) not in keys
    ]


def _frozen_options(challenge: Challenge) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if challenge.is_variable:
        return [], {}  # drawn per candidate, with the key of each variant
    options = [
        {"id": str(uuid.uuid4()), "text": option.text, "correct": option.is_correct}
        for option in challenge.options.all()
    ]
    if challenge.answer_format not in CHOICE_FORMATS:
        return options, {}
    return options, {
        "correct": [o["id"] for o in options if o["correct"]],
        "options": [o["id"] for o in options],
    }


def _freeze_challenges(
    challenge_set: ChallengeSet, version: ChallengeSetVersion, keys: dict[str, dict[str, Any]]
) -> None:
    challenges = challenge_set.challenges.order_by("position", "id").prefetch_related(
        Prefetch("options", queryset=ChallengeOption.objects.order_by("position", "id"))
    )
    frozen = []
    for position, challenge in enumerate(challenges, start=1):
        options, choice_key = _frozen_options(challenge)
        frozen.append(
            PublishedChallenge(
                organization_id=challenge_set.organization_id,
                version=version,
                source_id=challenge.public_id,
                position=position,
                **{name: getattr(challenge, name) for name in PublishedChallenge.COPIED_FROM_DRAFT},
                options=options,
                key={**keys.get(str(challenge.public_id), {}), **choice_key},
            )
        )
    PublishedChallenge.objects.bulk_create(frozen)
