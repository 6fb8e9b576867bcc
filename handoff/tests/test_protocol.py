from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from feedback.tasks import remind_quarterly_review
from handoff import roles
from handoff.errors import HandoffError, PermissionRefused
from handoff.models import HandoffPoint, Notification, QuarterlyReview, RequiredField, SlaPolicy
from handoff.protocol import (
    REVIEW_ALREADY_RECORDED,
    REVIEW_NOT_ALLOWED,
    next_quarter_start,
    protocol_build,
    quarter_start,
    quarterly_review_record,
    quarterly_review_remind,
    review_schedule,
)
from handoff.tests.factories import HandoffFactory
from leads.models import LeadEvent, ScoringRule, ScoringSettings, Stage
from leads.tests.factories import SourceFactory
from reps.models import RoutingRule
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# A Tuesday afternoon in the fourth quarter of 2026, inside the factories' working day.
NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
Q4 = date(2026, 10, 1)


@pytest.mark.parametrize(
    ("day", "start", "following"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 4, 1)),
        (date(2026, 3, 31), date(2026, 1, 1), date(2026, 4, 1)),
        (date(2026, 5, 15), date(2026, 4, 1), date(2026, 7, 1)),
        (date(2026, 9, 30), date(2026, 7, 1), date(2026, 10, 1)),
        (date(2026, 12, 31), date(2026, 10, 1), date(2027, 1, 1)),
    ],
)
def test_quarters_start_on_the_first_of_january_april_july_and_october(day, start, following):
    assert quarter_start(day) == start
    assert next_quarter_start(day) == following


def _review(quarter: date) -> QuarterlyReview:
    return QuarterlyReview.objects.create(
        quarter_start=quarter, reviewed_at=NOW, decisions="No change.", metrics={}
    )


@pytest.mark.parametrize(
    ("last", "next_due", "is_due", "is_overdue"),
    [
        (None, Q4, True, False),
        (date(2026, 7, 1), Q4, True, False),
        (date(2026, 1, 1), date(2026, 4, 1), True, True),
        (Q4, date(2027, 1, 1), False, False),
    ],
)
def test_the_next_review_is_the_quarter_after_the_last_or_the_current_one(
    last, next_due, is_due, is_overdue
):
    if last:
        _review(last)

    schedule = review_schedule(today=NOW.date())

    assert (schedule.next_due, schedule.is_due, schedule.is_overdue) == (
        next_due,
        is_due,
        is_overdue,
    )


@pytest.fixture
def revops():
    return UserFactory(username="riley", roles=[roles.REVOPS])


def _one_answered_handoff() -> None:
    handoff = HandoffFactory(
        rep=RepFactory(),
        assigned_at=NOW - timedelta(hours=2),
        due_at=NOW + timedelta(hours=2),
        first_response_at=NOW - timedelta(hours=1),
        lead__mql_at=NOW - timedelta(hours=3),
    )
    LeadEvent.objects.create(lead=handoff.lead, from_stage=Stage.LEAD, to_stage=Stage.MQL)


@time_machine.travel(NOW, tick=False)
def test_recording_a_review_freezes_the_figures_of_the_last_90_days(revops):
    _one_answered_handoff()

    review = quarterly_review_record(actor=revops, decisions="  Raise the threshold to 60.  ")

    assert (review.quarter_start, review.reviewed_at, review.reviewed_by_id) == (
        Q4,
        NOW,
        revops.pk,
    )
    assert review.decisions == "Raise the threshold to 60."
    assert review.metrics == {
        "since": "2026-08-26T14:00:00+00:00",
        "until": "2026-11-24T14:00:00+00:00",
        "days": 90,
        "sla_compliance": {"met": 1, "breached": 0, "rate": 1.0},
        "speed_to_lead": {
            "responses": 1,
            "median_system_hours": 1.0,
            "median_rep_hours": 1.0,
            "median_rep_business_hours": 1.0,
            "median_total_hours": 2.0,
        },
        "mql_to_sql": {"mqls": 1, "sqls": 0, "rate": 0.0},
        "acceptance": {"ended": 0, "rejected": 0, "rate": None},
    }


@time_machine.travel(NOW, tick=False)
def test_a_second_review_in_the_same_quarter_is_refused(revops):
    quarterly_review_record(actor=revops, decisions="First.")

    with pytest.raises(HandoffError, match=REVIEW_ALREADY_RECORDED.format(quarter_start=Q4)):
        quarterly_review_record(actor=revops, decisions="Second.")

    assert list(QuarterlyReview.objects.values_list("decisions", flat=True)) == ["First."]


