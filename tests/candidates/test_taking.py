"""Taking a test through the candidate's pages: the server keeps the clock and the rules."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client

from accounts.tenancy import tenant_context
from assessments.models import Answer, BadgeAward, IntegritySignal, Invitation, QuestionState
from tests.candidates.conftest import (
    EXPLANATION,
    HINT,
    correct_option,
    invite,
    publish_set,
    wrong_option,
)

pytestmark = pytest.mark.django_db


def url(invitation, *parts) -> str:
    return "/t/" + "/".join([invitation.token, *map(str, parts)]) + "/"


def submit(client, invitation, position, answer, submission_id=None, **extra):
    data = {"answer": answer, "submission_id": str(submission_id or uuid.uuid4())}
    return client.post(url(invitation, "q", position, "answer"), data, **extra)


def question_row(invitation, position) -> QuestionState:
    with tenant_context(invitation.organization_id):
        return QuestionState.objects.get(invitation=invitation, position=position)


def shift_clock(invitation, position, seconds):
    """Move a question's opening and deadline into the past, as if time had passed."""
    row = question_row(invitation, position)
    delta = timedelta(seconds=seconds)
    QuestionState.all_tenants.filter(pk=row.pk).update(
        opened_at=row.opened_at - delta, deadline=row.deadline - delta
    )


def start(client, invitation):
    response = client.post(url(invitation, "start"))
    assert response.status_code == 302
    return response


def test_landing_shows_the_set_and_its_rules(client, version, invitation):
    response = client.get(url(invitation))
    assert response.status_code == 200
    page = response.content.decode()
    assert version.title in page
    assert "Challenge - 3 Problems" in page
    assert "Test your skills under time pressure!" in page
    assert "Get all challenges correct to earn this badge!" in page
    assert "1:00" in page and "2:00" in page  # each question's time
    assert 'action="/t/' in page and "Start" in page


def test_unknown_cancelled_and_expired_links_are_refused_with_a_reason(client, version):
    assert client.get("/t/not-a-token/").status_code == 404
    cancelled = invite(version, email="c@example.com")
    Invitation.all_tenants.filter(pk=cancelled.pk).update(status="cancelled")
    response = client.get(url(cancelled))
    assert response.status_code == 410 and b"cancelled" in response.content
    expired = invite(version, email="e@example.com")
    Invitation.all_tenants.filter(pk=expired.pk).update(
        expires_at=expired.expires_at - timedelta(days=30)
    )
    assert client.get(url(expired)).status_code == 410
    assert client.post(url(expired, "start")).status_code == 410
    expired.refresh_from_db()
    assert expired.status == "expired"


def test_deadline_is_fixed_on_first_open_and_survives_reloads(client, invitation):
    start(client, invitation)
    first = client.get(url(invitation, "q", 1))
    assert first.status_code == 200
    assert b"1:00 remaining" in first.content or b"0:59 remaining" in first.content
    deadline = question_row(invitation, 1).deadline
    shift_clock(invitation, 1, 25)
    again = client.get(url(invitation, "q", 1))
    assert b"0:35 remaining" in again.content or b"0:34 remaining" in again.content
    assert question_row(invitation, 1).deadline == deadline - timedelta(seconds=25)


def test_time_multiplier_scales_every_timer(client, version):
    invitation = invite(version, email="slow@example.com", time_multiplier="1.5")
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    row = question_row(invitation, 1)
    assert row.time_limit == 90
    assert (row.deadline - row.opened_at).total_seconds() == 90


def test_sequential_sets_open_questions_in_order(client, version, invitation):
    start(client, invitation)
    response = client.get(url(invitation, "q", 2))
    assert response.status_code == 403 and b"in order" in response.content
    assert question_row(invitation, 2).opened_at is None


def test_wrong_answer_uses_an_attempt_and_shows_the_explanation(client, version, invitation):
    start(client, invitation)
    page = client.get(url(invitation, "q", 1)).content.decode()
    assert "Attempts: 2 left" in page
    assert EXPLANATION not in page
    response = submit(client, invitation, 1, wrong_option(version, 1))
    assert response.status_code == 302
    page = client.get(url(invitation, "q", 1)).content.decode()
    assert "Incorrect" in page and "Attempts: 1 left" in page
    assert EXPLANATION in page
    submit(client, invitation, 1, wrong_option(version, 1))
    row = question_row(invitation, 1)
    assert row.closed_reason == "attempts" and row.attempts_used == 2
    assert client.get(url(invitation, "q", 2)).status_code == 200  # the next one opens


