"""What the API reads and writes. Read serializers describe responses; ``Strict`` ones
validate requests and refuse unknown fields."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from assessments.authoring.models import ChallengeSetVersion
from assessments.core.choices import Difficulty, Kind
from assessments.hr.api.base import StrictSerializer
from assessments.invitations.models import TIME_MULTIPLIER_RANGE, Invitation
from assessments.taking.models import IntegritySignal

# --- errors (documentation of the one error shape) ---------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For 400s: each invalid request field (dotted when nested) and its messages.",
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="For 429s: seconds to wait (also the Retry-After header)."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- assessments -------------------------------------------------------------------------


class AssessmentSerializer(serializers.Serializer):
    """A published challenge set, as its latest version has it."""

    id = serializers.UUIDField(source="challenge_set.public_id", help_text="The set's id.")
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
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="The candidate's id in your system; filter invitations by it.",
    )  # fmt: skip


class InvitationSerializer(serializers.Serializer):
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


class InvitationCreateSerializer(StrictSerializer):
    assessment = serializers.UUIDField(help_text="An assessment id from GET /assessments/.")
    candidate = CandidateSerializer()
    expires_at = serializers.DateTimeField(
        required=False, help_text=f"Default: {settings.CANDIDATE_INVITATION_DAYS} days from now."
    )
    time_multiplier = serializers.DecimalField(
        max_digits=3, decimal_places=2, required=False, default=Decimal("1.00"),
        min_value=TIME_MULTIPLIER_RANGE[0], max_value=TIME_MULTIPLIER_RANGE[1],
        help_text="Scales every timer, e.g. 1.5 for an accessibility accommodation.",
    )  # fmt: skip
    send_email = serializers.BooleanField(
        required=False, default=True, help_text="Email the link to the candidate."
    )


class InvitationFilterSerializer(StrictSerializer):
    """Query parameters of GET /invitations/ (unknown ones are refused)."""

    status = serializers.ChoiceField(choices=Invitation.Status.choices, required=False)
    assessment = serializers.UUIDField(required=False, help_text="An assessment id.")
    external_id = serializers.CharField(max_length=200, required=False)
    updated_since = serializers.DateTimeField(
        required=False, help_text="Only invitations changed at or after this time (ISO 8601)."
    )
    cursor = serializers.CharField(required=False, help_text="From a page's next or previous.")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=200, help_text="Default 50."
    )


# --- results -----------------------------------------------------------------------------


class VariantSerializer(serializers.Serializer):
    variables = serializers.DictField(help_text="The variables drawn for this candidate.")
    code = serializers.CharField(help_text="The snippet exactly as the candidate saw it.")
    options = serializers.ListField(child=serializers.DictField())
    key = serializers.CharField(help_text="What the snippet printed or raised, run by torch.")


class ChallengeResultSerializer(serializers.Serializer):
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
    time_used_seconds = serializers.FloatField(allow_null=True)
    time_limit_seconds = serializers.IntegerField()
    variant = VariantSerializer(
        allow_null=True, help_text="A variable question: the candidate's own variant."
    )


class SignalSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IntegritySignal.Kind.choices)
    at = serializers.DateTimeField()
    question = serializers.IntegerField(allow_null=True, help_text="The question's position.")
    detail = serializers.DictField()


class ResultSerializer(serializers.Serializer):
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
    report_url = serializers.URLField(help_text="The candidate's report, for organization members.")


class CancelSerializer(StrictSerializer):
    """POST /invitations/{id}/cancel/ takes no fields."""


# --- pages (cursor pagination) -------------------------------------------------------------


def page_serializer_of(
    item: type[serializers.Serializer], name: str
) -> type[serializers.Serializer]:
    """Return the serializer of one cursor page of ``item`` (for the schema)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "next": serializers.URLField(allow_null=True, help_text="The next page, if any."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page."),
            "results": item(many=True),
        },
    )


AssessmentPageSerializer = page_serializer_of(AssessmentSerializer, "AssessmentPageSerializer")
InvitationPageSerializer = page_serializer_of(InvitationSerializer, "InvitationPageSerializer")
