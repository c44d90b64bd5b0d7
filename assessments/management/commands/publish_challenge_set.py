from django.core.management.base import BaseCommand, CommandError

from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSet
from assessments.management.commands._keys import publish_with_verified_keys
from assessments.management.commands._org import organization_from_slug


class Command(BaseCommand):
    help = (
        "Publish a challenge set's draft as a new frozen version, after every check passes and "
        "every answer key is proven by running its snippet in the sandbox."
    )

    def add_arguments(self, parser):
        parser.add_argument("set_slug")
        parser.add_argument("--org", required=True, help="organization slug")

    def handle(self, *args, set_slug: str, org: str, **options):
        organization = organization_from_slug(org)
        with tenant_context(organization):
            challenge_set = ChallengeSet.objects.filter(slug=set_slug).first()
            if challenge_set is None:
                raise CommandError(f"No challenge set {set_slug!r} in {organization.slug}.")
            before = challenge_set.versions.order_by("-number").first()
            check = publish_with_verified_keys(challenge_set)
        if before is not None and check.version_id == before.pk:
            self.stdout.write(f"{set_slug} has no changes since version {before.number}.")
        else:
            self.stdout.write(f"Published {set_slug} version {check.version.number}.")
