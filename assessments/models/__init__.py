"""Challenge sets as authors edit them (drafts) and as candidates see them (frozen versions)."""

from assessments.models.authoring import Challenge, ChallengeOption, ChallengeSet
from assessments.models.choices import AnswerFormat, Difficulty, Kind
from assessments.models.keys import KeyCheck, KeyCheckJob
from assessments.models.versions import ChallengeSetVersion, PublishedChallenge

__all__ = [
    "AnswerFormat",
    "Challenge",
    "ChallengeOption",
    "ChallengeSet",
    "ChallengeSetVersion",
    "Difficulty",
    "KeyCheck",
    "KeyCheckJob",
    "Kind",
    "PublishedChallenge",
]
