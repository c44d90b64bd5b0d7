from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.tenancy import tenant_context
from assessments.authoring.content import ContentError
from assessments.authoring.services import challenge_set_import
from assessments.management.commands._org import organization_from_slug


class Command(BaseCommand):
    help = "Create or update a challenge set's draft from a YAML file (docs/challenge-format.md)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, help="organization slug")

    def handle(self, *args, file: Path, org: str, **options):
        organization = organization_from_slug(org)
        try:
            text = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        with tenant_context(organization):
            try:
                challenge_set, created = challenge_set_import(
                    organization=organization, text=text, actor=None
                )
            except ContentError as exc:
                raise CommandError(
                    f"{file} was not imported; nothing was written:\n  " + "\n  ".join(exc.problems)
                ) from exc
            count = challenge_set.challenges.count()
        verb = "Created" if created else "Updated the draft of"
        self.stdout.write(
            f"{verb} {challenge_set.slug} ({count} challenges) in {organization.slug}."
        )
