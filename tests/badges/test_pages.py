"""The public page, the badge images and the issuer's Profile."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from accounts.tenancy import tenant_context
from tests.badges.conftest import earn_badge
from tests.candidates.conftest import publish_set
from tests.factories import ChallengeSetFactory

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(content: bytes) -> str:
    root = ET.fromstring(content)  # noqa: S314 (our own output, parsed to prove it is XML)
    return " ".join("".join(node.itertext()) for node in root.iter(f"{SVG}text"))


def test_public_page_shows_the_image_the_credential_and_how_to_verify(client, award):
    page = client.get(f"/badges/{award.public_id}/").content.decode()
    assert f'src="/badges/{award.public_id}/image.svg"' in page
    assert f'href="/badges/{award.public_id}/credential.jwt"' in page
    assert f'href="/badges/{award.public_id}/credential.json"' in page
    assert f'href="/issuers/{award.organization.public_id}/jwks.json"' in page
    assert f'href="/badges/{award.public_id}/status.json"' in page
    assert "How to verify this badge" in page and "Valid badge" in page
    assert "Ada Lovelace" in page and award.organization.name in page
    assert "score 4 of 4" in page and "ada@example.com" not in page


def test_images_escape_their_text_and_load_nothing(client, tenant_a):
    version = publish_set(
        tenant_a.organization, title='<script>alert(1)</script> & "BatchNorm" Mastery'
    )
    award = earn_badge(version, email="x@example.com")
    for url in (
        f"/badges/{award.public_id}/image.svg",
        f"/issuers/{tenant_a.organization.public_id}/achievements/"
        f"{version.challenge_set.public_id}/image.svg",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("image/svg+xml")
        assert "default-src 'none'" in response["Content-Security-Policy"]
        body = response.content
        assert b"<script" not in body and b"&lt;script&gt;" in body
        assert b"href" not in body and b"@import" not in body and b"url(" not in body
        assert "<script>alert(1)</script>" in svg_texts(body)
        assert tenant_a.organization.name in svg_texts(body)
    assert "Ada Lovelace" in svg_texts(client.get(f"/badges/{award.public_id}/image.svg").content)


def test_a_set_image_needs_a_published_set_of_that_issuer(client, tenant_a, tenant_b, award):
    with tenant_context(tenant_a.organization):
        draft = ChallengeSetFactory(organization=tenant_a.organization)
    published = award.version.challenge_set.public_id
    a, b = tenant_a.organization.public_id, tenant_b.organization.public_id
    assert client.get(f"/issuers/{a}/achievements/{published}/image.svg").status_code == 200
    assert client.get(f"/issuers/{a}/achievements/{draft.public_id}/image.svg").status_code == 404
    assert client.get(f"/issuers/{b}/achievements/{published}/image.svg").status_code == 404


def test_issuer_profile_names_the_organization(client, award):
    organization = award.organization
    profile = client.get(f"/issuers/{organization.public_id}/").json()
    assert profile["id"].endswith(f"/issuers/{organization.public_id}/")
    assert profile["type"] == ["Profile"] and profile["name"] == organization.name
    response = client.get(f"/issuers/{organization.public_id}/jwks.json")
    assert response["Access-Control-Allow-Origin"] == "*"
