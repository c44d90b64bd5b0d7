"""Do a grading job's work: run what it needs in the sandbox, read what comes back, grade.

Every response is read through ``grading.schema`` before use. Failures that are ours (the
sandbox unreachable or malformed, a job killed by a signal it did not cause) raise a
``SandboxUnavailable`` the caller retries; a candidate's own failures are outcomes. A code
answer's hidden tests run in a sandbox run of their own, next to the shown tests' run: from
it only pass/fail per test is kept, so feedback can never carry a hidden test's data.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from grading.graders import AnswerError, get_grader
from grading.graders.code import RESULTS_NAME, build_harness, split_tests
from grading.models import GradingJob
from grading.sandbox.client import SandboxClient, SandboxUnavailable
from grading.schema import RunReport, read_report
from grading.variants import VariantSpec, draw_variants

# The candidate's headline per verdict; the sandbox's own message (which limit, how much)
# follows it, so "output" says whether it was printing or the values returned.
SANDBOX_MESSAGES = {
    "time_limit": "Your code ran out of time.",
    "memory_limit": "Your code used more memory than allowed.",
    "output_limit": "Your code produced more output than allowed.",
    "forbidden": "Your code tried something the sandbox does not allow.",
    "error": "Your code raised an error.",
}


def sandbox_feedback(report: RunReport) -> str:
    """Say why a run of the candidate's code did not end ``ok``, in the sandbox's own terms.

    Only for the run of shown tests: a hidden run's reasons never reach the candidate.
    """
    text = SANDBOX_MESSAGES.get(report.verdict, "Your code failed.")
    exception = report.exception
    # An error's message is its exception's type, which the exception itself says better.
    if report.message and not (exception and report.verdict == "error"):
        if report.verdict == "error":
            text = "Your code failed."  # no exception: killed by a signal, or no result
        text = f"{text[:-1]} ({report.message})."
    if exception:
        text += f" {exception['type']}: {exception['message']}"
    return text


class JobInterrupted(SandboxUnavailable):
    """The job was killed by a signal it did not cause (OOM killer, shutdown): ours, retried."""


@dataclass
class Outcome:
    """What running a job produced, before it is stored."""

    sandbox_verdict: str = ""
    correct: bool | None = None
    score: float | None = None
    feedback: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    wall_ms: float | None = None
    cpu_ms: float | None = None


def _sandbox_run(
    client: SandboxClient, job: GradingJob, code: str, capture=(), *, run: str = ""
) -> RunReport:
    # The job's own limits (keys get generous ones), else the challenge's, else the sandbox's
    # defaults; the sandbox clamps everything to its global maxima.
    limits = job.limits or job.payload.get("config", {}).get("limits") or None
    job_id = f"{job.public_id}{run}"
    report = read_report(client.run(code, job_id=job_id, capture=capture, limits=limits))
    if report.verdict == "interrupted":
        raise JobInterrupted(f"the sandbox job{run} was killed by a signal it did not cause")
    return report


def _timings(*reports: RunReport | None) -> dict[str, float | None]:
    def total(name: str) -> float | None:
        known = [
            getattr(r, name) for r in reports if r is not None and getattr(r, name) is not None
        ]
        return sum(known) if known else None

    return {"wall_ms": total("wall_ms"), "cpu_ms": total("cpu_ms")}


def execute(job: GradingJob, client: SandboxClient | None) -> Outcome:
    """Do the job's work (in the sandbox where code runs) and return the outcome.

    Raises ``SandboxUnavailable`` (``JobInterrupted`` included) for failures that are ours,
    which the task retries; a candidate's own errors are outcomes, never exceptions.
    """
    payload = job.payload
    if job.purpose == GradingJob.Purpose.SNIPPET:
        report = _sandbox_run(client, job, payload["code"])
        return Outcome(
            sandbox_verdict=report.verdict,
            result={
                "stdout": report.stdout,
                "stderr": report.stderr,
                "exception": report.exception,
                "torch_version": report.torch_version,
                "sandbox_error": report.sandbox_error,
            },
            **_timings(report),
        )
    if job.purpose == GradingJob.Purpose.VARIANT:
        # The author's programs run in the sandbox; what they print is data, read here.
        result = draw_variants(
            client, VariantSpec.from_payload(payload), payload["seeds"], str(job.public_id)
        )
        verdict = "error" if result["problems"] else "ok"
        return Outcome(sandbox_verdict=verdict, result=result)
    config = payload["config"]
    if job.purpose == GradingJob.Purpose.REFERENCE:
        harness = build_harness(source=config["reference"], config=config)
        report = _sandbox_run(client, job, harness, [RESULTS_NAME])
        return Outcome(
            sandbox_verdict=report.verdict,
            result={
                "expected": report.values.get(RESULTS_NAME, {}),
                "exception": report.exception,
                "torch_version": report.torch_version,
                "sandbox_error": report.sandbox_error,
            },
            **_timings(report),
        )
    return _execute_answer(job, client)


def _execute_answer(job: GradingJob, client: SandboxClient | None) -> Outcome:
    payload, config = job.payload, job.payload["config"]
    grader = get_grader(job.answer_format)
    try:
        answer = grader.parse_answer(payload["answer"])
    except AnswerError as exc:
        return Outcome(correct=False, score=0.0, feedback=str(exc))
    if not grader.needs_sandbox:
        verdict = grader.grade(key=payload["key"], config=config, answer=answer)
        return Outcome(
            correct=verdict.correct,
            score=verdict.score,
            feedback=verdict.feedback,
            result={"details": verdict.details},
        )
    return _execute_code_answer(job, client, answer)


def _results(report: RunReport | None) -> dict[str, Any]:
    if report is None or report.verdict != "ok":
        return {}
    results = report.values.get(RESULTS_NAME)
    return results if isinstance(results, dict) else {}


def _execute_code_answer(job: GradingJob, client: SandboxClient, source: str) -> Outcome:
    """Run the shown tests and, in a run of their own, the hidden ones; grade both here."""
    config = job.payload["config"]
    shown_tests, hidden_tests = split_tests(config)

    def run_hidden() -> RunReport:
        harness = build_harness(source=source, config=config, tests=hidden_tests, hidden=True)
        return _sandbox_run(client, job, harness, [RESULTS_NAME], run="-hidden")

    shown = hidden = None
    # Both runs at once: two runs cost about the latency of one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hidden_future = pool.submit(run_hidden) if hidden_tests else None
        if shown_tests:
            harness = build_harness(source=source, config=config, tests=shown_tests)
            shown = _sandbox_run(client, job, harness, [RESULTS_NAME])
        hidden = hidden_future.result() if hidden_future is not None else None
    shown_results, hidden_results = _results(shown), _results(hidden)
    # Each test's result comes from its own run only, and a hidden test's keeps nothing but
    # whether it returned and what (no error text).
    results: dict[str, Any] = {}
    for test in shown_tests:
        results[test["name"]] = shown_results.get(test["name"])
    for test in hidden_tests:
        entry = hidden_results.get(test["name"])
        if isinstance(entry, dict) and entry.get("ok") is True:
            results[test["name"]] = {"ok": True, "value": entry.get("value")}
    verdict = get_grader(job.answer_format).grade(
        key=job.payload["key"], config=config, answer=results
    )
    feedback = verdict.feedback
    if shown is not None and shown.verdict != "ok":
        feedback = f"{sandbox_feedback(shown)} {feedback}"
    reported = shown if shown is not None else hidden
    return Outcome(
        sandbox_verdict=reported.verdict,
        correct=verdict.correct,
        score=verdict.score,
        feedback=feedback.strip()[:2000],
        result={"details": verdict.details, "stdout": shown.stdout[:4000] if shown else ""},
        **_timings(shown, hidden),
    )
