"""The editable side: a challenge set, its challenges and their options, as authors keep them.

A set's rows here are its working draft. Publishing copies them into an immutable
``ChallengeSetVersion``; candidates only ever see versions.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from accounts.tenancy import TenantModel
from assessments.core.choices import (
    ATTEMPTS_RANGE,
    FORMATS_BY_KIND,
    KINDS_WITH_CODE,
    TIME_LIMIT_RANGE,
    AnswerFormat,
    Difficulty,
    FeedbackPolicy,
    Kind,
    Navigation,
)
from grading.formats import (
    ConfigError,
    OptionSpec,
    validate_grading_config,
    validate_variable_grading_config,
)


class ChallengeSet(TenantModel):
    """A timed set of challenges, e.g. "BatchNorm Mastery"."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True, help_text="Markdown.")
    tagline = models.CharField(max_length=200, blank=True)
    badge_promise = models.CharField(max_length=200, blank=True)
    navigation = models.CharField(
        max_length=16, choices=Navigation.choices, default=Navigation.SEQUENTIAL
    )
    feedback = models.CharField(
        max_length=24,
        choices=FeedbackPolicy.choices,
        default=FeedbackPolicy.AFTER_CLOSE,
        help_text="When a candidate sees a question's explanation.",
    )
    time_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(60), MaxValueValidator(6 * 3600)],
        help_text="Overall limit in seconds; empty for none (each question keeps its own).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # sha256 of the draft's content, kept current by the services that change it; equal to
    # the latest version's content_hash when there is nothing new to publish.
    draft_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="challenge_set_slug_unique_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "published", "archived"]),
                name="challenge_set_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:assessments_challengeset_change", args=[self.pk])


class Challenge(TenantModel):
    """One question of a set, in its draft form."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    challenge_set = models.ForeignKey(
        ChallengeSet, on_delete=models.CASCADE, related_name="challenges"
    )
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    prompt = models.TextField(help_text="Markdown; rendered sanitized.")
    code = models.TextField(blank=True, help_text="Python snippet shown to the candidate.")
    difficulty = models.CharField(max_length=16, choices=Difficulty.choices)
    time_limit = models.PositiveIntegerField(
        validators=[MinValueValidator(TIME_LIMIT_RANGE[0]), MaxValueValidator(TIME_LIMIT_RANGE[1])],
        help_text="Seconds.",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(ATTEMPTS_RANGE[0]), MaxValueValidator(ATTEMPTS_RANGE[1])],
    )
    hint = models.TextField(blank=True)
    explanation = models.TextField(blank=True)
    points = models.PositiveIntegerField(default=1)
    answer_format = models.CharField(max_length=20, choices=AnswerFormat.choices)
    grading_config = models.JSONField(default=dict, blank=True)
    # A variable question (docs/challenge-format.md, "Variables"): the generator drawing each
    # candidate's variables, and the misconceptions whose results are its wrong options.
    variables = models.TextField(blank=True, help_text="Generator (Python, run in the sandbox).")
    misconceptions = models.JSONField(default=list, blank=True)
    # Adjacent challenges sharing a pool fill one position; each candidate gets one of them.
    pool = models.SlugField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["challenge_set", "position", "id"]
        indexes = [
            # A set's challenges in order (set page, publishing, export).
            models.Index(fields=["challenge_set", "position"], name="challenge_set_order_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        """Check the kind, answer format and code fit together (options are checked too)."""
        errors: dict[str, str] = {}
        allowed = FORMATS_BY_KIND.get(self.kind, ())
        if not self.answer_format and allowed:
            self.answer_format = allowed[0]
        if self.kind and self.answer_format and self.answer_format not in allowed:
            errors["answer_format"] = (
                f"A {self.get_kind_display()} challenge takes one of: "
                f"{', '.join(allowed)}; not {self.answer_format}."
            )
        if self.kind in KINDS_WITH_CODE and not self.code.strip():
            errors["code"] = f"A {self.get_kind_display()} challenge needs a code snippet."
        if errors:
            raise ValidationError(errors)

    @property
    def is_variable(self) -> bool:
        return bool(self.variables.strip())

    def clean_with_options(self, options: list[OptionSpec]) -> None:
        """Validate the grading configuration against the options that go with it."""
        if self.is_variable:
            # A variable question's options are computed per variant; check the stand-ins.
            from assessments.authoring.content import variable_option_specs

            options = variable_option_specs(self.misconceptions, self.answer_format)
        validate = validate_variable_grading_config if self.is_variable else validate_grading_config
        try:
            self.grading_config = validate(self.answer_format, self.grading_config, options)
        except ConfigError as exc:
            field = "grading_config" if exc.field.startswith("grading") else "__all__"
            raise ValidationError({field: f"{exc.field}: {exc.message}"}) from exc

    def option_specs(self) -> list[OptionSpec]:
        """Return the saved options as the validators see them."""
        return [OptionSpec(text=o.text, correct=o.is_correct) for o in self.options.all()]


class ChallengeOption(TenantModel):
    """An answer option of a choice question."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveIntegerField(default=0)
    text = models.TextField()
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["challenge", "position", "id"]

    def __str__(self) -> str:
        return self.text[:60]
