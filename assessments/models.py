"""The app's models module, as Django loads it: every feature's models, in one namespace.

Each model lives with its feature (``assessments/<feature>/models.py``); Django registers a
model under the ``assessments`` label when its module is imported, and it imports this module
at start-up. Feature code imports models from their feature's module, never from here: this
module imports the HR edge too, and a feature importing it would depend on the edge. Tests
and shells may use it as the one place that names every model.
"""

from assessments.authoring.models import (
    Challenge,
    ChallengeOption,
    ChallengeSet,
    ChallengeSetVersion,
    KeyCheck,
    KeyCheckJob,
    PublishedChallenge,
)
from assessments.badges.models import BadgeAward, BadgeSigningKey
from assessments.core.choices import AnswerFormat, Difficulty, Kind
from assessments.core.models import Event
from assessments.hr.greenhouse.models import GreenhouseCallback
from assessments.hr.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from assessments.invitations.models import Invitation
from assessments.taking.models import Answer, IntegritySignal, QuestionState

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
