"""Answer keys proven by execution.

For a predict-output challenge the key is what its snippet prints; for a debug challenge,
the exception it raises; for a code challenge, the reference solution's results on the
author's tests. A key check runs them all in the sandbox (one grading job each), then
compares the executed results with the options the author marked: the correct option must
denote the executed result and no other option may. Only a passing check publishes.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from assessments.authoring.models import Challenge, ChallengeSet, KeyCheck, KeyCheckJob
from assessments.authoring.publishing import PublishRefused, challenge_set_publish
from assessments.authoring.selectors import challenges_needing_execution
from assessments.authoring.services import challenge_set_refresh_draft_hash
from assessments.authoring.variants import (
    sample_key,
    sample_problems,
    sample_seeds,
    variant_payload,
)
from assessments.core.choices import CHOICE_FORMATS, AnswerFormat, Kind
from grading.graders.values import normalize_text
from grading.jobs import grading_job_create, grading_job_fail, grading_job_run
from grading.models import GradingJob
from grading.sandbox.client import SandboxUnavailable
from grading.values import (
    ValueParseError,
    parse_exception_text,
    parse_tensor_text,
    printed_outputs_match,
)

CALLBACK = "assessments.tasks.key_job_done"
# Authors' snippets get the sandbox's generous limits, not a candidate's.
KEY_LIMITS = {"wall_seconds": 20, "cpu_seconds": 15, "memory_mb": 2048, "output_bytes": 262144}


def printed_tolerance(config: dict[str, Any]) -> dict[str, float]:
    """Return the tolerance for comparing printed numbers: the challenge's, else 1e-4."""
    return {"atol": config.get("atol", 1e-4), "rtol": config.get("rtol", 1e-4)}


def key_job_create(challenge, *, enqueue: bool) -> GradingJob:
    """Create the job that runs a challenge's snippet or reference (draft or published)."""
    if challenge.is_variable:
        purpose = GradingJob.Purpose.VARIANT
        payload = variant_payload(challenge, sample_seeds(challenge))
    elif challenge.answer_format == AnswerFormat.CODE:
        purpose, payload = GradingJob.Purpose.REFERENCE, {"config": challenge.grading_config}
    else:
        purpose, payload = GradingJob.Purpose.SNIPPET, {"code": challenge.code}
    return grading_job_create(
        organization_id=challenge.organization_id,
        purpose=purpose,
        answer_format=challenge.answer_format,
        payload=payload,
        limits=KEY_LIMITS,
        callback=CALLBACK if enqueue else "",
        enqueue=enqueue,
    )


def key_check_start(
    *, challenge_set: ChallengeSet, purpose: str, actor: User | None, enqueue: bool = True
) -> KeyCheck:
    """Create a check with one grading job per snippet; workers run them (``enqueue``).

    With ``enqueue`` False the caller runs the jobs itself (``key_check_run_inline``): the
    command-line publish does, never a web request.
    """

    with transaction.atomic():
        check = KeyCheck.objects.create(
            organization_id=challenge_set.organization_id,
            challenge_set=challenge_set,
            purpose=purpose,
            draft_hash=challenge_set_refresh_draft_hash(challenge_set),
            requested_by=actor if actor is not None and actor.is_authenticated else None,
        )
        challenges = challenges_needing_execution(challenge_set)
        for challenge in challenges:
            KeyCheckJob.objects.create(
                organization_id=challenge_set.organization_id,
                key_check=check,
                challenge=challenge,
                job=key_job_create(challenge, enqueue=enqueue),
            )
        if not challenges:
            # Nothing to run: the check can be decided at once.
            check = key_check_finish(key_check_id=check.pk)
    return check


def key_check_run_inline(*, key_check: KeyCheck, client=None) -> KeyCheck:
    """Run every job of the check in this process (through the sandbox), then finish it."""
    for link in KeyCheckJob.objects.filter(key_check=key_check).order_by("pk"):
        try:
            grading_job_run(job_id=link.job_id, client=client)
        except SandboxUnavailable as exc:
            grading_job_fail(job_id=link.job_id, error=str(exc))
    return key_check_finish(key_check_id=key_check.pk)


