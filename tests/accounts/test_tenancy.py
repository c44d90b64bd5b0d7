"""The scoped entry point fails closed and never crosses organizations."""

import pytest

from accounts.tenancy import CrossTenantWrite, NoTenantContext, tenant_context
from assessments.models import ChallengeSet
from tests.factories import ChallengeSetFactory


def test_tenant_query_without_context_raises(tenant_a):
    ChallengeSetFactory(organization=tenant_a.organization)
    with pytest.raises(NoTenantContext):
        list(ChallengeSet.objects.all())
    with pytest.raises(NoTenantContext):
        ChallengeSet.objects.count()


def test_tenant_query_sees_only_the_context_organization(tenant_a, tenant_b):
    mine = ChallengeSetFactory(organization=tenant_a.organization)
    ChallengeSetFactory(organization=tenant_b.organization)
    with tenant_context(tenant_a.organization):
        assert list(ChallengeSet.objects.all()) == [mine]
        assert ChallengeSet.objects.filter(pk__gt=0).count() == 1


def test_queryset_built_before_context_is_scoped_when_it_runs(tenant_a, tenant_b):
    ChallengeSetFactory(organization=tenant_a.organization)
    theirs = ChallengeSetFactory(organization=tenant_b.organization)
    lazy = ChallengeSet.objects.all()  # built with no context, as a form field does
    with tenant_context(tenant_b.organization):
        assert list(lazy.all()) == [theirs]
    with pytest.raises(NoTenantContext):
        list(lazy.all())


def test_saving_a_row_of_another_organization_inside_a_context_is_refused(tenant_a, tenant_b):
    theirs = ChallengeSetFactory(organization=tenant_b.organization)
    with tenant_context(tenant_a.organization), pytest.raises(CrossTenantWrite):
        theirs.title = "hijacked"
        theirs.save()
    theirs.refresh_from_db()
    assert theirs.title != "hijacked"


def test_new_rows_take_the_context_organization(tenant_a):
    with tenant_context(tenant_a.organization):
        created = ChallengeSet.objects.create(title="T", slug="t")
    assert created.organization_id == tenant_a.organization.pk


def test_related_managers_are_scoped_too(tenant_a, tenant_b):
    challenge_set = ChallengeSetFactory(organization=tenant_a.organization)
    with pytest.raises(NoTenantContext):
        list(challenge_set.challenges.all())
    with tenant_context(tenant_b.organization):
        assert list(challenge_set.challenges.all()) == []
