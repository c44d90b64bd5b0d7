"""Answer keys are proven by executing the author's code; a wrong key is never published."""

import textwrap
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import PublishRefused, challenge_set_publish
from assessments.authoring.services import challenge_set_import
from assessments.models import ChallengeSet, ChallengeSetVersion, KeyCheck, PublishedChallenge
from tests.conftest import login

BN_OUTPUT = (
    "tensor([[-1.0000, -1.0000, -1.0000],\n"
    "        [ 1.0000,  1.0000,  1.0000]], grad_fn=<NativeBatchNormBackward0>)"
)


def set_yaml(*, correct: str, wrong: str, debug_correct: str, debug_code: str | None = None) -> str:
    debug_code = debug_code or (
        "import torch\nimport torch.nn as nn\n"
        "bn = nn.BatchNorm2d(num_features=3)\nbn(torch.randn(10, 5, 32, 32))"
    )

    def block(text, indent):
        return textwrap.indent(text, " " * indent)

    return f"""\
title: Keys
slug: keys
challenges:
  - kind: predict_output
    title: BatchNorm output
    difficulty: intermediate
    time_limit: 120
    prompt: What does it print?
    code: |-
      import torch
      import torch.nn as nn
      bn = nn.BatchNorm1d(num_features=3)
      print(bn(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])))
    options:
      - text: |-
{block(correct, 10)}
        correct: true
      - text: |-
{block(wrong, 10)}
        correct: false
  - kind: debug
    title: Channel mismatch
    difficulty: advanced
    time_limit: 120
    prompt: What error?
    code: |-
{block(debug_code, 6)}
    options:
      - text: "{debug_correct}"
        correct: true
      - text: "ValueError: expected 4D input (got 3D input)"
        correct: false
"""


GOOD = set_yaml(
    correct=BN_OUTPUT,
    wrong=BN_OUTPUT.replace("1.0000", "1.2247"),
    debug_correct="RuntimeError: running_mean should contain 5 elements not 3",
)


def _import(tenant, text):
    with tenant_context(tenant.organization):
        return challenge_set_import(organization=tenant.organization, text=text, actor=None)[0]


def test_publish_proves_keys_and_stores_executed_output(tenant_a, sandbox_socket, capsys):
    _import(tenant_a, GOOD)
    call_command("publish_challenge_set", "keys", org=tenant_a.organization.slug)
    assert "Published keys version 1" in capsys.readouterr().out
    with tenant_context(tenant_a.organization):
        version = ChallengeSetVersion.objects.get()
        assert version.torch_version.startswith("2.13.0")
        predict, debug = PublishedChallenge.objects.filter(version=version).order_by("position")
    assert predict.key["printed"].startswith("tensor([[-1.0000")
    assert predict.key["correct"] == [predict.options[0]["id"]]
    assert debug.key["type"] == "RuntimeError"
    assert debug.key["message"] == "running_mean should contain 5 elements not 3"


def test_wrong_marked_option_is_refused_showing_both_outputs(tenant_a, sandbox_socket):
    _import(
        tenant_a,
        set_yaml(
            correct=BN_OUTPUT.replace("1.0000", "1.2247"),
            wrong=BN_OUTPUT,
            debug_correct="RuntimeError: running_mean should contain 5 elements not 3",
        ),
    )
    with pytest.raises(CommandError) as excinfo:
        call_command("publish_challenge_set", "keys", org=tenant_a.organization.slug)
    message = str(excinfo.value)
    assert "the option marked correct does not match" in message
    assert "declared: tensor([[-1.2247" in message
    assert "executed: tensor([[-1.0000" in message
    assert "an option marked wrong matches" in message
    assert not ChallengeSetVersion.all_tenants.exists()


def test_debug_option_with_wrong_message_is_refused(tenant_a, sandbox_socket):
    _import(
        tenant_a,
        set_yaml(
            correct=BN_OUTPUT,
            wrong="tensor([0.])",
            debug_correct="RuntimeError: running_mean should contain 3 elements not 5",
        ),
    )
    with pytest.raises(CommandError, match="executed: RuntimeError: running_mean should contain 5"):
        call_command("publish_challenge_set", "keys", org=tenant_a.organization.slug)