def key_check_finish(*, key_check_id: int) -> KeyCheck:
    """Evaluate a check whose jobs are all finished; publish if it passed and asked to.

    Safe to call more than once and before the last job is done (it then returns at once).
    """

    with transaction.atomic():
        # Every job's completion calls this; the lock makes exactly one of them finish it.
        check = KeyCheck.objects.select_for_update().get(pk=key_check_id)
        if check.status != KeyCheck.Status.RUNNING:
            return check
        links = list(
            KeyCheckJob.objects.filter(key_check=check)
            .select_related("challenge", "job")
            .order_by("challenge__position", "challenge__id")
        )
        if any(link.job.status in ("queued", "running") for link in links):
            return check
        report, problems, keys = [], [], {}
        for link in links:
            entry = evaluate_challenge(link.challenge, link.job)
            report.append(entry)
            problems.extend(entry["problems"])
            keys[str(link.challenge.public_id)] = entry["key"]
        check.report = report
        check.problems = problems
        check.finished_at = timezone.now()
        failed = [link for link in links if link.job.status == GradingJob.Status.FAILED]
        if failed:
            check.status = KeyCheck.Status.FAILED
        elif problems:
            check.status = KeyCheck.Status.REFUSED
        else:
            check.status = KeyCheck.Status.PASSED
        if check.purpose == KeyCheck.Purpose.PUBLISH and check.status == KeyCheck.Status.PASSED:
            challenge_set = check.challenge_set
            if challenge_set_refresh_draft_hash(challenge_set) != check.draft_hash:
                check.status = KeyCheck.Status.REFUSED
                check.problems = ["The draft changed while its keys were checked; publish again."]
            else:
                torch_versions = {e["torch_version"] for e in report if e.get("torch_version")}
                try:
                    check.version, _ = challenge_set_publish(
                        challenge_set=challenge_set,
                        actor=check.requested_by,
                        keys=keys,
                        torch_version=", ".join(sorted(torch_versions)),
                    )
                except PublishRefused as exc:
                    check.status = KeyCheck.Status.REFUSED
                    check.problems = exc.problems
        check.save()
    return check


def _where(challenge: Challenge) -> str:
    return f"Challenge {challenge.position} ({challenge.title!r})"


def evaluate_challenge(challenge: Challenge, job: GradingJob) -> dict[str, Any]:
    """Compare what the job executed with the challenge's declared answer."""
    entry: dict[str, Any] = {
        "challenge": str(challenge.public_id),
        "position": challenge.position,
        "title": challenge.title,
        "kind": challenge.kind,
        "executed": _executed_text(job),
        "torch_version": job.result.get("torch_version", ""),
        "options": [],
        "problems": [],
        "key": {},
    }
    if job.status == GradingJob.Status.FAILED:
        entry["problems"].append(
            f"{_where(challenge)}: the sandbox could not run it: {job.last_error}"
        )
        return entry
    if job.result.get("sandbox_error"):
        entry["problems"].append(f"{_where(challenge)}: {job.result['sandbox_error']}")
        return entry
    if job.purpose == GradingJob.Purpose.VARIANT:
        return _evaluate_sample(challenge, job, entry)
    if challenge.answer_format == AnswerFormat.CODE:
        return _evaluate_reference(challenge, job, entry)
    if challenge.kind == Kind.PREDICT_OUTPUT:
        return _evaluate_printed(challenge, job, entry)
    return _evaluate_exception(challenge, job, entry)


def _executed_text(job: GradingJob) -> str:
    result = job.result
    if job.purpose == GradingJob.Purpose.REFERENCE:
        return (
            "reference ran" if job.sandbox_verdict == "ok" else f"reference: {job.sandbox_verdict}"
        )
    exception = result.get("exception")
    text = result.get("stdout", "")
    if exception:
        text += f"{exception['type']}: {exception['message']}"
    elif job.sandbox_verdict not in ("", "ok"):
        text += f"[{job.sandbox_verdict}]"
    return text


