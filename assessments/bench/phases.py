"""The load benchmark's capacity and click-to-verdict phases: set up, run, check, print.

Called by ``manage.py bench_load`` (``make bench-capacity``, ``make bench-load``), in the
organization's tenant context where the database is touched.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSet, ChallengeSetVersion
from assessments.authoring.services import challenge_set_import
from assessments.bench.capacity import CapacityOutcome, Plan, run_capacity
from assessments.bench.exactly_once import exactly_once, exactly_once_check
from assessments.bench.figures import costs_by, cpu_ratios, latency
from assessments.bench.load import ANSWER, BASELINE, PAGE, Behaviour, Question, percentile
from assessments.bench.verdict import POLL, Verdicts, run_verdicts
from assessments.invitations.services import Candidate, invitations_create

VERDICT_SET = Path(__file__).with_name("verdict-set.yaml")
# The answer the verdict phase sends: the set's reference, so every verdict is "correct".
VERDICT_ANSWER = """import torch

def batch_norm(x):
    mean = x.mean(dim=0)
    var = x.var(dim=0, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-5)
"""
GOAL_CANDIDATES, GOAL_ANSWERS_PER_S, GOAL_CPU_RATIO, GOAL_VERDICT_MS = 2000, 200, 1.5, 300


def invite(version: ChallengeSetVersion, count: int, label: str) -> list[str]:
    """Invite ``count`` new candidates (no email); return their tokens."""
    batch = uuid.uuid4().hex[:8]
    invitations = invitations_create(
        version=version,
        candidates=[
            Candidate(email=f"{label}-{batch}-{n}@bench.example", first_name=f"C{n}")
            for n in range(count)
        ],
        actor=None,
        send_email=False,
    )
    return [invitation.token for invitation in invitations]


# Capacity.


def tokens_needed(plan: Plan, behaviour: Behaviour, thinks_per_test: float) -> int:
    """Enough invitations for every seat to take tests back to back until the end, +20 %."""
    test_seconds = max(1.0, thinks_per_test * behaviour.think_ms / 1000)
    steps = plan.steps[: max(1, int(plan.max_seconds // plan.step_seconds))]
    total, seated = 0.0, 0
    for index, target in enumerate(steps):
        remaining = (len(steps) - index) * plan.step_seconds
        total += max(0, target - seated) * (1 + remaining / test_seconds)
        seated = max(seated, target)
    return int(total * 1.2) + 50


def capacity_phase(out, *, url, organization, version, questions, behaviour, plan, seed, baseline):
    """Run the capacity steps; print each step, the capacity, CPU per request and checks."""
    thinks_per_test = 2 + sum(1 + (q.max_attempts > 1) * 0.5 for q in questions)
    count = tokens_needed(plan, behaviour, thinks_per_test)
    with tenant_context(organization):
        tokens = invite(version, count, "capacity")
    out.write(
        f"capacity: steps {', '.join(map(str, plan.steps))} candidates at once, "
        f"{plan.step_seconds:.0f} s each (measured after {plan.settle_seconds:.0f} s), think "
        f"lognormal mean {behaviour.think_ms / 1000:.0f} s sigma {behaviour.think_sigma}; "
        f"limit p95 {plan.limit_ms:.0f} ms; {count} invitations; /healthz probed at "
        f"{plan.probe_rate:.0f}/s"
    )
    result = run_capacity(
        url, tokens, questions, behaviour=behaviour, plan=plan, seed=seed, baseline=baseline
    )
    with tenant_context(organization):
        check = exactly_once_check(result.tokens_used, result.outcome)
    _print_capacity(out, result, plan, check)
    return result


def _print_capacity(out, result: CapacityOutcome, plan: Plan, check: dict[str, int]) -> None:
    out.write(
        f"  {'candidates':>10} {'req/s':>6} {'answers/s':>9} {'answer p50/p95 ms':>18} "
        f"{'page p50/p95 ms':>16} {'healthz p95':>11} {'errors':>6} {'gen CPU':>7}  verdict"
    )
    best = 0
    for step in result.steps:
        seconds = step.window[1] - step.window[0]
        answers = sum(1 for s in step.samples if s.kind == ANSWER)
        a50, a95 = latency(step.samples, ANSWER)
        p50, p95 = latency(step.samples, PAGE)
        _, b95 = latency(step.samples, BASELINE)
        errors = sum(1 for s in step.samples if s.error)
        best = step.candidates if step.passed else best
        out.write(
            f"  {step.candidates:>10} {len(step.samples) / seconds:>6.0f} "
            f"{answers / seconds:>9.1f} {a50:>8.1f}/{a95:<9.1f} {p50:>7.1f}/{p95:<8.1f} "
            f"{b95:>11.1f} {errors:>6} {100 * step.generator_cpu:>6.0f}%  "
            f"{'ok' if step.passed else 'MISSED'}"
        )
        if not step.passed:
            # Slow but cheap requests waited (for a worker, or for the CPU), costly ones worked.
            slowest = sorted(step.samples, key=lambda s: s.ms, reverse=True)[:6]
            out.write(
                "    slowest: "
                + ", ".join(
                    f"{s.name} {s.ms:.0f} ms (CPU {s.cpu_ms or 0:.1f})"
                    + (f" {s.error}" if s.error else "")
                    for s in slowest
                )
            )
    samples = result.outcome.samples
    ratios = cpu_ratios(samples)
    exact = exactly_once(check, all_completed=False)
    out.write(
        f"\nCapacity: {best} candidates at once kept answer and page p95 <= "
        f"{plan.limit_ms:.0f} ms with no error"
        + (" (the invitation pool ran out)" if result.pool_ran_out else "")
    )
    out.write("Server CPU per request (Server-Timing, whole run):")
    for kind, cost in costs_by(samples, attribute="kind").items():
        out.write(f"  {kind:<10} {cost}")
    for name, cost in costs_by(samples, attribute="name").items():
        out.write(f"    {name:<12} {cost}")
    out.write(
        "  median CPU, answer / healthz: "
        + (f"{ratios[ANSWER]:.2f}x" if ANSWER in ratios else "n/a")
        + "; page / healthz: "
        + (f"{ratios[PAGE]:.2f}x" if PAGE in ratios else "n/a")
    )
    details = ", ".join(f"{name} {value}" for name, value in check.items())
    out.write(f"  exactly once: {'OK' if exact else 'FAILED'} ({details})")
    goals = [
        (f">= {GOAL_CANDIDATES} candidates", best >= GOAL_CANDIDATES),
        (f"answer CPU <= {GOAL_CPU_RATIO}x healthz", ratios.get(ANSWER, 99) <= GOAL_CPU_RATIO),
        (f"page CPU <= {GOAL_CPU_RATIO}x healthz", ratios.get(PAGE, 99) <= GOAL_CPU_RATIO),
        ("nothing lost", exact),
    ]
    out.write("  goals: " + "; ".join(f"{n} {'met' if ok else 'MISSED'}" for n, ok in goals))


# Click to verdict.


def verdict_version(organization) -> ChallengeSetVersion:
    """The one-question code set the verdict phase answers, published once (keys proven)."""
    from assessments.management.commands._keys import publish_with_verified_keys

    with tenant_context(organization):
        challenge_set = ChallengeSet.objects.filter(slug="bench-verdict").first()
        if challenge_set is None:
            challenge_set, _ = challenge_set_import(
                organization=organization, text=VERDICT_SET.read_bytes(), actor=None
            )
        version = challenge_set.versions.order_by("-number").first()
        return version or publish_with_verified_keys(challenge_set).version


def verdict_phase(out, *, url, organization, count: int, concurrency: int) -> Verdicts:
    """Answer the code question ``count`` times; print click-to-verdict p50/p95 and polls."""
    version = verdict_version(organization)
    with tenant_context(organization):
        tokens = invite(version, count, "verdict")
        position = version.challenges.get().position
    result = run_verdicts(
        url, tokens, position=position, code=VERDICT_ANSWER, concurrency=concurrency
    )
    times = result.click_to_verdict_ms
    polls = [s for s in result.outcome.samples if s.kind == POLL]
    cheap = costs_by(polls, attribute="kind").get(POLL)
    out.write(
        f"\nClick to verdict, code answer graded by the worker ({len(times)} of {count}, "
        f"{concurrency} at a time): p50 {percentile(times, 0.5):.0f} ms, "
        f"p95 {percentile(times, 0.95):.0f} ms; {result.shown_on_load} shown by the page "
        f"itself, polls per answer median {percentile(result.polls, 0.5):.0f}, "
        f"server CPU per poll {cheap if cheap else 'n/a'}; correct {result.correct}"
    )
    if result.problems:
        out.write(f"  problems: {result.problems[:5]}")
    met = percentile(times, 0.5) < GOAL_VERDICT_MS and not result.problems
    out.write(f"  goal: click-to-verdict p50 < {GOAL_VERDICT_MS} ms {'met' if met else 'MISSED'}")
    return result


def demo_questions(version: ChallengeSetVersion) -> list[Question]:
    """What a simulated candidate needs of each choice question: its option ids and key."""
    return [
        Question(
            position=c.position,
            correct=c.key["correct"][0],
            wrong=tuple(o["id"] for o in c.options if o["id"] not in c.key["correct"]),
            max_attempts=c.max_attempts,
        )
        for c in version.challenges.order_by("position")
    ]
