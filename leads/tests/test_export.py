"""Exports: leads, a queue and rejections as CSV and XLSX, formulas neutralised, roles kept,
and an export of leads imports back to the same values."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from feedback.models import Rejection, RejectionReason
from handoff import roles
from handoff.models import Handoff
from leads import export
from leads.importing import leads_import
from leads.models import Lead
from leads.resources import LeadResource
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)
# Every field an import writes, in the order compared.
IMPORTED_FIELDS = (
    "external_id", "first_name", "last_name", "email", "phone", "company", "job_title",
    "industry", "company_size", "country", "city", "source__name", "campaign", "do_not_email",
    "do_not_call", "context", "attributes",
)  # fmt: skip


def body(response) -> bytes:  # noqa: ANN001
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[dict[str, str]]:  # noqa: ANN001
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def sheet_rows(response) -> list[tuple]:  # noqa: ANN001
    workbook = load_workbook(io.BytesIO(body(response)))
    return list(workbook.active.iter_rows(values_only=True))


def client_for(client, role: str):  # noqa: ANN001,ANN201
    client.force_login(UserFactory(roles=[role]))
    return client


def awkward_leads() -> list[Lead]:
    """Leads whose text a spreadsheet would run, and every field an import writes."""
    paid = SourceFactory(name="+Paid search", slug="paid-search")
    return [
        LeadFactory(
            external_id="00012", first_name="@SUM(A1)", last_name="-2+3", email="ann@acme.example",
            canonical_email="ann@acme.example", phone="+44 20 7946 0958",
            company='=HYPERLINK("http://x","click")', job_title="-CEO-", industry="Logistics",
            company_size=240, country="United Kingdom", city="London", source=paid,
            campaign="=cmd|' /C calc'!A0", do_not_email=True, do_not_call=False,
            context="Budget about 5000 €\nwants a call", score=-5,
            attributes={"converted": 1, "page_views_per_visit": 1.5, "occupation": "Student"},
        ),
        LeadFactory(
            external_id="", first_name="Åsa", last_name="Lindqvist", email="asa@gmail.com",
            canonical_email="asa@gmail.com", phone="0046 8 123 456", company="Lindqvist AB",
            job_title="", industry="", company_size=None, country="", city="", source=None,
            campaign="", do_not_email=False, do_not_call=True, context="", attributes={},
        ),
    ]  # fmt: skip


def imported_values() -> list[tuple]:
    return list(Lead.objects.order_by("email").values_list(*IMPORTED_FIELDS))


# What an export holds.


def test_a_csv_export_neutralises_formulas_but_not_numbers(client):
    awkward_leads()

    response = client_for(client, roles.MARKETING).get(
        reverse("lead-export", kwargs={"fmt": "csv"})
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    assert list(rows[0]) == [column.header for column in export.LEAD_COLUMNS]
    ann = next(row for row in rows if row["Email"] == "ann@acme.example")
    assert (ann["First Name"], ann["Last Name"], ann["Phone"], ann["Title"]) == (
        "'@SUM(A1)", "'-2+3", "'+44 20 7946 0958", "'-CEO-",
    )  # fmt: skip
    assert (ann["Company"], ann["Campaign"], ann["Lead Source"]) == (
        "'=HYPERLINK(\"http://x\",\"click\")", "'=cmd|' /C calc'!A0", "'+Paid search",
    )  # fmt: skip
    assert (ann["Score"], ann["Employees"], ann["External Id"], ann["Do Not Email"]) == (
        "-5", "240", "00012", "Yes",
    )  # fmt: skip
    assert (
        ann["Attributes"]
        == '{"converted": 1, "occupation": "Student", "page_views_per_visit": 1.5}'
    )


def test_an_xlsx_export_writes_formula_text_as_text_cells(client):
    awkward_leads()

    response = client_for(client, roles.REVOPS).get(reverse("lead-export", kwargs={"fmt": "xlsx"}))

    assert response["Content-Type"] == export.XLSX_CONTENT_TYPE
    workbook = load_workbook(io.BytesIO(body(response)))
    sheet = workbook.active
    headers = [cell.value for cell in sheet[1]]
    ann = next(row for row in sheet.iter_rows(min_row=2) if row[3].value == "ann@acme.example")
    company = ann[headers.index("Company")]
    assert (company.value, company.data_type, company.quotePrefix) == (
        '=HYPERLINK("http://x","click")', "s", True,
    )  # fmt: skip
    assert (ann[headers.index("Phone")].value, ann[headers.index("Score")].value) == (
        "+44 20 7946 0958", -5,
    )  # fmt: skip
    assert ann[headers.index("External Id")].value == "00012"


def test_the_admin_export_and_the_page_export_share_one_layout():
    assert [field.column_name for field in LeadResource().get_export_fields()] == [
        column.header for column in export.LEAD_COLUMNS
    ]


# Round trips.


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_importing_our_own_lead_export_gives_back_the_same_values(client, fmt):
    awkward_leads()
    before = imported_values()
    response = client_for(client, roles.MARKETING).get(reverse("lead-export", kwargs={"fmt": fmt}))
    exported = body(response)
    Lead.objects.all().delete()

    report = leads_import(source=io.BytesIO(exported), actor=None, now=NOW)

    assert (report.preset, report.created, report.errors) == ("handoff", 2, [])
    assert dict(report.ignored_columns) == {
        "Stage": "stages change only through the handoff workflow",
        "Score": "Handoff computes the score itself",
    }
    assert imported_values() == before


def test_an_export_imported_again_over_its_own_leads_changes_nothing(client):
    awkward_leads()
    before = imported_values()
    response = client_for(client, roles.MARKETING).get(
        reverse("lead-export", kwargs={"fmt": "csv"})
    )

    report = leads_import(source=io.BytesIO(body(response)), actor=None, now=NOW)

    assert (report.created, report.matched, report.updated) == (0, 2, 0)
    assert imported_values() == before


# Who may export what.


def _handoff(rep, lead, *, state="assigned") -> Handoff:  # noqa: ANN001
    return Handoff.objects.create(
        lead=lead, rep=rep, first_response_hours=4, assigned_at=NOW, due_at=NOW + timedelta(hours=4)
    )


@pytest.fixture
def two_teams() -> dict:
    own = RepFactory(user__username="bdr-own")
    teammate = RepFactory(user__username="bdr-mate", team=own.team)
    other = RepFactory(user__username="bdr-other")
    return {
        "own": own,
        "teammate": teammate,
        "other": other,
        "handoffs": {
            rep: _handoff(rep, LeadFactory(email=f"{rep.user.username}@acme.example"))
            for rep in (own, teammate, other)
        },
    }


def queue_emails(client, **params) -> list[str]:  # noqa: ANN001,ANN003
    response = client.get(reverse("queue-export", kwargs={"fmt": "csv"}), params)
    assert response.status_code == 200
    return sorted(row["Email"] for row in csv_rows(response))


def test_a_bdr_exports_their_own_queue_only(client, two_teams):
    own = two_teams["own"]
    client.force_login(own.user)

    assert queue_emails(client) == ["bdr-own@acme.example"]
    assert queue_emails(client, rep=own.pk) == ["bdr-own@acme.example"]
    other_rep = client.get(
        reverse("queue-export", kwargs={"fmt": "csv"}), {"rep": two_teams["teammate"].pk}
    )
    assert other_rep.status_code == 403
    for name in ("lead-export", "feedback-export"):
        assert client.get(reverse(name, kwargs={"fmt": "csv"})).status_code == 403


def test_a_manager_exports_the_team_queue_and_revops_every_queue(client, two_teams):
    client.force_login(two_teams["own"].team.manager)

    assert queue_emails(client) == ["bdr-mate@acme.example", "bdr-own@acme.example"]
    assert queue_emails(client, rep=two_teams["teammate"].pk) == ["bdr-mate@acme.example"]
    assert queue_emails(client, rep=two_teams["other"].pk) == []

    client.force_login(UserFactory(roles=[roles.REVOPS]))
    assert queue_emails(client) == [
        "bdr-mate@acme.example", "bdr-other@acme.example", "bdr-own@acme.example",
    ]  # fmt: skip


def test_marketing_exports_leads_and_rejections_but_no_queue(client):
    client_for(client, roles.MARKETING)

    assert client.get(reverse("queue-export", kwargs={"fmt": "csv"})).status_code == 403
    assert client.get(reverse("lead-export", kwargs={"fmt": "pdf"})).status_code == 404
    assert client.get(reverse("feedback-export", kwargs={"fmt": "xlsx"})).status_code == 200


def test_the_rejection_export_lists_reasons_and_neutralises_notes(client, two_teams):
    handoff = two_teams["handoffs"][two_teams["own"]]
    reason = RejectionReason.objects.order_by("position").first()
    Rejection.objects.create(
        handoff=handoff, lead=handoff.lead, reason=reason, note="=2+2 asked to call back",
        rejected_by=two_teams["own"].user,
    )  # fmt: skip

    response = client_for(client, roles.MARKETING).get(
        reverse("feedback-export", kwargs={"fmt": "csv"})
    )

    [row] = csv_rows(response)
    assert (row["Email"], row["Reason"], row["Note"], row["Rejected By"], row["Rep"]) == (
        "bdr-own@acme.example", reason.label, "'=2+2 asked to call back", "bdr-own",
        str(two_teams["own"]),
    )  # fmt: skip
    assert row["Outcome"] == reason.get_outcome_display()


def test_a_queue_export_as_xlsx_has_one_row_per_open_handoff(client, two_teams):
    client.force_login(two_teams["own"].user)

    rows = sheet_rows(client.get(reverse("queue-export", kwargs={"fmt": "xlsx"})))

    assert rows[0] == tuple(column.header for column in export.QUEUE_COLUMNS)
    assert [(row[0], row[2], row[9]) for row in rows[1:]] == [
        (two_teams["handoffs"][two_teams["own"]].pk, "bdr-own@acme.example", "Assigned")
    ]
    assert rows[1][10] == NOW.replace(tzinfo=None)
