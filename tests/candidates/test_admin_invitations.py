"""Members invite candidates in the admin: one or many, from a pasted list or a CSV file."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tenancy import tenant_context
from assessments.models import Invitation
from tests.candidates.conftest import invite, publish_set
from tests.conftest import login

INVITE_URL = "/admin/assessments/invitation/invite/"


def _post(client, version, **fields):
    data = {"version": version.pk, "time_multiplier": "1.00", "send_email": "on", **fields}
    return client.post(INVITE_URL, data)


def test_invite_many_from_a_pasted_list(client, tenant_a, version):
    login(client, tenant_a.author)
    pasted = (
        "ada@example.com, Ada, Lovelace, HR-1\ngrace@example.com,Grace,Hopper\nalan@example.com"
    )
    response = _post(client, version, candidates=pasted)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a.organization):
        invitations = {i.email: i for i in Invitation.objects.all()}
    assert set(invitations) == {"ada@example.com", "grace@example.com", "alan@example.com"}
    assert invitations["ada@example.com"].external_id == "HR-1"
    assert invitations["grace@example.com"].last_name == "Hopper"
    assert all(i.status == "invited" and i.version == version for i in invitations.values())
    listing = client.get("/admin/assessments/invitation/").content.decode()
    assert "grace@example.com" in listing and "Invited" in listing


def test_invite_from_a_csv_file_with_a_header_and_a_time_multiplier(client, tenant_a, version):
    login(client, tenant_a.author)
    csv = "\ufeffemail,last_name,first_name,external_id\nkat@example.com,Johnson,Katherine,77\n"
    response = _post(
        client, version, csv_file=SimpleUploadedFile("c.csv", csv.encode()), time_multiplier="1.5",
        send_email="",
    )  # fmt: skip
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        kat = Invitation.objects.get(email="kat@example.com")
    assert (kat.first_name, kat.last_name, kat.external_id) == ("Katherine", "Johnson", "77")
    assert str(kat.time_multiplier) == "1.50"
    assert kat.email_sent_at is None


def test_every_bad_line_is_reported_and_nobody_is_invited(client, tenant_a, version):
    login(client, tenant_a.author)
    pasted = "ok@example.com\nnot-an-email, X\nok@example.com\na@example.com,b,c,d,e"
    response = _post(client, version, candidates=pasted)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Line 2: &#x27;not-an-email&#x27; is not an email address." in page
    assert "Line 3: ok@example.com is listed twice." in page
    assert "Line 4: 5 columns, at most 4 expected." in page
    with tenant_context(tenant_a.organization):
        assert not Invitation.objects.exists()


def test_bad_multiplier_and_past_expiry_are_form_errors(client, tenant_a, version):
    login(client, tenant_a.author)
    page = _post(client, version, candidates="a@example.com", time_multiplier="9").content.decode()
    assert "less than or equal to 4" in page
    page = _post(
        client, version, candidates="a@example.com", expires_at="2001-01-01 10:00"
    ).content.decode()
    assert "The expiry must be in the future." in page


def test_a_candidate_with_an_open_invitation_is_not_invited_twice(client, tenant_a, version):
    invite(version, email="ada@example.com")
    login(client, tenant_a.author)
    page = _post(client, version, candidates="ada@example.com").content.decode()
    assert "Already invited to this set and not finished: ada@example.com" in page


def test_reviewers_see_but_cannot_invite_or_cancel(client, tenant_a, version):
    invitation = invite(version)
    login(client, tenant_a.reviewer)
    assert client.get("/admin/assessments/invitation/").status_code == 200
    assert client.get(INVITE_URL).status_code == 403
    response = client.post(
        "/admin/assessments/invitation/",
        {"action": "cancel_selected", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.status == "invited", response.status_code


def test_cancel_action_and_status_in_the_list(client, tenant_a, version):
    invitation = invite(version)
    login(client, tenant_a.author)
    client.post(
        "/admin/assessments/invitation/",
        {"action": "cancel_selected", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.status == "cancelled" and invitation.cancelled_at is not None
    page = client.get(f"/admin/assessments/invitation/{invitation.pk}/change/").content.decode()
    assert f"/t/{invitation.token}/" in page and "Cancelled" in page


def test_another_organizations_invitations_are_invisible(client, tenant_a, tenant_b, version):
    theirs = invite(publish_set(tenant_b.organization), email="theirs@example.com")
    login(client, tenant_a.owner)
    assert "theirs@example.com" not in client.get("/admin/assessments/invitation/").content.decode()
    assert client.get(f"/admin/assessments/invitation/{theirs.pk}/change/").status_code == 404
    response = client.post(
        "/admin/assessments/invitation/",
        {"action": "cancel_selected", "_selected_action": [theirs.pk]},
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "invited"
    # Their versions are not offered in the invite form either.
    b_version = theirs.version
    page = client.get(INVITE_URL).content.decode()
    assert f'value="{b_version.pk}"' not in page
    response = _post(client, b_version, candidates="x@example.com")
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
