"""Badges: the awards candidates earn, and the keys that sign their credentials (docs/badges.md).

A ``BadgeAward`` is public at ``/badges/<public_id>/`` and carries its signed credential.

One key per organization signs new credentials at a time; rotating retires it without
deleting it, so every credential it signed still verifies against the published JWKS. The
private half is stored sealed (Fernet under a key derived from ``SECRET_KEY``) and is opened
only in ``assessments.badges.signing_keys`` to sign; it is never shown, logged or exported.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantModel


class ActiveSigningKeyDeletion(RuntimeError):
    """The key that signs new credentials was about to be deleted; rotate first."""


class BadgeSigningKey(TenantModel):
    """An Ed25519 key pair of one organization; the public half is in its JWKS."""

    # RFC 7638 thumbprint of the public JWK: the credentials' ``kid``, unique everywhere.
    kid = models.CharField(max_length=64, unique=True, editable=False)
    # The raw 32-byte public key, base64url without padding (the JWK's ``x``).
    public_key = models.CharField(max_length=64, editable=False)
    # The raw 32-byte private key, sealed; see ``assessments.badges.signing_keys.private_key_seal``.
    private_key_sealed = models.TextField(editable=False)
    created_at = models.DateTimeField(editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a newer key took over; a retired key still verifies what it signed.
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Exactly one key signs new credentials (the lookup of signing_key_current).
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(retired_at__isnull=True),
                name="badge_signing_key_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid[:12]}… ({_('signing') if self.is_active else _('retired')})"

    def delete(self, *args, **kwargs):
        if self.is_active:
            raise ActiveSigningKeyDeletion(
                "The active signing key cannot be deleted; rotate to a new key first."
            )
        return super().delete(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    def public_jwk(self) -> dict[str, str]:
        """Return the public key as a JWK (RFC 8037), as the JWKS publishes it."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_key,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }


class BadgeAward(TenantModel):
    """A badge earned by completing a set's criteria; public at ``/badges/<public_id>/``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invitation = models.OneToOneField(
        "assessments.Invitation", on_delete=models.PROTECT, related_name="badge"
    )
    version = models.ForeignKey(
        "assessments.ChallengeSetVersion", on_delete=models.PROTECT, related_name="+"
    )
    recipient_name = models.CharField(max_length=300)
    recipient_email = models.EmailField()
    score = models.FloatField()
    max_score = models.FloatField()
    awarded_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=300, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The signed OpenBadgeCredential (VC-JWT), fixed when issued: a later key rotation
    # leaves it as it was, signed by the key named in its header (docs/badges.md).
    credential_jwt = models.TextField(blank=True, editable=False)
    # Deleting a retired key is deliberate: its credentials then no longer verify.
    signing_key = models.ForeignKey(
        "assessments.BadgeSigningKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credentials",
        editable=False,
    )

    class Meta:
        ordering = ["-awarded_at"]
        indexes = [
            # The organization's revocation list: its revoked awards.
            models.Index(
                fields=["organization", "revoked_at"],
                name="badge_award_revoked_idx",
                condition=models.Q(revoked_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version.title}: {self.recipient_name}"

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("badge-detail", args=[self.public_id])
