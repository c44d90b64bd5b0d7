"""Authors build, preview, publish and version sets in the admin; reviewers only look."""

from django.core.management import call_command

from accounts.models import AuditEvent
from accounts.tenancy import tenant_context
from assessments.models import Challenge, ChallengeSet, ChallengeSetVersion
from tests.assessments.test_content import VALID
from tests.conftest import login
from tests.factories import ChallengeSetFactory, challenge_with_options

# VALID without its predict-output challenge: publishing it runs no code, so these admin
# tests need no sandbox (tests/grading/test_answer_keys.py covers the path that does).
NO_CODE = (
    VALID[: VALID.index("  - kind: predict_output")] + VALID[VALID.index("  - kind: conceptual") :]
)


def _challenge_form(challenge, **overrides):
    data = {
        "challenge_set": challenge.challenge_set_id,
        "position": challenge.position,
        "kind": challenge.kind,
        "title": challenge.title,
        "prompt": challenge.prompt,
        "difficulty": challenge.difficulty,
        "time_limit": challenge.time_limit,
        "max_attempts": challenge.max_attempts,
        "points": challenge.points,
        "answer_format": challenge.answer_format,
        "grading_config": "{}",
        "code": challenge.code,
        "hint": challenge.hint,
        "explanation": challenge.explanation,
    }
    options = list(challenge.options.all())
    data.update({"options-TOTAL_FORMS": len(options), "options-INITIAL_FORMS": len(options)})
    for index, option in enumerate(options):
        data.update(
            {
                f"options-{index}-id": option.pk,
                f"options-{index}-challenge": challenge.pk,
                f"options-{index}-position": option.position,
                f"options-{index}-text": option.text,
            }
        )
        if option.is_correct:
            data[f"options-{index}-is_correct"] = "on"
    data.update(overrides)
    return data


def test_author_imports_previews_and_publishes(author_client, tenant_a):
    response = author_client.post("/admin/assessments/challengeset/import/", {"text": NO_CODE})
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSet.objects.get(slug="norms")
    preview = author_client.get(f"/admin/assessments/challengeset/{challenge_set.pk}/preview/")
    page = preview.content.decode()
    assert "Challenge - 1 Problem" in page and "1:30 remaining" in page
    assert "Attempts: 1 left" in page and "key-mark" not in page
    assert (
        "key-mark"
        in author_client.get(
            f"/admin/assessments/challengeset/{challenge_set.pk}/preview/?key=1"
        ).content.decode()
    )
    response = author_client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/publish/")
    assert response.status_code == 302
    assert "Published version 1" in author_client.get(response["Location"]).content.decode()
    with tenant_context(tenant_a.organization):
        assert ChallengeSetVersion.objects.filter(challenge_set=challenge_set, number=1).exists()
    again = author_client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/publish/")
    page = author_client.get(again["Location"]).content.decode()
    assert "Nothing changed since version 1" in page and "Published version" not in page
    with tenant_context(tenant_a.organization):
        assert challenge_set.versions.count() == 1
    version_page = author_client.get(
        f"/admin/assessments/challengeset/{challenge_set.pk}/versions/1/preview/"
    )
    assert "Eval mode" in version_page.content.decode()
    history = author_client.get(f"/admin/assessments/challengeset/{challenge_set.pk}/history/")
    assert "Published" in history.content.decode() and "Imported" in history.content.decode()


def test_bad_import_shows_every_problem_and_writes_nothing(author_client, tenant_a):
    bad = VALID.replace("difficulty: beginner", "difficulty: easy").replace(
        "kind: conceptual", "kind: x"
    )
    response = author_client.post("/admin/assessments/challengeset/import/", {"text": bad})
    assert response.status_code == 400
    page = response.content.decode()
    assert "field &#x27;difficulty&#x27;" in page and "field &#x27;kind&#x27;" in page
    assert not ChallengeSet.all_tenants.filter(organization=tenant_a.organization).exists()