def test_debug_snippet_that_raises_nothing_is_refused(tenant_a, sandbox_socket):
    _import(
        tenant_a,
        set_yaml(
            correct=BN_OUTPUT,
            wrong="tensor([0.])",
            debug_correct="RuntimeError: x",
            debug_code="import torch\nprint(torch.zeros(1))",
        ),
    )
    with pytest.raises(CommandError, match="a debug snippet must raise an exception"):
        call_command("publish_challenge_set", "keys", org=tenant_a.organization.slug)


def test_keys_cannot_be_published_without_execution(tenant_a):
    challenge_set = _import(tenant_a, GOOD)
    with (
        tenant_context(tenant_a.organization),
        pytest.raises(PublishRefused, match="not been verified"),
    ):
        challenge_set_publish(challenge_set=challenge_set, actor=None)


def test_publish_without_a_sandbox_fails_clearly(tenant_a, settings, tmp_path):
    settings.SANDBOX_SOCKET = str(tmp_path / "missing.sock")
    _import(tenant_a, GOOD)
    with pytest.raises(CommandError, match="sandbox is not reachable"):
        call_command("publish_challenge_set", "keys", org=tenant_a.organization.slug)


def test_reverify_reports_drift(tenant_a, sandbox_socket, capsys):
    _import(tenant_a, GOOD)
    call_command("publish_challenge_set", "keys", org=tenant_a.organization.slug)
    call_command("reverify_keys")
    assert "Re-ran 2 keys" in capsys.readouterr().out
    # A stored key that no longer matches what torch prints (as after an upgrade).
    with tenant_context(tenant_a.organization):
        stale = PublishedChallenge.objects.get(position=1)
        PublishedChallenge.objects.filter(pk=stale.pk).update(
            key={**stale.key, "printed": BN_OUTPUT.replace("1.0000", "0.7071")}
        )
    with pytest.raises(CommandError, match="1 published answer key"):
        call_command("reverify_keys")
    assert "DRIFT" in capsys.readouterr().out


def _wait_for_check(tenant, timeout=60) -> KeyCheck:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tenant_context(tenant.organization):
            check = KeyCheck.objects.order_by("-requested_at").first()
        if check.status != KeyCheck.Status.RUNNING:
            return check
        time.sleep(0.3)
    raise AssertionError("key check still running")


@pytest.mark.django_db(transaction=True)
def test_admin_publish_runs_keys_on_a_worker(client, tenant_a, celery_worker):
    challenge_set = _import(tenant_a, GOOD)
    login(client, tenant_a.author)
    response = client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/publish/")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "refreshes by itself" in page or "Published version 1" in page
    check = _wait_for_check(tenant_a)
    assert check.status == KeyCheck.Status.PASSED, (check.problems, celery_worker.log())
    assert check.version.number == 1
    page = client.get(response["Location"]).content.decode()
    assert "Published version 1" in page
    assert "running_mean should contain 5 elements not 3" in page


@pytest.mark.django_db(transaction=True)
def test_admin_verify_shows_executed_output_beside_each_option(client, tenant_a, celery_worker):
    challenge_set = _import(
        tenant_a,
        set_yaml(
            correct=BN_OUTPUT.replace("1.0000", "1.2247"),
            wrong=BN_OUTPUT,
            debug_correct="RuntimeError: running_mean should contain 5 elements not 3",
        ),
    )
    login(client, tenant_a.author)
    response = client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/verify-keys/")
    check = _wait_for_check(tenant_a)
    assert check.status == KeyCheck.Status.REFUSED
    page = client.get(response["Location"])
    assert page.status_code == 409
    html = page.content.decode()
    assert html.count('class="mismatch"') == 2
    assert "tensor([[-1.0000, -1.0000, -1.0000]" in html
    with tenant_context(tenant_a.organization):
        assert ChallengeSet.objects.get().status == ChallengeSet.Status.DRAFT
