"""Code answers run in the real sandbox; results are compared with the reference's outside it."""

import pytest

from accounts.tenancy import tenant_context
from grading.formats import validate_grading_config
from grading.jobs import grading_job_create, grading_job_run

CONFIG = validate_grading_config(
    "code",
    {
        "entry_point": "batch_norm",
        "reference": (
            "import torch\n"
            "def batch_norm(x):\n"
            "    return torch.nn.functional.batch_norm(x, None, None, training=True)\n"
        ),
        "tests": [
            {"name": "small", "setup": "args = (torch.randn(4, 3),)"},
            {"name": "offset", "setup": "args = (torch.randn(6, 2) + 100.0,)"},
            {"name": "constant column", "setup": "args = (torch.ones(5, 3),)", "hidden": True},
        ],
        "limits": {"wall_seconds": 3, "cpu_seconds": 2},
    },
    [],
)
CORRECT = """\
import torch
def batch_norm(x, eps=1e-5):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps)
"""
# Divides by the standard deviation without eps: NaN on a constant column (the hidden test).
NO_EPS = """\
import torch
def batch_norm(x):
    return (x - x.mean(0)) / x.std(0, unbiased=False)
"""


def _run(tenant, purpose, payload):
    with tenant_context(tenant.organization):
        job = grading_job_create(
            organization_id=tenant.organization.pk, purpose=purpose, answer_format="code",
            payload=payload, enqueue=False,
        )  # fmt: skip
        return grading_job_run(job_id=job.pk)


@pytest.fixture
def key(tenant_a, sandbox_socket):
    reference = _run(tenant_a, "reference", {"config": CONFIG})
    assert reference.sandbox_verdict == "ok", reference.result
    return {"expected": reference.result["expected"]}


def _grade(tenant, key, code):
    return _run(tenant, "answer", {"answer": code, "key": key, "config": CONFIG})


def test_correct_function_gets_full_marks(tenant_a, key):
    job = _grade(tenant_a, key, CORRECT)
    assert (job.correct, job.score) == (True, 1.0)
    assert job.feedback == "3 of 3 tests passed. Hidden tests: 1 of 1."


def test_partial_credit_hides_the_hidden_tests_inputs(tenant_a, key):
    job = _grade(tenant_a, key, NO_EPS)
    assert job.correct is False and job.score == pytest.approx(2 / 3)
    shown = job.result["details"]["tests"]
    assert [t["name"] for t in shown] == ["small", "offset"]
    assert "constant column" not in str(job.result) and "ones" not in str(job.result)
    assert job.result["details"]["hidden"] == {"passed": 0, "total": 1}


def test_runaway_code_gets_a_time_verdict_and_no_credit(tenant_a, key):
    job = _grade(tenant_a, key, "def batch_norm(x):\n    while True:\n        pass\n")
    assert job.sandbox_verdict == "time_limit"
    assert job.score == 0
    assert job.feedback.startswith("Your code ran out of time (wall-clock limit of 3 s exceeded).")
    assert job.status == "done"


def test_code_that_raises_is_reported_per_test(tenant_a, key):
    job = _grade(tenant_a, key, "def batch_norm(x):\n    raise ValueError('nope')\n")
    assert job.score == 0
    assert job.result["details"]["tests"][0]["message"] == "ValueError: nope"


def test_syntax_error_is_feedback_not_a_sandbox_run(tenant_a, key):
    job = _grade(tenant_a, key, "def batch_norm(x:\n")
    assert job.sandbox_verdict == "" and job.score == 0
    assert "Syntax error on line 1" in job.feedback