def test_an_extra_attempt_is_refused(client, version, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    for _ in range(2):
        submit(client, invitation, 1, wrong_option(version, 1))
    response = submit(client, invitation, 1, correct_option(version, 1))
    assert response.status_code == 409 and b"closed" in response.content
    row = question_row(invitation, 1)
    assert row.attempts_used == 2 and row.correct is False
    with tenant_context(invitation.organization_id):
        assert Answer.objects.filter(question=row).count() == 2


def test_double_submit_counts_once(client, version, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    nonce = uuid.uuid4()
    for _ in range(2):
        assert submit(client, invitation, 1, wrong_option(version, 1), nonce).status_code == 302
    assert question_row(invitation, 1).attempts_used == 1


def test_late_answer_is_refused_and_recorded(client, version, invitation, settings):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    shift_clock(invitation, 1, 60 + settings.ANSWER_GRACE_SECONDS + 1)
    response = submit(
        client, invitation, 1, correct_option(version, 1), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 201
    assert response.json()["last_answer"]["status"] == "late"
    row = question_row(invitation, 1)
    assert row.closed_reason == "time" and row.attempts_used == 0 and not row.correct
    with tenant_context(invitation.organization_id):
        assert Answer.objects.get(question=row).status == "late"
        late = IntegritySignal.objects.get(invitation=invitation, kind="late_answer")
        assert late.detail["late_by_seconds"] > settings.ANSWER_GRACE_SECONDS


def test_answer_within_the_grace_period_is_accepted(client, version, invitation, settings):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    shift_clock(invitation, 1, 60 + settings.ANSWER_GRACE_SECONDS - 1)
    submit(client, invitation, 1, correct_option(version, 1))
    assert question_row(invitation, 1).closed_reason == "correct"


def test_unreadable_answer_uses_no_attempt(client, version, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    response = submit(client, invitation, 1, "not-an-option", HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "not part of this question" in response.json()["error"]
    response = client.post(url(invitation, "q", 1, "answer"), {"submission_id": uuid.uuid4()})
    assert response.status_code == 302  # back to the question, which says why
    assert b"Choose an option" in client.get(response["Location"]).content
    assert question_row(invitation, 1).attempts_used == 0


def test_hint_reveal_is_recorded_once(client, invitation):
    start(client, invitation)
    page = client.get(url(invitation, "q", 1)).content.decode()
    assert HINT not in page
    for _ in range(2):
        response = client.post(url(invitation, "q", 1, "hint"), HTTP_ACCEPT="application/json")
        # Markdown, rendered and sanitized like the prompt.
        assert response.json() == {"hint": HINT, "hint_html": f"<p>{HINT}</p>"}
    assert HINT in client.get(url(invitation, "q", 1)).content.decode()
    with tenant_context(invitation.organization_id):
        assert IntegritySignal.objects.filter(invitation=invitation, kind="hint").count() == 1
    assert question_row(invitation, 1).hint_revealed_at is not None


def test_integrity_signals_from_the_page_and_the_network(client, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    for kind in ("focus_lost", "paste"):
        response = client.post(
            url(invitation, "signal"),
            {"kind": kind, "position": 1, "seconds": 4.2},
            content_type="application/json",
        )
        assert response.status_code == 202
    bad = client.post(url(invitation, "signal"), {"kind": "hint"}, content_type="application/json")
    assert bad.status_code == 400
    other = Client(REMOTE_ADDR="10.9.8.7", HTTP_USER_AGENT="OtherBrowser/1.0")
    other.get(url(invitation, "q", 1))
    other.get(url(invitation, "q", 1))
    with tenant_context(invitation.organization_id):
        kinds = sorted(
            IntegritySignal.objects.filter(invitation=invitation).values_list("kind", flat=True)
        )
    assert kinds == ["focus_lost", "ip_changed", "paste", "user_agent_changed"]


def test_all_correct_completes_with_score_and_badge(client, version, invitation):
    start(client, invitation)
    for position in (1, 2):
        client.get(url(invitation, "q", position))
        submit(client, invitation, position, correct_option(version, position))
    client.get(url(invitation, "q", 3))
    submit(client, invitation, 3, "Running Statistics.")
    invitation.refresh_from_db()
    assert invitation.status == "completed"
    assert invitation.score == 4 and invitation.max_score == 4
    results = client.get(url(invitation, "results")).content.decode()
    assert "Score: 4 of 4" in results and "You earned the badge!" in results
    award = BadgeAward.all_tenants.get(invitation=invitation)
    assert str(award.public_id) in results
    badge_page = client.get(f"/badges/{award.public_id}/").content.decode()
    assert "Valid badge" in badge_page and "Ada Lovelace" in badge_page
    assert invitation.email not in badge_page
    # A finished session accepts nothing more, but the repeat of the last answer (a double
    # click whose first copy ended the session) gets that answer back.
    assert submit(client, invitation, 3, "x").status_code == 410
    with tenant_context(invitation.organization_id):
        last = Answer.objects.get(question__invitation=invitation, question__position=3)
    repeat = submit(
        client, invitation, 3, "Running Statistics.", last.submission_id,
        HTTP_ACCEPT="application/json",
    )  # fmt: skip
    assert repeat.status_code == 200 and repeat.json()["last_answer"]["correct"] is True


def test_a_wrong_answer_means_no_badge(client, version, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    submit(client, invitation, 1, wrong_option(version, 1))
    submit(client, invitation, 1, wrong_option(version, 1))
    client.get(url(invitation, "q", 2))
    submit(client, invitation, 2, wrong_option(version, 2))
    submit(client, invitation, 2, correct_option(version, 2))  # right on the second try counts
    client.get(url(invitation, "q", 3))
    submit(client, invitation, 3, "running statistics")
    invitation.refresh_from_db()
    assert invitation.status == "completed" and invitation.score == 3
    results = client.get(url(invitation, "results")).content.decode()
    assert "Score: 3 of 4" in results and "No badge this time" in results
    assert not BadgeAward.all_tenants.filter(invitation=invitation).exists()


def test_time_up_closes_the_question_and_the_next_opens(client, version, invitation, settings):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    shift_clock(invitation, 1, 60 + settings.ANSWER_GRACE_SECONDS + 1)
    response = client.get(url(invitation, "current"))
    assert response.status_code == 302 and response["Location"].endswith("/q/2/")
    assert question_row(invitation, 1).closed_reason == "time"
    page = client.get(url(invitation, "q", 1)).content.decode()
    assert "Time is up for this question." in page


def test_overall_time_limit_completes_the_session(client, tenant_a, settings):
    version = publish_set(tenant_a.organization, time_limit=300)
    invitation = invite(version)
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    invitation.refresh_from_db()
    assert (invitation.deadline - invitation.started_at).total_seconds() == 300
    Invitation.all_tenants.filter(pk=invitation.pk).update(
        deadline=invitation.deadline - timedelta(seconds=300 + settings.ANSWER_GRACE_SECONDS + 1)
    )
    response = client.get(url(invitation, "q", 1))
    assert response.status_code == 302 and response["Location"].endswith("/results/")
    invitation.refresh_from_db()
    assert invitation.status == "completed"


def test_free_navigation_allows_any_order(client, tenant_a):
    version = publish_set(tenant_a.organization, navigation="free")
    invitation = invite(version)
    start(client, invitation)
    page = client.get(url(invitation, "q", 3)).content.decode()
    assert "Question 3 of 3" in page and "Question 1" in page
    assert question_row(invitation, 1).opened_at is None


def test_explanation_only_after_close_when_the_set_says_so(client, tenant_a):
    version = publish_set(tenant_a.organization, feedback="after_close")
    invitation = invite(version)
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    submit(client, invitation, 1, wrong_option(version, 1))
    assert EXPLANATION not in client.get(url(invitation, "q", 1)).content.decode()
    submit(client, invitation, 1, wrong_option(version, 1))
    assert EXPLANATION in client.get(url(invitation, "q", 1)).content.decode()


def test_options_are_shuffled_per_candidate_with_a_stable_order(client, version):
    orders = set()
    for n in range(8):
        invitation = invite(version, email=f"c{n}@example.com")
        start(client, invitation)
        first = client.get(url(invitation, "q", 1)).content.decode()
        again = client.get(url(invitation, "q", 1)).content.decode()
        order = [o for o in ("It normalizes", "It speeds up", "It replaces") if o in first]
        positions = tuple(sorted(order, key=first.index))
        assert positions == tuple(sorted(order, key=again.index))
        orders.add(positions)
    assert len(orders) > 1


def test_terminal_states_never_change(client, version, invitation):
    from assessments.invitations.services import invitation_cancel

    start(client, invitation)
    with tenant_context(invitation.organization_id):
        assert invitation_cancel(invitation=invitation, actor=None)
        invitation.refresh_from_db()
        assert invitation.status == "cancelled"
        assert not invitation_cancel(invitation=invitation, actor=None)
    assert client.get(url(invitation, "q", 1)).status_code == 410
    assert client.post(url(invitation, "start")).status_code == 410
    invitation.refresh_from_db()
    assert invitation.status == "cancelled"
