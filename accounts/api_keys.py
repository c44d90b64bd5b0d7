"""API keys: create (the plain key is returned once), authenticate, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import ApiKey, AuditEvent, Organization, User
from accounts.tenancy import tenant_context_of

KEY_PREFIX = "mla_"
# last_used_at is written at most this often per key, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *, organization: Organization, name: str, actor: User | None
) -> tuple[ApiKey, str]:
    """Create a key; return the row and the plain key, which is never stored nor shown again."""
    name = name.strip()
    if not name:
        raise ValueError("An API key needs a name.")
    prefix = secrets.token_hex(4)
    plain = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        # Keys are created from the admin and by the create_api_key command (no context).
        api_key = ApiKey.all_tenants.create(
            organization=organization,
            name=name[:100],
            prefix=prefix,
            key_hash=_hash(plain),
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEvent.Action.CREATED,
            target=api_key,
            changes={"name": api_key.name},
        )
    return api_key, plain


def api_key_authenticate(plain: str) -> ApiKey | None:
    """Return the active key ``plain`` names, or None (unknown, malformed or revoked)."""
    if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
        return None
    prefix, _, _secret = plain[len(KEY_PREFIX) :].partition("_")
    if not prefix or not _secret:
        return None
    # A token lookup: the key is what tells which organization is calling.
    api_key = (
        ApiKey.all_tenants.select_related("organization")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(plain)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_PRECISION:
        with tenant_context_of(api_key.organization_id):
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey, actor: User | None) -> bool:
    """Revoke a key at once; return whether it was active."""
    now = timezone.now()
    with transaction.atomic(), tenant_context_of(api_key.organization_id):
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if revoked:
            api_key.revoked_at = now
            audit_record(
                organization=api_key.organization,
                actor=actor,
                action=AuditEvent.Action.CHANGED,
                target=api_key,
                changes={"revoked": True},
            )
    return bool(revoked)
