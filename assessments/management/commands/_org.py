"""Shared by the content commands: find the organization named by --org."""

from django.core.management.base import CommandError

from accounts.models import Organization


def organization_from_slug(slug: str) -> Organization:
    """Return the organization with this slug, or fail with a clear message."""
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"No organization with slug {slug!r}.")
    return organization
