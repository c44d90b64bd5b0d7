"""The YAML format: every mistake named by challenge and field, nothing half-written."""

import textwrap
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.tenancy import tenant_context
from assessments.authoring.content import ContentError, parse_challenge_set
from assessments.authoring.services import challenge_set_export_yaml, challenge_set_import
from assessments.models import Challenge, ChallengeSet
from tests.processes import run_manage

VALID = textwrap.dedent(
    """\
    title: Norms
    slug: norms
    tagline: Quick ones
    badge: All correct earns the badge
    challenges:
      - kind: predict_output
        title: Mean of a tensor
        difficulty: beginner
        time_limit: 60
        max_attempts: 2
        prompt: What does this print?
        code: |-
          import torch
          print(torch.tensor([1.0, 3.0]).mean())
        hint: Add and divide.
        explanation: The mean of 1 and 3 is 2.
        options:
          - text: tensor(2.)
            correct: true
          - text: tensor(4.)
            correct: false
      - kind: conceptual
        title: Eval mode
        difficulty: intermediate
        time_limit: 90
        max_attempts: 1
        prompt: What does `model.eval()` change for BatchNorm?
        hint: Statistics.
        explanation: It uses the running statistics.
        options:
          - text: It uses running statistics
            correct: true
          - text: Nothing
            correct: false
    """
)


def _problems(text: str) -> list[str]:
    with pytest.raises(ContentError) as excinfo:
        parse_challenge_set(text)
    return excinfo.value.problems


def test_valid_file_parses_with_defaults():
    data = parse_challenge_set(VALID)
    assert data.navigation == "sequential"
    assert [c.answer_format for c in data.challenges] == ["single_choice", "single_choice"]
    assert data.challenges[0].grading == {"shuffle": True}


def test_bad_yaml_names_the_line():
    problems = _problems("title: [unclosed\nslug: x\n")
    assert problems[0].startswith("line ")
    assert "not valid YAML" in problems[0]


def test_unknown_kind_names_challenge_and_field():
    problems = _problems(VALID.replace("kind: conceptual", "kind: riddle"))
    assert any(
        "challenge 2 ('Eval mode')" in p and "'kind'" in p and "riddle" in p for p in problems
    )


def test_missing_field_is_named():
    problems = _problems(VALID.replace("    prompt: What does this print?\n", ""))
    assert problems == ["challenge 1 ('Mean of a tensor'): field 'prompt' is required"]


def test_wrong_type_is_named():
    problems = _problems(VALID.replace("time_limit: 60", "time_limit: soon"))
    assert problems == [
        "challenge 1 ('Mean of a tensor'): field 'time_limit' must be a whole number, not 'soon'"
    ]


def test_two_correct_options_for_single_choice_are_refused():
    problems = _problems(
        VALID.replace(
            "text: tensor(4.)\n        correct: false", "text: tensor(4.)\n        correct: true"
        )
    )
    assert any("challenge 1" in p and "exactly one correct option, not 2" in p for p in problems)


def test_every_problem_is_reported_at_once():
    text = VALID.replace("difficulty: beginner", "difficulty: easy").replace(
        "max_attempts: 1", "max_attempts: 0"
    )
    problems = _problems(text)
    assert len(problems) == 2


def test_snippet_is_required_for_predict_output():
    problems = _problems(
        VALID.replace(
            "    code: |-\n      import torch\n      print(torch.tensor([1.0, 3.0]).mean())\n", ""
        )
    )
    assert any("field 'code' is required for kind predict_output" in p for p in problems)


def test_unknown_top_level_field_is_refused():
    assert _problems("extra: 1\n" + VALID) == ["set: unknown field(s) extra"]


