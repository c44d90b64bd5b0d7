from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSet
from assessments.authoring.services import challenge_set_export_yaml
from assessments.management.commands._org import organization_from_slug


class Command(BaseCommand):
    help = "Write a challenge set's draft as YAML (to stdout, or to --output)."

    def add_arguments(self, parser):
        parser.add_argument("set_slug")
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--output", "-o", type=Path, help="file to write instead of stdout")

    def handle(self, *args, set_slug: str, org: str, output: Path | None, **options):
        organization = organization_from_slug(org)
        with tenant_context(organization):
            challenge_set = ChallengeSet.objects.filter(slug=set_slug).first()
            if challenge_set is None:
                raise CommandError(f"No challenge set {set_slug!r} in {organization.slug}.")
            text = challenge_set_export_yaml(challenge_set)
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}.")
