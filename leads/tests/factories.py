import factory
from django.utils import timezone

from leads.models import Activity, ActivityKind, Lead, RuleCategory, ScoringRule, Source


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Source {n}")
    slug = factory.Sequence(lambda n: f"source-{n}")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@acme-{n}.example")
    company = factory.Faker("company")
    job_title = "Head of Sales"
    source = factory.SubFactory(SourceFactory)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = ActivityKind.PAGE_VISIT
    occurred_at = factory.LazyFunction(timezone.now)


class FitRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRule

    name = factory.Sequence(lambda n: f"Fit rule {n}")
    category = RuleCategory.FIT
    field = "job_title"
    operator = "contains"
    value = "sales"
    points = 10


class BehaviourRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRule

    name = factory.Sequence(lambda n: f"Behaviour rule {n}")
    category = RuleCategory.BEHAVIOUR
    activity_kind = ActivityKind.DEMO_REQUEST
    points = 40
