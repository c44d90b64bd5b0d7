"""The HR API: keys, assessments, invitations, idempotency, pagination, errors, rate limit."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_keys import api_key_revoke
from accounts.models import ApiKey, IdempotencyRecord
from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSet
from assessments.authoring.services import challenge_set_archive, challenge_set_restore
from assessments.models import Invitation
from tests.api.conftest import client_for, new_invitation
from tests.candidates.conftest import correct_option, publish_set, wrong_option

pytestmark = pytest.mark.django_db


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- authentication ---------------------------------------------------------------------


def test_requests_without_a_valid_key_are_401_in_the_error_shape(key_a, tenant_a):
    response = APIClient().get("/api/v1/invitations/")
    _error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    for header in ("Bearer mla_nope_nope", "Basic abc", "Bearer ", key_a[:-1] + "x"):
        response = APIClient().get("/api/v1/invitations/", HTTP_AUTHORIZATION=header)
        _error(response, 401, "authentication_failed")


def test_revoked_keys_stop_working_at_once(key_a, tenant_a):
    api = client_for(key_a)
    assert api.get("/api/v1/invitations/").status_code == 200
    api_key = ApiKey.all_tenants.get(organization=tenant_a.organization)
    assert api_key.last_used_at is not None
    assert api_key_revoke(api_key=api_key, actor=None)
    _error(api.get("/api/v1/invitations/"), 401, "authentication_failed")


def test_keys_are_stored_hashed_and_the_command_prints_the_key_alone(tenant_a, capsys):
    call_command("create_api_key", "--org", tenant_a.organization.slug, "--name", "ATS")
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("mla_") and "\n" not in printed
    api_key = ApiKey.all_tenants.get(name="ATS")
    assert printed not in api_key.key_hash and api_key.prefix in printed
    assert client_for(printed).get("/api/v1/assessments/").status_code == 200


# --- assessments --------------------------------------------------------------------------


def test_assessments_list_published_sets_with_their_mix(api_a, assessment_a, tenant_a):
    response = api_a.get("/api/v1/assessments/")
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["id"] == str(assessment_a.challenge_set.public_id)
    assert item["title"] == "BatchNorm basics" and item["version"] == 1
    assert item["problems"] == 3 and item["total_time_seconds"] == 240
    assert item["difficulty_mix"] == {
        "beginner": 0, "intermediate": 3, "advanced": 0, "expert": 0
    }  # fmt: skip
    detail = api_a.get(f"/api/v1/assessments/{item['id']}/").json()
    assert detail == item


def test_an_archived_assessment_stays_readable_and_refuses_new_invitations(
    api_a, assessment_a, tenant_a
):
    invitation = new_invitation(api_a, assessment_a)
    set_id = str(assessment_a.challenge_set.public_id)
    with tenant_context(tenant_a.organization):
        challenge_set_archive(challenge_set=assessment_a.challenge_set, actor=None)
    detail = api_a.get(f"/api/v1/assessments/{invitation['assessment']}/")
    assert detail.status_code == 200 and detail.json()["status"] == "archived"
    assert detail.json()["id"] == set_id and detail.json()["version"] == 1
    assert api_a.get("/api/v1/assessments/").json()["results"] == []
    listed = api_a.get("/api/v1/assessments/", {"include_archived": "true"}).json()["results"]
    assert [(item["id"], item["status"]) for item in listed] == [(set_id, "archived")]
    _error(api_a.get("/api/v1/assessments/", {"include_archived": "maybe"}), 400, "invalid")
    body = {"assessment": set_id, "candidate": {"email": "late@example.com"}}
    error = _error(api_a.post("/api/v1/invitations/", body, format="json"), 409, "conflict")
    assert "archived" in error["message"]
    assert not Invitation.all_tenants.filter(email="late@example.com").exists()
    assert api_a.get(f"/api/v1/invitations/{invitation['id']}/").status_code == 200
    with tenant_context(tenant_a.organization):
        challenge_set_restore(challenge_set=assessment_a.challenge_set, actor=None)
    assert api_a.get(f"/api/v1/assessments/{set_id}/").json()["status"] == "published"
    new_invitation(api_a, assessment_a, email="late@example.com")


def test_a_draft_never_published_is_not_an_assessment(api_a, tenant_a):
    with tenant_context(tenant_a.organization):
        draft = ChallengeSet.objects.create(title="Draft", slug="draft")
    _error(api_a.get(f"/api/v1/assessments/{draft.public_id}/"), 404, "not_found")


def _queries(api, url) -> tuple[int, dict]:
    api.get(url)  # the key's first use of the minute also writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        body = api.get(url).json()
    return len(queries), body


def test_assessment_list_runs_a_constant_number_of_queries(api_a, tenant_a):
    publish_set(tenant_a.organization)
    few, _ = _queries(api_a, "/api/v1/assessments/")
    for _ in range(5):
        publish_set(tenant_a.organization)
    many, body = _queries(api_a, "/api/v1/assessments/")
    assert len(body["results"]) == 6
    assert 0 < many == few <= 6


# --- invitations --------------------------------------------------------------------------


def test_create_invitation_returns_it_with_the_candidate_link(api_a, assessment_a):
    created = new_invitation(api_a, assessment_a, time_multiplier="1.50")
    assert created["status"] == "invited"
    assert created["assessment"] == str(assessment_a.challenge_set.public_id)
    assert created["candidate"]["email"] == "ada@example.com"
    assert created["time_multiplier"] == "1.50"
    token = Invitation.all_tenants.get(public_id=created["id"]).token
    assert created["url"].endswith(f"/t/{token}/")
    assert Client().get(f"/t/{token}/").status_code == 200
    assert api_a.get(f"/api/v1/invitations/{created['id']}/").json() == created


def test_unknown_and_invalid_fields_are_refused_with_their_names(api_a, assessment_a):
    body = {
        "assessment": str(assessment_a.challenge_set.public_id),
        "candidate": {"email": "not-an-email", "nickname": "Ada"},
        "colour": "blue",
        "time_multiplier": "9",
    }
    error = _error(api_a.post("/api/v1/invitations/", body, format="json"), 400, "invalid")
    assert set(error["fields"]) == {
        "colour", "candidate.nickname", "candidate.email", "time_multiplier"
    }  # fmt: skip
    body = {"assessment": str(uuid.uuid4()), "candidate": {"email": "a@example.com"}}
    error = _error(api_a.post("/api/v1/invitations/", body, format="json"), 400, "invalid")
    assert error["fields"] == {"assessment": ["No published assessment with this id."]}
    response = api_a.post("/api/v1/invitations/", "[1, 2", content_type="application/json")
    _error(response, 400, "parse_error")
    assert Invitation.all_tenants.count() == 0


def test_inviting_someone_twice_is_a_conflict(api_a, assessment_a):
    new_invitation(api_a, assessment_a)
    body = {
        "assessment": str(assessment_a.challenge_set.public_id),
        "candidate": {"email": "ada@example.com"},
    }
    _error(api_a.post("/api/v1/invitations/", body, format="json"), 409, "conflict")


def test_idempotency_key_replays_refuses_other_bodies_and_running_requests(
    api_a, assessment_a, tenant_a
):
    body = {
        "assessment": str(assessment_a.challenge_set.public_id),
        "candidate": {"email": "idem@example.com"},
        "send_email": False,
    }
    first = api_a.post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_a.post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert Invitation.all_tenants.filter(email="idem@example.com").count() == 1
    other = {**body, "candidate": {"email": "other@example.com"}}
    response = api_a.post("/api/v1/invitations/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    _error(response, 422, "unprocessable")
    # A request with this key still being processed elsewhere:
    api_key = ApiKey.all_tenants.get(organization=tenant_a.organization)
    with tenant_context(tenant_a.organization):
        IdempotencyRecord.objects.create(api_key=api_key, key="k-2", request_hash="x" * 64)
    response = api_a.post("/api/v1/invitations/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    _error(response, 422, "unprocessable")
    with tenant_context(tenant_a.organization):
        record = IdempotencyRecord.objects.get(key="k-2")
        from tests.api.test_api import _fingerprint_of

        record.request_hash = _fingerprint_of(other)
        record.save()
    response = api_a.post("/api/v1/invitations/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    _error(response, 409, "conflict")
    assert not Invitation.all_tenants.filter(email="other@example.com").exists()


def _fingerprint_of(body) -> str:
    from rest_framework.test import APIRequestFactory

    from assessments.hr.api.idempotency import _fingerprint

    class _Request:
        method = "POST"
        path = "/api/v1/invitations/"
        data = body

    assert APIRequestFactory  # the fingerprint reads only method, path and data
    return _fingerprint(_Request)


def test_a_failed_request_leaves_its_idempotency_key_free(api_a, assessment_a):
    bad = {"assessment": str(assessment_a.challenge_set.public_id), "candidate": {}}
    response = api_a.post("/api/v1/invitations/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert response.status_code == 400
    assert not IdempotencyRecord.all_tenants.filter(key="k-3").exists()


def test_cursor_pagination_and_filters(api_a, assessment_a, tenant_a):
    made = [new_invitation(api_a, assessment_a, email=f"p{n}@example.com") for n in range(5)]
    seen, url = [], "/api/v1/invitations/?page_size=2"
    while url:
        page = api_a.get(url).json()
        assert len(page["results"]) <= 2
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert seen == [item["id"] for item in reversed(made)]
    by_external = api_a.get("/api/v1/invitations/?external_id=ext-p3@example.com").json()
    assert [i["candidate"]["email"] for i in by_external["results"]] == ["p3@example.com"]
    api_a.post(f"/api/v1/invitations/{made[0]['id']}/cancel/")
    cancelled = api_a.get("/api/v1/invitations/?status=cancelled").json()["results"]
    assert [i["id"] for i in cancelled] == [made[0]["id"]]
    later = (timezone.now() + timedelta(seconds=5)).isoformat()
    assert api_a.get("/api/v1/invitations/", {"updated_since": later}).json()["results"] == []
    other_set = publish_set(tenant_a.organization)
    new_invitation(api_a, other_set, email="elsewhere@example.com")
    only = api_a.get(f"/api/v1/invitations/?assessment={other_set.challenge_set.public_id}")
    assert [i["candidate"]["email"] for i in only.json()["results"]] == ["elsewhere@example.com"]
    for query in ("status=done", "updated_since=yesterday", "assessment=7", "colour=red"):
        _error(api_a.get(f"/api/v1/invitations/?{query}"), 400, "invalid")


def test_invitation_list_runs_a_constant_number_of_queries(api_a, assessment_a):
    new_invitation(api_a, assessment_a, email="one@example.com")
    few, _ = _queries(api_a, "/api/v1/invitations/")
    for n in range(12):
        new_invitation(api_a, assessment_a, email=f"many{n}@example.com")
    many, body = _queries(api_a, "/api/v1/invitations/")
    assert len(body["results"]) == 13
    assert 0 < many == few <= 6


def test_cancel_then_cancel_again_is_a_conflict(api_a, assessment_a):
    created = new_invitation(api_a, assessment_a)
    response = api_a.post(f"/api/v1/invitations/{created['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    _error(api_a.post(f"/api/v1/invitations/{created['id']}/cancel/"), 409, "conflict")
    response = api_a.post(
        f"/api/v1/invitations/{created['id']}/cancel/", {"why": "x"}, format="json"
    )
    _error(response, 400, "invalid")


def test_result_of_a_completed_session(api_a, assessment_a):
    created = new_invitation(api_a, assessment_a)
    token = Invitation.all_tenants.get(public_id=created["id"]).token
    candidate, base = Client(), f"/t/{token}"
    candidate.post(f"{base}/start/")
    candidate.get(f"{base}/q/1/")
    candidate.post(f"{base}/q/1/hint/")
    for option in (wrong_option(assessment_a, 1), correct_option(assessment_a, 1)):
        candidate.post(f"{base}/q/1/answer/", {"answer": option, "submission_id": uuid.uuid4()})
    candidate.get(f"{base}/q/2/")
    for _ in range(2):
        candidate.post(
            f"{base}/q/2/answer/",
            {"answer": wrong_option(assessment_a, 2), "submission_id": uuid.uuid4()},
        )
    partial = api_a.get(f"/api/v1/invitations/{created['id']}/result/").json()
    assert partial["status"] == "started" and partial["score"] == 1
    assert [c["verdict"] for c in partial["challenges"]] == ["correct", "incorrect", "open"]
    candidate.get(f"{base}/q/3/")
    candidate.post(
        f"{base}/q/3/answer/", {"answer": "running statistics", "submission_id": uuid.uuid4()}
    )
    result = api_a.get(f"/api/v1/invitations/{created['id']}/result/").json()
    assert result["status"] == "completed"
    assert (result["score"], result["max_score"], result["percent"]) == (3, 4, 75.0)
    assert result["badge_awarded"] is False and result["badge_url"] is None
    first, second, third = result["challenges"]
    assert first["verdict"] == "correct" and first["attempts_used"] == 2 and first["hint_used"]
    assert second["verdict"] == "incorrect" and second["points"] == 0
    assert third["max_points"] == 2 and third["time_limit_seconds"] == 120
    assert first["time_used_seconds"] is not None and result["time_taken_seconds"] >= 0
    assert [s["kind"] for s in result["integrity_signals"]] == ["hint"]
    assert result["integrity_signals"][0]["question"] == 1
    assert "/reports/" in result["report_url"]  # the signed share link (tests/reports)


# --- rate limit, schema, docs ---------------------------------------------------------------


def test_rate_limit_per_key_with_retry_after(api_a, api_b, settings):
    settings.API_RATE_LIMIT = "3/minute"
    for _ in range(3):
        assert api_a.get("/api/v1/assessments/").status_code == 200
    response = api_a.get("/api/v1/assessments/")
    error = _error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1 and error["retry_after"] >= 1
    assert api_b.get("/api/v1/assessments/").status_code == 200  # another key, its own budget


def test_schema_and_docs_are_served_without_any_cdn(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "/api/v1/invitations/{invitation_id}/result/" in paths
    create = paths["/api/v1/invitations/"]["post"]
    assert {"201", "400", "401", "409", "422", "429"} <= set(create["responses"])
    docs = client.get("/api/v1/docs/").content.decode()
    assert "swagger" in docs.lower()
    assert "https://" not in docs.split("<body")[0] and "cdn" not in docs.lower()


def test_expires_at_is_bounded_to_a_year_ahead(api_a, assessment_a):
    body = {"assessment": str(assessment_a.challenge_set.public_id),
            "candidate": {"email": "far@example.com"}, "send_email": False}  # fmt: skip
    for far in ("9999-12-31T00:00:00Z", (timezone.now() + timedelta(days=366)).isoformat()):
        response = api_a.post("/api/v1/invitations/", {**body, "expires_at": far}, format="json")
        error = _error(response, 400, "invalid")
        assert "365 days" in error["fields"]["expires_at"][0]
    assert not Invitation.all_tenants.filter(email="far@example.com").exists()
    near = (timezone.now() + timedelta(days=364)).isoformat()
    assert new_invitation(api_a, assessment_a, email="far@example.com", expires_at=near)