@pytest.mark.parametrize("role", [roles.MANAGER, roles.MARKETING, roles.BDR])
def test_only_revops_records_the_review(role):
    with pytest.raises(PermissionRefused, match=REVIEW_NOT_ALLOWED):
        quarterly_review_record(actor=UserFactory(roles=[role]), decisions="No change.")

    assert QuarterlyReview.objects.count() == 0


def test_a_review_without_decisions_is_refused(revops):
    with pytest.raises(HandoffError, match="Write down what was decided"):
        quarterly_review_record(actor=revops, decisions="   ")

    assert QuarterlyReview.objects.count() == 0


def _reminders() -> list[tuple[str, str]]:
    return list(
        Notification.objects.order_by("recipient__username").values_list(
            "recipient__username", "key"
        )
    )


def test_revops_is_reminded_once_per_quarter_while_the_review_is_due(revops):
    UserFactory(username="quinn", roles=[roles.REVOPS])
    UserFactory(username="retired", roles=[roles.REVOPS], is_active=False)
    UserFactory(username="morgan", roles=[roles.MANAGER])

    with time_machine.travel(NOW, tick=False):
        first = quarterly_review_remind()
        again = quarterly_review_remind()

    assert (first, again) == (2, 0)
    assert _reminders() == [
        ("quinn", "quarterly-review:2026-10-01"),
        ("riley", "quarterly-review:2026-10-01"),
    ]
    assert Notification.objects.get(recipient=revops).url == reverse("protocol")


def test_no_reminder_once_the_quarter_is_reviewed_until_the_next_quarter(revops):
    with time_machine.travel(NOW, tick=False):
        quarterly_review_record(actor=revops, decisions="No change.")
        assert quarterly_review_remind() == 0

    with time_machine.travel(datetime(2027, 1, 2, 7, tzinfo=UTC), tick=False):
        assert quarterly_review_remind() == 1

    assert _reminders() == [("riley", "quarterly-review:2027-01-01")]


def test_the_daily_task_reminds_through_the_service(revops):
    with time_machine.travel(NOW, tick=False):
        sent = remind_quarterly_review.delay().get()

    assert sent == 1
    assert _reminders() == [("riley", "quarterly-review:2026-10-01")]
    schedule = settings.CELERY_BEAT_SCHEDULE["quarterly-review-reminder"]
    assert schedule["task"] == remind_quarterly_review.name == "feedback.remind_quarterly_review"


@pytest.fixture
def configured():
    """A small protocol: one extra fit rule with a pipe in its name, one SLA policy for a
    source, two routing rules, required fields at both points."""
    settings_row = ScoringSettings.current()
    settings_row.mql_threshold = 65
    settings_row.fit_minimum = 10
    settings_row.save()
    ScoringRule.objects.create(
        name="Buyer | decision maker",
        category="fit",
        field="job_title",
        operator="contains",
        value="head",
        points=12,
    )
    webinar = SourceFactory(name="Webinar", slug="webinar")
    SlaPolicy.objects.all().delete()
    SlaPolicy.objects.create(name="Webinar leads", source=webinar, first_response_hours=2)
    ana = RepFactory(
        user__first_name="Ana", user__last_name="Silva", weekly_capacity=40, team__name="Inbound"
    )
    RepFactory(weekly_capacity=30)
    rule = RoutingRule.objects.create(name="Nordics", position=1, countries="Sweden, Norway")
    rule.reps.add(ana)
    RoutingRule.objects.create(name="Everyone else", position=2, team=ana.team)
    RequiredField.objects.create(point=HandoffPoint.TO_BDR, field="email")
    RequiredField.objects.create(
        point=HandoffPoint.TO_ACCOUNT_EXECUTIVE, field="pain", label="The pain"
    )


