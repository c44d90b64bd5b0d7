"""A candidate's function returns whatever it likes: every test still ends in a clear verdict.

Each answer runs through the real path: a grading job of a ``code`` challenge whose reference
is ``nn.BatchNorm1d(x.shape[1])(x)`` (two shown tests, one hidden), run by
``grading_job_run`` in the real sandbox, stored in PostgreSQL and read back.
"""

import pytest

from grading.formats import validate_grading_config
from grading.models import GradingJob
from tests.grading.test_code_answers import _run as run_job

HIDDEN_MARKER = "zebra-hidden-setup-9931"
BN_CONFIG = validate_grading_config(
    "code",
    {
        "entry_point": "batch_norm",
        "reference": (
            "import torch\nfrom torch import nn\n"
            "def batch_norm(x):\n    return nn.BatchNorm1d(x.shape[1])(x)\n"
        ),
        "tests": [
            {"name": "small", "setup": "args = (torch.randn(4, 3),)"},
            {"name": "wide", "setup": "args = (torch.randn(6, 5) * 3 + 1,)"},
            {
                "name": "secret-case",
                "setup": f"marker = {HIDDEN_MARKER!r}\nargs = (torch.randn(8, 2) + 42.0,)",
                "hidden": True,
            },
        ],
        "limits": {"wall_seconds": 5, "cpu_seconds": 4},
    },
    [],
)
CORRECT = """\
import torch
def batch_norm(x):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
"""


def _run(tenant, purpose, payload):
    job = run_job(tenant, purpose, payload)
    return GradingJob.all_tenants.get(pk=job.pk)  # as stored, read back from PostgreSQL


@pytest.fixture
def bn_key(tenant_a, sandbox_socket):
    reference = _run(tenant_a, "reference", {"config": BN_CONFIG})
    assert reference.sandbox_verdict == "ok", reference.result
    return {"expected": reference.result["expected"]}


def grade(tenant, key, source):
    return _run(tenant, "answer", {"answer": source, "key": key, "config": BN_CONFIG})


def _messages(job):
    return [test["message"] for test in job.result["details"]["tests"]]


def _function(body):
    return "import torch\ndef batch_norm(x):\n" + "".join(f"    {line}\n" for line in body)


