"""Writes of challenge sets: import, publish, archive, duplicate, and their audit trail."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization, User
from assessments.content import ChallengeSetData, dump_challenge_set, parse_challenge_set
from assessments.models import (
    Challenge,
    ChallengeOption,
    ChallengeSet,
    ChallengeSetVersion,
    PublishedChallenge,
)
from assessments.models.choices import CHOICE_FORMATS, KINDS_WITH_CODE


class PublishRefused(Exception):
    """Publishing was refused; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- content as data ------------------------------------------------------------------------


def challenge_set_content(challenge_set: ChallengeSet) -> dict[str, Any]:
    """Return the set's draft as plain data in the YAML file's shape (export and hashing)."""
    challenges = challenge_set.challenges.order_by("position", "id").prefetch_related(
        Prefetch("options", queryset=ChallengeOption.all_tenants.order_by("position", "id"))
    )
    content: dict[str, Any] = {
        "title": challenge_set.title,
        "slug": challenge_set.slug,
        "tagline": challenge_set.tagline,
        "badge": challenge_set.badge_promise,
    }
    if challenge_set.description:
        content["description"] = challenge_set.description
    content["navigation"] = challenge_set.navigation
    content["time_limit"] = challenge_set.time_limit
    content["feedback"] = challenge_set.feedback
    content["challenges"] = [_challenge_content(challenge) for challenge in challenges]
    return content


def _challenge_content(challenge: Challenge) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": challenge.kind,
        "title": challenge.title,
        "difficulty": challenge.difficulty,
        "time_limit": challenge.time_limit,
        "max_attempts": challenge.max_attempts,
        "points": challenge.points,
        "prompt": challenge.prompt,
    }
    if challenge.kind in KINDS_WITH_CODE or challenge.code:
        item["code"] = challenge.code
    item["hint"] = challenge.hint
    item["explanation"] = challenge.explanation
    item["answer_format"] = challenge.answer_format
    if challenge.grading_config:
        item["grading"] = challenge.grading_config
    if challenge.answer_format in CHOICE_FORMATS:
        item["options"] = [
            {"text": option.text, "correct": option.is_correct}
            for option in challenge.options.all()
        ]
    return item


def content_hash(content: dict[str, Any]) -> str:
    """Return a stable fingerprint of set content."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def challenge_set_refresh_draft_hash(challenge_set: ChallengeSet) -> str:
    """Recompute the draft's fingerprint after its content changed; return it."""
    digest = content_hash(challenge_set_content(challenge_set))
    ChallengeSet.all_tenants.filter(pk=challenge_set.pk).update(draft_hash=digest)
    challenge_set.draft_hash = digest
    return digest


def challenge_set_export_yaml(challenge_set: ChallengeSet) -> str:
    """Return the draft as a YAML file that imports back to the same content."""
    return dump_challenge_set(challenge_set_content(challenge_set))


# --- import ---------------------------------------------------------------------------------


def challenge_set_import(
    *, organization: Organization, text: str | bytes, actor: User | None
) -> tuple[ChallengeSet, bool]:
    """Create or update the draft of the set the file describes; return (set, created).

    The whole file is validated first (``ContentError`` lists every problem), then written
    in one transaction: a failure leaves nothing half-written.
    """
    data = parse_challenge_set(text)
    with transaction.atomic():
        # Two imports of the same slug at once must not both create the set.
        challenge_set = (
            ChallengeSet.all_tenants.select_for_update()
            .filter(organization=organization, slug=data.slug)
            .first()
        )
        created = challenge_set is None
        if created:
            challenge_set = ChallengeSet(
                organization=organization, slug=data.slug, created_by=actor
            )
        _apply_set_fields(challenge_set, data)
        challenge_set.save()
        _replace_challenges(challenge_set, data)
        challenge_set_refresh_draft_hash(challenge_set)
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEvent.Action.IMPORTED,
            target=challenge_set,
            changes={"challenges": len(data.challenges), "created": created},
        )
    return challenge_set, created


def _apply_set_fields(challenge_set: ChallengeSet, data: ChallengeSetData) -> None:
    challenge_set.title = data.title
    challenge_set.tagline = data.tagline
    challenge_set.badge_promise = data.badge
    challenge_set.description = data.description
    challenge_set.navigation = data.navigation
    challenge_set.time_limit = data.time_limit
    challenge_set.feedback = data.feedback


def _replace_challenges(challenge_set: ChallengeSet, data: ChallengeSetData) -> None:
    # Challenges are matched by position so that a re-imported question keeps its identity
    # (its lineage across published versions); extra ones are deleted, new ones created.
    existing = list(
        Challenge.all_tenants.filter(challenge_set=challenge_set).order_by("position", "id")
    )
    for index, item in enumerate(data.challenges):
        challenge = (
            existing[index]
            if index < len(existing)
            else Challenge(
                organization_id=challenge_set.organization_id, challenge_set=challenge_set
            )
        )
        challenge.position = index + 1
        for name in (
            "kind", "title", "difficulty", "time_limit", "max_attempts", "points", "prompt",
            "code", "hint", "explanation", "answer_format",
        ):  # fmt: skip
            setattr(challenge, name, getattr(item, name))
        challenge.grading_config = item.grading
        challenge.save()
        ChallengeOption.all_tenants.filter(challenge=challenge).delete()
        ChallengeOption.all_tenants.bulk_create(
            ChallengeOption(
                organization_id=challenge_set.organization_id,
                challenge=challenge,
                position=position,
                text=option.text,
                is_correct=option.correct,
            )
            for position, option in enumerate(item.options, start=1)
        )
    for challenge in existing[len(data.challenges) :]:
        challenge.delete()


