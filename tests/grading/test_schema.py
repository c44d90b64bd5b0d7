"""The schema reads values no sandbox would produce without raising anything but its own error,
and grading in the request stores a failure of ours instead of raising."""

import math

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from grading.graders.code import compare_result
from grading.jobs import grading_job_grade_now
from grading.models import GradingJob
from grading.schema import SandboxResponseInvalid, SchemaError, read_report, read_value
from grading.values import ValueParseError, parse_tensor_text

CONFIG = {"atol": 1e-5, "rtol": 1e-4}
EXPECTED = {
    "ok": True,
    "value": {"type": "tensor", "dtype": "float32", "shape": [2], "data": [1.0, 2.0]},
}


def _deep(levels):
    value = 1.0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        10**5000,  # beyond float range, and beyond int() string limits if printed
        float("nan"),
        _deep(100_000),  # deeper than any recursion limit
        {"type": "tensor", "dtype": "float32", "shape": [10**6, 10**6], "data": []},
        {"type": "tensor", "dtype": "float32", "shape": [1] * 10_000, "data": []},
        {"type": "tensor", "dtype": "float32", "shape": [2], "data": _deep(50_000)},
        {"type": "tensor", "dtype": ["f"], "shape": [2], "data": [1.0, 2.0]},
        {"type": "tensor", "dtype": "float32", "shape": [2], "data": [1.0, 2.0], "complex": 1},
        {"type": ["tensor"]},
        {"type": "int", "repr": "9" * 400},
        [[1.0] * 3] + [[1.0] * 2] * 10**5,
        [1.0, {"type": "tensor"}],
        b"bytes",
        object(),
    ],
    ids=lambda value: type(value).__name__,
)
def test_values_outside_the_schema_fail_their_test_and_nothing_raises(value):
    passed, message = compare_result({"ok": True, "value": value}, EXPECTED, CONFIG)
    assert passed is False and message


def test_read_value_raises_only_schema_errors():
    for value in (10**400, _deep(40), {"type": "tensor", "dtype": "x", "shape": [-1], "data": []}):
        with pytest.raises(SchemaError):
            read_value(value)
    assert issubclass(SchemaError, ValueParseError)


def test_nan_markers_compare_as_nan():
    nan = {"type": "tensor", "dtype": "float32", "shape": [1], "data": ["nan"]}
    assert compare_result({"ok": True, "value": nan}, {"ok": True, "value": nan}, CONFIG)[0]
    assert math.isnan(read_value("nan").tensor.values[0])


@pytest.mark.parametrize("entry", [None, 5, "x", [], {"ok": 1}, {"ok": True}, {"ok": False}])
def test_forged_result_entries_fail_their_test(entry):
    assert compare_result(entry, EXPECTED, CONFIG)[0] is False


def test_a_response_that_is_not_one_is_our_failure():
    with pytest.raises(SandboxResponseInvalid):
        read_report(["not", "an", "object"])
    with pytest.raises(SandboxResponseInvalid):
        read_report({"verdict": "owned"})
    report = read_report(
        {"verdict": "ok", "stdout": 5, "exception": {"type": 1}, "values": [], "wall_ms": "x"}
    )
    assert (report.stdout, report.values, report.wall_ms) == ("", {}, None)
    assert report.exception == {"type": "", "message": "", "traceback": ""}


def test_typed_values_nested_too_deep_are_refused_not_a_crash():
    with pytest.raises(ValueParseError):
        parse_tensor_text("[" * 10_000 + "1" + "]" * 10_000)
    with pytest.raises(ValueParseError):
        parse_tensor_text("tensor([], size=(" + "9" * 5000 + ",))")


def test_grading_now_writes_the_job_done(in_a):
    now = timezone.now()
    job = grading_job_grade_now(
        organization_id=in_a.organization.pk, answer_format="text",
        payload={"answer": "Running statistics\x00", "key": {}, "config": {
            "accepted": ["running statistics"], "case_sensitive": False}},
        now=now,
    )  # fmt: skip
    stored = GradingJob.objects.get(pk=job.pk)
    assert (stored.status, stored.deliveries, stored.finished_at) == ("done", 1, now)
    assert stored.payload["answer"] == "Running statistics\\u0000"


def test_an_error_while_grading_now_is_stored_as_our_failure(in_a):
    job = grading_job_grade_now(
        organization_id=in_a.organization.pk, answer_format="tensor_value",
        payload={"answer": "tensor([1.])", "key": {"value": {"type": "tensor"}}, "config": {}},
        now=timezone.now(),
    )  # fmt: skip
    assert (job.status, job.failure_reason) == ("failed", "internal_error")
    assert GradingJob.objects.get(pk=job.pk).status == "failed"


def test_code_answers_cannot_be_graded_in_the_request(in_a):
    with pytest.raises(ValueError, match="run code"):
        grading_job_grade_now(
            organization_id=in_a.organization.pk, answer_format="code", payload={},
            now=timezone.now(),
        )  # fmt: skip
    with tenant_context(in_a.organization):
        assert not GradingJob.objects.exists()
