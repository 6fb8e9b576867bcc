"""The admin's Import button: preview and confirmation counts, Created Dates, importing twice."""

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from handoff.models import Handoff
from leads.models import Activity, Lead
from leads.tests.factories import LeadFactory
from reps.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
DETECTED, SALESFORCE = "0", "1"

# A Salesforce report export: row 4 repeats row 3 in capitals, row 5 is blank, rows 6 and 7
# name leads Handoff already has, and the report's footer follows.
SALESFORCE_EXPORT = (
    "Lead ID,First Name,Last Name,Title,Company,Email,Phone,Lead Source,Lead Status,"
    "No. of Employees,Country,City,Email Opt Out,Do Not Call,Created Date\r\n"
    "00Q000000000001,Ana,Ruiz,VP Sales,Acme,ana@acme.example,+1 415 555 0001,Web,Open,250,"
    "United States,San Francisco,0,0,2025-03-04T10:15:00Z\r\n"
    "00Q000000000002,Ben,Stone,CTO,Beta,ben@beta.example,,Trade Show,Open,75,Germany,Berlin,"
    "0,0,2025-03-05T11:00:00Z\r\n"
    "00Q000000000003,Ben,Stone,,Beta,BEN@BETA.EXAMPLE,+49 30 1234,Trade Show,Open,,Germany,"
    "Berlin,0,0,2025-03-05T11:30:00Z\r\n"
    ",,,,,,,,,,,,,,\r\n"
    "00Q000000000004,Cara,Diaz,,Diaz,cara@diaz.example,,,Open,,France,Paris,0,0,"
    "2025-03-06T09:00:00Z\r\n"
    "00Q000000000005,Dev,Patel,,,dev@old.example,,,Open,,India,Mumbai,0,0,"
    "2025-03-07T09:00:00Z\r\n"
    "\r\n"
    "Grand Totals (6 records)\r\n"
    "\r\n"
    "Confidential Information - Do Not Distribute\r\n"
    '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\r\n'
)


@pytest.fixture
def marketing_client(client):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(UserFactory._meta.model.objects.get(username="marketing"))
    return client


@pytest.fixture
def known_leads():
    """Cara lacks her city, which the file completes; Dev has everything the file says."""
    cara = LeadFactory(
        external_id="00Q000000000004", first_name="Cara", last_name="Diaz",
        email="cara@diaz.example", company="Diaz", country="France", city="", source=None,
    )  # fmt: skip
    dev = LeadFactory(
        external_id="00Q000000000005", first_name="Dev", last_name="Patel",
        email="dev@old.example", country="India", city="Mumbai", source=None,
    )  # fmt: skip
    return cara, dev


def preview(client, name: str, content: bytes, resource: str):  # noqa: ANN001,ANN201
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(
        reverse("admin:leads_lead_import"),
        {"import_file": upload, "format": "0", "resource": resource},
    )


def confirm(client, previewed):  # noqa: ANN001,ANN201
    return client.post(
        reverse("admin:leads_lead_process_import"), previewed.context["confirm_form"].initial
    )


def totals(response) -> dict[str, int]:  # noqa: ANN001
    result = response.context["result"]
    return {key: value for key, value in result.totals.items() if value} | {
        "rows": result.total_rows
    }


def messages(response) -> list[str]:  # noqa: ANN001
    return [str(message) for message in response.wsgi_request._messages]


def test_salesforce_preview_counts_every_row_once(marketing_client, known_leads):
    response = preview(marketing_client, "leads.csv", SALESFORCE_EXPORT.encode(), SALESFORCE)

    # Ana and Ben are new, Cara is completed; Dev unchanged, Ben's repeat and the blank row
    # are skipped. The footer is not a row.
    assert totals(response) == {"new": 2, "update": 1, "skip": 3, "rows": 6}
    assert messages(response) == [
        "Preview (nothing saved yet): 2 new leads, 1 to complete, 1 unchanged, 1 duplicate "
        "rows merged; 0 expected to become MQL."
    ]
    assert Lead.objects.count() == 2


