"""An author clicks every button of a challenge set's page, at 1280 px and at 390 px.

Each click is checked where it lands: in the database and on the page. Screenshots go to
``var/test-artifacts/browser/<scenario>/``.
"""

from __future__ import annotations

import re

import pytest

from accounts.models import AuditEvent
from accounts.tenancy import tenant_context
from assessments.models import Challenge, ChallengeSet, ChallengeSetVersion, KeyCheck
from tests.assessments.test_admin_authoring import NO_CODE
from tests.factories import PASSWORD

SEP = "\u203a"  # the admin breadcrumbs separator
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def author_set(tenant_a):
    """Organization A's author and the imported draft "Norms" (nothing to run: no sandbox)."""
    from assessments.authoring.services import challenge_set_import

    with tenant_context(tenant_a.organization):
        challenge_set, _ = challenge_set_import(
            organization=tenant_a.organization, text=NO_CODE, actor=tenant_a.author
        )
    return tenant_a, challenge_set


def sign_in(page, user) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def reload_set(organization, pk: int) -> ChallengeSet:
    with tenant_context(organization):
        return ChallengeSet.objects.get(pk=pk)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_button_on_the_set_page_does_what_it_says(page, screens, author_set, width):
    tenant, challenge_set = author_set
    organization = tenant.organization
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, tenant.author)
    set_url = f"/admin/assessments/challengeset/{challenge_set.pk}/change/"
    page.goto(set_url)
    breadcrumbs = " ".join(page.inner_text(".breadcrumbs").split())
    assert breadcrumbs == f"Home {SEP} Challenge sets {SEP} Norms"
    screens("set-page")

    # Verify keys: a check is recorded and the page says what ran and what had nothing to run.
    page.click("button:text('Verify keys')")
    page.wait_for_url(re.compile(r"/key-checks/"))
    with tenant_context(organization):
        check = KeyCheck.objects.get(challenge_set=challenge_set)
    assert check.purpose == KeyCheck.Purpose.VERIFY and check.status == KeyCheck.Status.PASSED
    coverage = " ".join(page.inner_text(".key-check-coverage").split())
    assert "0 of 1 question checked by running it." in coverage
    assert "1 has nothing to run (conceptual)" in coverage
    assert "Every key matches" not in page.content()
    screens("verify-keys")

    # Publish: the button posts (it used to sit in a nested form and post nothing).
    page.goto(set_url)
    page.click("button:text('Publish')")
    page.wait_for_url(re.compile(r"/key-checks/"))
    assert "Published version 1." in page.inner_text(".key-check-status")
    with tenant_context(organization):
        assert ChallengeSetVersion.objects.filter(challenge_set=challenge_set).count() == 1
    assert reload_set(organization, challenge_set.pk).status == ChallengeSet.Status.PUBLISHED
    screens("published")

    # The set list: nothing pending reads "None", not a red ✗.
    page.goto("/admin/assessments/challengeset/")
    assert page.inner_text(".field-pending_changes") == "None"
    assert page.locator(".field-pending_changes img").count() == 0
    screens("set-list")

    # Save variants.
    page.goto(set_url)
    page.fill("#id_tagline", "Normalization layers")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(rf"/{challenge_set.pk}/change/"))
    assert reload_set(organization, challenge_set.pk).tagline == "Normalization layers"
    page.click("input[name=_addanother]")
    page.wait_for_url(re.compile(r"/challengeset/add/"))
    page.goto(set_url)
    page.fill("#id_tagline", "Norms, saved")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/challengeset/$"))
    assert reload_set(organization, challenge_set.pk).tagline == "Norms, saved"

    # Duplicate: a second set, opened on its own page.
    page.goto(set_url)
    page.click("button:text('Duplicate')")
    page.wait_for_url(re.compile(r"/change/$"))
    with tenant_context(organization):
        assert ChallengeSet.objects.count() == 2
    assert "Created the copy" in page.inner_text(".messagelist")

    # Archive asks first; "No" keeps the set, "Yes" archives it; Restore brings it back.
    page.goto(set_url)
    page.click("a.button:text('Archive…')")
    page.wait_for_url(re.compile(r"/archive/$"))
    screens("archive-confirm")
    page.click("text=No, keep it")
    page.wait_for_url(re.compile(rf"/{challenge_set.pk}/change/$"))
    assert reload_set(organization, challenge_set.pk).status == ChallengeSet.Status.PUBLISHED
    page.click("a.button:text('Archive…')")
    page.click("button:text('Yes, archive it')")
    page.wait_for_url(re.compile(rf"/{challenge_set.pk}/change/$"))
    assert reload_set(organization, challenge_set.pk).status == ChallengeSet.Status.ARCHIVED
    with tenant_context(organization):
        assert AuditEvent.objects.filter(action=AuditEvent.Action.ARCHIVED).count() == 1
    screens("archived")
    page.click("button:text('Restore')")
    page.wait_for_url(re.compile(rf"/{challenge_set.pk}/change/$"))
    assert reload_set(organization, challenge_set.pk).status == ChallengeSet.Status.PUBLISHED

    # The lifecycle buttons are real buttons: at least 40 px tall, padded.
    for button in page.locator(".lifecycle-actions .button").all():
        box = button.bounding_box()
        assert box["height"] >= 38 and box["width"] >= 70, box


