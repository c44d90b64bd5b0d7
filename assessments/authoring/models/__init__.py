"""Challenge sets as authors edit them (drafts), as candidates see them (frozen versions),
and the checks that prove their answer keys by running them."""

from assessments.authoring.models.drafts import Challenge, ChallengeOption, ChallengeSet
from assessments.authoring.models.key_checks import KeyCheck, KeyCheckJob
from assessments.authoring.models.versions import (
    ChallengeSetVersion,
    FrozenModel,
    FrozenRowError,
    PublishedChallenge,
)

__all__ = [
    "Challenge",
    "ChallengeOption",
    "ChallengeSet",
    "ChallengeSetVersion",
    "FrozenModel",
    "FrozenRowError",
    "KeyCheck",
    "KeyCheckJob",
    "PublishedChallenge",
]
