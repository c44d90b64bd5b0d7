"""Run every published key again and report any that the installed torch answers differently."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import Organization
from accounts.tenancy import tenant_context
from assessments.authoring.key_checks import key_job_create, printed_tolerance
from assessments.authoring.models import PublishedChallenge
from assessments.core.choices import AnswerFormat, Kind
from grading.graders.code import compare_result
from grading.jobs import grading_job_run, sandbox_client
from grading.models import GradingJob
from grading.sandbox.client import SandboxUnavailable
from grading.values import printed_outputs_match


def _drift(challenge: PublishedChallenge, job: GradingJob) -> str | None:
    key, result = challenge.key, job.result
    if challenge.answer_format == AnswerFormat.CODE:
        for name, expected in key.get("expected", {}).items():
            ok, message = compare_result(
                result.get("expected", {}).get(name), expected, challenge.grading_config
            )
            if not ok:
                return f"test {name!r} now gives a different result ({message})"
        return None
    if challenge.kind == Kind.PREDICT_OUTPUT:
        if job.sandbox_verdict != "ok":
            return f"the snippet now ends with {job.sandbox_verdict}"
        tolerance = printed_tolerance(challenge.grading_config)
        if not printed_outputs_match(key.get("printed", ""), result["stdout"], **tolerance):
            return f"it now prints:\n{result['stdout']}\n    published key:\n{key.get('printed')}"
        return None
    exception = result.get("exception") or {}
    if (exception.get("type"), exception.get("message")) != (key.get("type"), key.get("message")):
        got = (
            f"{exception.get('type')}: {exception.get('message')}" if exception else "no exception"
        )
        return f"it now raises {got}; published key: {key.get('type')}: {key.get('message')}"
    return None


class Command(BaseCommand):
    help = (
        "Re-run the snippet (or reference) of every published challenge whose key comes from "
        "running code, and report drift, e.g. after a torch upgrade. Exit status 1 on drift."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organization (slug)")

    def handle(self, *args, org: str | None, **options):
        client = sandbox_client()
        try:
            status = client.ping()
        except SandboxUnavailable as exc:
            raise CommandError(f"The grading sandbox is not reachable: {exc}") from exc
        organizations = Organization.objects.all()
        if org:
            organizations = organizations.filter(slug=org)
            if not organizations:
                raise CommandError(f"No organization with slug {org!r}.")
        checked, drifted = 0, []
        for organization in organizations:
            with tenant_context(organization):
                challenges = PublishedChallenge.objects.select_related("version").filter(
                    Q(kind__in=[Kind.PREDICT_OUTPUT, Kind.DEBUG])
                    | Q(answer_format=AnswerFormat.CODE)
                )
                for challenge in challenges.order_by("version_id", "position"):
                    drift = self._check(challenge, client)
                    checked += 1
                    if drift:
                        version = challenge.version
                        drifted.append(
                            f"{organization.slug}/{version.slug} v{version.number} "
                            f"challenge {challenge.position} ({challenge.title!r}), keyed with "
                            f"torch {version.torch_version or '?'}: {drift}"
                        )
        self.stdout.write(
            f"Re-ran {checked} keys with torch {status.get('torch_version')}: "
            f"{len(drifted)} drifted."
        )
        for line in drifted:
            self.stdout.write(f"  DRIFT {line}")
        if drifted:
            raise CommandError(f"{len(drifted)} published answer key(s) drifted; see above.")

    def _check(self, challenge, client) -> str | None:
        job = key_job_create(challenge, enqueue=False)
        try:
            job = grading_job_run(job_id=job.pk, client=client)
        except SandboxUnavailable as exc:
            raise CommandError(f"The sandbox stopped answering: {exc}") from exc
        return _drift(challenge, job)
