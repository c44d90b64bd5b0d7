"""The YAML format of variable questions and pools: validated whole, and round-tripped."""

from __future__ import annotations

import pytest

from accounts.tenancy import tenant_context
from assessments.authoring.content import ContentError, parse_challenge_set
from assessments.authoring.services import challenge_set_export_yaml, challenge_set_import
from grading.schema import SchemaError, read_variables
from grading.variants import TemplateError, render_template
from tests.variants.conftest import DEMO

pytestmark = pytest.mark.django_db


def test_demo_with_variables_exports_and_imports_to_the_same_content(tenant_a):
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set, _ = challenge_set_import(
            organization=organization, text=DEMO.read_bytes(), actor=None
        )
        exported = challenge_set_export_yaml(challenge_set)
    assert parse_challenge_set(exported) == parse_challenge_set(DEMO.read_bytes())
    demo = parse_challenge_set(exported)
    assert [bool(c.variables) for c in demo.challenges] == [True, False, False, True, False]
    assert [m["label"] for m in demo.challenges[0].misconceptions] == [
        "unbiased variance",
        "eval mode with fresh running statistics",
        "LayerNorm instead of BatchNorm",
    ]


def _challenge(**fields) -> str:
    base = {
        "kind": "predict_output", "title": "T", "difficulty": "beginner", "time_limit": 60,
        "prompt": "P", "code": "print({{ a }})", "variables": "variables = {'a': seed}",
        "misconceptions": [{"label": "off by one", "code": "print({{ a }} + 1)"}],
    }  # fmt: skip
    base.update(fields)
    return base


def _problems(*challenges) -> str:
    import yaml

    text = yaml.safe_dump({"title": "S", "slug": "s", "challenges": list(challenges)})
    with pytest.raises(ContentError) as error:
        parse_challenge_set(text)
    return "\n".join(error.value.problems)


def test_variable_questions_and_pools_are_validated_with_clear_reasons():
    problems = _problems(
        _challenge(options=[{"text": "1", "correct": True}, {"text": "2"}]),
        _challenge(misconceptions=[]),
        _challenge(kind="conceptual", code=None),
        _challenge(misconceptions=[{"label": "x", "code": "print(1)", "text": "1"}]),
        _challenge(answer_format="text", grading={"accepted": ["1"]}),
        _challenge(title="A", pool="p"),
        _challenge(title="B", pool="p", difficulty="expert"),
    )
    assert "options' must be omitted" in problems
    assert "needs at least one misconception" in problems
    assert "field 'variables' is for kinds code, debug, predict_output" in problems
    assert "needs exactly one of 'code'" in problems
    assert "needs answer_format" in problems
    assert "pool 'p': every challenge must have the same kind and difficulty" in problems


def test_placeholders_are_substituted_never_evaluated():
    variables = {"rows": [[1.0, 2.5]], "n": 3, "flag": True, "eps": 1e-05, "name": "x"}
    assert render_template("f({{ rows }}, {{n}}, {{ flag }}, {{ eps }})", variables) == (
        "f([[1.0, 2.5]], 3, True, 1e-05)"
    )
    assert render_template("{{ name.__class__ }} {x} {{ 1+1 }}", variables) == (
        "{{ name.__class__ }} {x} {{ 1+1 }}"
    )
    with pytest.raises(TemplateError):
        render_template("{{ missing }}", variables)


@pytest.mark.parametrize(
    "plain",
    [
        [1, 2],
        {"a": {"type": "tensor", "dtype": "float32", "shape": [1], "data": [1.0]}},
        {"a": "nan"},
        {"a": 2**60},
        {"a": [[[[[1]]]]]},
        {"a": ["text in a list"]},
        {"_private": 1},
        {"a": "x" * 201},
        {f"v{n}": n for n in range(33)},
        {"a": list(range(5000))},
    ],
)
def test_variables_outside_the_schema_are_refused(plain):
    with pytest.raises(SchemaError):
        read_variables(plain)


def test_plain_variables_pass_the_schema():
    plain = {"rows": [[1.0, 2.0]], "n": 3, "ok": False, "label": "BatchNorm1d"}
    assert read_variables(plain) == plain
