from datetime import time

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from handoff import roles
from reps.models import Rep, Team, WorkingPeriod


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pass")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs) -> None:  # noqa: ANN003
        for name in extracted or ():
            group, _ = Group.objects.get_or_create(name=name)
            self.groups.add(group)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    manager = factory.SubFactory(UserFactory, roles=[roles.MANAGER])


class RepFactory(factory.django.DjangoModelFactory):
    """A BDR working Monday to Friday, 09:00 to 17:00, unless told otherwise."""

    class Meta:
        model = Rep
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, roles=[roles.BDR])
    team = factory.SubFactory(TeamFactory)
    timezone = "UTC"
    weekly_capacity = 50

    @factory.post_generation
    def hours(self, create: bool, extracted: list[tuple[int, time, time]] | None, **kwargs):  # noqa: ANN003,ANN201
        periods = extracted
        if periods is None:
            periods = [(day, time(9), time(17)) for day in range(5)]
        for weekday, start, end in periods:
            WorkingPeriod.objects.create(rep=self, weekday=weekday, start=start, end=end)
