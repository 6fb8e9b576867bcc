from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from handoff.models import Handoff
from leads.models import ActivityKind, Lead, Stage
from leads.services import leads_rescore
from leads.tasks import rescore_leads, rescore_open_leads
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.tests.factories import RepFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 2, 15, tzinfo=UTC)


def test_nightly_rescore_decays_scores_but_never_demotes_an_mql():
    RepFactory()
    # A demo request (50 points, half-life 30 days) made 60 days ago is worth 12.5 today.
    old = LeadFactory(job_title="", email="old@corp.example")
    ActivityFactory(lead=old, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW - timedelta(days=60))
    mql = LeadFactory(job_title="", email="mql@corp.example")
    ActivityFactory(lead=mql, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW - timedelta(days=60))
    Lead.objects.filter(pk=mql.pk).update(stage=Stage.MQL, mql_count=1)

    with time_machine.travel(NOW, tick=False):
        chunks = rescore_open_leads.delay().get()

    assert chunks == 1
    assert not Handoff.objects.exists()
    old.refresh_from_db()
    mql.refresh_from_db()
    # Company email 10 + decayed demo request 12 (12.5 rounded half to even).
    assert (old.score, old.stage) == (22, Stage.LEAD)
    assert (mql.score, mql.stage) == (22, Stage.MQL)


def test_nightly_rescore_hands_off_leads_that_now_qualify():
    RepFactory()
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    with time_machine.travel(NOW, tick=False):
        assert rescore_leads.delay([lead.pk], NOW.isoformat()).get() == {
            "rescored": 1,
            "handed_off": 1,
        }
        assert rescore_leads.delay([lead.pk], NOW.isoformat()).get() == {
            "rescored": 1,
            "handed_off": 0,
        }
        rescore_open_leads.delay().get()
    assert Handoff.objects.filter(lead=lead).count() == 1


def test_recycled_lead_may_qualify_once_more():
    RepFactory()
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.RECYCLED, mql_count=1)
    with time_machine.travel(NOW, tick=False):
        assert rescore_leads.delay([lead.pk], NOW.isoformat()).get()["handed_off"] == 1
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.RECYCLED)
    with time_machine.travel(NOW, tick=False):
        assert rescore_leads.delay([lead.pk], NOW.isoformat()).get()["handed_off"] == 0
    lead.refresh_from_db()
    assert (lead.stage, lead.mql_count) == (Stage.RECYCLED, 2)


def test_nightly_pass_spreads_leads_over_chunks(monkeypatch):
    import leads.tasks

    monkeypatch.setattr(leads.tasks, "RESCORE_CHUNK_SIZE", 2)
    leads = [LeadFactory() for _ in range(5)]
    with time_machine.travel(NOW, tick=False):
        assert rescore_open_leads.delay().get() == 3
    assert Lead.objects.filter(pk__in=[lead.pk for lead in leads], scored_at=NOW).count() == 5
