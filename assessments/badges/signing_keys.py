"""Badge signing keys: create, rotate, delete, publish, and sign a VC-JWT with one.

Each organization signs its own credentials with its own Ed25519 key. The private key is
generated here, sealed before it is stored and opened only inside ``jwt_sign``; nothing
returns it, so no view, log line, admin page or export can show it. Public keys are published
as a JWKS, retired ones included, so that rotating never breaks a credential already issued.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import transaction

from accounts.models import Organization, User
from accounts.sealing import sealing_fernet
from accounts.tenancy import CrossTenantWrite, current_organization_id
from assessments.badges.models import BadgeSigningKey

JWT_ALGORITHM = "EdDSA"
JWT_TYPE = "vc+jwt"


class SigningKeyUnreadable(RuntimeError):
    """A sealed private key could not be opened: SECRET_KEY changed without a fallback."""


def b64url(data: bytes) -> str:
    """Return ``data`` in base64url without padding (JOSE's encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- sealing ----------------------------------------------------------------------------
def _fernet() -> MultiFernet:
    # BADGE_SIGNING_SECRET, when set, is the dedicated secret, else SECRET_KEY; the first
    # seals. The others only open: the active key sealed under a previous secret (listed in
    # SECRET_KEY_FALLBACKS) keeps signing until the next rotation seals a new one. Retired
    # keys are never opened again: their credentials are stored signed.
    return sealing_fernet(b"badge-signing-key", dedicated_secret=settings.BADGE_SIGNING_SECRET)


def private_key_seal(private_key: Ed25519PrivateKey) -> str:
    """Return the raw private key encrypted and authenticated for storage."""
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _fernet().encrypt(raw).decode("ascii")


def _private_key_open(key: BadgeSigningKey) -> Ed25519PrivateKey:
    try:
        raw = _fernet().decrypt(key.private_key_sealed.encode("ascii"))
    except (InvalidToken, ValueError) as exc:
        raise SigningKeyUnreadable(
            f"The badge signing key {key.kid} cannot be opened with the configured secrets"
        ) from exc
    return Ed25519PrivateKey.from_private_bytes(raw)


def jwk_thumbprint(public_key_b64: str) -> str:
    """Return the RFC 7638 thumbprint of an Ed25519 public JWK (its required members only)."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": public_key_b64}, separators=(",", ":")
    )
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


# --- lifecycle --------------------------------------------------------------------------
def _key_create(*, organization_id: int, actor: User | None, now: datetime) -> BadgeSigningKey:
    private_key = Ed25519PrivateKey.generate()
    public_raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    public_key = b64url(public_raw)
    return BadgeSigningKey.objects.create(
        organization_id=organization_id,
        kid=jwk_thumbprint(public_key),
        public_key=public_key,
        private_key_sealed=private_key_seal(private_key),
        created_at=now,
        created_by=actor,
    )


def signing_key_current(*, now: datetime) -> BadgeSigningKey:
    """Return the context organization's signing key, creating its first one if needed."""
    organization_id = current_organization_id()
    key = BadgeSigningKey.objects.filter(retired_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        # Two first badges of an organization at once: the organization's row serializes
        # them, so one creates the key and the other finds it.
        Organization.objects.select_for_update().get(pk=organization_id)
        key = BadgeSigningKey.objects.filter(retired_at__isnull=True).first()
        if key is None:
            key = _key_create(organization_id=organization_id, actor=None, now=now)
    return key


def signing_key_rotate(*, actor: User | None, now: datetime) -> BadgeSigningKey:
    """Retire the context organization's signing key and return the new one that follows it.

    The retired key stays published in the JWKS: what it signed keeps verifying.
    """
    organization_id = current_organization_id()
    with transaction.atomic():
        # A rotation racing another rotation or a first badge: one at a time per organization.
        Organization.objects.select_for_update().get(pk=organization_id)
        BadgeSigningKey.objects.filter(retired_at__isnull=True).update(retired_at=now)
        return _key_create(organization_id=organization_id, actor=actor, now=now)


def signing_key_delete(key: BadgeSigningKey) -> int:
    """Delete a retired key; return how many credentials it signed, which stop verifying."""
    if key.organization_id != current_organization_id():
        raise CrossTenantWrite("A signing key of another organization")
    signed = key.credentials.count()
    key.delete()  # refuses the active key
    return signed


def jwks(organization: Organization) -> dict[str, list[dict[str, str]]]:
    """Return the organization's public keys, newest first, as a JWK Set (RFC 7517)."""
    # A public document (no tenant context): the organization is named in its URL.
    keys = BadgeSigningKey.all_tenants.filter(organization=organization).order_by(
        "-created_at", "-id"
    )
    return {"keys": [key.public_jwk() for key in keys]}


# --- signing ----------------------------------------------------------------------------
def jwt_sign(payload: dict[str, Any], *, key: BadgeSigningKey) -> str:
    """Return ``payload`` signed as a compact JWS with ``key`` (header alg, typ, kid)."""
    header = {"alg": JWT_ALGORITHM, "typ": JWT_TYPE, "kid": key.kid}

    def encode(part: dict[str, Any]) -> str:
        return b64url(json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode())

    signing_input = f"{encode(header)}.{encode(payload)}"
    signature = _private_key_open(key).sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def jwt_payload(token: str) -> dict[str, Any]:
    """Return the payload of a JWT this module signed (read from storage, not verified)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
