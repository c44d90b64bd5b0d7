"""Graders compare a key and an answer; they never evaluate what the candidate typed."""

import pytest

from grading.formats import ConfigError, OptionSpec, validate_grading_config
from grading.graders import AnswerError, get_grader, registered_formats
from grading.values import parse_tensor_text, printed_outputs_match

BN_PRINTED = (
    "tensor([[-1.0000, -1.0000, -1.0000],\n"
    "        [ 1.0000,  1.0000,  1.0000]], grad_fn=<NativeBatchNormBackward0>)"
)


def grade(fmt, raw, key, config=None, options=()):
    grader = get_grader(fmt)
    config = validate_grading_config(fmt, config or {}, list(options))
    return grader.grade(key=key, config=config, answer=grader.parse_answer(raw))


def test_every_answer_format_has_a_grader():
    assert registered_formats() == [
        "code", "exception", "multiple_choice", "single_choice", "tensor_value", "text",
    ]  # fmt: skip


OPTIONS = [OptionSpec("a", True), OptionSpec("b", False), OptionSpec("c", False)]


def test_single_choice():
    key = {"correct": ["a"], "options": ["a", "b", "c"]}
    assert grade("single_choice", ["a"], key, options=OPTIONS).correct
    assert not grade("single_choice", ["b"], key, options=OPTIONS).correct
    with pytest.raises(AnswerError, match="exactly one"):
        grade("single_choice", ["a", "b"], key, options=OPTIONS)
    with pytest.raises(AnswerError, match="not part of this question"):
        grade("single_choice", ["zzz"], key, options=OPTIONS)


def test_multiple_choice_with_and_without_partial_credit():
    options = [OptionSpec("a", True), OptionSpec("b", True), OptionSpec("c", False)]
    key = {"correct": ["a", "b"], "options": ["a", "b", "c"]}
    assert grade("multiple_choice", ["a", "b"], key, options=options).score == 1.0
    assert grade("multiple_choice", ["a"], key, options=options).score == 0.0
    partial = grade("multiple_choice", ["a"], key, {"partial_credit": True}, options)
    assert partial.score == 0.5 and not partial.correct
    assert grade("multiple_choice", ["a", "c"], key, {"partial_credit": True}, options).score == 0


@pytest.mark.parametrize(
    "typed",
    [
        "tensor([[-1., -1., -1.], [1., 1., 1.]])",
        "[[-1, -1, -1], [1, 1, 1]]",
        BN_PRINTED,
        "tensor([[-0.99999, -1.0000, -1.0000], [1.0000, 1.0000, 1.00001]])",
    ],
)
def test_tensor_value_accepts_equal_values_in_any_notation(typed):
    assert grade("tensor_value", typed, {"printed": BN_PRINTED}).correct


def test_tensor_value_checks_shape_and_tolerance():
    key = {"value": {"type": "tensor", "dtype": "float32", "shape": [2, 3],
                     "data": [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]}}  # fmt: skip
    wrong_shape = grade("tensor_value", "[-1, -1, -1, 1, 1, 1]", key)
    assert not wrong_shape.correct and "shape [6] instead of [2, 3]" in wrong_shape.feedback
    assert not grade(
        "tensor_value", "[[-1.2247, -1.2247, -1.2247], [1.2247, 1.2247, 1.2247]]", key
    ).correct
    assert grade(
        "tensor_value", "[[-1.2, -1.2, -1.2], [1.2, 1.2, 1.2]]", key, {"atol": 0.25}
    ).correct


@pytest.mark.parametrize(
    "typed", ["__import__('os').system('id')", "tensor([1, 2", "tensor([[1, 2], [3]])", "lambda: 1"]
)
def test_tensor_value_refuses_what_it_cannot_read_with_a_message(typed):
    with pytest.raises(AnswerError, match="Cannot read that value"):
        get_grader("tensor_value").parse_answer(typed)


def test_nan_and_inf_compare_as_values():
    assert grade(
        "tensor_value", "tensor([nan, inf, -inf])", {"printed": "tensor([nan, inf, -inf])"}
    ).correct
    assert not grade(
        "tensor_value", "tensor([0., inf, -inf])", {"printed": "tensor([nan, inf, -inf])"}
    ).correct


