"""Qualifying MQLs in batches gives what qualifying them one by one gives.

Each test builds one set of leads and reps, runs the one-by-one path and the batch on that same
state (the first run is rolled back to a savepoint), and compares everything both write.
"""

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import transaction

from handoff import roles
from handoff.models import (
    Delivery,
    Handoff,
    HandoffEvent,
    HandoffPoint,
    Notification,
    RequiredField,
    SlaPolicy,
)
from handoff.selectors import mql_waiting_ids
from handoff.services import handoff_assign, leads_assign_waiting, leads_qualify_batch
from handoff.tests.factories import HandoffFactory
from leads.models import Lead, LeadEvent, Stage
from leads.services import lead_lock, lead_qualify_if_ready
from leads.tests.factories import LeadFactory, SourceFactory
from reps.models import Absence, Rep, RoutingRule
from reps.tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)  # a Tuesday, 15:00 UTC


def mql_ready(count: int, **fields) -> list[int]:  # noqa: ANN003
    """Leads whose stored score qualifies (80 points, fit 30), each of its own company."""
    ids = []
    for _ in range(count):
        lead = LeadFactory(score=80, fit_score=30, engagement_score=50, **fields)
        if "company" not in fields:
            Lead.objects.filter(pk=lead.pk).update(company=f"Company {lead.pk}")
        ids.append(lead.pk)
    return ids


def snapshot() -> dict:
    """Everything qualification and assignment write, with the ids of handoffs and of stage
    events in keys and links replaced by their lead's id, so that two runs compare equal on
    PostgreSQL too, where a rolled-back run still uses up ids."""
    lead_of = dict(Handoff.objects.values_list("pk", "lead_id"))
    lead_of_event = dict(LeadEvent.objects.values_list("pk", "lead_id"))

    def by_lead(text: str) -> str:
        text = re.sub(r"(assigned:|/)(\d+)\b", lambda m: f"{m[1]}lead{lead_of[int(m[2])]}", text)
        return re.sub(
            r"exhausted:(\d+)\b", lambda m: f"exhausted:lead{lead_of_event[int(m[1])]}", text
        )

    notifications = {
        notification.pk: (
            notification.recipient_id,
            notification.kind,
            by_lead(notification.key),
            notification.title,
            notification.body,
            by_lead(notification.url),
            notification.read_at is None,
        )
        for notification in Notification.objects.all()
    }
    return {
        "leads": list(
            Lead.objects.order_by("pk").values_list("pk", "stage", "mql_count", "mql_at")
        ),
        "lead_events": list(
            LeadEvent.objects.order_by("pk").values_list(
                "lead_id", "actor_id", "from_stage", "to_stage", "reason"
            )
        ),
        "handoffs": list(
            Handoff.objects.order_by("lead_id").values_list(
                "lead_id",
                "rep_id",
                "state",
                "policy_id",
                "first_response_hours",
                "assigned_at",
                "due_at",
                "next_check_at",
            )
        ),
        "handoff_events": sorted(
            HandoffEvent.objects.values_list(
                "handoff__lead_id", "kind", "actor_id", "to_state", "note"
            )
        ),
        "notifications": sorted(notifications.values()),
        "deliveries": sorted(
            (notifications[notification_id], channel, status)
            for notification_id, channel, status in Delivery.objects.values_list(
                "notification_id", "channel", "status"
            )
        ),
        "reps": list(
            Rep.objects.order_by("pk").values_list("pk", "routing_credit", "last_assigned_at")
        ),
    }


def one_by_one(lead_ids: list[int]) -> Callable[[], None]:
    def run() -> None:
        for lead_id in lead_ids:
            lead_qualify_if_ready(lead_id=lead_id, now=NOW)

    return run


def batched(lead_ids: list[int]) -> Callable[[], None]:
    return lambda: leads_qualify_batch(lead_ids=lead_ids, now=NOW)


def both_ways(lead_ids: list[int]) -> tuple[dict, dict]:
    """The snapshot after qualifying the leads one by one, then after the batch, each run from
    the same starting state."""
    savepoint = transaction.savepoint()
    one_by_one(lead_ids)()
    single = snapshot()
    transaction.savepoint_rollback(savepoint)
    batched(lead_ids)()
    return single, snapshot()


def owners(result: dict) -> Counter:
    return Counter(rep_id for _lead, rep_id, *_ in result["handoffs"])


def test_the_weighted_split_skips_inactive_away_and_full_reps_as_one_by_one():
    team = TeamFactory()
    big = RepFactory(team=team, weekly_capacity=60)
    small = RepFactory(team=team, weekly_capacity=20)
    RepFactory(team=team, active=False)
    away = RepFactory(team=team)
    Absence.objects.create(rep=away, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(1))
    full = RepFactory(team=team, weekly_capacity=2)
    HandoffFactory.create_batch(2, rep=full, assigned_at=NOW - timedelta(hours=1))
    # One of them qualifies for the second time, after being recycled.
    lead_ids = mql_ready(19) + mql_ready(1, stage=Stage.RECYCLED, mql_count=1)

    single, batch = both_ways(lead_ids)

    assert batch == single
    assert {row[2] for row in batch["leads"] if row[0] in lead_ids} == {1, 2}
    # The full rep's two are the handoffs that filled the week before.
    assert owners(batch) == {big.pk: 15, small.pk: 5, full.pk: 2}
    assert len(batch["lead_events"]) == 20
    assert len(batch["handoff_events"]) == 20


