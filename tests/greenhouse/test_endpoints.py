"""list_tests, send_test, test_status and response_error as Greenhouse's Assessment Partner
contract describes them; HTTP Basic with the API key; each organization sees only its own."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.api_keys import api_key_revoke
from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.hr.greenhouse.services import credential_open
from assessments.models import GreenhouseCallback, Invitation
from assessments.taking.session import session_complete, session_start
from tests.candidates.conftest import publish_set
from tests.factories import ChallengeSetFactory
from tests.greenhouse.conftest import basic, greenhouse_client, send_test_body

pytestmark = pytest.mark.django_db

CALLBACK = "https://app.greenhouse.io/integrations/testing_partners/take_home_tests/12345"


def send(client, version, url=CALLBACK, **kw):
    return client.post("/greenhouse/send_test", send_test_body(version, url, **kw), format="json")


# --- authentication -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/greenhouse/list_tests", "/greenhouse/test_status?partner_interview_id=x"]
)
def test_no_credentials_is_401_with_a_basic_challenge(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="greenhouse"'
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header",
    [
        basic("mla_deadbeef_not-a-real-key"),
        "Basic !!!not-base64!!!",
        "Basic ",
        "Digest username=x",
    ],
)
def test_bad_credentials_are_401(client, key_a, header):
    response = client.get("/greenhouse/list_tests", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="greenhouse"'


def test_the_key_as_bearer_token_is_not_greenhouse_auth(client, key_a):
    response = client.get("/greenhouse/list_tests", HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert response.status_code == 401


def test_a_revoked_key_is_401(tenant_a, key_a, gh_a):
    assert gh_a.get("/greenhouse/list_tests").status_code == 200
    with tenant_context(tenant_a.organization):
        from accounts.models import ApiKey

        api_key_revoke(api_key=ApiKey.objects.get(), actor=None)
    assert gh_a.get("/greenhouse/list_tests").status_code == 401


def test_the_password_is_not_part_of_the_credential(key_a):
    client = greenhouse_client(key_a)
    client.credentials(HTTP_AUTHORIZATION=basic(key_a, password="anything"))
    assert client.get("/greenhouse/list_tests").status_code == 200


# --- list_tests ---------------------------------------------------------------------------
def test_list_tests_is_the_organizations_published_sets_at_their_latest_version(
    tenant_a, tenant_b, gh_a, django_assert_max_num_queries
):
    basics = publish_set(tenant_a.organization, title="BatchNorm basics")
    with tenant_context(tenant_a.organization):
        challenge_set = basics.challenge_set
        challenge_set.title = "BatchNorm basics, revised"
        challenge_set.save()
        challenge_set.refresh_from_db()
        revised, _ = challenge_set_publish(challenge_set=challenge_set, actor=None)
        ChallengeSetFactory(organization=tenant_a.organization, title="Never published")
    attention = publish_set(tenant_a.organization, title="Attention")
    publish_set(tenant_b.organization, title="Beta's secret test")

    with django_assert_max_num_queries(4):
        response = gh_a.get("/greenhouse/list_tests")
    assert response.status_code == 200
    assert response.json() == [
        {
            "partner_test_id": str(attention.challenge_set.public_id),
            "partner_test_name": "Attention",
        },
        {
            "partner_test_id": str(basics.challenge_set.public_id),
            "partner_test_name": revised.title,
        },
    ]
    assert revised.title == "BatchNorm basics, revised"


# --- send_test ----------------------------------------------------------------------------
def test_send_test_invites_the_candidate_and_returns_the_partner_interview_id(
    tenant_a, key_a, gh_a, version_a
):
    response = send(gh_a, version_a)
    assert response.status_code == 200
    with tenant_context(tenant_a.organization):
        invitation = Invitation.objects.get()
        callback = GreenhouseCallback.objects.get()
    assert response.json() == {"partner_interview_id": str(invitation.public_id)}
    assert invitation.version == version_a
    assert (invitation.email, invitation.first_name, invitation.last_name) == (
        "hpotter@hogwarts.edu",
        "Harry",
        "Potter",
    )
    assert invitation.external_id == "26234709"  # the application id of the profile URL
    assert invitation.source == Invitation.Source.GREENHOUSE
    assert invitation.partner_callback_url == CALLBACK
    # The key is kept for the PATCH, encrypted, not in the clear.
    assert callback.status == GreenhouseCallback.Status.WAITING
    assert key_a not in callback.credential and credential_open(callback.credential) == key_a


def test_a_retried_send_test_returns_the_same_interview(tenant_a, gh_a, version_a):
    first = send(gh_a, version_a).json()
    again = send(gh_a, version_a)
    assert again.status_code == 200 and again.json() == first
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.count() == 1 and GreenhouseCallback.objects.count() == 1


def test_another_take_home_test_for_an_unfinished_invitation_is_409(gh_a, version_a):
    assert send(gh_a, version_a).status_code == 200
    response = send(gh_a, version_a, url=CALLBACK.replace("12345", "12346"))
    assert response.status_code == 409
    assert "Already invited" in response.json()["error"]["message"]


def test_the_candidate_fields_may_come_at_the_top_level_and_unknown_ones_are_ignored(
    tenant_a, gh_a, version_a
):
    body = {**send_test_body(version_a, CALLBACK)["candidate"], "sent_by": "recruiter@x.example"}
    body.update(partner_test_id=str(version_a.challenge_set.public_id), url=CALLBACK)
    response = gh_a.post("/greenhouse/send_test", body, format="json")
    assert response.status_code == 200, response.json()
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.get().email == "hpotter@hogwarts.edu"


@pytest.mark.parametrize("test_id", ["00000000-0000-0000-0000-000000000000", "12345", "not a uuid"])
def test_an_unknown_test_is_404(gh_a, version_a, test_id):
    body = {**send_test_body(version_a, CALLBACK), "partner_test_id": test_id}
    assert gh_a.post("/greenhouse/send_test", body, format="json").status_code == 404


def test_another_organizations_test_is_404_and_invites_no_one(tenant_b, gh_b, version_a):
    response = send(gh_b, version_a)
    assert response.status_code == 404
    assert not Invitation.all_tenants.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/integrations/testing_partners/take_home_tests/1",
        "https://greenhouse.io.evil.example/take_home_tests/1",
        "ftp://app.greenhouse.io/x",
        "not a url",
    ],
)
def test_the_key_is_never_sent_anywhere_but_greenhouse(gh_a, version_a, url):
    response = send(gh_a, version_a, url=url)
    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]
    assert not Invitation.all_tenants.exists()


def test_the_callback_must_be_https_outside_tests(settings, gh_a, version_a):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = send(gh_a, version_a, url=CALLBACK.replace("https:", "http:"))
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["url"] == ["The callback URL must use https."]


def test_send_test_without_required_fields_is_400(gh_a, version_a):
    response = gh_a.post("/greenhouse/send_test", {"partner_test_id": "x"}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"candidate.email", "url"} <= set(fields)


# --- test_status --------------------------------------------------------------------------
def test_test_status_of_a_sent_test(tenant_a, gh_a, version_a):
    interview = send(gh_a, version_a).json()["partner_interview_id"]
    response = gh_a.get("/greenhouse/test_status", {"partner_interview_id": interview})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"partner_status", "partner_profile_url", "partner_score", "metadata"}
    assert body["partner_status"] == "sent"
    assert body["partner_score"] is None
    assert body["partner_profile_url"].startswith("http://127.0.0.1:8000/reports/")
    assert body["metadata"] == {
        "Assessment": "BatchNorm basics",
        "Version": 1,
        "Status": "Invited",
        "Integrity signals": 0,
    }


def test_test_status_of_a_completed_test(tenant_a, gh_a, version_a):
    interview = send(gh_a, version_a).json()["partner_interview_id"]
    now = timezone.now()
    with tenant_context(tenant_a.organization):
        invitation = Invitation.objects.get()
        session_start(invitation, now=now)
        session_complete(invitation, now=now)
    body = gh_a.get("/greenhouse/test_status", {"partner_interview_id": interview}).json()
    assert body["partner_status"] == "complete"
    assert body["partner_score"] == 0.0  # a percent: nothing was answered
    assert body["metadata"]["Score"] == "0 / 4"
    assert body["metadata"]["Status"] == "Completed"
    assert body["metadata"]["Badge awarded"] is False
    assert all(not isinstance(v, dict | list) for v in body["metadata"].values())


def test_another_organizations_interview_is_404(gh_a, gh_b, version_a):
    interview = send(gh_a, version_a).json()["partner_interview_id"]
    response = gh_b.get("/greenhouse/test_status", {"partner_interview_id": interview})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "status"),
    [({}, 400), ({"partner_interview_id": "12345"}, 404), ({"partner_interview_id": ""}, 400)],
)
def test_test_status_needs_a_partner_interview_id(gh_a, query, status):
    assert gh_a.get("/greenhouse/test_status", query).status_code == status


# --- response_error -----------------------------------------------------------------------
def test_response_error_is_acknowledged_and_logged(gh_a, caplog):
    body = {
        "api_call": "test_status",
        "errors": ["partner_status is 'complete' but partner_profile url is missing"],
        "partner_test_id": 12345,
        "partner_interview_id": 299506,
        "candidate_email": "hpotter@hogwarts.edu",
    }
    response = gh_a.post("/greenhouse/response_error", body, format="json")
    assert response.status_code == 200 and response.json() == {"status": 200}
    assert "partner_profile url is missing" in caplog.text
    assert "alpha" in caplog.text


def test_greenhouse_routes_stay_out_of_the_api_schema(api_client_schema):
    paths = api_client_schema["paths"]
    assert not [path for path in paths if "greenhouse" in path]


@pytest.fixture
def api_client_schema(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    return json.loads(response.content)
