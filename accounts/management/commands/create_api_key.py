"""Create an API key for an organization and print it (alone, for scripts)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.api_keys import api_key_create
from accounts.models import Organization


class Command(BaseCommand):
    help = "Create a named API key of an organization; prints the key alone (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'Greenhouse'.")

    def handle(self, *args, org, name, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        if not name.strip():
            raise CommandError("--name must not be empty.")
        _api_key, plain = api_key_create(organization=organization, name=name, actor=None)
        self.stdout.write(plain)
