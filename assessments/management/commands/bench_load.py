"""Measure candidates taking BatchNorm Mastery through a running server.

Run by `make bench-load` (overload mode) and `make bench-capacity` (capacity mode), which
start gunicorn with production settings, PostgreSQL, Redis, a worker and the sandbox, and load
the demo. Overload: each run invites the candidates in one batch (not timed), then lets all of
them take the test at once with short pauses (``assessments.bench.load``): landing, start,
each question page, one or two answers per question (some wrong, some sent twice at once like
a double click), results; then the same number of clients send as many GET requests to a
trivial endpoint of the same gunicorn (the baseline). Capacity: candidates who think as people
do, more of them step by step, until answers or pages get slow (``assessments.bench.capacity``).
After either, the database is checked (``assessments.bench.exactly_once``): every answer the
server accepted is stored exactly once, nothing is stored that was not accepted, attempts
never exceed the maximum, and each answer was graded as its option deserved. Both end with
code answers timed from the click to the verdict on the page (``assessments.bench.verdict``).
The server's CPU per request comes from its Server-Timing header (``config/cpu_timing.py``).
"""

from __future__ import annotations

import statistics
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSetVersion
from assessments.bench.capacity import Plan
from assessments.bench.exactly_once import exactly_once, exactly_once_check
from assessments.bench.figures import cost
from assessments.bench.load import (
    ANSWER,
    OTHER,
    PAGE,
    Behaviour,
    Outcome,
    percentile,
    run_baseline,
    run_candidates,
)
from assessments.bench.phases import (
    GOAL_ANSWERS_PER_S,
    capacity_phase,
    demo_questions,
    invite,
    verdict_phase,
)

DEMO_ORG, DEMO_SET = "demo", "batchnorm-mastery"


