"""The bulk rescoring pass gives exactly the scores of the engine on model instances."""

import gc
from datetime import UTC, datetime, timedelta

import pytest

from leads.models import ActivityKind, Lead
from leads.services import leads_rescore, scorer_current
from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 2, 15, 30, 250_000, tzinfo=UTC)


def test_bulk_rescore_matches_scoring_each_lead_from_its_models():
    lead = LeadFactory(
        job_title="VP Sales",
        email="ann@corp.example",
        company_size=120,
        attributes={"occupation": "Working Professional", "time_on_site_seconds": 950},
    )
    same_instant = NOW - timedelta(days=3, microseconds=17)
    for kind, detail, quantity, occurred_at in [
        (ActivityKind.PAGE_VISIT, "/Pricing/plans", 3, same_instant),
        (ActivityKind.PAGE_VISIT, "/blog", 2, same_instant),
        (ActivityKind.DEMO_REQUEST, "", 1, NOW - timedelta(days=45, seconds=1)),
        (ActivityKind.EMAIL_OPEN, "", 5, NOW - timedelta(days=200)),
        (ActivityKind.CHAT, "", 1, NOW + timedelta(hours=2)),
        (ActivityKind.WEBINAR_ATTENDED, "", 4, datetime(2026, 11, 2, tzinfo=UTC)),
    ]:
        ActivityFactory(
            lead=lead, kind=kind, detail=detail, quantity=quantity, occurred_at=occurred_at
        )
    student = LeadFactory(job_title="Student", email="kid@gmail.com", source=None)
    ActivityFactory(lead=student, kind=ActivityKind.FORM_FILL, occurred_at=NOW)
    quiet = LeadFactory(email="", company_size=None)
    leads = [lead, student, quiet]

    leads_rescore(lead_ids=[each.pk for each in leads], batch_size=2, now=NOW)

    scorer = scorer_current(now=NOW)
    for each in leads:
        expected = scorer.score(each, list(each.activities.all()))
        saved = Lead.objects.get(pk=each.pk)
        assert (saved.score, saved.fit_score, saved.engagement_score) == (
            expected.total,
            expected.fit,
            expected.engagement,
        )
        assert saved.score_breakdown == expected.breakdown
        assert saved.disqualified_by == expected.disqualified_by
        assert saved.scored_at == NOW
    # The activities at the same instant keep the newest-id-first order of the models.
    visits = next(
        entry
        for entry in Lead.objects.get(pk=lead.pk).score_breakdown
        if entry["rule"] == "Visited the website"
    )
    assert [item["occurred_at"] for item in visits["activities"]][:2] == [
        "2026-11-28T02:15:30.249983+00:00",
        "2026-11-28T02:15:30.249983+00:00",
    ]
    assert Lead.objects.get(pk=student.pk).disqualified_by == "Student, intern or job seeker"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_bulk_pass_outside_a_transaction_writes_every_batch_from_its_writer_thread():
    leads = [LeadFactory(email=f"lead{number}@corp.example") for number in range(5)]
    ActivityFactory(lead=leads[0], kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)

    # Five leads in batches of two: the writer thread takes over, as in the nightly pass.
    assert leads_rescore(lead_ids=[lead.pk for lead in leads], batch_size=2, now=NOW) == 5

    scores = dict(Lead.objects.filter(scored_at=NOW).values_list("pk", "score"))
    assert scores == {leads[0].pk: 75, **{lead.pk: 25 for lead in leads[1:]}}


def test_a_bulk_pass_gives_the_cyclic_collector_back_as_it_found_it():
    lead = LeadFactory()

    leads_rescore(lead_ids=[lead.pk], now=NOW)
    assert gc.isenabled()

    gc.disable()
    try:
        leads_rescore(lead_ids=[lead.pk], now=NOW)
        assert not gc.isenabled()
    finally:
        gc.enable()
