"""Reads of challenge sets that the admin, pages, the API and publishing share."""

from __future__ import annotations

import functools

from django.db.models import Count, OuterRef, QuerySet, Subquery

from accounts.tenancy import tenant_context_of
from assessments.authoring.models import (
    Challenge,
    ChallengeSet,
    ChallengeSetVersion,
    PublishedChallenge,
)
from assessments.core.choices import AnswerFormat, Kind


def challenge_sets_with_summary() -> QuerySet[ChallengeSet]:
    """Return the context organization's sets with challenge count and latest version."""
    latest = ChallengeSetVersion.objects.filter(challenge_set=OuterRef("pk")).order_by("-number")
    return ChallengeSet.objects.annotate(
        challenge_count=Count("challenges", distinct=True),
        latest_version_number=Subquery(latest.values("number")[:1]),
        latest_content_hash=Subquery(latest.values("content_hash")[:1]),
    )


def has_unpublished_changes(challenge_set: ChallengeSet) -> bool:
    """Return whether the draft differs from the latest version (True if never published).

    Uses the ``latest_content_hash`` annotation of ``challenge_sets_with_summary`` when
    present, so list pages ask nothing per row.
    """
    if hasattr(challenge_set, "latest_content_hash"):
        latest = challenge_set.latest_content_hash
    else:
        version = challenge_set.versions.order_by("-number").first()
        latest = version.content_hash if version else None
    return latest is None or latest != challenge_set.draft_hash


def version_challenges(version: ChallengeSetVersion) -> QuerySet[PublishedChallenge]:
    """Return a version's frozen challenges in order."""
    return PublishedChallenge.objects.filter(version=version).order_by("position")


def latest_published_versions(*, include_archived: bool = False) -> QuerySet[ChallengeSetVersion]:
    """Return the latest version of every published set of the context organization: what can
    be sent to candidates (the API's assessments, Greenhouse's tests). With
    ``include_archived``, also that of every archived set that was ever published (its
    invitations and results still name it)."""
    latest = (
        ChallengeSetVersion.objects.filter(challenge_set=OuterRef("challenge_set"))
        .order_by("-number")
        .values("number")[:1]
    )
    statuses = [ChallengeSet.Status.PUBLISHED]
    if include_archived:
        statuses.append(ChallengeSet.Status.ARCHIVED)
    return ChallengeSetVersion.objects.filter(
        challenge_set__status__in=statuses, number=Subquery(latest)
    ).select_related("challenge_set")


def challenges_needing_execution(challenge_set: ChallengeSet) -> list[Challenge]:
    """Return the draft's challenges whose key comes from running code."""
    return [
        challenge
        for challenge in challenge_set.challenges.order_by("position", "id")
        if challenge.kind in (Kind.PREDICT_OUTPUT, Kind.DEBUG)
        or challenge.answer_format == AnswerFormat.CODE
    ]


def key_check_coverage(check) -> dict:
    """Return which questions a key check ran and which have nothing to run, and why.

    The check's report holds one entry per question it executed; the others are read from
    the version it published, else from the draft, so the page never claims more than ran.
    """
    if check.version_id:
        questions = [(c.position, c.title, c.kind) for c in version_challenges(check.version)]
    else:
        questions = [
            (c.position, c.title, c.kind)
            for c in check.challenge_set.challenges.order_by("position", "id")
        ]
    executed_positions = {entry.get("position") for entry in check.report or []}
    labels = dict(Kind.choices)
    executed = [q for q in questions if q[0] in executed_positions]
    not_run = [q for q in questions if q[0] not in executed_positions]
    return {
        "total": len(questions),
        "executed_count": len(executed),
        "executed_kinds": _kind_labels(executed, labels),
        "not_run": [
            {"position": position, "title": title, "kind": labels.get(kind, kind)}
            for position, title, kind in not_run
        ],
        "not_run_kinds": _kind_labels(not_run, labels),
    }


def _kind_labels(questions, labels: dict[str, str]) -> str:
    """Return the distinct kinds of ``questions`` in order of first appearance, lower case."""
    seen: dict[str, None] = {}
    for _position, _title, kind in questions:
        seen.setdefault(str(labels.get(kind, kind)).lower(), None)
    return ", ".join(seen)


# Published versions and their challenges are frozen (``FrozenModel``): a process can keep
# them once read. Candidates' pages and answers read them on every request, and building
# these rows (five JSON fields a challenge) cost more than the rest of the query.
@functools.lru_cache(maxsize=256)
def _published(organization_id: int, version_id: int):
    with tenant_context_of(organization_id):
        version = ChallengeSetVersion.objects.get(pk=version_id)
        challenges = {c.pk: c for c in PublishedChallenge.objects.filter(version_id=version_id)}
    return version, challenges


def published_version(*, organization_id: int, version_id: int) -> ChallengeSetVersion:
    """Return a published version of the organization, read once per process (frozen)."""
    return _published(organization_id, version_id)[0]


def published_challenges(*, organization_id: int, version_id: int) -> dict[int, PublishedChallenge]:
    """Return a published version's challenges by id, read once per process (frozen).

    Callers share the instances: they read them, never set attributes on them.
    """
    return _published(organization_id, version_id)[1]
