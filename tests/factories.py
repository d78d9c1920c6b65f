"""Factories for tenancy rows; each app's factories live beside its tests."""

import factory

from tenancy.models import Organization, Seat, User

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password(TEST_PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Association {n}")
    slug = factory.Sequence(lambda n: f"association-{n}")
    time_zone = "Europe/Paris"


class SeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seat

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Seat.Role.MSM

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.for_org(kwargs["organization"]).create(*args, **kwargs)
