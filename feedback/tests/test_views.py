import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from feedback.selectors import Cell
from handoff import roles
from handoff.services import (
    handoff_accept,
    handoff_assign,
    handoff_qualify,
    handoff_reject,
    lead_bant_update,
)
from leads.models import Lead, LeadEvent, Stage
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# A Wednesday in ISO week 2026-W48, inside the factories' working day; the review's twelve
# weeks run from W37 (Monday 7 September) to W48 (Monday 23 November).
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
THIS_MONDAY = date(2026, 11, 23)
LAST_MONDAY = date(2026, 11, 16)
CONFIRMED_BANT = {
    "budget_status": "confirmed",
    "authority_status": "confirmed",
    "need_status": "confirmed",
    "timeline_status": "confirmed",
    "ready_for_demo": True,
}


@pytest.fixture
def rep():
    return RepFactory(user__first_name="Bea", user__last_name="Rep")


@pytest.fixture
def marketing(client):
    user = UserFactory(username="marketing", roles=[roles.MARKETING])
    client.force_login(user)
    return user


def _routed(*, source_name: str, campaign: str = "", score: int = 42) -> int:
    source = SourceFactory(name=source_name, slug=source_name.lower().replace(" ", "-"))
    lead = LeadFactory(
        stage=Stage.MQL,
        mql_count=1,
        source=source,
        campaign=campaign,
        first_name="Ada",
        score=score,
    )
    with transaction.atomic():
        return handoff_assign(lead=lead, actor=None).pk


def reject(
    *,
    source_name: str,
    reason_code: str = "not-qualified",
    note: str = "Too small.",
    campaign: str = "",
    score: int = 42,
    at: datetime = NOW,
) -> int:
    """Route an MQL to the rep and have the rep reject it at `at`, through the services."""
    with time_machine.travel(at, tick=False):
        handoff_id = _routed(source_name=source_name, campaign=campaign, score=score)
        rep_user = Lead.objects.get(handoffs=handoff_id).handoffs.get().rep.user
        handoff_reject(handoff_id=handoff_id, actor=rep_user, reason_code=reason_code, note=note)
    return handoff_id


def qualify(*, source_name: str, campaign: str = "", score: int = 42, at: datetime = NOW) -> int:
    """Route an MQL and have the rep accept it, confirm BANT and make it SQL at `at`."""
    with time_machine.travel(at, tick=False):
        handoff_id = _routed(source_name=source_name, campaign=campaign, score=score)
        rep_user = Lead.objects.get(handoffs=handoff_id).handoffs.get().rep.user
        handoff_accept(handoff_id=handoff_id, actor=rep_user)
        lead_bant_update(handoff_id=handoff_id, actor=rep_user, bant=CONFIRMED_BANT)
        handoff_qualify(handoff_id=handoff_id, actor=rep_user)
    return handoff_id


def _row(rows: list, key: str):  # noqa: ANN202
    return next(row for row in rows if row.key == key)


