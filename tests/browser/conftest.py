"""Browser tests: Playwright for Python drives Debian's Chromium against a live server.

The browser is Debian's ``/usr/bin/chromium`` (``make test`` installs it when missing), never
one downloaded by ``playwright install``. Each test gets a fresh browser context on
pytest-django's ``live_server``; screenshots of every screen go to
``var/test-artifacts/browser/<scenario>/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")
# Headless and quiet: without the background-networking flags Chromium keeps calling home,
# which on a closed network only means timeouts and noise.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "browser"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for the browser tests (a fresh temporary profile per launch).

    Package-scoped on purpose: while Playwright's sync API is running, the main thread looks
    like it has an event loop and Django refuses ORM calls there, so the browser is closed,
    and the permission to call the ORM withdrawn, before any other package's tests run.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it "
            "(apt-get install --no-install-recommends chromium)."
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def context_options() -> dict:
    """Options of the test's browser context; a test overrides it to emulate a preference."""
    return {}


@pytest.fixture
def page(browser, live_server, transactional_db, page_errors, context_options) -> Iterator:
    """A fresh page on the live server; fails the test on script errors and missing files."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1200, "height": 900}, **context_options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(f"script error: {error}"))
    page.on(
        "response",
        lambda response: (
            page_errors.append(f"{response.status} {response.url}")
            if "/static/" in response.url and response.status >= 400
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert page_errors == []


class Screens:
    """Save full-page screenshots of one scenario, numbered in the order they were taken."""

    def __init__(self, page, scenario: str):
        self.page = page
        self.folder = ARTIFACTS / scenario
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def __call__(self, screen: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{screen}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture
def screens(page, request) -> Screens:
    scenario = re.sub(r"^test_", "", request.node.name)
    return Screens(page, re.sub(r"[^\w-]+", "-", scenario))


@pytest.fixture
def demo_invitation(transactional_db, sandbox_socket):
    """BatchNorm Mastery as `make run` loads it (keys proven in the sandbox); its invitation."""
    from io import StringIO

    from django.core.management import call_command

    from assessments.management.commands.load_demo import DEMO_CANDIDATE
    from assessments.models import Invitation

    call_command("load_demo", stdout=StringIO())
    return Invitation.all_tenants.select_related("version").get(email=DEMO_CANDIDATE.email)
