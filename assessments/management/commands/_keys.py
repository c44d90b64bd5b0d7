"""Shared by the commands that publish: verify keys in this process, through the sandbox."""

from django.core.management.base import CommandError

from assessments.authoring.key_checks import key_check_run_inline, key_check_start
from assessments.authoring.models import ChallengeSet, KeyCheck
from grading.jobs import sandbox_client
from grading.sandbox.client import SandboxUnavailable


def publish_with_verified_keys(challenge_set: ChallengeSet) -> KeyCheck:
    """Run the set's snippets in the sandbox, then publish; raise CommandError if refused."""
    client = sandbox_client()
    try:
        client.ping()
    except SandboxUnavailable as exc:
        raise CommandError(
            f"The grading sandbox is not reachable ({exc}). Answer keys are computed by running "
            "each snippet there: start it (make run does) and try again."
        ) from exc
    check = key_check_start(
        challenge_set=challenge_set, purpose=KeyCheck.Purpose.PUBLISH, actor=None, enqueue=False
    )
    check = key_check_run_inline(key_check=check, client=client)
    if check.status != KeyCheck.Status.PASSED:
        raise CommandError(
            f"Publishing {challenge_set.slug} was refused; nothing changed:\n  "
            + "\n  ".join(check.problems)
        )
    return check