@time_machine.travel(NOW, tick=False)
def test_review_counts_rejection_rates_by_week_and_source(client, rep, marketing):
    reject(source_name="Webinar", reason_code="competitor", note="Works at a rival.")
    reject(source_name="Webinar", reason_code="not-qualified", note="No team to sell to.")
    qualify(source_name="Webinar")
    reject(source_name="Ebook", campaign="Spring ebook", note="Student project.")
    qualify(source_name="Webinar", at=NOW - timedelta(days=7))

    response = client.get(reverse("feedback-review"))

    assert response.status_code == 200
    review = response.context["review"]
    assert review.weeks[0] == date(2026, 9, 7)
    assert review.weeks[-2:] == [LAST_MONDAY, THIS_MONDAY]
    assert review.week_labels[-1] == "2026-W48"
    assert review.overall[-2:] == [Cell(ended=1, rejected=0), Cell(ended=4, rejected=3)]
    assert review.total == Cell(ended=5, rejected=3)
    sources = review.tables["source"]
    assert [(row.label, row.total) for row in sources] == [
        ("Webinar", Cell(ended=4, rejected=2)),
        ("Ebook", Cell(ended=1, rejected=1)),
    ]
    assert sources[0].cells[-2:] == [Cell(ended=1, rejected=0), Cell(ended=3, rejected=2)]
    assert [(row.label, row.total) for row in review.tables["campaign"]] == [
        ("No campaign", Cell(ended=4, rejected=2)),
        ("Spring ebook", Cell(ended=1, rejected=1)),
    ]
    content = response.content.decode()
    assert "67% <small>2/3</small>" in content
    assert "50% <small>2/4</small>" in content
    chart = json.loads(
        content.split('<script id="chart-data" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["overall"][-2:] == [0.0, 75.0]
    assert chart["overall"][0] is None
    assert chart["ended"][-2:] == [1, 4]
    assert chart["groups"] == [
        {"label": "Webinar", "rate": 50.0, "rejected": 2, "ended": 4},
        {"label": "Ebook", "rate": 100.0, "rejected": 1, "ended": 1},
    ]


@time_machine.travel(NOW, tick=False)
def test_a_reasons_rate_is_over_every_handoff_that_ended_that_week(client, rep, marketing):
    reject(source_name="Webinar", reason_code="competitor")
    reject(source_name="Webinar", reason_code="not-qualified")
    reject(source_name="Ebook", reason_code="not-qualified")
    qualify(source_name="Webinar")
    qualify(source_name="Webinar", at=NOW - timedelta(days=7))

    response = client.get(reverse("feedback-review"), {"by": "reason"})

    reasons = response.context["review"].tables["reason"]
    assert [(row.key, row.label, row.cells[-1]) for row in reasons] == [
        ("not-qualified", "Not qualified", Cell(ended=4, rejected=2)),
        ("competitor", "Competitor", Cell(ended=4, rejected=1)),
    ]
    assert [row.total for row in reasons] == [
        Cell(ended=5, rejected=2),
        Cell(ended=5, rejected=1),
    ]
    assert response.context["by"] == "reason"
    links = [row["cells"][-1]["url"] for row in response.context["rows"]]
    assert links == [
        f"{reverse('feedback-rejections')}?reason=not-qualified&week={THIS_MONDAY}",
        f"{reverse('feedback-rejections')}?reason=competitor&week={THIS_MONDAY}",
    ]


@time_machine.travel(NOW, tick=False)
def test_score_bands_are_in_score_order_with_their_rates(client, rep, marketing):
    reject(source_name="Webinar", score=10)
    reject(source_name="Webinar", score=24)
    qualify(source_name="Webinar", score=25)
    reject(source_name="Webinar", score=99)
    qualify(source_name="Webinar", score=100)
    qualify(source_name="Webinar", score=180)

    response = client.get(reverse("feedback-review"), {"by": "band"})

    bands = response.context["review"].tables["band"]
    assert [(row.key, row.label, row.total) for row in bands] == [
        ("0-24", "Under 25", Cell(ended=2, rejected=2)),
        ("25-49", "25 to 49", Cell(ended=1, rejected=0)),
        ("75-99", "75 to 99", Cell(ended=1, rejected=1)),
        ("100+", "100 and over", Cell(ended=2, rejected=0)),
    ]


@time_machine.travel(NOW, tick=False)
def test_handoffs_that_ended_before_the_twelve_weeks_are_left_out(client, rep, marketing):
    reject(source_name="Webinar", at=datetime(2026, 9, 4, 10, tzinfo=UTC))
    reject(source_name="Webinar", at=datetime(2026, 9, 7, 10, tzinfo=UTC))

    response = client.get(reverse("feedback-review"))

    review = response.context["review"]
    assert review.total == Cell(ended=1, rejected=1)
    assert review.overall[0] == Cell(ended=1, rejected=1)


def test_feedback_page_shows_an_empty_state(client, marketing):
    response = client.get(reverse("feedback-review"))

    assert response.context["review"].total == Cell(ended=0, rejected=0)
    assert "No handoff has ended in the last 12 weeks" in response.content.decode()


def test_an_unknown_grouping_falls_back_to_source(client, marketing):
    response = client.get(reverse("feedback-review"), {"by": "shoe-size"})

    assert response.status_code == 200
    assert response.context["by"] == "source"


@time_machine.travel(NOW, tick=False)
def test_drill_down_lists_the_rejected_leads_of_one_cell(client, rep, marketing):
    first = reject(source_name="Webinar", reason_code="competitor", note="Works at a rival.")
    second = reject(source_name="Webinar", note="No team.")
    reject(source_name="Ebook", note="Student.")
    reject(source_name="Webinar", note="Last week.", at=NOW - timedelta(days=7))
    qualify(source_name="Webinar")
    webinar = SourceFactory(slug="webinar")

    response = client.get(
        reverse("feedback-rejections"), {"source": webinar.pk, "week": THIS_MONDAY.isoformat()}
    )

    assert response.status_code == 200
    assert [r.handoff_id for r in response.context["page"].object_list] == [second, first]
    assert response.context["description"] == ["source Webinar", "week 2026-W48"]
    content = response.content.decode()
    assert "Works at a rival." in content
    assert "Bea Rep" in content
    assert "Student." not in content


@pytest.mark.parametrize(
    ("query", "notes"),
    [
        ({"reason": "competitor"}, ["Rival."]),
        ({"band": "75-99"}, ["High score."]),
        ({"campaign": "Spring"}, ["Spring lead."]),
        ({"campaign": "none"}, ["High score.", "Rival."]),
        ({"source": "none"}, []),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_drill_down_filters_by_reason_band_and_campaign(client, rep, marketing, query, notes):
    reject(source_name="Webinar", reason_code="competitor", note="Rival.", score=30)
    reject(source_name="Webinar", note="High score.", score=80)
    reject(source_name="Ebook", note="Spring lead.", campaign="Spring", score=30)

    response = client.get(reverse("feedback-rejections"), query)

    assert [r.note for r in response.context["page"].object_list] == notes


def test_drill_down_says_which_filters_it_did_not_understand(client, rep, marketing):
    reject(source_name="Webinar")

    response = client.get(reverse("feedback-rejections"), {"band": "huge", "week": "soon"})

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    content = response.content.decode()
    assert "Some filters in the link were not understood" in content
    assert "band (Select a valid choice. huge is not one of the available choices.)" in content


@time_machine.travel(NOW, tick=False)
def test_csv_export_writes_one_row_per_group_and_week(client, rep, marketing):
    reject(source_name="Webinar", campaign="Spring")
    qualify(source_name="Webinar", campaign="Spring")

    response = client.get(reverse("feedback-review-csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="rejection-review-2026-11-25.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "dimension",
        "group",
        "week",
        "week_start",
        "ended",
        "rejected",
        "rejection_rate",
    ]
    # Twelve weeks overall, and twelve for each of: one source, one campaign, one reason and
    # one score band.
    assert len(rows) == 1 + 12 * 5
    assert rows[1] == ["all", "All handoffs", "2026-W37", "2026-09-07", "0", "0", ""]
    assert rows[12] == ["all", "All handoffs", "2026-W48", "2026-11-23", "2", "1", "0.5000"]
    assert ["campaign", "Spring", "2026-W48", "2026-11-23", "2", "1", "0.5000"] in rows
    assert ["reason", "Not qualified", "2026-W48", "2026-11-23", "2", "1", "0.5000"] in rows


@pytest.mark.parametrize(
    ("campaign", "written"),
    [
        ('=HYPERLINK("http://x.example")', '\'=HYPERLINK("http://x.example")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("Spring 2026", "Spring 2026"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_csv_export_neutralises_spreadsheet_formulas(client, rep, marketing, campaign, written):
    reject(source_name="Webinar", campaign=campaign)

    response = client.get(reverse("feedback-review-csv"))

    rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    assert {row[1] for row in rows if row[0] == "campaign"} == {written}


def _review_queries(client, url: str, params: dict) -> int:  # noqa: ANN001
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize(
    ("url_name", "params", "count"),
    [
        # Session, user, roles, the five groupings, the viewer's rep, unread notifications.
        ("feedback-review", {}, 10),
        ("feedback-review", {"by": "band"}, 10),
        # Session, user, roles, the reason filter's lookup, the count, the page, the source's
        # name for the heading, the viewer's rep, unread notifications.
        ("feedback-rejections", {"reason": "not-qualified", "source": "SOURCE"}, 9),
        ("feedback-review-csv", {}, 8),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_review_pages_use_the_same_number_of_queries_for_1_and_20_rejections(
    client, rep, marketing, url_name, params, count
):
    reject(source_name="Webinar", campaign="Campaign 0")
    webinar = SourceFactory(slug="webinar")
    params = {key: str(webinar.pk) if value == "SOURCE" else value for key, value in params.items()}
    url = reverse(url_name)
    one = _review_queries(client, url, params)

    for number in range(1, 20):
        reject(source_name="Webinar", campaign=f"Campaign {number}", score=number * 7)
    twenty = _review_queries(client, url, params)

    assert (one, twenty) == (count, count)


def test_marketing_recycles_a_lead_waiting_in_the_rejected_stage(client, marketing):
    lead = LeadFactory(stage=Stage.REJECTED, first_name="Ada", last_name="Lovelace")
    back = f"{reverse('feedback-rejections')}?reason=not-now"

    response = client.post(reverse("lead-recycle", args=[lead.pk]), {"next": back})

    assert response.status_code == 302
    assert response.url == back
    assert Lead.objects.get(pk=lead.pk).stage == Stage.RECYCLED
    assert list(LeadEvent.objects.values_list("from_stage", "to_stage", "actor_id", "reason")) == [
        (Stage.REJECTED, Stage.RECYCLED, marketing.pk, "recycled to nurture by marketing")
    ]


def test_recycling_a_disqualified_lead_is_refused_and_changes_nothing(client, marketing):
    lead = LeadFactory(stage=Stage.DISQUALIFIED)
    before = Lead.objects.filter(pk=lead.pk).values().get()

    response = client.post(reverse("lead-recycle", args=[lead.pk]))

    assert response.status_code == 400
    assert "Only a rejected lead can be recycled; this one is disqualified." in (
        response.content.decode()
    )
    assert Lead.objects.filter(pk=lead.pk).values().get() == before
    assert LeadEvent.objects.count() == 0


def test_recycling_a_missing_lead_answers_404(client, marketing):
    response = client.post(reverse("lead-recycle", args=[999]))

    assert response.status_code == 404