def test_export_imports_back_to_the_same_content(tenant_a):
    with tenant_context(tenant_a.organization):
        challenge_set, created = challenge_set_import(
            organization=tenant_a.organization, text=VALID, actor=None
        )
        exported = challenge_set_export_yaml(challenge_set)
        again, created_again = challenge_set_import(
            organization=tenant_a.organization, text=exported, actor=None
        )
        assert created and not created_again and again.pk == challenge_set.pk
        assert challenge_set_export_yaml(again) == exported
    assert parse_challenge_set(exported) == parse_challenge_set(VALID)


def test_a_bad_file_leaves_the_existing_draft_untouched(tenant_a):
    with tenant_context(tenant_a.organization):
        challenge_set, _ = challenge_set_import(
            organization=tenant_a.organization, text=VALID, actor=None
        )
        before = challenge_set_export_yaml(challenge_set)
        with pytest.raises(ContentError):
            challenge_set_import(
                organization=tenant_a.organization,
                text=VALID.replace("title: Eval mode", "title: Changed").replace(
                    "kind: conceptual", "kind: x"
                ),
                actor=None,
            )
        assert challenge_set_export_yaml(ChallengeSet.objects.get()) == before


def test_reimport_keeps_challenge_identity_by_position(tenant_a):
    with tenant_context(tenant_a.organization):
        challenge_set_import(organization=tenant_a.organization, text=VALID, actor=None)
        ids = list(Challenge.objects.order_by("position").values_list("public_id", flat=True))
        challenge_set_import(
            organization=tenant_a.organization,
            text=VALID.replace("Quick ones", "Quicker"),
            actor=None,
        )
        assert (
            list(Challenge.objects.order_by("position").values_list("public_id", flat=True)) == ids
        )


def test_commands_round_trip_and_fail_loudly(tenant_a, tmp_path, capsys, sandbox_socket):
    good = tmp_path / "norms.yaml"
    good.write_text(VALID)
    call_command("import_challenge_set", str(good), org=tenant_a.organization.slug)
    assert "Created norms (2 challenges)" in capsys.readouterr().out
    out = tmp_path / "out.yaml"
    call_command("export_challenge_set", "norms", org=tenant_a.organization.slug, output=out)
    call_command("import_challenge_set", str(out), org=tenant_a.organization.slug)
    assert "Updated the draft of norms" in capsys.readouterr().out
    call_command("publish_challenge_set", "norms", org=tenant_a.organization.slug)
    assert "Published norms version 1" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("difficulty: beginner", "difficulty: trivial"))
    with pytest.raises(
        CommandError, match=r"challenge 1 \('Mean of a tensor'\): field 'difficulty'"
    ):
        call_command("import_challenge_set", str(bad), org=tenant_a.organization.slug)
    with pytest.raises(CommandError, match="No organization"):
        call_command("import_challenge_set", str(good), org="missing")
    with pytest.raises(CommandError, match="No challenge set 'missing'"):
        call_command("publish_challenge_set", "missing", org=tenant_a.organization.slug)


@pytest.mark.django_db(transaction=True)
def test_import_command_exits_non_zero_on_bad_file(tenant_a, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [\n")
    result = run_manage("import_challenge_set", str(bad), "--org", tenant_a.organization.slug)
    assert result.returncode == 1
    assert "not valid YAML" in result.stderr
    assert not ChallengeSet.all_tenants.exists()


def test_demo_keys_are_not_given_away_by_the_longest_option():
    """A test-wise candidate picking the longest, most hedged option must not score."""
    demo = Path(__file__).resolve().parents[2] / "assessments" / "demo" / "batchnorm-mastery.yaml"
    fixed = [c for c in parse_challenge_set(demo.read_bytes()).challenges if c.options]
    assert len(fixed) == 3
    for challenge in fixed:
        correct = next(len(o.text) for o in challenge.options if o.correct)
        wrong = [len(o.text) for o in challenge.options if not o.correct]
        assert correct < max(wrong), challenge.title
        assert max(wrong) - min([*wrong, correct]) <= 30, challenge.title  # similar lengths
