"""What the browser tests share: reading the published keys and the stored state."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from assessments.models import Invitation, PublishedChallenge, QuestionState


def option_label(invitation: Invitation, position: int, *, correct: bool) -> str:
    """The first line of an option's text, as the candidate reads it next to its radio."""
    challenge = PublishedChallenge.all_tenants.get(version=invitation.version, position=position)
    options = challenge.options
    if challenge.is_variable:  # this candidate's own variant, prepared first if need be
        options = variant_ready(invitation, position).variant["options"]
    option = next(o for o in options if o["correct"] is correct)
    return option["text"].splitlines()[0].strip()


def variant_ready(invitation: Invitation, position: int, timeout: float = 60) -> QuestionState:
    """Wait for a question's variant; run its job here when no worker has taken it."""
    from tests.variants.conftest import prepare_variants

    deadline = time.monotonic() + timeout
    while True:
        row = QuestionState.all_tenants.filter(invitation=invitation, position=position).first()
        if (row is not None and row.variant_status != "preparing") or time.monotonic() > deadline:
            return row
        prepare_variants(invitation)
        time.sleep(0.2)


def question_row(invitation: Invitation, position: int) -> QuestionState:
    return QuestionState.all_tenants.get(invitation=invitation, position=position)


def set_time_left(invitation: Invitation, position: int, seconds: float) -> None:
    """Move an opened question's stored deadline, as if the candidate had spent the time.

    The page's countdown starts from the deadline the server sends, so a reload shows it.
    """
    QuestionState.all_tenants.filter(invitation=invitation, position=position).update(
        deadline=timezone.now() + timedelta(seconds=seconds)
    )


def publish_timed_set(time_limits: list[int]) -> Invitation:
    """Publish a sequential set of single-choice questions with these time limits; invite Ada.

    The options are the factory's: "It normalizes at eval time" is the correct one.
    """
    from accounts.tenancy import tenant_context
    from assessments.authoring.publishing import challenge_set_publish
    from tests.candidates.conftest import invite
    from tests.factories import ChallengeSetFactory, OrganizationFactory, challenge_with_options

    organization = OrganizationFactory()
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization, title="Timed BatchNorm")
        for position, seconds in enumerate(time_limits, start=1):
            challenge_with_options(challenge_set, position=position, time_limit=seconds)
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None)
    return invite(version)


def start_session(page, invitation: Invitation) -> None:
    """Press Start and see the variable questions prepared (here, when no worker runs)."""
    page.get_by_role("button", name="Start").click()
    for position in range(1, 6):
        variant_ready(invitation, position, timeout=20)
    page.reload()


WIDTHS = (390, 1280)


def fits_the_screen(page) -> None:
    """Fail if the page scrolls sideways (its content is wider than the viewport)."""
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url} is {scroll} px wide in a {inner} px window"


def publish_formats_set() -> Invitation:
    """Publish a free-order set with one question of each other format; invite Ada.

    Multiple choice, text, tensor value and code (its key given, as publishing stores it),
    with a Markdown hint and long unbroken prose and code, to find what overflows.
    """
    from accounts.tenancy import tenant_context
    from assessments.authoring.publishing import challenge_set_publish
    from tests.candidates.conftest import invite
    from tests.factories import (
        ChallengeFactory,
        ChallengeOptionFactory,
        ChallengeSetFactory,
        OrganizationFactory,
    )

    long_call = "torch.randn(" + ", ".join(["8"] * 40) + ")"  # one very long line
    organization = OrganizationFactory()
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(
            organization=organization, title="Formats of BatchNorm", navigation="free"
        )
        multiple = ChallengeFactory(
            challenge_set=challenge_set, position=1, kind="model_choice",
            answer_format="multiple_choice", hint="Think of **biased** variance.",
        )  # fmt: skip
        for text, correct in (
            ("nn.BatchNorm1d(embedding_dim) on x.transpose(1, 2)", True),
            ("nn.BatchNorm1d(embedding_dim) on x.reshape(-1, embedding_dim)", True),
            ("nn.BatchNorm2d(embedding_dim), since the input is " + "very " * 30 + "3D", False),
        ):
            ChallengeOptionFactory(challenge=multiple, text=text, is_correct=correct)
        ChallengeFactory(
            challenge_set=challenge_set, position=2, kind="hyperparameter",
            answer_format="text", grading_config={"accepted": ["0.1"]},
            prompt="What is the default `momentum`? " + "A" * 120,
        )  # fmt: skip
        code = ChallengeFactory(
            challenge_set=challenge_set, position=3, kind="code", answer_format="code",
            code=f"def f(x):\n    y = {long_call}\n", prompt="Write `f`.",
            grading_config={
                "entry_point": "f",
                "reference": "def f(x):\n    return x\n",
                "tests": [{"name": "shown", "setup": f"args = ({long_call},)"}],
            },
        )  # fmt: skip
        keys = {str(code.public_id): {"expected": {"shown": {"ok": True, "value": 1}}}}
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None, keys=keys)
    return invite(version)
