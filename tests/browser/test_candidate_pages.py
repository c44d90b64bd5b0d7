"""Every candidate page at 390 px and 1280 px: nothing scrolls sideways, and what issue 12 found.

BatchNorm Mastery (the demo) end to end at each width: the landing page's casing and icons,
each question (code blocks and code options scroll inside themselves, prose options in the
body font), a wrong answer that keeps its selection, a closed question that still shows its
options with the candidate's pick and the key, the results, the badge and the shared report.
A set of the other formats, a Markdown hint, the out-of-order page and the favicon too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from assessments.reports.share_links import report_share_url
from tests.browser.candidate import (
    WIDTHS,
    fits_the_screen,
    option_label,
    publish_formats_set,
    question_row,
)

KIND_ICONS = {
    "Predict Output": "❓",
    "Conceptual": "🧠",
    "Hyperparameter": "⚙️",
    "Debug": "🔧",
    "Model Choice": "🧩",
}


def start_at(page, invitation, width: int) -> None:
    """Open the invitation's landing page in a window ``width`` px wide and start."""
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(invitation.candidate_path())
    page.get_by_role("button", name="Start").click()


def font_of(locator) -> str:
    return locator.evaluate("(el) => getComputedStyle(el).fontFamily")


@pytest.mark.parametrize("width", WIDTHS)
def test_candidate_pages_fit_the_screen(page, screens, demo_invitation, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(demo_invitation.candidate_path())
    count = page.locator(".set-count")
    expect(count).to_have_text("Challenge - 5 Problems")
    assert count.evaluate("(el) => getComputedStyle(el).textTransform") == "none"
    kinds = page.locator(".rules-table tbody td:nth-child(2)")
    expect(kinds).to_have_text([f"{icon} {kind}" for kind, icon in KIND_ICONS.items()])
    expect(page.locator(".take-header .set-name")).to_have_text("BatchNorm Mastery")
    fits_the_screen(page)
    screens("landing")

    page.get_by_role("button", name="Start").click()
    # 1: a wrong answer keeps the selection; after the second, the closed question shows
    # the options with the candidate's pick and the key.
    wrong = option_label(demo_invitation, 1, correct=False)
    page.get_by_role("radio", name=wrong).check()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#feedback .verdict")).to_have_text("✗ Incorrect")
    expect(page.get_by_role("radio", name=wrong)).to_be_checked()
    expect(page.locator("#explanation")).to_be_hidden()  # the default rule: not before closed
    code_option = page.locator(".option-code .option-text").first
    assert "monospace" in font_of(code_option)
    assert code_option.evaluate("(el) => getComputedStyle(el).whiteSpace") == "pre"
    expect(page.locator(".take-header .set-name")).to_have_text("BatchNorm Mastery")
    fits_the_screen(page)
    screens("question-1-wrong-selection-kept")
    page.get_by_role("button", name="Submit").click()  # the same pick again: closed
    expect(page.locator(".closed-banner")).to_have_text("✗ Incorrect — no attempts left.")
    closed = page.locator("fieldset.options-closed")
    expect(closed.locator(".option")).to_have_count(4)
    expect(closed.locator(".option.picked")).to_contain_text("Your answer")
    expect(closed.locator(".option.correct")).to_contain_text("✓ Correct answer")
    expect(closed.locator("input:checked")).to_have_count(1)
    expect(page.locator("#explanation")).to_be_visible()
    fits_the_screen(page)
    screens("question-1-closed")
    page.get_by_role("link", name="Next question").click()

    for position in range(2, 6):
        expect(page).to_have_url(re.compile(rf"/q/{position}/$"))
        expect(page.locator(".take-header .set-name")).to_have_text("BatchNorm Mastery")
        expect(page.locator(".question .kind")).to_contain_text(
            list(KIND_ICONS.values())[position - 1]
        )
        if position in (2, 3):  # prose options read in the body font
            assert "monospace" not in font_of(page.locator(".option-text").first)
        fits_the_screen(page)
        screens(f"question-{position}")
        page.get_by_role(
            "radio", name=option_label(demo_invitation, position, correct=True)
        ).check()
        page.get_by_role("button", name="Submit").click()
        if position < 5:
            closed = page.locator("fieldset.options-closed .option.correct.picked")
            expect(closed).to_contain_text("Your answer")
            expect(closed).to_contain_text("✓ Correct answer")
            fits_the_screen(page)
            page.get_by_role("link", name="Next question").click()

    expect(page).to_have_url(re.compile(r"/results/$"))
    expect(page.locator(".take-header .set-name")).to_have_text("BatchNorm Mastery")
    expect(page.locator(".badge-missed")).to_be_visible()  # question 1 was missed
    fits_the_screen(page)
    # Every column in sight without scrolling a box: at 390 px each row reflows to a card.
    for label in ("Verdict", "Points", "Time used", "Attempts", "Hint"):
        box = page.locator(f'.results-table tbody tr >> nth=0 >> td[data-label="{label}"]')
        right = box.evaluate("(el) => el.getBoundingClientRect().right")
        assert right <= width, (label, right)
    screens("results")

    demo_invitation.refresh_from_db()
    page.goto(urlsplit(report_share_url(demo_invitation, now=timezone.now())[0]).path)
    expect(page.locator(".report-table tbody tr").first).to_contain_text("Incorrect")
    fits_the_screen(page)
    screens("report")


@pytest.mark.parametrize("width", WIDTHS)
def test_badge_page_fits_the_screen(page, screens, demo_invitation, width):
    start_at(page, demo_invitation, width)
    for position in range(1, 6):
        page.get_by_role(
            "radio", name=option_label(demo_invitation, position, correct=True)
        ).check()
        page.get_by_role("button", name="Submit").click()
        if position < 5:
            page.get_by_role("link", name="Next question").click()
    page.get_by_role("link", name="See and share your badge").click()
    expect(page.get_by_role("status")).to_have_text("✓ Valid badge")
    fits_the_screen(page)
    screens("badge")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_answer_format_fits_and_hints_are_markdown(page, screens, width, transactional_db):
    invitation = publish_formats_set()
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(invitation.candidate_path())
    fits_the_screen(page)
    page.get_by_role("button", name="Start").click()
    page.goto(f"/t/{invitation.token}/q/1/")
    expect(page.get_by_role("checkbox")).to_have_count(3)
    page.get_by_role("button", name="Hint").click()
    hint = page.locator(".hint-text")
    expect(hint.locator("strong", has_text="biased")).to_have_count(1)  # rendered, not raw
    expect(hint).not_to_contain_text("**")
    fits_the_screen(page)
    screens("multiple-choice-hint")
    page.reload()
    expect(page.locator(".hint-text strong", has_text="biased")).to_have_count(1)

    page.goto(f"/t/{invitation.token}/q/2/")
    expect(page.locator(".question .kind")).to_contain_text("⚙️")
    page.get_by_label("Your answer").fill("0.2")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#feedback .verdict")).to_have_text("✗ Incorrect")
    expect(page.get_by_label("Your answer")).to_have_value("0.2")  # kept as the candidate left it
    fits_the_screen(page)
    screens("text")

    page.goto(f"/t/{invitation.token}/q/3/")
    code = page.locator("#answer-code")
    expect(code).to_be_visible()
    fits_the_screen(page)
    screens("code")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_later_question_offers_the_current_one(page, screens, demo_invitation, width):
    start_at(page, demo_invitation, width)
    expect(page).to_have_url(re.compile(r"/q/1/$"))
    page.goto(f"/t/{demo_invitation.token}/q/3/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Answer the questions in order.")
    expect(page.locator(".take-header .set-name")).to_have_text("BatchNorm Mastery")
    fits_the_screen(page)
    screens("out-of-order")
    page.get_by_role("link", name="Go to question 1").click()
    expect(page).to_have_url(re.compile(r"/q/1/$"))
    assert question_row(demo_invitation, 3).opened_at is None


def test_favicon_is_served(page, transactional_db):
    response = page.request.get("/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