# --- publishing -----------------------------------------------------------------------------

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
    (``assessments.keys``): a challenge whose key comes from running code cannot be
    published without one. An unchanged draft returns the latest version with ``created``
    False. Any failed check raises ``PublishRefused`` and nothing is written.
    """
    keys = keys or {}
    with transaction.atomic():
        # Two authors pressing Publish at once must not both create version N+1.
        challenge_set = ChallengeSet.all_tenants.select_for_update().get(pk=challenge_set.pk)
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
        version = ChallengeSetVersion.all_tenants.create(
            organization_id=challenge_set.organization_id,
            challenge_set=challenge_set,
            number=number,
            title=challenge_set.title,
            slug=challenge_set.slug,
            description=challenge_set.description,
            tagline=challenge_set.tagline,
            badge_promise=challenge_set.badge_promise,
            navigation=challenge_set.navigation,
            feedback=challenge_set.feedback,
            time_limit=challenge_set.time_limit,
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
    from assessments.keys import challenges_needing_execution

    return [
        f"Challenge {c.position} ({c.title!r}): its answer key has not been verified by running "
        "the code; use Publish (which verifies) or Verify keys."
        for c in challenges_needing_execution(challenge_set)
        if str(c.public_id) not in keys
    ]


def _frozen_options(challenge: Challenge) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
        Prefetch("options", queryset=ChallengeOption.all_tenants.order_by("position", "id"))
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
                kind=challenge.kind,
                title=challenge.title,
                prompt=challenge.prompt,
                code=challenge.code,
                difficulty=challenge.difficulty,
                time_limit=challenge.time_limit,
                max_attempts=challenge.max_attempts,
                hint=challenge.hint,
                explanation=challenge.explanation,
                points=challenge.points,
                answer_format=challenge.answer_format,
                grading_config=challenge.grading_config,
                options=options,
                key={**keys.get(str(challenge.public_id), {}), **choice_key},
            )
        )
    PublishedChallenge.all_tenants.bulk_create(frozen)


# --- lifecycle ------------------------------------------------------------------------------


def challenge_set_archive(*, challenge_set: ChallengeSet, actor: User | None) -> ChallengeSet:
    """Withdraw the set: no new invitations; existing versions stay for their candidates."""
    with transaction.atomic():
        challenge_set = ChallengeSet.all_tenants.select_for_update().get(pk=challenge_set.pk)
        if challenge_set.status == ChallengeSet.Status.ARCHIVED:
            return challenge_set
        previous = challenge_set.status
        challenge_set.status = ChallengeSet.Status.ARCHIVED
        challenge_set.save(update_fields=["status", "updated_at"])
        audit_record(
            organization=challenge_set.organization,
            actor=actor,
            action=AuditEvent.Action.ARCHIVED,
            target=challenge_set,
            changes={"status": [previous, ChallengeSet.Status.ARCHIVED]},
        )
    return challenge_set


def challenge_set_restore(*, challenge_set: ChallengeSet, actor: User | None) -> ChallengeSet:
    """Bring an archived set back: published if it has a version, draft otherwise."""
    with transaction.atomic():
        challenge_set = ChallengeSet.all_tenants.select_for_update().get(pk=challenge_set.pk)
        if challenge_set.status != ChallengeSet.Status.ARCHIVED:
            return challenge_set
        status = (
            ChallengeSet.Status.PUBLISHED
            if challenge_set.versions.exists()
            else ChallengeSet.Status.DRAFT
        )
        challenge_set.status = status
        challenge_set.save(update_fields=["status", "updated_at"])
        audit_record(
            organization=challenge_set.organization,
            actor=actor,
            action=AuditEvent.Action.CHANGED,
            target=challenge_set,
            changes={"status": [ChallengeSet.Status.ARCHIVED, status]},
        )
    return challenge_set


def challenge_set_duplicate(*, challenge_set: ChallengeSet, actor: User | None) -> ChallengeSet:
    """Copy the draft into a new draft set with a free slug ("<slug>-copy", "-copy-2", ...)."""
    content = challenge_set_content(challenge_set)
    with transaction.atomic():
        taken = set(
            ChallengeSet.all_tenants.filter(
                organization_id=challenge_set.organization_id,
                slug__startswith=f"{challenge_set.slug}-copy",
            ).values_list("slug", flat=True)
        )
        slug, n = f"{challenge_set.slug}-copy", 1
        while slug in taken:
            n += 1
            slug = f"{challenge_set.slug}-copy-{n}"
        content["slug"] = slug[:80]
        content["title"] = f"Copy of {challenge_set.title}"[:200]
        copy, _ = challenge_set_import(
            organization=challenge_set.organization,
            text=dump_challenge_set(content),
            actor=actor,
        )
        audit_record(
            organization=challenge_set.organization,
            actor=actor,
            action=AuditEvent.Action.DUPLICATED,
            target=copy,
            changes={"from": str(challenge_set.public_id)},
        )
    return copy


def record_admin_change(
    *, organization: Organization, actor: User, target, created: bool, changed_fields: list[str]
) -> None:
    """Audit a create or change made through the authoring admin."""
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATED if created else AuditEvent.Action.CHANGED,
        target=target,
        changes={"fields": changed_fields} if changed_fields else {},
    )
