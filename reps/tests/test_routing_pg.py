"""Routing under load on PostgreSQL: twenty MQLs qualified at once from ten threads are split
evenly between two reps of equal weight, each lead with exactly one owner."""

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import close_old_connections, connection

from handoff.models import Handoff, HandoffEvent
from leads.models import ActivityKind, Lead, LeadEvent
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.models import Rep
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)
THREADS = 10
LEADS_PER_THREAD = 2


def qualified_lead(number: int) -> Lead:
    # A company and domain of its own, so that no lead finds another's account owner.
    lead = LeadFactory(company=f"Company {number}", email=f"buyer@company-{number}.example")
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    return lead


def test_twenty_mqls_from_ten_threads_split_ten_and_ten_between_equal_reps():
    team = TeamFactory()
    first = RepFactory(team=team, weekly_capacity=50)
    second = RepFactory(team=team, weekly_capacity=50)
    leads = [qualified_lead(number) for number in range(THREADS * LEADS_PER_THREAD)]
    barrier = threading.Barrier(THREADS)
    results: list[list] = [[] for _ in range(THREADS)]

    def qualify_two(index: int) -> None:
        try:
            barrier.wait()
            for lead in leads[index * LEADS_PER_THREAD : (index + 1) * LEADS_PER_THREAD]:
                try:
                    results[index].append(lead_qualify_if_ready(lead_id=lead.pk, now=NOW))
                except Exception as error:  # noqa: BLE001 - the test inspects what each got
                    results[index].append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=qualify_two, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    outcomes = Counter(type(result).__name__ for got in results for result in got)
    assert outcomes == {"Handoff": 20}
    assert Counter(Handoff.objects.values_list("rep_id", flat=True)) == {
        first.pk: 10,
        second.pk: 10,
    }
    lead_ids = [lead.pk for lead in leads]
    # One owner per lead: one open handoff, one assignment on record, one MQL event.
    assert Counter(Handoff.objects.open().values_list("lead_id", flat=True)) == dict.fromkeys(
        lead_ids, 1
    )
    assert Counter(
        HandoffEvent.objects.filter(kind=HandoffEvent.Kind.ASSIGNED).values_list(
            "handoff__lead_id", flat=True
        )
    ) == dict.fromkeys(lead_ids, 1)
    assert Counter(
        LeadEvent.objects.filter(to_stage="mql").values_list("lead_id", flat=True)
    ) == dict.fromkeys(lead_ids, 1)
    assert Lead.objects.filter(pk__in=lead_ids, stage="mql").count() == 20
    # Twenty picks between two equal weights leave the round robin where it started.
    assert sorted(Rep.objects.values_list("routing_credit", flat=True)) == [0.0, 0.0]
