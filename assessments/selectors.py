"""Reads of challenge sets that the admin, pages and (later) the API share."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from assessments.models import ChallengeSet, ChallengeSetVersion, PublishedChallenge


def challenge_sets_with_summary() -> QuerySet[ChallengeSet]:
    """Return the context organization's sets with challenge count and latest version."""
    latest = ChallengeSetVersion.all_tenants.filter(challenge_set=OuterRef("pk")).order_by(
        "-number"
    )
    return ChallengeSet.objects.annotate(
        challenge_count=Count("challenges", distinct=True),
        latest_version_number=Subquery(latest.values("number")[:1]),
        latest_content_hash=Subquery(latest.values("content_hash")[:1]),
    )


def latest_version(challenge_set: ChallengeSet) -> ChallengeSetVersion | None:
    """Return the newest published version of the set, or None."""
    return (
        ChallengeSetVersion.objects.filter(challenge_set=challenge_set).order_by("-number").first()
    )


def version_challenges(version: ChallengeSetVersion) -> QuerySet[PublishedChallenge]:
    """Return a version's frozen challenges in order."""
    return PublishedChallenge.objects.filter(version=version).order_by("position")
