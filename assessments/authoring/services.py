"""Writes of challenge sets: import, archive, duplicate, and their audit trail.

Publishing lives in ``authoring.publishing``; checking answer keys in
``authoring.key_checks``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.db.models import Prefetch

from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization, User
from assessments.authoring.content import ChallengeSetData, dump_challenge_set, parse_challenge_set
from assessments.authoring.models import Challenge, ChallengeOption, ChallengeSet
from assessments.core.choices import CHOICE_FORMATS, KINDS_WITH_CODE

# --- content as data ------------------------------------------------------------------------


def challenge_set_content(challenge_set: ChallengeSet) -> dict[str, Any]:
    """Return the set's draft as plain data in the YAML file's shape (export and hashing)."""
    challenges = challenge_set.challenges.order_by("position", "id").prefetch_related(
        Prefetch("options", queryset=ChallengeOption.objects.order_by("position", "id"))
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
    if challenge.pool:
        item["pool"] = challenge.pool
    if challenge.is_variable:
        item["variables"] = challenge.variables
        item["misconceptions"] = [
            {"label": m["label"], **({"code": m["code"]} if m.get("code") else {"text": m["text"]})}
            for m in challenge.misconceptions
        ]
    elif challenge.answer_format in CHOICE_FORMATS:
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
    ChallengeSet.objects.filter(pk=challenge_set.pk).update(draft_hash=digest)
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
            ChallengeSet.objects.select_for_update()
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
        Challenge.objects.filter(challenge_set=challenge_set).order_by("position", "id")
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
            "code", "hint", "explanation", "answer_format", "variables", "misconceptions", "pool",
        ):  # fmt: skip
            setattr(challenge, name, getattr(item, name))
        challenge.grading_config = item.grading
        challenge.save()
        ChallengeOption.objects.filter(challenge=challenge).delete()
        ChallengeOption.objects.bulk_create(
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


# --- lifecycle ------------------------------------------------------------------------------


def challenge_set_archive(*, challenge_set: ChallengeSet, actor: User | None) -> ChallengeSet:
    """Withdraw the set: no new invitations; existing versions stay for their candidates."""
    with transaction.atomic():
        challenge_set = ChallengeSet.objects.select_for_update().get(pk=challenge_set.pk)
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
        challenge_set = ChallengeSet.objects.select_for_update().get(pk=challenge_set.pk)
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
            ChallengeSet.objects.filter(
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
