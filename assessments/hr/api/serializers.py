"""What the API reads and writes. Read serializers describe responses; request serializers
(``StrictSerializer``) refuse unknown fields and values of the wrong JSON type. Their
docstrings and help texts are published in the schema: they are written for API users."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assessments.authoring.models import ChallengeSet, ChallengeSetVersion
from assessments.core.choices import Difficulty, Kind
from assessments.hr.api.base import PageParametersSerializer, StrictSerializer
from assessments.invitations.models import INVITATION_MAX_DAYS, TIME_MULTIPLIER_RANGE, Invitation
from assessments.taking.models import IntegritySignal

# --- errors (documentation of the one error shape) ---------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    """What went wrong: the status, a stable code, a message, and the fields at fault."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=(
            "For 400s: each invalid request field (dotted when nested) and its messages; "
            "at most 50 fields are listed."
        ),
    )
    fields_omitted = serializers.IntegerField(
        required=False, help_text="How many more invalid fields there were than are listed."
    )
    error_id = serializers.CharField(
        required=False, help_text="For 500s: quote it to support; our logs carry it."
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="For 429s: seconds to wait (also the Retry-After header)."
    )


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers has this shape."""

    error = ErrorDetailSerializer()


# --- assessments -------------------------------------------------------------------------


# What an assessment the API shows can be (a draft never published is not one); the schema
# names this enum AssessmentStatusEnum (settings' ENUM_NAME_OVERRIDES).
ASSESSMENT_STATUSES = [
    (status.value, status.label)
    for status in (ChallengeSet.Status.PUBLISHED, ChallengeSet.Status.ARCHIVED)
]


class AssessmentSerializer(serializers.Serializer):
    """An assessment, as its latest published version has it: `published` ones take
    invitations, `archived` ones only keep their existing invitations and results."""

    id = serializers.UUIDField(source="challenge_set.public_id", help_text="The set's id.")
    status = serializers.ChoiceField(
        source="challenge_set.status",
        choices=ASSESSMENT_STATUSES,
        help_text="`archived`: withdrawn, new invitations are refused (409).",
    )
    title = serializers.CharField()
    slug = serializers.SlugField()
    tagline = serializers.CharField()
    badge_promise = serializers.CharField()
    version = serializers.IntegerField(source="number", help_text="The latest published version.")
    published_at = serializers.DateTimeField()
    problems = serializers.SerializerMethodField(help_text="Number of problems.")
    total_time_seconds = serializers.SerializerMethodField(
        help_text="Sum of the problems' time limits (before any time multiplier)."
    )
    time_limit_seconds = serializers.IntegerField(
        source="time_limit", allow_null=True, help_text="Overall limit, if the set has one."
    )
    difficulty_mix = serializers.SerializerMethodField(
        help_text="Number of problems per difficulty (every difficulty listed)."
    )
    kind_mix = serializers.SerializerMethodField(help_text="Number of problems per kind.")

    def get_problems(self, version: ChallengeSetVersion) -> int:
        return len(version.challenges.all())

    def get_total_time_seconds(self, version: ChallengeSetVersion) -> int:
        return sum(c.time_limit for c in version.challenges.all())

    def get_difficulty_mix(self, version: ChallengeSetVersion) -> dict[str, int]:
        counts = Counter(c.difficulty for c in version.challenges.all())
        return {d: counts.get(d, 0) for d in Difficulty.values}

    def get_kind_mix(self, version: ChallengeSetVersion) -> dict[str, int]:
        counts = Counter(c.kind for c in version.challenges.all())
        return {k: counts[k] for k in Kind.values if counts.get(k)}


# --- invitations -------------------------------------------------------------------------


class CandidateSerializer(StrictSerializer):
    """The person invited: an email address, and optionally a name and your own id."""

    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="The candidate's id in your system; filter invitations by it.",
    )  # fmt: skip


class InvitationSerializer(serializers.Serializer):
    """An invitation of one candidate to one assessment, and where it stands."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=Invitation.Status.choices)
    assessment = serializers.UUIDField(source="version.challenge_set.public_id")
    assessment_title = serializers.CharField(source="version.title")
    assessment_version = serializers.IntegerField(source="version.number")
    candidate = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="The candidate's link: send it or let us.")
    time_multiplier = serializers.DecimalField(max_digits=3, decimal_places=2)
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    email_sent_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    def get_candidate(self, invitation: Invitation) -> CandidateSerializer:
        return {
            "email": invitation.email,
            "first_name": invitation.first_name,
            "last_name": invitation.last_name,
            "external_id": invitation.external_id,
        }

    def get_url(self, invitation: Invitation) -> str:
        return settings.SITE_URL + invitation.candidate_path()


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        # 1.00 to 4.00, at most two decimals: what the field accepts, and nothing more.
        "pattern": r"^(?:[1-3](?:\.[0-9]{1,2})?|4(?:\.0{1,2})?)$",
        "default": "1.00",
        "example": "1.50",
    }
)
class TimeMultiplierField(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(
            max_digits=3, decimal_places=2, min_value=TIME_MULTIPLIER_RANGE[0],
            max_value=TIME_MULTIPLIER_RANGE[1], **kwargs,
        )  # fmt: skip


class InvitationCreateSerializer(StrictSerializer):
    """Whom to invite to which assessment; everything but the assessment and the candidate's
    email address is optional."""

    assessment = serializers.UUIDField(help_text="An assessment id from GET /assessments/.")
    candidate = CandidateSerializer()
    expires_at = serializers.DateTimeField(
        required=False,
        help_text=(
            f"In the future, at most {INVITATION_MAX_DAYS} days from now. "
            f"Default: {settings.CANDIDATE_INVITATION_DAYS} days from now."
        ),
    )
    time_multiplier = TimeMultiplierField(
        required=False, default=Decimal("1.00"),
        help_text=(
            'Scales every timer, as a decimal string from "1.00" to "4.00", e.g. "1.50" for '
            "an accessibility accommodation."
        ),
    )  # fmt: skip
    send_email = serializers.BooleanField(
        required=False, default=True, help_text="Email the link to the candidate."
    )


class InvitationFilterSerializer(PageParametersSerializer):
    """Filters of the invitation list, and its page parameters."""

    status = serializers.ChoiceField(choices=Invitation.Status.choices, required=False)
    assessment = serializers.UUIDField(required=False, help_text="An assessment id.")
    external_id = serializers.CharField(max_length=200, required=False)
    updated_since = serializers.DateTimeField(
        required=False, help_text="Only invitations changed at or after this time (ISO 8601)."
    )


# --- results -----------------------------------------------------------------------------


class VariantSerializer(serializers.Serializer):
    variables = serializers.DictField(help_text="The variables drawn for this candidate.")
    code = serializers.CharField(help_text="The snippet exactly as the candidate saw it.")
    options = serializers.ListField(child=serializers.DictField())
    key = serializers.CharField(help_text="What the snippet printed or raised, run by torch.")


class ChallengeResultSerializer(serializers.Serializer):
    """How the candidate did on one challenge."""

    position = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    difficulty = serializers.ChoiceField(choices=Difficulty.choices)
    verdict = serializers.ChoiceField(
        choices=["correct", "incorrect", "time_up", "not_answered", "pending", "open"],
        help_text="`open`: the session is still running and the question too.",
    )
    points = serializers.FloatField()
    max_points = serializers.IntegerField()
    attempts_used = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    hint_used = serializers.BooleanField()
    answered_after_explanation = serializers.BooleanField(
        help_text="An answer came after the explanation was shown (practice mode): it scored 0 "
        "and the question gives no badge credit."
    )
    time_used_seconds = serializers.FloatField(allow_null=True)
    time_limit_seconds = serializers.IntegerField()
    variant = VariantSerializer(
        allow_null=True, help_text="A variable question: the candidate's own variant."
    )


class SignalSerializer(serializers.Serializer):
    """Something seen during the session that a reviewer may want to look at."""

    kind = serializers.ChoiceField(choices=IntegritySignal.Kind.choices)
    at = serializers.DateTimeField()
    question = serializers.IntegerField(allow_null=True, help_text="The question's position.")
    detail = serializers.DictField()


class ResultSerializer(serializers.Serializer):
    """The candidate's result: the score, each challenge, and integrity signals."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Invitation.Status.choices)
    score = serializers.FloatField(allow_null=True)
    max_score = serializers.FloatField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    badge_awarded = serializers.BooleanField()
    badge_url = serializers.URLField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    time_taken_seconds = serializers.FloatField(allow_null=True)
    challenges = ChallengeResultSerializer(many=True)
    integrity_signals = SignalSerializer(many=True)
    report_url = serializers.URLField(
        help_text=(
            "A public, signed link to the candidate's report: anyone who has it can open it "
            "until it expires (`REPORT_LINK_DAYS`, 14 days by default). Share it with care."
        )
    )


class CancelSerializer(StrictSerializer):
    """Cancelling takes no fields: send an empty object or no body."""


# --- pages (cursor pagination) -------------------------------------------------------------


def page_serializer_of(
    item: type[serializers.Serializer], name: str
) -> type[serializers.Serializer]:
    """Return the serializer of one cursor page of ``item`` (for the schema)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": f"One page of {item.__name__.removesuffix('Serializer').lower()}s.",
            "next": serializers.URLField(allow_null=True, help_text="The next page, if any."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page."),
            "results": item(many=True),
        },
    )


class AssessmentFilterSerializer(PageParametersSerializer):
    """The filter and page parameters of the assessment list."""

    include_archived = serializers.BooleanField(
        required=False,
        default=False,
        help_text="`true` lists archived assessments too; by default only published ones.",
    )


AssessmentPageSerializer = page_serializer_of(AssessmentSerializer, "AssessmentPageSerializer")
InvitationPageSerializer = page_serializer_of(InvitationSerializer, "InvitationPageSerializer")
