"""The challenge editor stores what authors mean: LF line endings, variables and
misconceptions of variable questions."""

import yaml

from accounts.tenancy import tenant_context
from assessments.authoring.content import parse_challenge_set
from assessments.models import Challenge, ChallengeSet
from tests.assessments.test_admin_authoring import _challenge_form
from tests.assessments.test_content import VALID
from tests.factories import ChallengeSetFactory, challenge_with_options


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