@pytest.mark.parametrize("width", WIDTHS)
def test_a_challenge_is_edited_by_format_fields_and_saving_returns_to_its_set(
    page, screens, author_set, width
):
    tenant, challenge_set = author_set
    organization = tenant.organization
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, tenant.author)
    set_url = f"/admin/assessments/challengeset/{challenge_set.pk}/change/"

    # "Add challenge" from the set: the next position and four option rows ready.
    page.goto(set_url)
    page.click(".object-tools a:text('Add challenge')")
    page.wait_for_url(re.compile(r"/challenge/add/"))
    assert page.input_value("#id_position") == "2"
    assert page.locator("textarea[name$='-text']:visible").count() == 4
    assert f"Home {SEP} Challenge sets {SEP} Norms {SEP} Add challenge" in " ".join(
        page.inner_text(".breadcrumbs").split()
    )
    help_items = page.locator(".answer-format-help li")
    assert help_items.count() == 6
    assert help_items.first.inner_text().startswith("Single choice:")
    screens("add-challenge")

    # Open the existing challenge from the set; only its format's grading fields show.
    page.goto(set_url)
    with tenant_context(organization):
        challenge = Challenge.objects.get(challenge_set=challenge_set)
    page.click(f"a:text('{challenge.title}')")
    page.wait_for_url(re.compile(r"from_set=1"))
    assert page.is_visible("#id_shuffle") and not page.is_visible("#id_accepted")
    screens("challenge-single-choice")
    page.uncheck("#id_shuffle")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(rf"/challengeset/{challenge_set.pk}/change/$"))
    with tenant_context(organization):
        challenge.refresh_from_db()
    assert challenge.grading_config == {"shuffle": False}

    # A text question: the accepted answers field writes the JSON; an empty one is refused
    # beside that field.
    page.goto(f"/admin/assessments/challenge/{challenge.pk}/change/?from_set=1")
    page.select_option("#id_answer_format", "text")
    assert page.is_visible("#id_accepted") and not page.is_visible("#id_shuffle")
    for delete in page.locator("input[name$='-DELETE']").all():
        delete.check()
    page.click("input[name=_continue]")
    error = page.locator(".field-accepted .errorlist")
    assert "non-empty list of accepted answers" in error.inner_text()
    screens("text-format-error")
    page.fill("#id_accepted", "eval mode\nmodel.eval()")
    for delete in page.locator("input[name$='-DELETE']").all():
        delete.check()
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(rf"/challenge/{challenge.pk}/change/"))
    with tenant_context(organization):
        challenge.refresh_from_db()
    assert challenge.answer_format == "text"
    assert challenge.grading_config == {
        "accepted": ["eval mode", "model.eval()"],
        "case_sensitive": False,
    }
    assert "Back to Norms" in page.text_content(".object-tools")
    screens("text-format-saved")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_invitation_list_offers_invite_candidates(page, screens, author_set, width):
    tenant, _challenge_set = author_set
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, tenant.author)
    page.goto("/admin/assessments/invitation/")
    page.click("text=Invite candidates")
    page.wait_for_url(re.compile(r"/invitation/invite/$"))
    screens("invite-candidates")


def test_admin_pages_do_not_scroll_sideways_at_390_px(page, screens, author_set):
    """Every authoring page fits a phone's width: only a table may scroll, in its own box."""
    from assessments.authoring.publishing import challenge_set_publish
    from assessments.authoring.services import challenge_set_import
    from tests.candidates.conftest import invite
    from tests.variants.conftest import DEMO

    tenant, challenge_set = author_set
    with tenant_context(tenant.organization):
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None)
        challenge = challenge_set.challenges.order_by("position").first()
    invitation = invite(version)
    with tenant_context(tenant.organization):
        demo, _ = challenge_set_import(
            organization=tenant.organization, text=DEMO.read_bytes(), actor=tenant.author
        )
        variable = demo.challenges.get(position=1)
    page.set_viewport_size(WIDTHS["390"])
    sign_in(page, tenant.author)
    base = "/admin/assessments/"
    pages = {
        "set-list": f"{base}challengeset/",
        "set": f"{base}challengeset/{challenge_set.pk}/change/",
        "challenge": f"{base}challenge/{challenge.pk}/change/",
        "analytics": f"{base}challengeset/{challenge_set.pk}/analytics/",
        "variants": f"{base}challengeset/{challenge_set.pk}/variants/",
        "history": f"{base}challengeset/{challenge_set.pk}/history/",
        "invitations": f"{base}invitation/",
        "report": f"{base}invitation/{invitation.pk}/report/",
        "demo-set": f"{base}challengeset/{demo.pk}/change/",
        "variable-challenge": f"{base}challenge/{variable.pk}/change/",
    }
    widths, culprits = {}, {}
    for name, url in pages.items():
        page.goto(url)
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        culprits[name] = page.evaluate(OVERFLOWING) if widths[name] > 390 else []
        screens(name)
    assert widths == dict.fromkeys(pages, 390), culprits


# The innermost elements that reach past the viewport's right edge, named for the failure.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1
    && ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 8)
  .map(e => `${e.tagName.toLowerCase()}.${e.className}#${e.id}`
    + `: ${e.getBoundingClientRect().right}`)"""
