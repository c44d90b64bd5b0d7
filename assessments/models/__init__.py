"""Challenge sets as authors edit them (drafts) and as candidates see them (frozen versions)."""

from assessments.models.authoring import Challenge, ChallengeOption, ChallengeSet
from assessments.models.badges import BadgeSigningKey
from assessments.models.candidates import (
    Answer,
    BadgeAward,
    IntegritySignal,
    Invitation,
    QuestionState,
)
from assessments.models.choices import AnswerFormat, Difficulty, Kind
from assessments.models.events import Event
from assessments.models.greenhouse import GreenhouseCallback
from assessments.models.keys import KeyCheck, KeyCheckJob
from assessments.models.versions import ChallengeSetVersion, PublishedChallenge
from assessments.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Answer",
    "AnswerFormat",
    "BadgeAward",
    "BadgeSigningKey",
    "Challenge",
    "ChallengeOption",
    "ChallengeSet",
    "ChallengeSetVersion",
    "Difficulty",
    "Event",
    "GreenhouseCallback",
    "IntegritySignal",
    "Invitation",
    "KeyCheck",
    "KeyCheckJob",
    "Kind",
    "PublishedChallenge",
    "QuestionState",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
