"""The question pages with the keyboard alone, labelled controls, and reduced motion."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assessments.models import Invitation
from tests.browser.candidate import option_label, question_row
from tests.candidates.conftest import HINT, invite, publish_set
from tests.factories import OrganizationFactory

# Every control a candidate can reach, and its accessible name as the browser computes it.
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll(
    "input:not([type=hidden]), textarea, select, button")]
  .filter((el) => !el.labels?.length && !el.getAttribute("aria-label")
    && !el.getAttribute("aria-labelledby") && !el.textContent.trim())
  .map((el) => el.outerHTML)"""
# What moves on the page: running animations, and elements with a transition or animation.
MOVING = """() => [
  ...document.getAnimations().map((a) => "animation " + a.id),
  ...[...document.querySelectorAll("*")].filter((el) => {
    const style = getComputedStyle(el);
    const long = (value) => value.split(",").some((d) => parseFloat(d) > 0);
    return long(style.transitionDuration) || long(style.animationDuration);
  }).map((el) => el.tagName + "." + el.className),
  ...(getComputedStyle(document.documentElement).scrollBehavior === "smooth" ? ["smooth"] : []),
]"""
FOCUS_RING = """() => {
  const el = document.activeElement;
  const ring = el.matches("input[type=radio], input[type=checkbox]") ? el.closest("label") : el;
  const style = getComputedStyle(ring);
  return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
}"""


@pytest.fixture
def context_options():
    return {"reduced_motion": "reduce"}


def tab_to(page, target, *, limit: int = 15, backwards: bool = False) -> int:
    """Press Tab until ``target`` (or a control inside it) has the focus; fail if it cannot."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if target.evaluate("(el) => el.contains(document.activeElement)"):
            return presses
    raise AssertionError(f"{target} is not reachable with Tab in {limit} presses")


def choose_with_arrows(page, label: str) -> None:
    """From the focused radio group, move the selection with the arrow keys to ``label``."""
    target = page.get_by_role("radio", name=label)
    for _ in range(page.get_by_role("radio").count()):
        if target.is_checked():
            return
        page.keyboard.press("ArrowDown")
    expect(target).to_be_checked()


def check_labels_and_focus_ring(page) -> None:
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(FOCUS_RING), "the focused control shows no focus ring"


def test_keyboard_alone_takes_the_test(page, screens, transactional_db):
    # The default explanation rule: the wrong answer below shows no explanation, so the right
    # one after it still scores (tests/candidates/test_explanation_rule.py has practice mode).
    invitation = invite(publish_set(OrganizationFactory(), feedback="after_close"))
    page.goto(invitation.candidate_path())
    skip = page.get_by_role("link", name="Skip to content")
    assert tab_to(page, skip) == 1  # the first stop, and visible when focused
    expect(skip).to_be_in_viewport()
    tab_to(page, page.get_by_role("button", name="Start"))
    page.keyboard.press("Enter")

    # 1: the skip link leads into the question; arrows choose, Enter on Submit answers.
    expect(page.locator("#progress-label")).to_have_text("Question 1 of 3")
    assert tab_to(page, skip) == 1
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("radio").first).to_be_focused()
    check_labels_and_focus_ring(page)
    choose_with_arrows(page, option_label(invitation, 1, correct=False))
    screens("question-1-chosen-with-arrows")
    tab_to(page, page.get_by_role("button", name="Submit"))
    check_labels_and_focus_ring(page)
    page.keyboard.press("Enter")
    # The verdict takes the focus, so a screen reader reads it after the page reloads.
    verdict = page.locator("#feedback .verdict")
    expect(verdict).to_have_text("✗ Incorrect")
    expect(verdict).to_be_focused()
    expect(page.locator("#attempts")).to_have_text("Attempts: 1 left")
    screens("question-1-wrong")
    tab_to(page, page.locator("fieldset.options"), backwards=True)
    choose_with_arrows(page, option_label(invitation, 1, correct=True))
    tab_to(page, page.get_by_role("button", name="Submit"))
    page.keyboard.press("Enter")
    banner = page.locator(".closed-banner .verdict")
    expect(banner).to_have_text("✓ Correct")
    expect(banner).to_be_focused()
    next_link = page.get_by_role("link", name="Next question")
    tab_to(page, next_link)
    check_labels_and_focus_ring(page)
    page.keyboard.press("Enter")

    # 2: the hint opens from the keyboard and takes the focus.
    expect(page.locator("#progress-label")).to_have_text("Question 2 of 3")
    tab_to(page, page.get_by_role("button", name="Hint"))
    check_labels_and_focus_ring(page)
    page.keyboard.press("Enter")
    hint = page.locator(".hint-text")
    expect(hint).to_contain_text(HINT)
    expect(hint).to_be_focused()
    screens("question-2-hint")
    tab_to(page, page.locator("fieldset.options"), backwards=True)
    choose_with_arrows(page, option_label(invitation, 2, correct=True))
    tab_to(page, page.get_by_role("button", name="Submit"))
    page.keyboard.press("Enter")
    expect(page.locator(".closed-banner .verdict")).to_be_focused()
    tab_to(page, page.get_by_role("link", name="Next question"))
    page.keyboard.press("Enter")

    # 3: a labelled text box.
    expect(page.locator("#progress-label")).to_have_text("Question 3 of 3")
    box = page.get_by_label("Your answer")
    tab_to(page, box)
    check_labels_and_focus_ring(page)
    page.keyboard.type("running statistics")
    tab_to(page, page.get_by_role("button", name="Submit"))
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/results/$"))
    expect(page.locator(".score")).to_contain_text("Score: 4 of 4")
    tab_to(page, page.get_by_role("link", name="See and share your badge"))
    screens("results")
    invitation = Invitation.all_tenants.get(pk=invitation.pk)
    assert invitation.status == "completed"
    assert question_row(invitation, 1).attempts_used == 2
    assert question_row(invitation, 2).hint_revealed_at is not None


def test_nothing_moves_when_reduced_motion_is_asked_for(page, transactional_db):
    invitation = invite(publish_set(OrganizationFactory()))
    page.goto(invitation.candidate_path())
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")
    assert page.evaluate(MOVING) == []
    page.get_by_role("button", name="Start").click()
    page.get_by_role("radio", name=option_label(invitation, 1, correct=False)).check()
    page.get_by_role("button", name="Hint").click()
    expect(page.locator(".hint-text")).to_be_visible()
    assert page.evaluate(MOVING) == []
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#feedback .verdict")).to_be_visible()
    assert page.evaluate(MOVING) == []
