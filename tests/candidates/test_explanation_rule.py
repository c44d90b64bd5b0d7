"""The explanation rule: reading a question's explanation never buys its points or the badge.

By default (``after_close``) the explanation waits until the question is closed, when no
answer is accepted any more. In practice mode (``after_wrong_answer``) it follows a wrong
answer; the server records when a response first carried it, and an answer after that is
graded (shown correct or incorrect) but scores 0 and blocks the badge; the report, the CSV
and the API say so for that question.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.api_keys import api_key_create
from accounts.tenancy import tenant_context
from assessments.authoring.content import parse_challenge_set
from assessments.models import BadgeAward, ChallengeSet, Invitation
from assessments.reports.results import invitation_result
from assessments.reports.selectors import results_csv_lines
from tests.api.conftest import client_for
from tests.candidates.conftest import (
    EXPLANATION,
    correct_option,
    invite,
    publish_set,
    wrong_option,
)
from tests.candidates.test_taking import question_row, start, submit, url

pytestmark = pytest.mark.django_db


def answer_json(client, invitation, position, option) -> dict:
    response = client.post(
        url(invitation, "q", position, "answer"),
        json.dumps({"answer": option, "submission_id": str(uuid.uuid4())}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def finish_rest_correctly(client, version, invitation):
    for position in (2, 3):
        client.get(url(invitation, "q", position))
        answer = correct_option(version, position) if position == 2 else "running statistics"
        submit(client, invitation, position, answer)
    invitation.refresh_from_db()
    assert invitation.status == "completed"


def test_a_new_set_shows_explanations_only_once_a_question_is_closed(tenant_a):
    assert ChallengeSet().feedback == "after_close"
    demo = Path(settings.BASE_DIR, "assessments/demo/batchnorm-mastery.yaml").read_text()
    assert (
        "\nfeedback: after_close\n" in demo
    )  # the demo says so, and so does a file that is silent
    data = parse_challenge_set(demo.replace("\nfeedback: after_close\n", "\n"))
    assert data.feedback == "after_close"


def test_default_rule_keeps_the_explanation_until_the_question_is_closed(client, tenant_a):
    version = publish_set(tenant_a.organization, feedback="after_close")
    invitation = invite(version)
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    state = answer_json(client, invitation, 1, wrong_option(version, 1))
    assert state["attempts_left"] == 1 and state["explanation_html"] == ""
    assert EXPLANATION not in client.get(url(invitation, "q", 1)).content.decode()
    assert EXPLANATION not in client.get(url(invitation, "q", 1, "state")).content.decode()
    assert question_row(invitation, 1).explanation_shown_at is None

    closing = answer_json(client, invitation, 1, wrong_option(version, 1))
    assert closing["closed"] and EXPLANATION in closing["explanation_html"]
    # Read the explanation, then try the right option: the question is closed, nothing scores.
    refused = submit(
        client, invitation, 1, correct_option(version, 1), HTTP_ACCEPT="application/json"
    )
    assert refused.status_code == 409
    row = question_row(invitation, 1)
    assert row.score == 0 and not row.correct and row.attempts_used == 2


def test_practice_mode_answer_after_the_explanation_scores_nothing_and_blocks_the_badge(
    client, tenant_a
):
    version = publish_set(tenant_a.organization, feedback="after_wrong_answer")
    invitation = invite(version)
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    wrong = answer_json(client, invitation, 1, wrong_option(version, 1))
    assert EXPLANATION in wrong["explanation_html"] and wrong["attempts_left"] == 1
    assert question_row(invitation, 1).explanation_shown_at is not None

    right = answer_json(client, invitation, 1, correct_option(version, 1))
    assert right["closed"] and right["closed_reason"] == "correct"
    assert right["last_answer"]["correct"] is True  # shown as correct ...
    assert right["last_answer"]["after_explanation"] is True  # ... but it earned nothing
    row = question_row(invitation, 1)
    assert row.correct and row.score == 0 and row.answered_after_explanation
    page = client.get(url(invitation, "q", 1)).content.decode()
    assert "no points" in page

    finish_rest_correctly(client, version, invitation)
    assert invitation.score == 3  # 0 + 1 + 2 of 4
    with tenant_context(invitation.organization_id):
        assert not BadgeAward.objects.filter(invitation=invitation).exists()
        result = invitation_result(invitation, now=timezone.now())
        csv_rows = list(
            csv.DictReader(
                io.StringIO(
                    "".join(
                        results_csv_lines(
                            Invitation.objects.filter(pk=invitation.pk), now=timezone.now()
                        )
                    )
                )
            )
        )
    first = result["challenges"][0]
    assert first["verdict"] == "correct" and first["points"] == 0
    assert first["answered_after_explanation"] is True
    assert result["challenges"][1]["answered_after_explanation"] is False
    assert result["badge_awarded"] is False
    assert (
        csv_rows[0]["q1_after_explanation"] == "yes" and csv_rows[0]["q2_after_explanation"] == "no"
    )
    results_page = client.get(url(invitation, "results")).content.decode()
    assert "No badge this time" in results_page and "after the explanation" in results_page


def test_the_api_result_says_which_answers_came_after_the_explanation(tenant_a):
    version = publish_set(tenant_a.organization, feedback="after_wrong_answer")
    invitation = invite(version)
    client = Client()
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    submit(client, invitation, 1, wrong_option(version, 1))
    assert EXPLANATION in client.get(url(invitation, "q", 1)).content.decode()  # read it
    submit(client, invitation, 1, correct_option(version, 1))
    finish_rest_correctly(client, version, invitation)

    api = client_for(api_key_create(organization=tenant_a.organization, name="HR", actor=None)[1])
    result = api.get(f"/api/v1/invitations/{invitation.public_id}/result/").json()
    first, second, _third = result["challenges"]
    assert first["answered_after_explanation"] is True and first["points"] == 0
    assert second["answered_after_explanation"] is False and second["points"] == 1
    assert result["badge_awarded"] is False


def test_practice_mode_answer_never_shown_the_explanation_still_scores(client, tenant_a):
    """The record is exact: a wrong answer whose explanation no response carried costs nothing."""
    version = publish_set(tenant_a.organization, feedback="after_wrong_answer")
    invitation = invite(version)
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    submit(client, invitation, 1, wrong_option(version, 1))  # a form post: a redirect, no page
    submit(client, invitation, 1, correct_option(version, 1))
    row = question_row(invitation, 1)
    assert row.correct and row.score == 1 and not row.answered_after_explanation
    finish_rest_correctly(client, version, invitation)
    with tenant_context(invitation.organization_id):
        assert BadgeAward.objects.filter(invitation=invitation).exists()
