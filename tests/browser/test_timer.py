"""The countdown in Chromium: the server's deadline closes a question, screen readers hear it."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.browser.candidate import publish_timed_set, question_row, set_time_left

MINIMUM_TIME_LIMIT = 10


def test_question_closes_when_its_time_runs_out(page, screens, transactional_db):
    invitation = publish_timed_set([MINIMUM_TIME_LIMIT, 60])
    page.goto(invitation.candidate_path())
    page.get_by_role("button", name="Start").click()
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"0:(10|0\d) remaining"))
    announce = page.locator("#timer-announce")
    expect(announce).to_have_text("Ten seconds remaining.")
    screens("counting-down")

    expect(announce).to_have_text("Time is up.", timeout=MINIMUM_TIME_LIMIT * 1000 + 2000)
    expect(timer).to_have_text(re.compile(r"0:00 remaining$"))
    expect(page.get_by_role("button", name="Submit")).to_be_disabled()
    expect(page.get_by_role("radio").first).to_be_disabled()
    screens("time-up")

    # The page reloads once the server's grace period is over; the server has closed it.
    banner = page.locator(".closed-banner")
    expect(banner).to_have_text("⏱ Time is up for this question.", timeout=8000)
    expect(page.get_by_role("timer")).to_have_count(0)
    expect(page.locator("#answer-form")).to_have_count(0)
    screens("closed")
    row = question_row(invitation, 1)
    assert row.closed_reason == "time" and row.attempts_used == 0 and not row.correct

    page.get_by_role("link", name="Next question").click()
    expect(page).to_have_url(re.compile(r"/q/2/$"))
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"[01]:\d\d remaining"))


def test_timer_announces_the_last_minute_and_ten_seconds(page, screens, transactional_db):
    invitation = publish_timed_set([90])
    page.goto(invitation.candidate_path())
    page.get_by_role("button", name="Start").click()
    announce = page.locator("#timer-announce")
    expect(announce).to_have_attribute("aria-live", "assertive")
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"1:(30|2\d) remaining"))
    # The visible clock ticks every second; it must not talk over the screen reader.
    expect(page.get_by_role("timer")).to_have_attribute("aria-live", "off")
    expect(announce).to_have_text("")

    set_time_left(invitation, 1, 64)
    page.reload()
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"1:0[1-4] remaining"))
    expect(announce).to_have_text("")
    started = time.monotonic()
    expect(announce).to_have_text("One minute remaining.", timeout=6000)
    assert time.monotonic() - started > 1  # said at one minute, not when the page loaded
    screens("one-minute")

    set_time_left(invitation, 1, 14)
    page.reload()
    expect(announce).to_have_text("")  # a threshold passed before the reload is not said late
    started = time.monotonic()
    expect(announce).to_have_text("Ten seconds remaining.", timeout=6000)
    assert time.monotonic() - started > 1
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"0:(10|0\d) remaining"))
    screens("ten-seconds")
