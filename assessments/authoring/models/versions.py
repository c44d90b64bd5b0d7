"""The frozen side: what a published version of a set contains, never changed afterwards."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from accounts.tenancy import TenantModel
from assessments.core.choices import AnswerFormat, Difficulty, Kind, Navigation


class FrozenRowError(RuntimeError):
    """A published version (or one of its challenges) was about to be changed."""


class FrozenModel(TenantModel):
    """Rows that are written once and never updated."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise FrozenRowError(f"{type(self).__name__} {self.pk} is frozen; publish anew")
        super().save(*args, **kwargs)


class ChallengeSetVersion(FrozenModel):
    """An immutable snapshot of a set taken when it was published.

    Invitations and candidate sessions point here, so nothing a candidate sees changes
    under them when the author edits the draft.
    """

    # The fields publishing copies from the draft set as they are (the one list of them).
    COPIED_FROM_DRAFT: ClassVar[tuple[str, ...]] = (
        "title", "slug", "description", "tagline", "badge_promise", "navigation", "feedback",
        "time_limit",
    )  # fmt: skip

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    challenge_set = models.ForeignKey(
        "assessments.ChallengeSet", on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    tagline = models.CharField(max_length=200, blank=True)
    badge_promise = models.CharField(max_length=200, blank=True)
    navigation = models.CharField(max_length=16, choices=Navigation.choices)
    feedback = models.CharField(max_length=24)
    time_limit = models.PositiveIntegerField(null=True, blank=True)
    # sha256 of the canonical content; equal hashes mean the draft has nothing new.
    content_hash = models.CharField(max_length=64)
    # The torch that computed the keys; `reverify_keys` finds answers a new torch changes.
    torch_version = models.CharField(max_length=40, blank=True)
    published_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["challenge_set", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["challenge_set", "number"], name="version_number_unique_per_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class PublishedChallenge(FrozenModel):
    """A challenge as frozen in a version, with its options and answer key."""

    # The fields publishing copies from the draft challenge as they are (the one list of
    # them); position, options and key are frozen by publishing itself.
    COPIED_FROM_DRAFT: ClassVar[tuple[str, ...]] = (
        "kind", "title", "prompt", "code", "difficulty", "time_limit", "max_attempts", "hint",
        "explanation", "points", "answer_format", "grading_config", "variables",
        "misconceptions", "pool",
    )  # fmt: skip

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.ForeignKey(
        ChallengeSetVersion, on_delete=models.CASCADE, related_name="challenges"
    )
    # The draft challenge it came from: the same question across versions (analytics).
    source_id = models.UUIDField()
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    prompt = models.TextField()
    code = models.TextField(blank=True)
    difficulty = models.CharField(max_length=16, choices=Difficulty.choices)
    time_limit = models.PositiveIntegerField()
    max_attempts = models.PositiveSmallIntegerField()
    hint = models.TextField(blank=True)
    explanation = models.TextField(blank=True)
    points = models.PositiveIntegerField()
    answer_format = models.CharField(max_length=20, choices=AnswerFormat.choices)
    grading_config = models.JSONField(default=dict)
    # A variable question: each candidate's variant (prompt, code, options, key) is drawn
    # from these; ``options`` is then empty and ``key`` holds the publish sample.
    variables = models.TextField(blank=True)
    misconceptions = models.JSONField(default=list, blank=True)
    pool = models.SlugField(max_length=80, blank=True)
    # [{"id": "<uuid>", "text": "...", "correct": bool}, ...]: ids are stable for answers.
    options = models.JSONField(default=list)
    # What the grader compares answers with: for choices the correct option ids; for
    # snippet kinds also what executing the snippet produced (stdout or exception).
    key = models.JSONField(default=dict)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "position"], name="published_challenge_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    @property
    def is_variable(self) -> bool:
        return bool(self.variables.strip())
