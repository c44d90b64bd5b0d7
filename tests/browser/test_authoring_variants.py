"""An author previews the demo's variants side by side, at 1280 px and at 390 px.

Screenshots go to ``var/test-artifacts/browser/<scenario>/``.
"""

from __future__ import annotations

import re

import pytest

from assessments.models import ChallengeSet
from tests.browser.test_authoring_set_page import WIDTHS

DEMO_AUTHOR, DEMO_PASSWORD = "author@demo.example", "demo-password-123"


@pytest.mark.parametrize("width", WIDTHS)
def test_author_previews_the_demos_variants_side_by_side(page, screens, demo_invitation, width):
    challenge_set = ChallengeSet.all_tenants.get(pk=demo_invitation.version.challenge_set_id)
    page.set_viewport_size(WIDTHS[width])
    page.goto("/admin/login/")
    page.fill("#id_username", DEMO_AUTHOR)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto(f"/admin/assessments/challengeset/{challenge_set.pk}/change/")
    page.click("a:text('Preview variants')")
    page.wait_for_url(re.compile(r"/variants/$"))
    assert "Kept with published version 1" in page.inner_text("#published-title")
    grids = page.locator(".variants-published .variant-grid")
    assert grids.count() == 2  # the demo's two variable questions
    for index in range(2):
        cards = grids.nth(index).locator(".variant-card")
        assert cards.count() == 6
        codes = {cards.nth(n).locator(".variant-code").inner_text() for n in range(6)}
        assert len(codes) > 1 and not any("{{" in code for code in codes)
        for n in range(6):
            card = cards.nth(n)
            assert card.locator("li.is-key").count() == 1  # the key, marked
            assert card.locator("li:not(.is-key)").count() == 3  # one per misconception
            assert card.locator(".variant-executed").inner_text().strip()
    # Side by side where there is room, one column on a phone; nothing wider than the screen.
    boxes = [grids.nth(0).locator(".variant-card").nth(n).bounding_box() for n in range(2)]
    same_row = abs(boxes[0]["y"] - boxes[1]["y"]) < 1
    assert same_row == (width == "1280")
    viewport = WIDTHS[width]["width"]
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('.variant-card')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= viewport
    screens("variants")
