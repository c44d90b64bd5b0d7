"""The challenge editor stores what authors mean: LF line endings, variables and
misconceptions of variable questions."""

import yaml

from accounts.tenancy import tenant_context
from assessments.authoring.content import dump_yaml, parse_challenge_set
from assessments.authoring.services import challenge_set_import
from assessments.models import Challenge, ChallengeSet
from tests.assessments.test_admin_authoring import _challenge_form
from tests.assessments.test_content import VALID
from tests.factories import ChallengeSetFactory, challenge_with_options
from tests.variants.conftest import DEMO


def test_text_posted_with_crlf_is_stored_and_exported_with_lf(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge = challenge_with_options(ChallengeSetFactory(organization=tenant_a.organization))
        data = _challenge_form(
            challenge,
            prompt="What does this print?\r\n\r\nThink about `eval()`.",
            code="import torch\r\nx = torch.ones(2)\r\nprint(x)",
            hint="Look at\r\nthe mode.",
            explanation="Eval mode\r\nuses running statistics.\r",
        )
    data["options-0-text"] = "It normalizes\r\nat eval time"
    response = author_client.post(f"/admin/assessments/challenge/{challenge.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a.organization):
        saved = Challenge.objects.get(pk=challenge.pk)
        texts = [saved.prompt, saved.code, saved.hint, saved.explanation]
        texts += [option.text for option in saved.options.all()]
    assert not any("\r" in text for text in texts), texts
    assert saved.code == "import torch\nx = torch.ones(2)\nprint(x)"
    assert "It normalizes\nat eval time" in texts
    export = author_client.get(
        f"/admin/assessments/challengeset/{saved.challenge_set_id}/export/"
    ).content.decode()
    assert "\r" not in export and "\\r" not in export
    assert "code: |" in export  # multi-line text is written as a literal block


def test_imported_crlf_escapes_become_lf(author_client, tenant_a):
    raw = yaml.safe_load(VALID)
    raw["challenges"][0]["prompt"] = "Line one\r\nline two\rline three"
    parsed = parse_challenge_set(yaml.safe_dump(raw))
    assert parsed.challenges[0].prompt == "Line one\nline two\nline three"
    response = author_client.post(
        "/admin/assessments/challengeset/import/", {"text": VALID.replace("\n", "\r\n")}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        challenge_set = ChallengeSet.objects.get(slug="norms")
        prompts = [c.prompt + c.code for c in challenge_set.challenges.all()]
    assert prompts and not any("\r" in text for text in prompts)


def _demo_variable_question(tenant_a):
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set, _ = challenge_set_import(
            organization=organization, text=DEMO.read_bytes(), actor=None
        )
        return challenge_set.challenges.get(position=1)


def _variable_form(challenge, **overrides):
    with tenant_context(challenge.organization_id):
        data = _challenge_form(challenge)
    data.update(
        {
            "variables": challenge.variables,
            "misconceptions": dump_yaml(challenge.misconceptions),
            "options-TOTAL_FORMS": 0,
            "options-INITIAL_FORMS": 0,
        }
    )
    data.update(overrides)
    return data


def test_variable_question_shows_its_variables_and_misconceptions(author_client, tenant_a):
    challenge = _demo_variable_question(tenant_a)
    page = author_client.get(f"/admin/assessments/challenge/{challenge.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "rng = random.Random(seed)" in html  # the generator, in the variables field
    assert "- label: eval mode with fresh running statistics\n  code: |" in html
    assert 'name="options-TOTAL_FORMS"' not in html  # no option rows to fill in
    assert "computed by running the key and each misconception" in html
    variants = f"/admin/assessments/challengeset/{challenge.challenge_set_id}/variants/"
    assert f"href='{variants}'" in html and "Preview variants" in html
    # Not the raw template ("{{ rows }}") rendered as if it were what candidates see.
    assert "challenge-preview" not in html and "Each candidate gets their own variant" in html


def test_variable_question_edits_save_with_lf_and_bad_misconceptions_show_beside(
    author_client, tenant_a
):
    challenge = _demo_variable_question(tenant_a)
    url = f"/admin/assessments/challenge/{challenge.pk}/change/"
    misconceptions = [dict(item) for item in challenge.misconceptions]
    misconceptions[1]["label"] = "fresh eval mode"
    data = _variable_form(
        challenge,
        variables=challenge.variables.replace("\n", "\r\n"),
        misconceptions=dump_yaml(misconceptions).replace("\n", "\r\n"),
    )
    response = author_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_context(tenant_a.organization):
        saved = Challenge.objects.get(pk=challenge.pk)
    assert saved.variables == challenge.variables
    assert [m["label"] for m in saved.misconceptions][1] == "fresh eval mode"
    assert not any("\r" in m["code"] for m in saved.misconceptions)

    bad = _variable_form(challenge, misconceptions="- label: no program\n")
    response = author_client.post(url, bad)
    assert response.status_code == 200
    html = response.content.decode()
    assert "needs exactly one of &#x27;code&#x27;" in html
    assert "errors field-misconceptions" in html  # shown beside the field
    unparsable = _variable_form(challenge, misconceptions="- label: [unclosed")
    assert "Not valid YAML" in author_client.post(url, unparsable).content.decode()
    with tenant_context(tenant_a.organization):
        assert Challenge.objects.get(pk=challenge.pk).misconceptions == saved.misconceptions


def test_variable_question_refuses_option_rows(author_client, tenant_a):
    with tenant_context(tenant_a.organization):
        challenge = challenge_with_options(
            ChallengeSetFactory(organization=tenant_a.organization),
            kind="predict_output",
            code="print(1)",
        )
        data = _challenge_form(
            challenge,
            variables="variables = {'n': 1}",
            misconceptions="- label: off by one\n  text: '{{ n }}0'",
        )
    response = author_client.post(f"/admin/assessments/challenge/{challenge.pk}/change/", data)
    assert response.status_code == 200
    assert "computed for each candidate" in response.content.decode()
