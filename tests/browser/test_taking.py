"""A candidate takes BatchNorm Mastery (the real demo set) in Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from assessments.models import BadgeAward, Invitation
from tests.browser.candidate import option_label, question_row, start_session

TIMES = ["2:00", "1:30", "1:30", "2:00", "2:30"]


def answer(page, text: str) -> None:
    page.get_by_role("radio", name=text).check()
    page.get_by_role("button", name="Submit").click()


def test_candidate_takes_batchnorm_mastery_and_earns_the_badge(page, screens, demo_invitation):
    page.goto(demo_invitation.candidate_path())
    expect(page.get_by_role("heading", level=1)).to_have_text("BatchNorm Mastery")
    expect(page.get_by_text("Challenge - 5 Problems")).to_be_visible()
    expect(page.get_by_text("Get all challenges correct to earn this badge!")).to_be_visible()
    rows = page.locator(".rules-table tbody tr")
    expect(rows).to_have_count(5)
    for row, time in zip(rows.all(), TIMES, strict=True):
        expect(row.locator("td").nth(3)).to_have_text(time)
    screens("landing")

    start_session(page, demo_invitation)
    for position in range(1, 6):
        expect(page).to_have_url(re.compile(rf"/q/{position}/$"))
        expect(page.locator("#progress-label")).to_have_text(f"Question {position} of 5")
        expect(page.locator(".timer-text")).to_have_text(re.compile(r"\d:\d\d remaining"))
        expect(page.locator("#attempts")).to_have_text("Attempts: 2 left")
        expect(page.locator("#explanation")).to_be_hidden()
        screens(f"question-{position}")
        answer(page, option_label(demo_invitation, position, correct=True))
        if position == 5:
            break  # the last correct answer ends the session: straight to the results
        expect(page.locator(".closed-banner")).to_have_text("✓ Correct")
        expect(page.locator("#answer-form")).to_have_count(0)
        expect(page.locator("#explanation")).to_be_visible()
        screens(f"question-{position}-correct")
        page.get_by_role("link", name="Next question").click()

    expect(page).to_have_url(re.compile(r"/results/$"))
    expect(page.locator(".score")).to_have_text(re.compile(r"Score: 5 of 5\s+— 5 of 5 correct"))
    expect(page.locator(".badge-earned")).to_contain_text("You earned the badge!")
    verdicts = page.locator(".results-table tbody tr td:nth-child(4)")
    expect(verdicts).to_have_text(["✓ Correct"] * 5)
    screens("results")

    page.get_by_role("link", name="See and share your badge").click()
    expect(page).to_have_url(re.compile(r"/badges/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("status")).to_have_text("✓ Valid badge")
    expect(page.locator(".badge-facts")).to_contain_text("Casey Candidate")
    expect(page.locator(".badge-facts")).not_to_contain_text("candidate@demo.example")
    screens("badge")

    invitation = Invitation.all_tenants.get(pk=demo_invitation.pk)
    assert invitation.status == "completed" and invitation.score == 5
    award = BadgeAward.all_tenants.get(invitation=invitation)
    assert page.url.endswith(f"/badges/{award.public_id}/")


def test_wrong_answer_uses_an_attempt_and_the_explanation_waits_until_closed(
    page, screens, demo_invitation
):
    page.goto(demo_invitation.candidate_path())
    start_session(page, demo_invitation)
    expect(page.locator("#attempts")).to_have_text("Attempts: 2 left")
    expect(page.locator("#explanation")).to_be_hidden()
    wrong = option_label(demo_invitation, 1, correct=False)

    answer(page, wrong)
    expect(page.locator("#feedback")).to_have_text("✗ Incorrect")
    expect(page.locator("#attempts")).to_have_text("Attempts: 1 left")
    # The demo's rule (the default): no explanation while an attempt is left.
    explanation = page.locator("#explanation")
    expect(explanation).to_be_hidden()
    expect(page.get_by_text("BatchNorm uses the biased batch variance")).to_have_count(0)
    expect(page.get_by_role("radio", name=wrong)).to_be_checked()  # the selection stays
    expect(page.get_by_role("button", name="Submit")).to_be_enabled()
    screens("after-wrong-answer")
    row = question_row(demo_invitation, 1)
    assert row.attempts_used == 1 and row.correct is False and row.closed_at is None

    answer(page, wrong)
    expect(page.locator(".closed-banner")).to_have_text("✗ Incorrect — no attempts left.")
    expect(page.locator("#answer-form")).to_have_count(0)
    expect(page.get_by_role("link", name="Next question")).to_be_visible()
    expect(explanation).to_be_visible()  # closed: now it may teach
    expect(explanation.get_by_role("heading")).to_have_text("Explanation")
    expect(explanation).to_contain_text("BatchNorm uses the biased batch variance")
    screens("no-attempts-left")
    row = question_row(demo_invitation, 1)
    assert row.attempts_used == 2 and row.closed_reason == "attempts"


def test_hint_reveals_in_place(page, screens, demo_invitation):
    page.goto(demo_invitation.candidate_path())
    start_session(page, demo_invitation)
    hint_text = "BatchNorm normalizes each feature across the batch"
    expect(page.get_by_text(hint_text)).to_have_count(0)
    url = page.url
    screens("before-hint")

    page.get_by_role("button", name="Hint").click()
    hint = page.locator(".hint-text")
    expect(hint).to_contain_text(f"Hint: {hint_text}")
    expect(hint).to_be_focused()
    expect(page.get_by_role("button", name="Hint")).to_have_count(0)
    assert page.url == url  # revealed in place, the answer form untouched
    screens("hint-revealed")
    assert question_row(demo_invitation, 1).hint_revealed_at is not None

    page.reload()
    expect(page.locator(".hint-text")).to_contain_text(hint_text)