class Command(BaseCommand):
    help = "Benchmark candidates taking the demo set against a server: overload or capacity."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8013", help="the server (local)")
        parser.add_argument(
            "--mode",
            choices=["overload", "capacity"],
            default="overload",
            help="overload: everyone at once, fast; capacity: realistic pacing, in steps",
        )
        parser.add_argument("--candidates", type=int, default=500, help="overload mode")
        parser.add_argument("--runs", type=int, default=3, help="overload: medians over runs")
        parser.add_argument(
            "--think-ms",
            type=float,
            default=None,
            help="mean pause between a candidate's steps (overload 300, capacity 20000)",
        )
        parser.add_argument(
            "--think-sigma", type=float, default=1.0, help="capacity: lognormal think sigma"
        )
        parser.add_argument(
            "--steps",
            default="500,1000,1500,2000,2500,3000,3500",
            help="capacity: candidates at once, step by step",
        )
        parser.add_argument("--step-seconds", type=float, default=70.0)
        parser.add_argument("--settle-seconds", type=float, default=30.0)
        parser.add_argument("--max-seconds", type=float, default=600.0, help="capacity: bound")
        parser.add_argument("--limit-ms", type=float, default=200.0, help="capacity: p95 limit")
        parser.add_argument(
            "--verdicts", type=int, default=40, help="code answers timed click to verdict (0: no)"
        )
        parser.add_argument("--verdict-concurrency", type=int, default=2)
        parser.add_argument("--baseline", default="/healthz", help="the trivial endpoint")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--deadline", type=float, default=300.0, help="seconds per phase")

    def handle(self, *args, **options):
        url = options["url"].rstrip("/")
        self._wait_for(url + options["baseline"])
        organization = Organization.objects.filter(slug=DEMO_ORG).first()
        if organization is None:
            raise CommandError("Run `manage.py load_demo` first.")
        with tenant_context(organization):
            version = (
                ChallengeSetVersion.objects.filter(challenge_set__slug=DEMO_SET)
                .order_by("-number")
                .first()
            )
            if version is None:
                raise CommandError("BatchNorm Mastery is not published: run load_demo.")
            questions = demo_questions(version)
        if options["mode"] == "capacity":
            plan = Plan(
                steps=tuple(int(n) for n in options["steps"].split(",")),
                step_seconds=options["step_seconds"],
                settle_seconds=options["settle_seconds"],
                limit_ms=options["limit_ms"],
                max_seconds=options["max_seconds"],
            )
            behaviour = Behaviour(
                think_ms=options["think_ms"] or 20_000.0, think_sigma=options["think_sigma"]
            )
            capacity_phase(
                self.stdout,
                url=url,
                organization=organization,
                version=version,
                questions=questions,
                behaviour=behaviour,
                plan=plan,
                seed=options["seed"],
                baseline=options["baseline"],
            )
        else:
            self._overload(url, organization, version, questions, options)
        if options["verdicts"]:
            verdict_phase(
                self.stdout,
                url=url,
                organization=organization,
                count=options["verdicts"],
                concurrency=options["verdict_concurrency"],
            )

    def _overload(self, url, organization, version, questions, options) -> None:
        """Everyone at once with short pauses: throughput at saturation and its latency."""
        behaviour = Behaviour(think_ms=options["think_ms"] or 300.0)
        count = options["candidates"]
        self.stdout.write(
            f"{count} candidates at once on {url}, {len(questions)} questions, "
            f"think {behaviour.think_ms:.0f} ms mean, {options['runs']} runs; "
            f"baseline GET {options['baseline']}"
        )
        rows = []
        for run in range(1, options["runs"] + 1):
            seed = options["seed"] * 1000 + run
            with tenant_context(organization):
                tokens = invite(version, count, f"load-{run}")
            outcome = run_candidates(
                url, tokens, questions, behaviour=behaviour, seed=seed, deadline=options["deadline"]
            )
            per_candidate = max(1, round(len(outcome.samples) / count))
            baseline = run_baseline(
                url,
                options["baseline"],
                clients=count,
                requests_each=per_candidate,
                behaviour=behaviour,
                seed=seed,
                deadline=options["deadline"],
            )
            with tenant_context(organization):
                check = exactly_once_check(tokens, outcome)
            row = self._summarise(outcome, baseline, check)
            rows.append(row)
            self._print_run(run, row, check)
        self._print_medians(rows)

    # Setting up.

    def _wait_for(self, url: str, seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - 127.0.0.1 only
                    return
            except urllib.error.HTTPError:
                return  # it answers; /healthz may say 503 while the worker warms up
            except OSError as exc:
                if time.monotonic() > end:
                    raise CommandError(f"No server at {url}: {exc}") from exc
                time.sleep(0.25)

    # Reporting.

    def _summarise(self, outcome: Outcome, baseline: Outcome, check: dict[str, int]) -> dict:
        by_kind = defaultdict(list)
        for sample in outcome.samples:
            by_kind[sample.kind].append(sample.ms)
        base_ms = [s.ms for s in baseline.samples]
        answers = by_kind[ANSWER]
        row = {
            "answer_p50": percentile(answers, 0.5),
            "answer_p95": percentile(answers, 0.95),
            "page_p50": percentile(by_kind[PAGE], 0.5),
            "page_p95": percentile(by_kind[PAGE], 0.95),
            "other_p95": percentile(by_kind[OTHER], 0.95),
            "base_p50": percentile(base_ms, 0.5),
            "base_p95": percentile(base_ms, 0.95),
            "answers_per_s": len(answers) / outcome.seconds,
            "requests_per_s": len(outcome.samples) / outcome.seconds,
            "base_requests_per_s": len(baseline.samples) / baseline.seconds,
            "seconds": outcome.seconds,
            "requests": len(outcome.samples),
            "answers": len(answers),
            "errors": sum(1 for s in outcome.samples if s.error)
            + len(outcome.failures)
            + outcome.unfinished,
            "base_errors": sum(1 for s in baseline.samples if s.error) + baseline.unfinished,
            "generator_cpu": outcome.cpu_seconds / outcome.seconds,
            "exact": exactly_once(check),
            # Medians: robust on a shared machine (assessments.bench.figures.cpu_ratios).
            "answer_cpu": cost([s for s in outcome.samples if s.kind == ANSWER]).median_ms,
            "page_cpu": cost([s for s in outcome.samples if s.kind == PAGE]).median_ms,
            "base_cpu": cost(baseline.samples).median_ms,
        }
        row["answer_p95_ratio"] = row["answer_p95"] / row["base_p95"]
        row["page_p95_ratio"] = row["page_p95"] / row["base_p95"]
        errors = Counter(f"{s.name}: {s.error}" for s in outcome.samples if s.error)
        row["error_kinds"] = dict(errors.most_common(5)) | (
            {"failures": outcome.failures[:3]} if outcome.failures else {}
        )
        return row

    def _print_run(self, run: int, row: dict, check: dict[str, int]) -> None:
        self.stdout.write(
            f"run {run}: {row['requests']} requests in {row['seconds']:.1f} s "
            f"({row['requests_per_s']:.0f}/s; generator CPU {100 * row['generator_cpu']:.0f}% "
            f"of a core); answers {row['answers']} ({row['answers_per_s']:.0f}/s) "
            f"p50 {row['answer_p50']:.1f} ms p95 {row['answer_p95']:.1f} ms; "
            f"pages p50 {row['page_p50']:.1f} ms p95 {row['page_p95']:.1f} ms; "
            f"baseline p50 {row['base_p50']:.1f} ms p95 {row['base_p95']:.1f} ms "
            f"({row['base_requests_per_s']:.0f}/s); errors {row['errors']} "
            f"(baseline {row['base_errors']}); server CPU (median) per answer "
            f"{row['answer_cpu']:.2f} ms, page {row['page_cpu']:.2f} ms, "
            f"baseline {row['base_cpu']:.2f} ms"
        )
        if row["error_kinds"]:
            self.stdout.write(f"  errors: {row['error_kinds']}")
        verdict = "exactly once: OK" if row["exact"] else "exactly once: FAILED"
        details = ", ".join(f"{name} {value}" for name, value in check.items())
        self.stdout.write(f"  {verdict} ({details})")

    def _print_medians(self, rows: list[dict]) -> None:
        def med(name: str) -> float:
            return statistics.median(r[name] for r in rows)

        def spread(name: str, fmt: str = ".1f") -> str:
            values = [r[name] for r in rows]
            return f"{min(values):{fmt}} to {max(values):{fmt}}"

        self.stdout.write(f"\nMedians of {len(rows)} runs (range in brackets):")
        lines = [
            ("answer submission", "answer_p50", "answer_p95"),
            ("question pages (landing, questions, results)", "page_p50", "page_p95"),
            ("baseline (same clients, trivial endpoint)", "base_p50", "base_p95"),
        ]
        for label, p50, p95 in lines:
            self.stdout.write(
                f"  {label:<46} p50 {med(p50):7.1f} ms   p95 {med(p95):7.1f} ms [p95 {spread(p95)}]"
            )
        self.stdout.write(
            f"  answer p95 / baseline p95: {med('answer_p95_ratio'):.2f}x; "
            f"page p95 / baseline p95: {med('page_p95_ratio'):.2f}x"
        )
        self.stdout.write(
            f"  throughput: {med('answers_per_s'):.0f} answers/s "
            f"[{spread('answers_per_s', '.0f')}], "
            f"{med('requests_per_s'):.0f} requests/s; baseline {med('base_requests_per_s'):.0f}/s"
        )
        self.stdout.write(
            f"  server CPU per request (median): answer {med('answer_cpu'):.2f} ms, page "
            f"{med('page_cpu'):.2f} ms, baseline {med('base_cpu'):.2f} ms; answer / baseline "
            f"{med('answer_cpu') / med('base_cpu'):.2f}x, page / baseline "
            f"{med('page_cpu') / med('base_cpu'):.2f}x"
        )
        errors = sum(r["errors"] for r in rows)
        exact = all(r["exact"] for r in rows)
        self.stdout.write(
            f"  errors: {errors}; every accepted answer stored exactly once: "
            f"{'yes' if exact else 'NO'}"
        )
        targets = [
            (
                f"answers/s at saturation >= {GOAL_ANSWERS_PER_S}",
                med("answers_per_s") >= GOAL_ANSWERS_PER_S,
            ),
            ("no errors", errors == 0),
            ("nothing lost", exact),
        ]
        self.stdout.write(
            "  targets: " + "; ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in targets)
        )
