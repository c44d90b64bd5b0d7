"""An integrator's view: a client generated from the live schema by a standard generator
(openapi-python-client) runs the HR loop: list assessments, invite with an idempotency key,
read the invitation, page through lists with the cursor, read the result."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def generated(live_server, tmp_path, monkeypatch):
    """Generate the client package ``mla_client`` from the live schema and import it."""
    config = tmp_path / "config.yaml"
    config.write_text("project_name_override: mla_client\npackage_name_override: mla_client\n"
                      "post_hooks: []\n")  # fmt: skip
    subprocess.run(
        [str(GENERATOR), "generate", "--url", f"{live_server.url}/api/v1/schema/",
         "--meta", "none", "--config", str(config), "--output-path", str(tmp_path / "mla_client")],
        check=True, capture_output=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n == "mla_client" or n.startswith("mla_client.")]:
        del sys.modules[name]
    return importlib.import_module("mla_client")


def _module(package: str):
    return importlib.import_module(package)


def test_a_generated_client_runs_the_hr_loop(generated, live_server, key_a, assessment_a):
    client = generated.AuthenticatedClient(base_url=live_server.url, token=key_a)
    api = "mla_client.api"
    models = _module("mla_client.models")

    listed = _module(f"{api}.assessments.assessments_list").sync_detailed(client=client)
    assert listed.status_code == 200
    (assessment,) = listed.parsed.results
    assert assessment.title == "BatchNorm basics"

    create = _module(f"{api}.invitations.invitations_create")
    invited = []
    for n in range(3):
        body = models.InvitationCreateRequest(
            assessment=assessment.id,
            candidate=models.CandidateRequest(email=f"gen{n}@example.com", external_id=f"g-{n}"),
            send_email=False,
            time_multiplier="1.50",
        )
        first = create.sync_detailed(client=client, body=body, idempotency_key=f"gen-{n}")
        again = create.sync_detailed(client=client, body=body, idempotency_key=f"gen-{n}")
        assert first.status_code == 201 and again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.parsed.id == first.parsed.id
        invited.append(first.parsed)
    assert invited[0].time_multiplier == "1.50"

    retrieve = _module(f"{api}.invitations.invitations_retrieve")
    shown = retrieve.sync_detailed(client=client, invitation_id=invited[0].id)
    assert shown.status_code == 200 and shown.parsed.candidate.external_id == "g-0"

    list_invitations = _module(f"{api}.invitations.invitations_list")
    seen, cursor = [], generated.types.UNSET
    while True:
        page = list_invitations.sync_detailed(client=client, page_size=2, cursor=cursor)
        assert page.status_code == 200
        seen += [item.id for item in page.parsed.results]
        if not page.parsed.next_:
            break
        cursor = _cursor_of(page.parsed.next_)
    assert sorted(map(str, seen)) == sorted(str(item.id) for item in invited)

    result = _module(f"{api}.invitations.invitations_result").sync_detailed(
        client=client, invitation_id=invited[0].id
    )
    assert result.status_code == 200
    assert str(result.parsed.status) == "invited" and result.parsed.score is None
    assert result.parsed.report_url.startswith("http")

    bad = list_invitations.sync_detailed(client=client, page_size=500)
    assert bad.status_code == 400 and bad.parsed.error.code == "invalid"


def _cursor_of(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query)["cursor"][0]
