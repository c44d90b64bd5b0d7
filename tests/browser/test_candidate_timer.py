"""The timer stays in view, warns in words and icons (not colour alone), and says "Time is up"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.candidate import WIDTHS, fits_the_screen, publish_timed_set, set_time_left

MINIMUM_TIME_LIMIT = 10


@pytest.mark.parametrize("width", WIDTHS)
def test_timer_is_sticky_warns_and_says_time_is_up(page, screens, width, transactional_db):
    invitation = publish_timed_set([90, MINIMUM_TIME_LIMIT])
    page.set_viewport_size({"width": width, "height": 500})
    page.goto(invitation.candidate_path())
    page.get_by_role("button", name="Start").click()
    bar = page.locator("#timer-bar")
    expect(bar).to_have_class(re.compile(r"\btimer-normal\b"))
    expect(page.locator("#timer-state")).to_have_text("")
    # Scrolled to the bottom of the question, the timer is still on screen.
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 0
    box = bar.bounding_box()
    assert box is not None and 0 <= box["y"] <= 5, box
    screens("scrolled-timer-in-view")

    set_time_left(invitation, 1, 25)
    page.reload()
    expect(bar).to_have_class(re.compile(r"\btimer-warning\b"))
    expect(page.locator("#timer-state")).to_have_text("Under 30 seconds")
    expect(page.locator(".timer-icon")).to_have_text("⚠️")
    fits_the_screen(page)
    screens("warning")

    set_time_left(invitation, 1, 8)
    page.reload()
    expect(bar).to_have_class(re.compile(r"\btimer-danger\b"))
    expect(page.locator("#timer-state")).to_have_text("Under 10 seconds")
    expect(page.locator(".timer-icon")).to_have_text("⏰")
    screens("danger")

    # At 0:00 the page says it, on screen and to screen readers, before moving on.
    expect(page.locator("#timer-state")).to_have_text("Time is up", timeout=10_000)
    expect(page.locator("#timer-state")).to_be_visible()
    expect(bar).to_have_class(re.compile(r"\btimer-up\b"))
    expect(page.locator("#timer-announce")).to_have_text("Time is up.")
    screens("time-up")
    expect(page.locator(".closed-banner")).to_have_text(
        "⏱ Time is up for this question.", timeout=8000
    )
    screens("closed")

    # The last question runs out too: the results say time was up (the server says it, so
    # it holds without the script as well).
    page.get_by_role("link", name="Next question").click()
    expect(page.locator("#timer-state")).to_have_text("Time is up", timeout=15_000)
    expect(page).to_have_url(re.compile(r"/results/$"), timeout=10_000)
    notice = page.locator(".time-up-notice")
    expect(notice).to_contain_text("Time is up.")
    expect(notice).to_contain_text("Questions 1, 2 closed when their time ran out.")
    expect(page.locator(".results-table tbody tr td:nth-child(4)")).to_have_text(
        ["✗ Time ran out"] * 2
    )
    fits_the_screen(page)
    screens("results")
