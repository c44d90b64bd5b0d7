"""Helpers of variant tests: the demo published through the sandbox, sessions whose variant
jobs are run here (as a worker would), and a look at what torch prints for a program."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.services import challenge_set_import
from assessments.management.commands._keys import publish_with_verified_keys
from assessments.taking.models import QuestionState
from assessments.taking.session import session_start
from assessments.taking.variants import variant_store
from grading.jobs import grading_job_run, sandbox_client
from grading.schema import read_report

DEMO = Path(__file__).resolve().parents[2] / "assessments" / "demo" / "batchnorm-mastery.yaml"


@pytest.fixture
def demo_version(tenant_a, sandbox_socket, settings):
    """BatchNorm Mastery published with the command's in-process key check (small sample)."""
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 3
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set, _ = challenge_set_import(
            organization=organization, text=DEMO.read_bytes(), actor=None
        )
        return publish_with_verified_keys(challenge_set).version


def start(invitation, *, prepare: bool = True):
    """Start a session; with ``prepare`` run its variant jobs here and store them."""
    now = timezone.now()
    with tenant_context(invitation.organization_id):
        session_start(invitation, now=now)
        invitation.refresh_from_db()
        if prepare:
            prepare_variants(invitation)
        return list(
            QuestionState.objects.filter(invitation=invitation)
            .select_related("challenge")
            .order_by("position")
        )


def prepare_variants(invitation):
    with tenant_context(invitation.organization_id):
        for question in QuestionState.objects.filter(
            invitation=invitation, variant_job__isnull=False
        ):
            grading_job_run(job_id=question.variant_job_id, client=sandbox_client())
            variant_store(job_id=question.variant_job_id, now=timezone.now())


def torch_says(code: str) -> str:
    """What a program prints or raises, run directly in the sandbox."""
    report = read_report(sandbox_client().run(code, job_id="torch-says"))
    if report.exception:
        return f"{report.exception['type']}: {report.exception['message']}"
    return report.stdout.strip("\n")
