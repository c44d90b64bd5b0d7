"""Measure candidates taking BatchNorm Mastery at once through a running server.

Run by `make bench-load`, which starts gunicorn with production settings, PostgreSQL, Redis, a
worker and the sandbox, and loads the demo. Each run invites the candidates in one batch (not
timed), then lets all of them take the test at once (``assessments.bench.load``): landing,
start, each question page, one or two answers per question (some wrong, some sent twice at
once like a double click), results. Before it, in the same run, the same number of clients
with the same think times send as many GET requests to a trivial endpoint of the same
gunicorn (the baseline). After it, the database is checked: every answer the server accepted
is stored exactly once, nothing is stored that was not accepted, attempts never exceed the
maximum, and each answer was graded as its option deserved.
"""

from __future__ import annotations

import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from accounts.models import Organization
from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSetVersion
from assessments.bench.load import (
    ANSWER,
    OTHER,
    PAGE,
    Behaviour,
    Outcome,
    Question,
    run_baseline,
    run_candidates,
)
from assessments.invitations.models import Invitation
from assessments.invitations.services import Candidate, invitations_create
from assessments.taking.models import Answer, QuestionState
from grading.models import GradingJob

DEMO_ORG, DEMO_SET = "demo", "batchnorm-mastery"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Benchmark hundreds of candidates taking the demo set at once against a server."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8013", help="the server (local)")
        parser.add_argument("--candidates", type=int, default=500)
        parser.add_argument("--runs", type=int, default=3, help="medians are over the runs")
        parser.add_argument(
            "--think-ms", type=float, default=300.0, help="mean pause between a candidate's steps"
        )
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
            questions = [
                Question(
                    position=c.position,
                    correct=c.key["correct"][0],
                    wrong=tuple(o["id"] for o in c.options if o["id"] not in c.key["correct"]),
                    max_attempts=c.max_attempts,
                )
                for c in version.challenges.order_by("position")
            ]
        behaviour = Behaviour(think_ms=options["think_ms"])
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
                tokens = self._invite(version, count, run)
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
                check = self._check(tokens, outcome)
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

    def _invite(self, version, count: int, run: int) -> list[str]:
        batch = uuid.uuid4().hex[:8]
        invitations = invitations_create(
            version=version,
            candidates=[
                Candidate(email=f"load-{batch}-{run}-{n}@bench.example", first_name=f"C{n}")
                for n in range(count)
            ],
            actor=None,
            send_email=False,
        )
        return [invitation.token for invitation in invitations]

    # Checking.

    def _check(self, tokens: list[str], outcome: Outcome) -> dict[str, int]:
        """Compare what the server said with what it stored."""
        sent_by_id = {s.submission_id: s for s in outcome.sent}
        accepted = {s.submission_id for s in outcome.sent if {200, 201} & set(s.statuses)}
        unanswered = {s.submission_id for s in outcome.sent if 0 in s.statuses}
        stored = list(
            Answer.objects.filter(question__invitation__token__in=tokens).values_list(
                "submission_id", "question__invitation__token", "question__position", "correct"
            )
        )
        stored_ids = Counter(str(row[0]) for row in stored)
        misgraded = 0
        for submission_id, token, position, correct in stored:
            sent = sent_by_id.get(str(submission_id))
            if sent is None or (sent.token, sent.position) != (token, position):
                continue
            if correct is not sent.correct or any(
                g is not None and g is not sent.correct for g in sent.graded_correct
            ):
                misgraded += 1
        double_created = sum(1 for s in outcome.sent if s.statuses.count(201) > 1)
        questions = QuestionState.objects.filter(invitation__token__in=tokens).annotate(
            accepted_answers=Count("answers", filter=Q(answers__attempt__isnull=False))
        )
        over_max = sum(1 for q in questions if q.attempts_used > q.max_attempts)
        miscounted = sum(1 for q in questions if q.attempts_used != q.accepted_answers)
        ungraded = (
            Answer.objects.filter(question__invitation__token__in=tokens)
            .exclude(grading_job__status=GradingJob.Status.DONE)
            .count()
        )
        statuses = Counter(
            Invitation.objects.filter(token__in=tokens).values_list("status", flat=True)
        )
        return {
            "sent": len(outcome.sent),
            "accepted": len(accepted),
            "stored": sum(stored_ids.values()),
            "lost": len(accepted - set(stored_ids)),
            "stored_twice": sum(n - 1 for n in stored_ids.values() if n > 1),
            "stored_not_accepted": len(set(stored_ids) - accepted - unanswered),
            "stored_unanswered": len(set(stored_ids) & (unanswered - accepted)),
            "created_twice": double_created,
            "doubles": sum(1 for s in outcome.sent if len(s.statuses) > 1),
            "attempts_over_max": over_max,
            "attempts_miscounted": miscounted,
            "misgraded": misgraded,
            "ungraded": ungraded,
            "completed": statuses.get(Invitation.Status.COMPLETED, 0),
            "candidates": len(tokens),
        }

    @staticmethod
    def _exact(check: dict[str, int]) -> bool:
        bad = (
            "lost",
            "stored_twice",
            "stored_not_accepted",
            "created_twice",
            "attempts_over_max",
            "attempts_miscounted",
            "misgraded",
            "ungraded",
        )
        return all(check[name] == 0 for name in bad) and check["completed"] == check["candidates"]

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
            "exact": self._exact(check),
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
            f"(baseline {row['base_errors']})"
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
        errors = sum(r["errors"] for r in rows)
        exact = all(r["exact"] for r in rows)
        self.stdout.write(
            f"  errors: {errors}; every accepted answer stored exactly once: "
            f"{'yes' if exact else 'NO'}"
        )
        targets = [
            ("answers/s >= 300", med("answers_per_s") >= 300),
            ("answer p95 <= 100 ms", med("answer_p95") <= 100),
            ("no errors", errors == 0),
            ("nothing lost", exact),
        ]
        self.stdout.write(
            "  targets: " + "; ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in targets)
        )
