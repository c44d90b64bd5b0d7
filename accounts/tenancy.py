"""The one scoped entry point for tenant data, failing closed.

Every tenant-owned model uses ``TenantManager`` as its default manager. Its queryset is
filtered to the organization of the current *tenant context*; with no context it raises
``NoTenantContext`` rather than returning every row. Web requests get their context from
``ActiveOrganizationMiddleware``, Celery tasks from ``tenant_context(organization_id)``
around their body, and code that really needs every tenant (migrations, platform
housekeeping) says so by using ``Model.all_tenants``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from django.db import models

_current_organization_id: ContextVar[int | None] = ContextVar("organization_id", default=None)


class NoTenantContext(RuntimeError):
    """Tenant data was asked for with no organization in context."""


class CrossTenantWrite(RuntimeError):
    """A row of one organization was written inside another organization's context."""


def current_organization_id() -> int:
    """Return the id of the organization in context, or raise ``NoTenantContext``."""
    organization_id = _current_organization_id.get()
    if organization_id is None:
        raise NoTenantContext(
            "Tenant data was requested with no organization in context; wrap the code in "
            "tenant_context(organization) or use Model.all_tenants explicitly."
        )
    return organization_id


def has_tenant_context() -> bool:
    """Return whether an organization is in context."""
    return _current_organization_id.get() is not None


@contextmanager
def tenant_context(organization) -> Iterator[None]:
    """Scope every tenant query inside the block to ``organization`` (instance or id)."""
    organization_id = getattr(organization, "pk", organization)
    if organization_id is None:
        raise NoTenantContext("tenant_context() needs an organization, got None")
    token = _current_organization_id.set(int(organization_id))
    try:
        yield
    finally:
        _current_organization_id.reset(token)


@contextmanager
def tenant_context_of(organization_id: int) -> Iterator[None]:
    """Scope the block to the organization that owns the rows being worked on.

    For code that runs both inside a request or task (that organization already in context)
    and from a sweeper (no context): the rows' own organization is entered, and another
    organization in context is a ``CrossTenantWrite``, never a silent switch.
    """
    context_id = _current_organization_id.get()
    if context_id is not None and context_id != int(organization_id):
        raise CrossTenantWrite(
            f"rows of organization {organization_id} inside the context of {context_id}"
        )
    with tenant_context(organization_id):
        yield


def tenant_enter(organization_id: int) -> Token:
    """Enter an organization's context where a ``with`` block cannot span the work (a view
    whose caller is known only half way through dispatch); ``tenant_leave`` must follow."""
    return _current_organization_id.set(int(organization_id))


def tenant_leave(token: Token) -> None:
    _current_organization_id.reset(token)


class TenantQuerySet(models.QuerySet):
    """A queryset of tenant-owned rows."""

    def for_organization(self, organization) -> TenantQuerySet:
        """Return the rows of ``organization`` (instance or id)."""
        return self.filter(organization_id=getattr(organization, "pk", organization))


class CurrentOrganizationId(models.Expression):
    """The context organization's id, read when the SQL is compiled, not when it is built.

    Querysets are often built before any request exists (a form field's choices at import
    time); resolving the id at compile time keeps them scoped to whichever organization is
    in context when they run, and makes them fail closed when none is.
    """

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection):
        return "%s", [current_organization_id()]


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant models: every query is scoped to the context organization."""

    def get_queryset(self) -> TenantQuerySet:
        return super().get_queryset().filter(organization_id=CurrentOrganizationId())


class AllTenantsManager(models.Manager.from_queryset(TenantQuerySet)):
    """Unscoped access, for code that must see every tenant and says so by its name."""


class TenantModel(models.Model):
    """Base of every tenant-owned model: an ``organization`` column and a scoped manager.

    The column is on every row even where a join could derive it, so that scoping is one
    indexed filter everywhere and no query can forget a join.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = TenantManager()
    all_tenants = AllTenantsManager()

    class Meta:
        abstract = True
        # Related-object access and deletion cascades use the base manager; they start
        # from a row already obtained through the scoped one.
        base_manager_name = "all_tenants"

    def save(self, *args, **kwargs):
        if has_tenant_context():
            context_id = current_organization_id()
            if self.organization_id is None:
                self.organization_id = context_id
            elif self.organization_id != context_id:
                raise CrossTenantWrite(
                    f"{type(self).__name__} of organization {self.organization_id} saved "
                    f"inside the context of organization {context_id}"
                )
        super().save(*args, **kwargs)