def test_exception_by_class_and_optionally_message():
    key = {"type": "RuntimeError", "message": "running_mean should contain 5 elements not 3"}
    assert grade("exception", "RuntimeError", key).correct
    assert grade("exception", "torch.RuntimeError: whatever", key).correct
    assert not grade("exception", "ValueError", key).correct
    strict = {"match_message": True}
    assert grade(
        "exception", "RuntimeError: running_mean  should contain 5 elements not 3", key, strict
    ).correct
    assert not grade("exception", "RuntimeError: wrong", key, strict).correct


def test_text_is_normalized():
    config = {"accepted": ["BatchNorm1d"]}
    assert grade("text", "  batchnorm1d. ", {}, config).correct
    assert not grade("text", "batchnorm1d", {}, {**config, "case_sensitive": True}).correct


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"grading\.atol"):
        validate_grading_config("tensor_value", {"atol": -1}, [])
    with pytest.raises(ConfigError, match="unknown key"):
        validate_grading_config("tensor_value", {"atoll": 0.1}, [])
    with pytest.raises(ConfigError, match="entry_point"):
        validate_grading_config("code", {"reference": "x=1", "tests": []}, [])
    with pytest.raises(ConfigError, match=r"tests\[0\].setup"):
        validate_grading_config(
            "code",
            {
                "entry_point": "f",
                "reference": "def f(x): return x",
                "tests": [{"name": "a", "setup": "y = 1"}],
            },
            [],
        )


def test_code_grader_gives_partial_credit_and_hides_hidden_tests():
    config = validate_grading_config(
        "code",
        {
            "entry_point": "f", "reference": "def f(x): return x",
            "tests": [
                {"name": "shown", "setup": "args = (torch.ones(2),)"},
                {"name": "secret", "setup": "args = (torch.zeros(2),)", "hidden": True},
            ],
        },
        [],
    )  # fmt: skip
    value = {"type": "tensor", "dtype": "float32", "shape": [2], "data": [1.0, 1.0]}
    zeros = {**value, "data": [0.0, 0.0]}
    key = {
        "expected": {"shown": {"ok": True, "value": value}, "secret": {"ok": True, "value": zeros}}
    }
    answer = {
        "shown": {"ok": True, "value": value},
        "secret": {"ok": False, "error": "ValueError: no"},
    }
    verdict = get_grader("code").grade(key=key, config=config, answer=answer)
    assert verdict.score == 0.5 and not verdict.correct
    assert verdict.details["tests"] == [{"name": "shown", "passed": True, "message": "passed"}]
    assert "zeros" not in str(verdict.details) and "secret" not in str(verdict.details)
    assert verdict.details["hidden"] == {"passed": 0, "total": 1}


def test_code_answer_with_a_syntax_error_is_refused_before_running():
    with pytest.raises(AnswerError, match="Syntax error on line 1"):
        get_grader("code").parse_answer("def f(:\n  pass")


def test_printed_outputs_ignore_grad_fn_and_compare_numbers():
    plain = "tensor([[-1.0000, -1.0000, -1.0000],\n        [ 1.0000,  1.0000,  1.0000]])"
    assert printed_outputs_match(BN_PRINTED, plain, atol=1e-4, rtol=1e-4)
    other = BN_PRINTED.replace("1.0000", "1.2247")
    assert not printed_outputs_match(BN_PRINTED, other, atol=1e-4, rtol=1e-4)
    assert not printed_outputs_match("torch.Size([2, 3])", "torch.Size([3, 2])", atol=0, rtol=0)
    assert parse_tensor_text(BN_PRINTED).shape == (2, 3)


def test_code_limits_are_bounded():
    base = {
        "entry_point": "f", "reference": "def f(x): return x",
        "tests": [{"name": "a", "setup": "args = (1,)"}],
    }  # fmt: skip
    assert validate_grading_config("code", {**base, "limits": {"wall_seconds": 5}}, [])[
        "limits"
    ] == {"wall_seconds": 5}
    with pytest.raises(ConfigError, match=r"grading\.limits\.memory_mb"):
        validate_grading_config("code", {**base, "limits": {"memory_mb": 10**6}}, [])