def test_protocol_is_written_from_the_live_configuration(configured):
    protocol = protocol_build(now=NOW)

    assert (protocol.mql_threshold, protocol.fit_minimum) == (65, 10)
    assert ("Buyer | decision maker", 12, "job_title contains head") in [
        (rule.name, rule.points, rule.condition) for rule in protocol.fit_rules
    ]
    assert [(p.name, p.applies_to, p.first_response_hours) for p in protocol.policies] == [
        ("Webinar leads", "source Webinar", 2),
        ("Protocol default", "any lead no policy above matches", 4),
    ]
    assert protocol.policies[0].escalation == [
        "at 75% of the time: warn the rep",
        "at the deadline: remind the rep",
        "at the deadline: alert the manager",
        "4 business hours after the deadline: reassign to another rep",
        "8 business hours after the deadline: return the lead to marketing with the reason "
        "'no response'",
        "after the first response: 3 attempts within 5 business days, at least 4 hours apart",
    ]
    assert [(r.name, r.conditions, r.takers) for r in protocol.routing] == [
        ("Nordics", "country in Sweden, Norway", "Ana Silva"),
        ("Everyone else", "every lead not matched above (fallback pool)", "team Inbound"),
    ]
    assert (protocol.reps, protocol.weekly_capacity) == (2, 70)
    assert protocol.required == {"to_bdr": ["Email"], "to_ae": ["The pain"]}
    assert protocol.ceiling_hours == 24


@time_machine.travel(NOW, tick=False)
def test_protocol_page_shows_the_six_parts_and_the_review_form_to_revops(client, configured):
    client.force_login(UserFactory(username="riley", roles=[roles.REVOPS]))

    response = client.get(reverse("protocol"))

    content = response.content.decode()
    assert response.status_code == 200
    for heading in (
        "1.</span> When a lead is marketing qualified (MQL)",
        "2.</span> When a lead is sales qualified (SQL)",
        "3.</span> How an MQL reaches a rep",
        "4.</span> The sales SLA",
        "5.</span> The feedback loop",
        "6.</span> What is handed over",
    ):
        assert heading in content
    assert '<strong data-figure="threshold">65 points</strong>' in content
    assert "<li><strong>Nordics</strong>: country in Sweden, Norway; goes to Ana Silva.</li>" in (
        content
    )
    assert "Wrong fit / outside our ideal customer profile" in content
    assert "Record this quarter's review" in content


def test_protocol_page_has_no_review_form_for_other_roles(client):
    client.force_login(UserFactory(roles=[roles.BDR]))

    response = client.get(reverse("protocol"))

    assert response.context["review_form"] is None
    assert "Record this quarter" not in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_protocol_downloads_as_markdown(client, configured):
    client.force_login(UserFactory(roles=[roles.MARKETING]))

    response = client.get(reverse("protocol-markdown"))

    text = response.content.decode()
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="handoff-protocol-2026-11-24.md"'
    )
    assert text.startswith("# The marketing-to-sales protocol\n")
    assert "A lead becomes an MQL when its score reaches **65 points**, of which at least" in text
    assert "| Buyer \\| decision maker | `job_title contains head` | +12 |" in text
    assert "| Webinar leads | source Webinar | 2 business hours |" in text
    assert "1. **Nordics**: country in Sweden, Norway; goes to Ana Silva." in text
    assert "- Before an SQL goes to an account executive: The pain" in text
    assert "| Competitor | disqualified for good |" in text
    assert "Next review: the quarter starting 2026-10-01 (due now)." in text
    assert "&amp;" not in text


@time_machine.travel(NOW, tick=False)
def test_revops_records_the_review_from_the_page(client):
    revops = UserFactory(username="riley", first_name="Riley", roles=[roles.REVOPS])
    client.force_login(revops)

    response = client.post(reverse("protocol-review"), {"decisions": "Drop the ebook source."})

    assert response.status_code == 302
    assert response.url == reverse("protocol")
    review = QuarterlyReview.objects.get()
    assert (review.quarter_start, review.decisions) == (Q4, "Drop the ebook source.")
    page = client.get(reverse("protocol")).content.decode()
    assert "quarter starting <strong>1 October 2026</strong>, held 24 Nov 2026 by Riley" in page
    assert "Next review: quarter starting <strong>1 January 2027</strong>." in page


@time_machine.travel(NOW, tick=False)
def test_a_review_form_without_decisions_answers_400_and_records_nothing(client):
    client.force_login(UserFactory(roles=[roles.REVOPS]))

    response = client.post(reverse("protocol-review"), {"decisions": "  "})

    assert response.status_code == 400
    assert "Write down what was decided, even if it is &#x27;no change&#x27;." in (
        response.content.decode()
    )
    assert QuarterlyReview.objects.count() == 0
