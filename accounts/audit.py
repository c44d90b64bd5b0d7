"""Record audit events: the one way rows get into the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditEvent, Organization, User


def audit_record(
    *,
    organization: Organization,
    actor: User | None,
    action: str,
    target: models.Model,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event saying ``actor`` did ``action`` to ``target``."""
    target_id = getattr(target, "public_id", None) or target.pk
    # Called in a request, a task or a command, the organization named explicitly; create()
    # still refuses another organization's row inside a context (TenantModel.save).
    return AuditEvent.all_tenants.create(
        organization=organization,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target_id),
        target_repr=str(target)[:255],
        changes=changes or {},
    )
