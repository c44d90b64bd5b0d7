"""factory_boy factories for the domain; tenant rows always get an organization."""

from __future__ import annotations

import factory

from accounts.models import Membership, Organization, Role, User
from assessments.models import Challenge, ChallengeOption, ChallengeSet

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership
        django_get_or_create = ("organization", "user")

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.AUTHOR

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_tenants.create(*args, **kwargs)


class _TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj = model_class(*args, **kwargs)
        obj.save()
        return obj


class ChallengeSetFactory(_TenantFactory):
    class Meta:
        model = ChallengeSet

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Challenge set {n}")
    slug = factory.Sequence(lambda n: f"set-{n}")
    tagline = "Test your skills under time pressure!"
    badge_promise = "Get all challenges correct to earn this badge!"


class ChallengeFactory(_TenantFactory):
    class Meta:
        model = Challenge

    challenge_set = factory.SubFactory(ChallengeSetFactory)
    organization = factory.SelfAttribute("challenge_set.organization")
    position = factory.Sequence(lambda n: n + 1)
    kind = "conceptual"
    title = factory.Sequence(lambda n: f"Question {n}")
    prompt = "What does BatchNorm's running mean do?"
    difficulty = "intermediate"
    time_limit = 90
    max_attempts = 2
    hint = "Think about eval mode."
    explanation = "It is used at evaluation time."
    answer_format = "single_choice"
    grading_config = factory.LazyFunction(dict)


class ChallengeOptionFactory(_TenantFactory):
    class Meta:
        model = ChallengeOption

    challenge = factory.SubFactory(ChallengeFactory)
    organization = factory.SelfAttribute("challenge.organization")
    position = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"Option {n}")
    is_correct = False


def challenge_with_options(challenge_set: ChallengeSet, **kwargs) -> Challenge:
    """Return a valid single-choice challenge with one correct and two wrong options."""
    challenge = ChallengeFactory(challenge_set=challenge_set, **kwargs)
    ChallengeOptionFactory(challenge=challenge, text="It normalizes at eval time", is_correct=True)
    ChallengeOptionFactory(challenge=challenge, text="It speeds up training")
    ChallengeOptionFactory(challenge=challenge, text="It replaces dropout")
    return challenge
