"""Nothing a candidate receives holds the key, hidden tests or explanation before the rules allow.

The test walks a whole session as a candidate would and searches every response (pages,
JSON and the static assets the pages load) for marker strings planted in the secret parts.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import Client

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from tests.candidates.conftest import invite
from tests.factories import ChallengeFactory, ChallengeOptionFactory, ChallengeSetFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "explanation": "SECRET-EXPLANATION",
    "hint": "SECRET-HINT",
    "accepted": "SECRET-ACCEPTED",
    "reference": "SECRET_REFERENCE",
    "hidden test": "SECRET_HIDDEN_SETUP",
}


def _publish(organization, feedback):
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(
            organization=organization, navigation="free", feedback=feedback
        )
        choice = ChallengeFactory(
            challenge_set=challenge_set, position=1,
            explanation=f"{SECRETS['explanation']} one", hint=SECRETS["hint"],
        )  # fmt: skip
        ChallengeOptionFactory(challenge=choice, text="Right answer", is_correct=True)
        ChallengeOptionFactory(challenge=choice, text="Wrong answer")
        ChallengeFactory(
            challenge_set=challenge_set, position=2, answer_format="text",
            grading_config={"accepted": [SECRETS["accepted"]]},
            explanation=f"{SECRETS['explanation']} two",
        )  # fmt: skip
        code = ChallengeFactory(
            challenge_set=challenge_set, position=3, kind="code", answer_format="code",
            code="def f(x):\n    ...\n", explanation=f"{SECRETS['explanation']} three",
            grading_config={
                "entry_point": "f",
                "reference": f"def f(x):\n    {SECRETS['reference']} = 1\n    return x\n",
                "tests": [
                    {"name": "shown", "setup": "args = (torch.ones(2),)"},
                    {"name": "hidden", "setup": f"{SECRETS['hidden test']} = 2\nargs = (1,)",
                     "hidden": True},
                ],
            },
        )  # fmt: skip
        keys = {str(code.public_id): {"expected": {"shown": {"ok": True, "value": 1}}}}
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None, keys=keys)
    return version


def _assets(client, html: str) -> list[str]:
    bodies = []
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        response = client.get(src)
        if response.status_code == 200:
            bodies.append(b"".join(response.streaming_content).decode(errors="replace"))
    return bodies


def _leaks(bodies, allowed=()) -> list[str]:
    found = []
    for name, marker in SECRETS.items():
        if name in allowed:
            continue
        found += [name for body in bodies if marker in body]
    return found


@pytest.mark.parametrize("feedback", ["after_close", "after_wrong_answer"])
def test_nothing_secret_reaches_the_candidate_before_the_rules_allow(tenant_a, feedback):
    version = _publish(tenant_a.organization, feedback)
    invitation = invite(version)
    client = Client()
    base = f"/t/{invitation.token}"
    seen = [client.get(f"{base}/").content.decode()]
    client.post(f"{base}/start/")
    page = client.get(f"{base}/q/1/").content.decode()
    seen += [page, *_assets(client, page)]
    seen.append(client.get(f"{base}/q/1/state/").content.decode())
    assert not _leaks(seen), _leaks(seen)
    # The correct option is marked nowhere: both options look the same.
    with tenant_context(invitation.organization_id):
        frozen = version.challenges.get(position=1)
    right, wrong = (
        next(o["id"] for o in frozen.options if o["correct"] is c) for c in (True, False)
    )
    assert page.count(right) == page.count(wrong) == 1
    assert not re.search(r'"correct":\s*(true|\[)|data-correct|class="option correct"', page)

    # The hint arrives when asked for, and only the hint.
    hint = client.post(f"{base}/q/1/hint/", HTTP_ACCEPT="application/json").content.decode()
    assert SECRETS["hint"] in hint and not _leaks([hint], allowed={"hint"})
    # A wrong answer with an attempt left. By default the explanation waits until the
    # question is closed; in practice mode it comes now, of this question only.
    verdict = client.post(
        f"{base}/q/1/answer/",
        json.dumps({"answer": wrong, "submission_id": str(uuid.uuid4())}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    ).content.decode()
    after = client.get(f"{base}/q/1/").content.decode()
    state = client.get(f"{base}/q/1/state/").content.decode()
    if feedback == "after_close":
        assert not _leaks([verdict, after, state], allowed={"hint"})
        assert 'class="option correct"' not in after and "Correct answer" not in after
    else:
        assert all(f"{SECRETS['explanation']} one" in body for body in (verdict, after, state))
        assert not _leaks([verdict, after, state], allowed={"hint", "explanation"})
    assert all(f"{SECRETS['explanation']} two" not in body for body in (verdict, after, state))
    client.post(f"{base}/q/1/answer/", {"answer": right, "submission_id": uuid.uuid4()})
    closed = client.get(f"{base}/q/1/").content.decode()
    assert f"{SECRETS['explanation']} one" in closed  # closed: every policy shows it now
    assert "Correct answer" in closed  # and marks the key beside the candidate's pick

    # The text and code questions: their accepted answers, reference and hidden tests stay put.
    for position in (2, 3):
        page = client.get(f"{base}/q/{position}/").content.decode()
        state = client.get(f"{base}/q/{position}/state/").content.decode()
        assert not _leaks([page, state], allowed={"hint"}), (position, _leaks([page, state]))
    code_page = client.get(f"{base}/q/3/").content.decode()
    assert "args = (torch.ones(2),)" in code_page  # the shown test is shown
    assert "hidden" not in re.sub(r"<[^>]+>", "", code_page).split("Some tests are hidden")[0]
