"""A code answer graded by a worker: its verdict appears on the page without a reload.

The page asks the state URL with ``?poll=1`` from 100 ms on (``static/js/take.js``); while
the job runs the cache answers, then the full state brings the verdict, shown in place. The
bound below is generous on purpose (a busy machine's worker); ``make bench-load`` times it.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.candidates.conftest import invite
from tests.candidates.test_worker_path import _code_set
from tests.grading.test_code_answers import CORRECT, NO_EPS


def test_code_answer_verdict_appears_on_the_page(page, screens, tenant_a, celery_worker):
    invitation = invite(_code_set(tenant_a.organization))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/state/?poll=1" in r.url else None)
    page.goto(f"/t/{invitation.token}/")
    page.get_by_role("button", name="Start").click()
    editor = page.locator("#answer-code")

    # A wrong answer first: its verdict comes back and the form opens again.
    editor.fill(NO_EPS)
    page.get_by_role("button", name="Submit").click()
    feedback = page.locator("#feedback")
    expect(feedback.locator(".verdict.incorrect")).to_be_visible(timeout=30_000)
    expect(feedback.locator(".test-results li").first).to_be_visible()
    expect(page.get_by_role("button", name="Submit")).to_be_enabled()
    screens("wrong-verdict")

    editor.fill(CORRECT)
    clicked = time.monotonic()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".verdict.correct").first).to_be_visible(timeout=30_000)
    seconds = time.monotonic() - clicked
    screens("correct-verdict")
    # The way on: the server decides where "Next" leads (here, the results).
    expect(
        page.get_by_role("link", name=re.compile("Next question|See your results"))
    ).to_be_visible()
    # Said for the record (not asserted: a loaded machine's worker may take longer).
    print(f"click to verdict in the browser: {seconds * 1000:.0f} ms, {len(polls)} polls in all")