def _compare_options(challenge, entry, matches) -> None:
    declared = [(o.text, o.is_correct) for o in challenge.options.all()]
    for text, is_correct in declared:
        entry["options"].append(
            {"text": text, "declared_correct": is_correct, "matches": matches(text)}
        )
    if challenge.answer_format not in CHOICE_FORMATS:
        return
    executed = entry["executed"]
    for option in entry["options"]:
        if option["declared_correct"] and not option["matches"]:
            entry["problems"].append(
                f"{_where(challenge)}: the option marked correct does not match what the code "
                f"does.\n  declared: {option['text']}\n  executed: {executed}"
            )
        if not option["declared_correct"] and option["matches"]:
            entry["problems"].append(
                f"{_where(challenge)}: an option marked wrong matches what the code does too.\n"
                f"  option:   {option['text']}\n  executed: {executed}"
            )


def _evaluate_printed(challenge, job, entry):
    if job.sandbox_verdict != "ok":
        entry["problems"].append(
            f"{_where(challenge)}: the snippet must run to completion; it ended with "
            f"{job.sandbox_verdict}: {entry['executed']}"
        )
        return entry
    stdout = job.result["stdout"]
    config = challenge.grading_config or {}
    tolerance = printed_tolerance(config)

    def matches(text: str) -> bool:
        return printed_outputs_match(text, stdout, **tolerance)

    _compare_options(challenge, entry, matches)
    if challenge.answer_format == AnswerFormat.TENSOR_VALUE:
        try:
            parse_tensor_text(stdout)
        except ValueParseError as exc:
            entry["problems"].append(
                f"{_where(challenge)}: a tensor-value question needs a snippet that prints one "
                f"tensor ({exc}).\n  executed: {stdout}"
            )
    if challenge.answer_format == AnswerFormat.TEXT:
        accepted = config.get("accepted", [])
        printed = normalize_text(stdout, case_sensitive=False)
        if not any(normalize_text(a, case_sensitive=False) == printed for a in accepted):
            entry["problems"].append(
                f"{_where(challenge)}: no accepted answer matches the output.\n  executed: {stdout}"
            )
    entry["key"] = {"printed": stdout}
    return entry


def _evaluate_exception(challenge, job, entry):
    exception = job.result.get("exception")
    if job.sandbox_verdict != "error" or not exception:
        entry["problems"].append(
            f"{_where(challenge)}: a debug snippet must raise an exception; it ended with "
            f"{job.sandbox_verdict or 'no verdict'}: {entry['executed'] or '(no output)'}"
        )
        return entry
    executed_message = " ".join(exception["message"].split())

    def matches(text: str) -> bool:
        try:
            name, message = parse_exception_text(text)
        except ValueParseError:
            return False
        return name == exception["type"] and (not message or message == executed_message)

    _compare_options(challenge, entry, matches)
    entry["key"] = {"type": exception["type"], "message": exception["message"]}
    return entry


def _evaluate_sample(challenge, job, entry):
    variants = job.result.get("variants", [])
    entry["executed"] = f"{len(variants)} variants drawn and run"
    entry["torch_version"] = next((v["torch_version"] for v in variants), "")
    entry["variants"] = sample_key(job)["preview"]
    entry["problems"].extend(sample_problems(_where(challenge), job))
    entry["key"] = sample_key(job)
    return entry


def _evaluate_reference(challenge, job, entry):
    expected = job.result.get("expected") or {}
    if job.sandbox_verdict != "ok":
        entry["problems"].append(
            f"{_where(challenge)}: the reference solution did not run: {job.sandbox_verdict} "
            f"{job.result.get('exception') or ''}"
        )
        return entry
    for test in challenge.grading_config.get("tests", []):
        outcome = expected.get(test["name"])
        if not isinstance(outcome, dict) or not outcome.get("ok"):
            error = outcome.get("error") if isinstance(outcome, dict) else "no result"
            entry["problems"].append(
                f"{_where(challenge)}: the reference fails test {test['name']!r}: {error}"
            )
    entry["key"] = {"expected": expected}
    return entry