def test_salesforce_import_counts_what_it_wrote_and_keeps_the_created_dates(
    marketing_client, known_leads
):
    cara, dev = known_leads
    previewed = preview(marketing_client, "leads.csv", SALESFORCE_EXPORT.encode(), SALESFORCE)

    done = confirm(marketing_client, previewed)

    assert done.status_code == 302
    assert messages(done) == [
        "Imported: 2 new leads, 1 completed, 1 unchanged, 1 duplicate rows merged; 0 MQLs, "
        "0 handed off."
    ]
    assert Lead.objects.count() == 4
    ana = Lead.objects.get(email="ana@acme.example")
    ben = Lead.objects.get(email="ben@beta.example")
    assert ana.created_at == datetime(2025, 3, 4, 10, 15, tzinfo=UTC)
    # The first row of a person gives the date; the repeat only fills blanks (the phone).
    assert (ben.created_at, ben.phone) == (datetime(2025, 3, 5, 11, tzinfo=UTC), "+49 30 1234")
    # Leads Handoff already had keep their own dates.
    assert Lead.objects.get(pk=cara.pk).created_at == cara.created_at
    assert Lead.objects.get(pk=cara.pk).city == "Paris"
    assert Lead.objects.get(pk=dev.pk).created_at == dev.created_at


def test_salesforce_file_imported_twice_creates_nothing_the_second_time(
    marketing_client, known_leads
):
    content = SALESFORCE_EXPORT.encode()
    confirm(marketing_client, preview(marketing_client, "leads.csv", content, SALESFORCE))
    before = (Lead.objects.count(), Activity.objects.count(), Handoff.objects.count())
    dates = dict(Lead.objects.values_list("pk", "created_at"))

    again = preview(marketing_client, "leads.csv", content, SALESFORCE)
    done = confirm(marketing_client, again)

    assert totals(again) == {"skip": 6, "rows": 6}
    assert messages(done) == [
        "Imported: 0 new leads, 0 completed, 4 unchanged, 1 duplicate rows merged; 0 MQLs, "
        "0 handed off."
    ]
    assert (Lead.objects.count(), Activity.objects.count(), Handoff.objects.count()) == before
    assert dict(Lead.objects.values_list("pk", "created_at")) == dates


def test_datablist_file_imported_twice_through_the_admin(marketing_client):
    content = (FIXTURES / "datablist_sample.csv").read_bytes()

    first = preview(marketing_client, "datablist.csv", content, DETECTED)
    first_done = confirm(marketing_client, first)
    leads = Lead.objects.count()
    again = preview(marketing_client, "datablist.csv", content, DETECTED)
    again_done = confirm(marketing_client, again)

    # Rows 4 and 5 are one person (Cara Diaz, her email in capitals, then in lower case).
    assert totals(first) == {"new": 3, "skip": 1, "rows": 4}
    assert first.context["result"].import_report.preset == "datablist"
    assert messages(first_done) == [
        "Imported: 3 new leads, 0 completed, 0 unchanged, 1 duplicate rows merged; 0 MQLs, "
        "0 handed off."
    ]
    assert leads == 3
    assert totals(again) == {"skip": 4, "rows": 4}
    assert messages(again_done) == [
        "Imported: 0 new leads, 0 completed, 3 unchanged, 1 duplicate rows merged; 0 MQLs, "
        "0 handed off."
    ]
    assert Lead.objects.count() == 3


def test_a_row_with_two_errors_counts_as_one_invalid_row(marketing_client):
    bad = SALESFORCE_EXPORT.replace("ana@acme.example", "ana@").replace(",250,", ",lots,")

    response = preview(marketing_client, "leads.csv", bad.encode(), SALESFORCE)

    result = response.context["result"]
    assert totals(response) == {"invalid": 1, "rows": 6}
    assert [(row.number, row.error_dict) for row in result.invalid_rows] == [
        (2, {
            "Email": ["'ana@' is not a valid email address"],
            "No. of Employees": ["'lots' is not a number"],
        }),
    ]  # fmt: skip
    assert "confirm_form" not in response.context
    assert Lead.objects.count() == 0


def test_a_refused_file_is_explained_without_a_traceback(marketing_client):
    png_named_csv = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"

    response = preview(marketing_client, "image.csv", png_named_csv, DETECTED)

    (error,) = response.context["result"].base_errors
    content = response.content.decode()
    assert str(error.error) in content
    assert "Traceback" not in content
    assert "leads/resources.py" not in content
    assert Lead.objects.count() == 0