def test_publish_refusal_is_shown_with_reasons(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSetFactory(organization=tenant_a.organization)
    response = author_client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/publish/")
    assert response.status_code == 409
    assert "The set has no challenges." in response.content.decode()


def test_export_downloads_yaml_that_imports_back(author_client, tenant_a):
    author_client.post("/admin/assessments/challengeset/import/", {"text": VALID})
    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSet.objects.get(slug="norms")
    response = author_client.get(f"/admin/assessments/challengeset/{challenge_set.pk}/export/")
    assert response["Content-Disposition"] == 'attachment; filename="norms.yaml"'
    again = author_client.post(
        "/admin/assessments/challengeset/import/", {"text": response.content.decode()}
    )
    assert again.status_code == 302


def test_option_inline_refuses_two_correct_answers(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge = challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
        data = _challenge_form(challenge)
    data["options-1-is_correct"] = "on"
    response = author_client.post(f"/admin/assessments/challenge/{challenge.pk}/change/", data)
    assert response.status_code == 200
    assert "exactly one correct option, not 2" in response.content.decode()


def test_author_edit_is_saved_and_audited(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge = challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
        data = _challenge_form(challenge, title="Renamed")
    response = author_client.post(f"/admin/assessments/challenge/{challenge.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a.organization):
        assert Challenge.objects.get(pk=challenge.pk).title == "Renamed"
        assert AuditEvent.objects.filter(
            action="changed", target_id=str(challenge.public_id)
        ).exists()


def test_reviewer_can_look_but_not_change(client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge = challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
        data = _challenge_form(challenge, title="Renamed")
    login(client, tenant_a.reviewer)
    assert client.get(f"/admin/assessments/challenge/{challenge.pk}/change/").status_code == 200
    assert (
        client.post(f"/admin/assessments/challenge/{challenge.pk}/change/", data).status_code == 403
    )
    assert (
        client.post(
            f"/admin/assessments/challengeset/{challenge.challenge_set_id}/publish/"
        ).status_code
        == 403
    )
    assert client.get("/admin/assessments/challengeset/import/").status_code == 403


def test_markdown_is_sanitized_in_previews(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge = challenge_with_options(
            ChallengeSetFactory(organization=tenant_a.organization),
            prompt="Hello <script>alert(1)</script> [x](javascript:alert(1)) **bold**",
        )
    page = author_client.get(
        f"/admin/assessments/challenge/{challenge.pk}/change/"
    ).content.decode()
    preview = page[page.index("challenge-preview") :]
    preview = preview[: preview.index("</div>")]
    assert "<strong>bold</strong>" in preview
    assert "<script>" not in page  # the textarea holds the prompt escaped
    assert "javascript:" not in preview


def test_demo_author_sees_batchnorm_mastery_and_nothing_of_the_other_organization(
    client, db, sandbox_socket
):
    call_command("load_demo")
    login_response = client.post(
        "/admin/login/", {"username": "author@demo.example", "password": "demo-password-123"}
    )
    assert login_response.status_code == 302
    page = client.get("/admin/assessments/challengeset/").content.decode()
    assert "BatchNorm Mastery" in page
    call_command("load_demo")  # idempotent: no second version, no duplicate users
    assert ChallengeSetVersion.all_tenants.count() == 1
    other = ChallengeSet.all_tenants.create(
        organization=ChallengeSet.all_tenants.get().organization.__class__.objects.get(
            slug="other"
        ),
        title="Other secret",
        slug="other-secret",
    )
    page = client.get("/admin/assessments/challengeset/").content.decode()
    assert "Other secret" not in page
    assert client.get(f"/admin/assessments/challengeset/{other.pk}/change/").status_code == 404


def test_set_list_runs_a_constant_number_of_queries(author_client, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_queries():
        with CaptureQueriesContext(connection) as captured:
            assert author_client.get("/admin/assessments/challengeset/").status_code == 200
        return len(captured)

    with tenant_context(tenant_a.organization):
        challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
    count_queries()  # the first page after login also stores the active organization
    few = count_queries()
    with tenant_context(tenant_a.organization):
        for _ in range(5):
            challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
    assert count_queries() == few


def test_pending_changes_follow_edits_and_publishing(author_client, tenant_a):
    from assessments.authoring.selectors import challenge_sets_with_summary, has_unpublished_changes

    author_client.post("/admin/assessments/challengeset/import/", {"text": NO_CODE})
    with tenant_context(tenant_a.organization):
        challenge_set = challenge_sets_with_summary().get(slug="norms")
        assert has_unpublished_changes(challenge_set)
    author_client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/publish/")
    with tenant_context(tenant_a.organization):
        assert not has_unpublished_changes(challenge_sets_with_summary().get(slug="norms"))
        challenge = Challenge.objects.filter(challenge_set=challenge_set).first()
        data = _challenge_form(challenge, hint="A new hint")
    assert (
        author_client.post(f"/admin/assessments/challenge/{challenge.pk}/change/", data).status_code
        == 302
    )
    with tenant_context(tenant_a.organization):
        assert has_unpublished_changes(challenge_sets_with_summary().get(slug="norms"))


def test_deleting_a_challenge_is_audited_and_refreshes_the_draft(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSetFactory(organization=tenant_a.organization)
        keep = challenge_with_options(challenge_set)
        gone = challenge_with_options(challenge_set, title="To delete")
    response = author_client.post(
        f"/admin/assessments/challenge/{gone.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        assert list(Challenge.objects.filter(challenge_set=challenge_set)) == [keep]
        event = AuditEvent.objects.get(action="deleted")
        assert event.target_repr == "To delete" and event.actor == tenant_a.author
        challenge_set.refresh_from_db()
        from assessments.authoring.services import challenge_set_content, content_hash

        assert challenge_set.draft_hash == content_hash(challenge_set_content(challenge_set))


def test_set_page_links_the_latest_key_check(author_client, tenant_a):
    author_client.post("/admin/assessments/challengeset/import/", {"text": NO_CODE})
    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSet.objects.get(slug="norms")
    page = author_client.get(f"/admin/assessments/challengeset/{challenge_set.pk}/change/")
    assert "Never checked" in page.content.decode()
    author_client.post(f"/admin/assessments/challengeset/{challenge_set.pk}/verify-keys/")
    page = author_client.get(f"/admin/assessments/challengeset/{challenge_set.pk}/change/")
    assert "Verify keys: Passed" in page.content.decode()
