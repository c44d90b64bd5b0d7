"""Figures of per-candidate variants (issue 14) for BatchNorm Mastery on this machine.

Prints the time to prepare one candidate's variants (p50, p95), the share of candidate
pairs whose variable questions differ, and the latency of grading a variable answer next to
a fixed one. Variant jobs run here with ``grading_job_run``, the function a worker's task
calls, against the sandbox server ``make bench-variants`` starts.
"""

from __future__ import annotations

import itertools
import statistics
import time
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import User
from accounts.services import organization_create
from accounts.tenancy import tenant_context
from assessments.authoring.services import challenge_set_import
from assessments.invitations.services import Candidate, invitations_create
from assessments.management.commands._keys import publish_with_verified_keys
from assessments.taking.answering import answer_submit
from assessments.taking.models import QuestionState
from assessments.taking.session import question_open, session_questions, session_start
from assessments.taking.variants import variant_store
from grading.jobs import grading_job_run, sandbox_client

DEMO = Path(__file__).resolve().parents[2] / "demo" / "batchnorm-mastery.yaml"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Measure preparing and grading per-candidate variants of BatchNorm Mastery."

    def add_arguments(self, parser):
        parser.add_argument("--candidates", type=int, default=30)

    def handle(self, *args, candidates: int, **options):
        slug = f"bench-variants-{uuid.uuid4().hex[:8]}"
        owner = User.objects.create_user(email=f"{slug}@bench.example", password=None)
        organization = organization_create(name=slug, slug=slug, owner=owner)
        with tenant_context(organization):
            challenge_set, _ = challenge_set_import(
                organization=organization, text=DEMO.read_bytes(), actor=None
            )
            started = time.perf_counter()
            version = publish_with_verified_keys(challenge_set).version
            self.stdout.write(
                f"publish (25-variant samples): {time.perf_counter() - started:.1f} s"
            )
            invitations = invitations_create(
                version=version,
                candidates=[Candidate(email=f"c{n}@bench.example") for n in range(candidates)],
                actor=None,
                send_email=False,
            )
            prepare, variants = [], []
            client = sandbox_client()
            for invitation in invitations:
                session_start(invitation, now=timezone.now())
                started = time.perf_counter()
                questions = QuestionState.objects.filter(
                    invitation=invitation, variant_job__isnull=False
                ).order_by("position")
                for question in questions:
                    grading_job_run(job_id=question.variant_job_id, client=client)
                    variant_store(job_id=question.variant_job_id, now=timezone.now())
                prepare.append(time.perf_counter() - started)
                variants.append({q.position: q.variant for q in questions.all()})
            self._print_prepare(prepare)
            self._print_pairs(variants)
            self._print_grading(invitations[: min(10, len(invitations))])

    def _print_prepare(self, prepare: list[float]) -> None:
        self.stdout.write(
            f"prepare one candidate's variants ({len(prepare)} candidates): "
            f"p50 {statistics.median(prepare) * 1000:.0f} ms, "
            f"p95 {_percentile(prepare, 0.95) * 1000:.0f} ms"
        )

    def _print_pairs(self, variants: list[dict]) -> None:
        for position in sorted(variants[0]):
            pairs = list(itertools.combinations(variants, 2))
            differ = sum(a[position]["variables"] != b[position]["variables"] for a, b in pairs)
            shown = sum(a[position]["code"] != b[position]["code"] for a, b in pairs)
            self.stdout.write(
                f"question {position}: {differ / len(pairs):.1%} of {len(pairs)} candidate pairs "
                f"drew different numbers; {shown / len(pairs):.1%} see different code"
            )

    def _print_grading(self, invitations) -> None:
        latency: dict[str, list[float]] = {"variable (Q1)": [], "fixed (Q2)": []}
        for invitation in invitations:
            invitation.refresh_from_db()
            for label, position in (("variable (Q1)", 1), ("fixed (Q2)", 2)):
                question_open(
                    invitation, session_questions(invitation), position, now=timezone.now()
                )
                state = QuestionState.objects.select_related("challenge").get(
                    invitation=invitation, position=position
                )
                options = state.variant["options"] if state.variant else state.challenge.options
                right = next(o["id"] for o in options if o["correct"])
                started = time.perf_counter()
                answer_submit(
                    invitation, position=position, raw=right,
                    submission_id=str(uuid.uuid4()), now=timezone.now(),
                )  # fmt: skip
                latency[label].append(time.perf_counter() - started)
        for label, values in latency.items():
            self.stdout.write(
                f"grading a {label} answer: p50 {statistics.median(values) * 1000:.1f} ms, "
                f"max {max(values) * 1000:.1f} ms ({len(values)} answers)"
            )