HOSTILE = {
    "forged tensor with a number as shape": (
        ['return {"type": "tensor", "shape": 5, "data": 1}'],
        "your function returned a tensor without a valid dtype; a tensor was expected",
    ),
    "forged tensor with a number as shape, dtype given": (
        ['return {"type": "tensor", "dtype": "float32", "shape": 5, "data": 1}'],
        "your function returned a tensor whose shape is not a list",
    ),
    "list instead of a tensor": (
        ["return x.tolist()"],
        "your function returned a list; a tensor was expected",
    ),
    "dict instead of a tensor": (
        ['return {"mean": 0}'],
        "your function returned a dict; a tensor was expected",
    ),
    "400-digit integer": (
        ["return 10 ** 400"],
        "your function returned an integer too large to compare; a tensor was expected",
    ),
    "400-digit integer inside forged tensor data": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [1], "data": [10 ** 400]}'],
        "an integer too large to compare where a number belongs",
    ),
    "ragged nested list": (
        ["return [[1.0, 2.0], [3.0]]"],
        "your function returned a ragged nested list",
    ),
    "mixed depths": (
        ["return [[1.0, 2.0], 3.0]"],
        "your function returned a ragged nested list",
    ),
    "deep nesting": (
        ["v = 1.0", "for _ in range(200):", "    v = [v]", "return v"],
        "your function returned",
    ),
    "NaN everywhere": (
        ["return torch.full_like(x, float('nan'))"],
        "element 0 is nan",
    ),
    "infinity instead of a tensor": (
        ["return float('inf')"],
        "your function returned a number; a tensor was expected",
    ),
    "the string nan": (
        ["return 'nan'"],
        "your function returned a number; a tensor was expected",
    ),
    "huge string": (
        ["return 'A' * 3_000_000"],
        "your function returned a string; a tensor was expected",
    ),
    "bool instead of a tensor": (
        ["return True"],
        "your function returned a bool; a tensor was expected",
    ),
    "bool tensor": (
        ["return x > 0"],
        "your function returned a tensor of bool; a tensor of float32 was expected",
    ),
    "bools inside forged float data": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [2], "data": [True, False]}'],
        "a bool where a number belongs",
    ),
    "shape whose product overflows": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [2**62, 2**62], "data": []}'],
        "with more than 1000000 elements",
    ),
    "huge dims times zero": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [0, 10**30], "data": []}'],
        "your function returned a tensor",
    ),
    "negative dimension": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [-1, 3], "data": []}'],
        "your function returned a tensor with a negative dimension",
    ),
    "bools as dimensions": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [True, 3], "data": [[1, 2, 3]]}'],
        "whose shape is not a list of whole numbers",
    ),
    "data longer than the shape": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [1], "data": [1.0, 2.0]}'],
        "whose data does not match its shape",
    ),
    "forty dimensions": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [1] * 40, "data": []}'],
        "whose shape is not a list of at most 32 whole numbers",
    ),
    "tensor too large to send back": (
        ["return torch.zeros(400, 400)"],
        "too large to send back",
    ),
    "complex tensor": (
        ["return torch.complex(x, x)"],
        "a tensor of complex64; a tensor of float32 was expected",
    ),
    "an object": (
        ["return object()"],
        "an object that is not a tensor, number or list",
    ),
    "an object whose repr raises": (
        ["class Evil:", "    def __repr__(self):", "        raise SystemExit(3)", "return Evil()"],
        "no result",  # the child stops while converting: no results at all
    ),
    "None": (
        ["return None"],
        "your function returned None; a tensor was expected",
    ),
    "results container replaced": (
        ["globals()['__grading_results__'] = 5", "return x"],
        "no result",
    ),
    "forged result entry": (
        ["globals()['__grading_results__']['small'] = {'ok': 'yes'}", "raise KeyError('x')"],
        "no result",
    ),
    "unknown type tag": (
        ['return {"type": "tensor", "dtype": "float32", "shape": [], "data": 1.0, "grad": 1}'],
        "a tensor with unexpected fields",
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_return_values_end_in_a_clear_verdict(tenant_a, bn_key, name):
    body, expected_message = HOSTILE[name]
    job = grade(tenant_a, bn_key, _function(body))
    assert job.status == GradingJob.Status.DONE, job.last_error
    assert job.correct is False and job.score < 1
    small = job.result["details"]["tests"][0]
    assert small["name"] == "small" and small["passed"] is False
    assert expected_message in small["message"], _messages(job)
    assert job.result["details"]["hidden"]["total"] == 1


def test_the_correct_function_still_passes_every_test(tenant_a, bn_key):
    job = grade(tenant_a, bn_key, CORRECT)
    assert (job.status, job.correct, job.score) == ("done", True, 1.0)
    assert job.feedback == "3 of 3 tests passed. Hidden tests: 1 of 1."


def test_a_forged_tensor_encoding_of_the_right_values_earns_nothing_more_than_the_values(
    tenant_a, bn_key
):
    # A dict shaped like the sandbox's tensor encoding is read like a tensor: it must still
    # hold the right numbers, so it is no shortcut.
    forged = _function(
        [
            "y = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)",
            'return {"type": "tensor", "dtype": "float32", "shape": list(y.shape), '
            '"data": [[1.0] * y.shape[1]] * y.shape[0]}',
        ]
    )
    job = grade(tenant_a, bn_key, forged)
    assert job.status == "done" and job.score == 0


SPY = """\
import gc, json
def batch_norm(x):
    needle = "".join(["zebra-", "hidden-", "setup-9931"])
    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, dict):
                texts = [v for v in obj.values() if isinstance(v, str)]
            elif isinstance(obj, (list, tuple)):
                texts = [v for v in obj if isinstance(v, str)]
            else:
                continue
        except Exception:
            continue
        found += [t for t in texts if needle in t and t != needle]
    tests = globals().get("__grading_tests")
    raise ValueError(("FOUND " + repr(found)[:400]) if found else "clean: " + json.dumps(tests))
"""


def test_a_shown_test_cannot_read_the_hidden_tests_setup(tenant_a, bn_key):
    job = grade(tenant_a, bn_key, SPY)
    assert job.status == "done" and job.score == 0
    small = job.result["details"]["tests"][0]
    # The shown run's process never had the hidden setup in memory: the search finds nothing.
    assert small["message"].startswith("ValueError: clean: "), small["message"]
    stored = f"{job.feedback} {job.result} {job.last_error}"
    assert HIDDEN_MARKER not in stored and "secret-case" not in stored
    assert "42.0" not in stored


def test_a_hidden_test_sends_back_nothing_but_pass_or_fail(tenant_a, bn_key):
    # In the hidden run the function can see the hidden setup; it raises with it, prints it
    # and fails at top level: none of it is kept.
    leaky = _function(
        [
            "import sys",
            "frame = sys._getframe(1)",
            "print('LEAK', frame.f_globals.get('__grading_tests'))",
            "raise ValueError('LEAK ' + repr(frame.f_globals.get('__grading_tests')))",
        ]
    )
    job = grade(tenant_a, bn_key, leaky)
    stored = f"{job.feedback} {job.result} {job.last_error}"
    assert HIDDEN_MARKER not in stored and "secret-case" not in stored
    assert job.result["details"]["hidden"] == {"passed": 0, "total": 1}
    assert job.feedback == "0 of 3 tests passed. Hidden tests: 0 of 1."


def test_nul_and_lone_surrogates_from_a_job_are_stored_escaped(tenant_a, bn_key):
    source = _function(
        [
            "print('out\\x00put')",
            "raise ValueError('bad\\x00value \\ud800 end')",
        ]
    )
    job = grade(tenant_a, bn_key, source)
    assert job.status == "done"
    assert job.result["stdout"] == "out\\u0000put\n" * 2  # one line per shown test
    assert job.result["details"]["tests"][0]["message"] == "ValueError: bad\\u0000value \\ud800 end"


def test_nul_and_lone_surrogates_at_top_level_reach_the_feedback_escaped(tenant_a, bn_key):
    job = grade(tenant_a, bn_key, "import sys\nraise RuntimeError('top\\x00level \\udfff')\n")
    assert job.status == "done" and job.sandbox_verdict == "error"
    assert "RuntimeError: top\\u0000level \\udfff" in job.feedback


def test_nul_in_a_snippets_output_is_stored_escaped(tenant_a, sandbox_socket):
    job = _run(tenant_a, "snippet", {"code": "print('a\\x00b')\nraise ValueError('c\\udcff')"})
    assert job.status == "done" and job.sandbox_verdict == "error"
    assert job.result["stdout"] == "a\\u0000b\n"
    assert job.result["exception"]["message"] == "c\\udcff"


def test_values_over_the_cap_are_named_as_such_not_as_printing(tenant_a, bn_key):
    job = grade(tenant_a, bn_key, _function(["return ['y' * 100_000] * 45"]))
    assert (job.status, job.sandbox_verdict, job.score) == ("done", "output_limit", 0)
    assert job.feedback.startswith(
        "Your code produced more output than allowed (the captured values take "
    ), job.feedback
    assert "over the limit of 4194304 bytes" in job.feedback


def test_printing_over_the_cap_is_named_as_such(tenant_a, bn_key):
    job = grade(tenant_a, bn_key, _function(["print('x' * 100_000)", "return x"]))
    assert (job.status, job.sandbox_verdict, job.score) == ("done", "output_limit", 0)
    assert job.feedback.startswith(
        "Your code produced more output than allowed (output exceeded the limit of 65536 bytes)."
    ), job.feedback
