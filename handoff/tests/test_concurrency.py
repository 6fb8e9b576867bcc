"""Races on PostgreSQL: many requests at once on the same rows."""

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import close_old_connections, connection
from django.db.models import Count

from handoff.errors import TransitionConflict
from handoff.models import Handoff, HandoffEvent, HandoffState
from handoff.services import handoff_accept, leads_qualify_in_batches
from leads.models import ActivityKind, Lead, LeadEvent
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


def run_at_once(count: int, work) -> list:  # noqa: ANN001
    """Run `work(i)` in `count` threads released together; return each result or exception."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def runner(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def qualified_lead() -> Lead:
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    return lead


def test_twenty_simultaneous_accepts_one_wins():
    rep = RepFactory()
    handoff = lead_qualify_if_ready(lead_id=qualified_lead().pk, now=NOW)

    results = run_at_once(20, lambda _: handoff_accept(handoff_id=handoff.pk, actor=rep.user))

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"Handoff": 1, "TransitionConflict": 19}
    assert all(isinstance(r, Handoff | TransitionConflict) for r in results)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ACCEPTED
    assert HandoffEvent.objects.filter(handoff=handoff, kind="accepted").count() == 1


def test_parallel_qualification_hands_each_lead_to_exactly_one_rep():
    team = TeamFactory()
    first = RepFactory(team=team)
    second = RepFactory(team=team)
    leads = [qualified_lead() for _ in range(20)]

    run_at_once(20, lambda index: lead_qualify_if_ready(lead_id=leads[index].pk, now=NOW))

    assert Handoff.objects.count() == 20
    assert Counter(Handoff.objects.values_list("rep_id", flat=True)) == {
        first.pk: 10,
        second.pk: 10,
    }
    assert LeadEvent.objects.filter(to_stage="mql").count() == 20
    assert Lead.objects.filter(stage="mql").count() == 20


def test_parallel_batches_hand_each_lead_to_exactly_one_rep_in_the_weighted_split():
    team = TeamFactory()
    big = RepFactory(team=team, weekly_capacity=90)
    small = RepFactory(team=team, weekly_capacity=30)
    lead_ids = [
        LeadFactory(score=80, fit_score=30, engagement_score=50, company=f"Company {n}").pk
        for n in range(80)
    ]
    # Four threads, each over every lead in batches of ten: batches overlap on leads and all
    # take the same reps' locks. In the evening nobody is at work, so the split is the
    # weights' alone.
    shares = [lead_ids[offset:] + lead_ids[:offset] for offset in (0, 20, 40, 60)]
    evening = datetime(2026, 12, 1, 20, tzinfo=UTC)

    results = run_at_once(
        4,
        lambda index: leads_qualify_in_batches(lead_ids=shares[index], now=evening, batch_size=10),
    )

    assert sum(results) == 80
    assert (
        list(Handoff.objects.order_by().values("lead_id").annotate(n=Count("pk")).values_list("n"))
        == [(1,)] * 80
    )
    assert Counter(
        HandoffEvent.objects.values_list("handoff__lead_id", flat=True)
    ) == dict.fromkeys(lead_ids, 1)
    assert Counter(LeadEvent.objects.values_list("lead_id", flat=True)) == dict.fromkeys(
        lead_ids, 1
    )
    assert Counter(Handoff.objects.values_list("rep_id", flat=True)) == {big.pk: 60, small.pk: 20}