def test_reps_at_work_are_preferred_up_to_a_day_share_as_one_by_one():
    at_work = RepFactory(weekly_capacity=25)  # a day's share is 5
    asleep = RepFactory(
        weekly_capacity=25,
        timezone="Asia/Tokyo",
        hours=[(day, time(9), time(17)) for day in range(5)],
    )
    lead_ids = mql_ready(8)

    single, batch = both_ways(lead_ids)

    assert batch == single
    # Five while the rep at work has fewer than a day's share waiting, then both take turns.
    assert owners(batch) == {at_work.pk: 7, asleep.pk: 1}


def test_the_account_owner_comes_first_within_the_batch_too():
    team = TeamFactory()
    owner = RepFactory(team=team)
    other = RepFactory(team=team)
    HandoffFactory(rep=owner, lead__email="old@acme.example", assigned_at=NOW - timedelta(days=2))
    acme = mql_ready(2, email="new@acme.example") + mql_ready(1, email="third@acme.example")
    # Two leads of a company nobody owns yet: the second goes where the first went, though
    # the round robin alone would give it to the other rep.
    fresh = mql_ready(1, company="Globex", email="a@gmail.com")
    fresh += mql_ready(1, company="globex", email="b@gmail.com")
    lead_ids = [fresh[0], acme[0], fresh[1], acme[1], acme[2]]

    single, batch = both_ways(lead_ids)

    assert batch == single
    handed = {lead: rep for lead, rep, *_ in batch["handoffs"]}
    assert [handed[lead_id] for lead_id in acme] == [owner.pk, owner.pk, owner.pk]
    assert handed[fresh[0]] == handed[fresh[1]] == owner.pk
    assert other.pk not in handed.values()


def test_a_routing_rule_and_an_sla_policy_apply_as_one_by_one():
    emea = TeamFactory()
    german = RepFactory(team=emea)
    RepFactory()
    rule = RoutingRule.objects.create(name="DACH", countries="DE, AT", team=emea)
    source = SourceFactory()
    policy = SlaPolicy.objects.create(name="Demo", source=source, first_response_hours=2)
    lead_ids = mql_ready(3, country="DE", source=source)

    single, batch = both_ways(lead_ids)

    assert batch == single
    assert owners(batch) == {german.pk: 3}
    assert {row[3] for row in batch["handoffs"]} == {policy.pk}
    assert rule.active


def test_nobody_eligible_leaves_the_leads_waiting_with_one_alert_per_manager():
    team = TeamFactory()
    RepFactory(team=team, active=False)
    second_manager = UserFactory(roles=[roles.MANAGER])
    lead_ids = mql_ready(3)

    single, batch = both_ways(lead_ids)

    assert batch == single
    assert batch["handoffs"] == []
    assert [row[1] for row in batch["leads"] if row[0] in lead_ids] == [Stage.MQL] * 3
    alerts = [row for row in batch["notifications"] if row[1] == "routing_exhausted"]
    assert sorted(row[0] for row in alerts) == sorted([team.manager_id, second_manager.pk])


def test_a_lead_missing_a_required_field_waits_without_an_alert():
    RepFactory()
    RequiredField.objects.create(point=HandoffPoint.TO_BDR, field="phone")
    lead_ids = mql_ready(1) + mql_ready(1, phone="+49 30 1234567")

    single, batch = both_ways(lead_ids)

    assert batch == single
    assert [row[0] for row in batch["handoffs"]] == [lead_ids[1]]
    assert batch["notifications"][0][1] == "handoff_assigned"
    assert len(batch["notifications"]) == 1


def test_leads_that_no_longer_qualify_are_skipped_and_a_second_batch_adds_nothing():
    RepFactory()
    ready = mql_ready(2)
    low = LeadFactory(score=10, fit_score=5, engagement_score=5).pk
    already = LeadFactory(stage=Stage.MQL, mql_count=1, score=80, fit_score=30).pk

    handoffs = leads_qualify_batch(lead_ids=[low, *ready, already], now=NOW)
    after_first = snapshot()
    again = leads_qualify_batch(lead_ids=[low, *ready, already], now=NOW)

    assert [handoff.lead_id for handoff in handoffs] == ready
    assert again == []
    assert snapshot() == after_first
    assert LeadEvent.objects.filter(lead_id__in=[low, already]).count() == 0
    assert Lead.objects.get(pk=low).stage == Stage.LEAD


def test_the_waiting_queue_is_placed_as_one_by_one_and_stops_at_the_first_lead_left_over():
    team = TeamFactory()
    RepFactory(team=team, weekly_capacity=30)
    RepFactory(team=team, weekly_capacity=10)
    RequiredField.objects.create(point=HandoffPoint.TO_BDR, field="phone")
    waiting = mql_ready(5, phone="+1 555 0100")
    Lead.objects.filter(pk=waiting[3]).update(phone="")
    Lead.objects.filter(pk__in=waiting).update(stage=Stage.MQL, mql_count=1, mql_at=NOW)

    def old_loop() -> None:
        # What the retry did before batches: each lead in turn, stopping at the first None.
        for lead_id in mql_waiting_ids(limit=500):
            with transaction.atomic():
                if handoff_assign(lead=lead_lock(lead_id=lead_id), actor=None, now=NOW) is None:
                    break

    savepoint = transaction.savepoint()
    old_loop()
    single = snapshot()
    transaction.savepoint_rollback(savepoint)
    placed = leads_assign_waiting(now=NOW)

    assert snapshot() == single
    assert placed == 3
    assert [row[0] for row in single["handoffs"]] == waiting[:3]
