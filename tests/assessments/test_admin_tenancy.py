"""An author of organization A can reach nothing of organization B through the admin."""

import pytest

from accounts.models import AuditEvent, MemberInvitation, Membership
from accounts.services import member_invite
from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.models import Challenge, ChallengeOption, ChallengeSet
from tests.conftest import login
from tests.factories import ChallengeSetFactory, challenge_with_options


@pytest.fixture
def theirs(tenant_b):
    """A published set of organization B with a challenge, plus B's people rows."""
    with tenant_context(tenant_b.organization):
        challenge_set = ChallengeSetFactory(organization=tenant_b.organization, title="Secret set")
        challenge = challenge_with_options(challenge_set, title="Secret question")
        challenge_set_publish(challenge_set=challenge_set, actor=None)
        invitation = member_invite(
            organization=tenant_b.organization,
            email="x@beta.example",
            role="author",
            invited_by=tenant_b.owner,
        )
    return {
        "challengeset": challenge_set,
        "challenge": challenge,
        "membership": Membership.all_tenants.get(user=tenant_b.author),
        "memberinvitation": invitation,
        "auditevent": AuditEvent.all_tenants.filter(organization=tenant_b.organization).first(),
    }


MODELS = {
    "challengeset": "assessments",
    "challenge": "assessments",
    "membership": "accounts",
    "memberinvitation": "accounts",
    "auditevent": "accounts",
}


@pytest.fixture(params=["owner", "author"])
def a_owner_client(request, client, tenant_a):
    # The owner has every permission, so a 404 cannot be a 403 in disguise; the author is
    # the role the product promises this for.
    return login(client, getattr(tenant_a, request.param))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_object_pages_of_another_organization_are_404(a_owner_client, theirs, model, view):
    obj = theirs[model]
    url = f"/admin/{MODELS[model]}/{model}/{obj.pk}/{view}/"
    assert a_owner_client.get(url).status_code == 404
    assert (
        a_owner_client.post(url, {"role": "owner", "title": "x", "post": "yes"}).status_code == 404
    )


@pytest.mark.parametrize("model", MODELS)
def test_lists_and_search_never_show_another_organization(a_owner_client, theirs, tenant_a, model):
    response = a_owner_client.get(f"/admin/{MODELS[model]}/{model}/", {"q": "e"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Secret" not in page and "beta.example" not in page
    changelist = response.context["cl"]
    expected = changelist.model.all_tenants.filter(organization=tenant_a.organization)
    with tenant_context(tenant_a.organization):
        assert {obj.organization_id for obj in changelist.result_list} <= {tenant_a.organization.pk}
    assert changelist.result_count <= expected.count()


@pytest.mark.parametrize(
    "suffix",
    [
        "publish/",
        "duplicate/",
        "archive/",
        "restore/",
        "export/",
        "preview/",
        "versions/1/preview/",
    ],
)
def test_set_actions_on_another_organization_are_404(a_owner_client, theirs, suffix):
    url = f"/admin/assessments/challengeset/{theirs['challengeset'].pk}/{suffix}"
    response = (
        a_owner_client.post(url)
        if suffix in {"publish/", "duplicate/", "archive/", "restore/"}
        else a_owner_client.get(url)
    )
    assert response.status_code == 404
    assert (
        ChallengeSet.all_tenants.filter(organization=theirs["challengeset"].organization_id).count()
        == 1
    )
    assert ChallengeSet.all_tenants.get(pk=theirs["challengeset"].pk).status == "published"


@pytest.mark.parametrize(
    "action", ["publish_selected", "duplicate_selected", "archive_selected", "delete_selected"]
)
def test_admin_actions_with_another_organizations_ids_are_404(a_owner_client, theirs, action):
    response = a_owner_client.post(
        "/admin/assessments/challengeset/",
        {"action": action, "_selected_action": [theirs["challengeset"].pk], "post": "yes"},
    )
    assert response.status_code == 404
    assert ChallengeSet.all_tenants.get(pk=theirs["challengeset"].pk).status == "published"


def test_people_actions_with_another_organizations_ids_are_404(a_owner_client, theirs):
    response = a_owner_client.post(
        "/admin/accounts/memberinvitation/",
        {"action": "revoke", "_selected_action": [theirs["memberinvitation"].pk]},
    )
    assert response.status_code == 404
    assert MemberInvitation.all_tenants.get(pk=theirs["memberinvitation"].pk).revoked_at is None
    response = a_owner_client.post(
        "/admin/accounts/membership/",
        {"action": "delete_selected", "_selected_action": [theirs["membership"].pk], "post": "yes"},
    )
    assert response.status_code == 404
    assert Membership.all_tenants.filter(pk=theirs["membership"].pk).exists()


def test_another_organizations_set_cannot_be_picked_as_foreign_key(
    a_owner_client, theirs, tenant_a
):
    form_page = a_owner_client.get("/admin/assessments/challenge/add/")
    with tenant_context(tenant_a.organization):
        field = form_page.context["adminform"].form.fields["challenge_set"]
        choices = [str(pk) for pk, _ in field.choices if pk]
    assert str(theirs["challengeset"].pk) not in choices
    response = a_owner_client.post(
        "/admin/assessments/challenge/add/",
        {
            "challenge_set": theirs["challengeset"].pk,
            "position": 1,
            "kind": "conceptual",
            "title": "Sneaky",
            "prompt": "p",
            "difficulty": "beginner",
            "time_limit": 60,
            "max_attempts": 1,
            "points": 1,
            "answer_format": "single_choice",
            "grading_config": "{}",
            "options-TOTAL_FORMS": 0,
            "options-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Challenge.all_tenants.filter(title="Sneaky").exists()


def test_list_filter_choices_do_not_leak_another_organizations_sets(a_owner_client, theirs):
    page = a_owner_client.get("/admin/assessments/challenge/").content.decode()
    assert "Secret set" not in page


def test_options_of_another_organization_cannot_be_edited_through_an_inline(
    a_owner_client, theirs, tenant_a
):
    with tenant_context(tenant_a.organization):
        mine = challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
    their_option = ChallengeOption.all_tenants.filter(challenge=theirs["challenge"]).first()
    response = a_owner_client.post(
        f"/admin/assessments/challenge/{mine.pk}/change/",
        {
            "challenge_set": mine.challenge_set_id,
            "position": 1,
            "kind": "conceptual",
            "title": mine.title,
            "prompt": "p",
            "difficulty": "beginner",
            "time_limit": 60,
            "max_attempts": 1,
            "points": 1,
            "answer_format": "single_choice",
            "grading_config": "{}",
            "options-TOTAL_FORMS": 1,
            "options-INITIAL_FORMS": 1,
            "options-0-id": their_option.pk,
            "options-0-challenge": mine.pk,
            "options-0-position": 1,
            "options-0-text": "hijacked",
            "options-0-is_correct": "on",
        },
    )
    assert response.status_code in (200, 302)
    their_option.refresh_from_db()
    assert their_option.text != "hijacked"
