"""Create the demo organization with BatchNorm Mastery published, and its demo users."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Organization, Role, User
from accounts.services import organization_create
from accounts.tenancy import tenant_context
from assessments.authoring.services import challenge_set_import
from assessments.invitations.models import Invitation
from assessments.invitations.services import Candidate, invitations_create
from assessments.management.commands._keys import publish_with_verified_keys

DEMO_FILE = Path(settings.BASE_DIR) / "assessments" / "demo" / "batchnorm-mastery.yaml"
DEMO_ORG = ("Demo Academy", "demo")
OTHER_ORG = ("Other Company", "other")
# Development logins only: `make run` prints them; production never runs this command.
DEMO_USERS = [
    ("owner@demo.example", "Olivia Owner", Role.OWNER, DEMO_ORG),
    ("author@demo.example", "Arun Author", Role.AUTHOR, DEMO_ORG),
    ("owner@other.example", "Oscar Other", Role.OWNER, OTHER_ORG),
]
DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - printed on purpose for local use
DEMO_CANDIDATE = Candidate(
    email="candidate@demo.example", first_name="Casey", last_name="Candidate"
)


class Command(BaseCommand):
    help = "Load the demo organization, BatchNorm Mastery (published) and demo users. Idempotent."

    def handle(self, *args, **options):
        with transaction.atomic():
            organizations = {}
            for email, name, role, (org_name, org_slug) in DEMO_USERS:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email=email, password=DEMO_PASSWORD, full_name=name
                    )
                organization = Organization.objects.filter(slug=org_slug).first()
                if organization is None:
                    organization = organization_create(name=org_name, slug=org_slug, owner=user)
                else:
                    with tenant_context(organization):
                        Membership.objects.get_or_create(user=user, defaults={"role": role})
                organizations[org_slug] = organization
            demo = organizations[DEMO_ORG[1]]
            with tenant_context(demo):
                challenge_set, _ = challenge_set_import(
                    organization=demo, text=DEMO_FILE.read_bytes(), actor=None
                )
        # Publishing proves each answer key by running its snippet in the sandbox.
        with tenant_context(demo):
            version = publish_with_verified_keys(challenge_set).version
        self.stdout.write(
            f"Demo organization '{demo.slug}': {challenge_set.title}, version {version.number} "
            f"(keys verified with torch {version.torch_version})."
        )
        for email, _name, role, (_org, org_slug) in DEMO_USERS:
            self.stdout.write(
                f"  {role:<8} {email:<24} password: {DEMO_PASSWORD}  (org {org_slug})"
            )
        with tenant_context(demo):
            invitation = self._candidate_invitation(version)
        self.stdout.write(
            f"  candidate link ({invitation.email}, {invitation.get_status_display().lower()}): "
            f"{settings.SITE_URL}{invitation.candidate_path()}"
        )

    def _candidate_invitation(self, version) -> Invitation:
        """An open invitation of the demo candidate to the latest version (a new one once the
        last was used up), so `make run` always prints a link that can be taken."""
        open_invitation = Invitation.objects.filter(
            version__challenge_set=version.challenge_set,
            email=DEMO_CANDIDATE.email,
            status__in=[Invitation.Status.INVITED, Invitation.Status.STARTED],
        ).first()
        if open_invitation is not None:
            return open_invitation
        (invitation,) = invitations_create(
            version=version, candidates=[DEMO_CANDIDATE], actor=None, send_email=False
        )
        return invitation
