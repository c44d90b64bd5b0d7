from django.core.management.base import BaseCommand, CommandError

from accounts.tenancy import tenant_context
from assessments.management.commands._org import organization_from_slug
from assessments.models import ChallengeSet
from assessments.services import PublishRefused, challenge_set_publish


class Command(BaseCommand):
    help = "Publish a challenge set's draft as a new frozen version, after every check passes."

    def add_arguments(self, parser):
        parser.add_argument("set_slug")
        parser.add_argument("--org", required=True, help="organization slug")

    def handle(self, *args, set_slug: str, org: str, **options):
        organization = organization_from_slug(org)
        with tenant_context(organization):
            challenge_set = ChallengeSet.objects.filter(slug=set_slug).first()
            if challenge_set is None:
                raise CommandError(f"No challenge set {set_slug!r} in {organization.slug}.")
            try:
                version, created = challenge_set_publish(challenge_set=challenge_set, actor=None)
            except PublishRefused as exc:
                raise CommandError(
                    f"Publishing {set_slug} was refused; nothing changed:\n  "
                    + "\n  ".join(exc.problems)
                ) from exc
        if created:
            self.stdout.write(f"Published {set_slug} version {version.number}.")
        else:
            self.stdout.write(f"{set_slug} has no changes since version {version.number}.")
