"""Variable questions as grading sees them: the payload of a variant job, the seeds of a
publish sample, and how a sample is judged before a version is published.

The drawing itself (generator, templates, key and options by execution) is
``grading.variants``; a candidate's own variants are prepared by ``taking.variants``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from assessments.core.choices import CHOICE_FORMATS, AnswerFormat, Kind
from grading.jobs import grading_job_create
from grading.models import GradingJob


# Variants run and judged before a variable question can be published (a setting, so tests
# that are not about the sample can draw fewer).
def publish_sample_size() -> int:
    return getattr(settings, "VARIANT_PUBLISH_SAMPLE_SIZE", 25)


# More collided draws than this share (redrawn, or given up) refuse publishing.
MAX_COLLISION_SHARE = 0.2
# The variants kept with the version for the admin's side-by-side preview.
PREVIEW_VARIANTS = 6


def variant_payload(challenge, seeds: list[str]) -> dict[str, Any]:
    """Return what a variant job needs to draw ``seeds`` of a (draft or published) challenge."""
    config = challenge.grading_config or {}
    return {
        "raises": challenge.kind == Kind.DEBUG,
        "choice": challenge.answer_format in CHOICE_FORMATS,
        "generator": challenge.variables,
        "templates": {
            "prompt": challenge.prompt,
            "code": challenge.code,
            "hint": challenge.hint,
            "explanation": challenge.explanation,
        },
        "misconceptions": list(challenge.misconceptions),
        "atol": config.get("atol", 1e-4),
        "rtol": config.get("rtol", 1e-4),
        "seeds": seeds,
        # A code question draws its tests' inputs; its reference is run on each variant.
        "code_config": config if challenge.answer_format == AnswerFormat.CODE else None,
    }


def sample_seeds(challenge) -> list[str]:
    """Seeds of a publish sample: fixed per draft challenge, so a re-check is comparable."""
    return [f"sample:{challenge.public_id}:{index}" for index in range(publish_sample_size())]


def _variables_text(variables: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in variables.items())[:600]


def sample_problems(where: str, job: GradingJob) -> list[str]:
    """Judge a publish sample: every variant ran, options rarely collide, variants vary."""
    result = job.result or {}
    variants, failures = result.get("variants", []), result.get("problems", [])
    problems = [
        f"{where}: sample variant {failure['sample'] + 1} failed: {failure['message']}\n"
        f"  variables: {_variables_text(failure.get('variables') or {})}"
        for failure in failures
    ]
    redraws = sum(variant["draw"] for variant in variants)
    draws = redraws + len(variants) + len(failures)
    collided = redraws + sum("collided" in f["message"] for f in failures)
    if draws and collided / draws > MAX_COLLISION_SHARE:
        problems.append(
            f"{where}: options collided in {collided} of {draws} draws (at most "
            f"{MAX_COLLISION_SHARE:.0%} allowed); make the misconceptions differ more."
        )
    shown = {(v["prompt"], v["code"], _tests_text(v)) for v in variants}
    if len(variants) > 1 and len(shown) < 2:
        problems.append(
            f"{where}: all {len(variants)} sample variants show the same prompt and code"
            f"{' and tests' if variants[0].get('grading_config') else ''}; "
            "the variables never change what the candidate sees."
        )
    return problems


def _tests_text(variant: dict[str, Any]) -> str:
    # A code question's variants may differ only in their tests' inputs.
    tests = (variant.get("grading_config") or {}).get("tests", [])
    return "\n".join(test["setup"] for test in tests)


def sample_key(job: GradingJob) -> dict[str, Any]:
    """What a variable question's version keeps: a preview of its executed variants."""
    variants = (job.result or {}).get("variants", [])
    return {
        "variable": True,
        "preview": [
            {
                **{name: v[name] for name in ("variables", "code", "options", "key")},
                "tests": [
                    {"name": t["name"], "setup": t["setup"], "hidden": bool(t.get("hidden"))}
                    for t in (v.get("grading_config") or {}).get("tests", [])
                ],
            }
            for v in variants[:PREVIEW_VARIANTS]
        ],
    }


def variants_preview_start(*, challenge_set, seeds_per_challenge: int = PREVIEW_VARIANTS) -> list:
    """Send a job drawing a few fresh variants of each variable draft challenge of a set.

    For the admin's side-by-side preview of a draft (the published version keeps its own).
    Fresh seeds each time, so an author sees new variants on every draw; the jobs run on the
    workers like a key check's and carry the challenge's id for the page that shows them.
    """
    jobs = []
    with transaction.atomic():
        for challenge in challenge_set.challenges.order_by("position", "id"):
            if not challenge.is_variable:
                continue
            seeds = [f"preview:{uuid.uuid4()}" for _ in range(seeds_per_challenge)]
            payload = {**variant_payload(challenge, seeds), "preview_of": str(challenge.public_id)}
            jobs.append(
                grading_job_create(
                    organization_id=challenge.organization_id,
                    purpose=GradingJob.Purpose.VARIANT,
                    answer_format=challenge.answer_format,
                    payload=payload,  # the author's programs get grading.variants' own limits
                )
            )
    return jobs


def preview_variant(variant: dict[str, Any]) -> dict[str, Any]:
    """Return what the preview shows of one executed variant (a draw's or a version's)."""
    key = variant.get("key") or {}
    if "expected" in key:
        executed = "\n".join(
            f"{name}: {outcome.get('value')!r}" for name, outcome in key["expected"].items()
        )
    elif "printed" in key:
        executed = key["printed"].rstrip("\n")
    else:
        executed = f"{key.get('type', '')}: {key.get('message', '')}"
    tests = variant.get("tests")
    if tests is None:
        tests = (variant.get("grading_config") or {}).get("tests", [])
    return {
        "variables": variant.get("variables", {}),
        "code": variant.get("code", ""),
        "options": variant.get("options", []),
        "executed": executed,
        "tests": tests,
    }
