"""The lead import: reading files, presets, errors, all-or-nothing, duplicates, export, admin."""

import csv
import io
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from import_export.formats.base_formats import XLSX
from openpyxl import Workbook

from handoff.models import Handoff, Notification
from leads.importing import ImportRefused, leads_import
from leads.importing import qualify as import_qualify
from leads.models import (
    Activity,
    ImportMapping,
    Lead,
    LeadEvent,
    ScoringRule,
    Source,
    Stage,
)
from leads.resources import LeadResource, table_from_dataset
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
# A Tuesday afternoon, UTC.
NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)
HANDOFF_HEADER = "First Name,Last Name,Email,Title,Employees,Lead Source,Created Date"


def run(source, **kwargs):  # noqa: ANN001,ANN003,ANN201
    if isinstance(source, str):
        source = FIXTURES / source
    kwargs.setdefault("actor", None)
    return leads_import(source=source, now=NOW, **kwargs)


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode(encoding))
    return path


def refused_errors(source, **kwargs) -> list[str]:  # noqa: ANN001,ANN003
    with pytest.raises(ImportRefused) as refused:
        run(source, **kwargs)
    return [str(error) for error in refused.value.report.errors]


def nothing_written() -> dict[str, int]:
    return {
        "leads": Lead.objects.count(),
        "activities": Activity.objects.count(),
        "handoffs": Handoff.objects.count(),
        "notifications": Notification.objects.count(),
        "events": LeadEvent.objects.count(),
    }


ZERO = {"leads": 0, "activities": 0, "handoffs": 0, "notifications": 0, "events": 0}


# Reading.


def test_utf8_bom_file_keeps_accents_and_phones_as_written():
    report = run("handoff_bom.csv")

    assert (report.preset, report.encoding, report.delimiter) == ("handoff", "utf-8-sig", ",")
    assert list(Lead.objects.order_by("pk").values_list("first_name", "last_name", "phone")) == [
        ("Zoë", "Nakamura-Schäfer", "+44 20 7946 0958"),
        ("Åsa", "Lindqvist", "0046 8 123 456"),
    ]


def test_windows_1252_file_is_read_when_it_is_not_utf8():
    report = run("handoff_cp1252.csv")

    assert report.encoding == "cp1252"
    assert list(Lead.objects.order_by("pk").values_list("last_name", "company", "context")) == [
        ("Müller", "Müller Bau GmbH", "Budget about 5000 € – wants a call"),
        ("Côté", "Café Crème SARL", ""),
    ]


def test_semicolon_file_is_sniffed_and_keeps_commas_inside_values():
    report = run("handoff_semicolon.csv")

    assert report.delimiter == ";"
    assert list(Lead.objects.order_by("pk").values_list("company", "company_size")) == [
        ("Acme, Inc.", 1200),
        # A size range counts as its lower bound.
        ("Acme, Inc.", 51),
    ]


def test_excel_sep_line_sets_the_delimiter_and_is_not_a_row():
    report = run("handoff_sep_line.csv")

    assert (report.delimiter, report.rows_read, report.created) == (";", 2, 2)
    assert list(Lead.objects.order_by("pk").values_list("email", "company", "job_title")) == [
        ("kim@beta.example", "Beta, Gamma & Co", "CTO"),
        ("noor@beta.example", "Beta, Gamma & Co", "Analyst"),
    ]


def test_tab_separated_file_is_sniffed():
    report = run("handoff_tab.csv")

    assert report.delimiter == "\t"
    assert list(Lead.objects.values_list("company", "phone")) == [
        ("Delta, Epsilon; Zeta", "+49 30 1234567")
    ]


def test_trailing_empty_header_is_ignored_and_unread_columns_are_reported():
    report = run("x_education_sample.csv")

    assert (report.preset, report.rows_read, report.created) == ("x_education", 4, 4)
    ignored = dict(report.ignored_columns)
    assert "" not in ignored
    assert len(ignored) == 19
    assert ignored["Tags"] == "written by sales after the handoff"
    assert ignored["Last Notable Activity"] == "written after the handoff"
    assert ignored["Magazine"] == "not a column Handoff reads"


def test_x_education_row_maps_to_fields_attributes_and_activities():
    run("x_education_sample.csv")

    lead = Lead.objects.get(external_id="aaaaaaaa-0000-4000-8000-000000000001")
    assert (lead.country, lead.city, lead.source.name, lead.do_not_email) == (
        "India", "Mumbai", "Reference", False,
    )  # fmt: skip
    assert lead.attributes == {
        "lead_number": "700001",
        "lead_origin": "Lead Add Form",
        "converted": 1,
        "total_visits": 3,
        "time_on_site_seconds": 1200,
        "page_views_per_visit": 1.5,
        "last_activity": "Email Opened",
        "specialization": "Finance Management",
        "heard_from": "Online Search",
        "occupation": "Working Professional",
        "what_matters": "Better Career Prospects",
    }
    assert sorted(lead.activities.values_list("kind", "detail", "quantity", "occurred_at")) == [
        ("content_download", "Mastering The Interview", 1, NOW),
        ("email_open", "Email Opened", 1, NOW),
        ("form_fill", "Lead Add Form", 1, NOW),
        ("page_visit", "website", 3, NOW),
    ]


def test_select_placeholder_and_blank_cells_leave_fields_empty():
    run("x_education_sample.csv")

    chat = Lead.objects.get(external_id="aaaaaaaa-0000-4000-8000-000000000002")
    empty = Lead.objects.get(external_id="aaaaaaaa-0000-4000-8000-000000000004")
    assert (chat.country, chat.city) == ("", "")
    assert "specialization" not in chat.attributes
    assert "heard_from" not in chat.attributes
    # Zero visits is a value, and adds no visit activity.
    assert chat.attributes["total_visits"] == 0
    assert list(chat.activities.values_list("kind", "detail")) == [
        ("chat", "Olark Chat Conversation")
    ]
    assert empty.attributes == {
        "lead_number": "700004", "lead_origin": "API", "converted": 0, "time_on_site_seconds": 0,
    }  # fmt: skip
    assert empty.activities.count() == 0


def test_google_and_lowercase_google_are_one_source_named_as_written_most():
    report = run("x_education_sample.csv")

    assert sorted(Source.objects.values_list("name", "slug")) == [
        ("Google", "google"), ("Reference", "reference"),
    ]  # fmt: skip
    assert report.sources_created == 2
    assert Lead.objects.filter(source__slug="google").count() == 3


def test_sales_outcome_columns_never_become_scoring_inputs():
    run("x_education_sample.csv")

    keys = set()
    for attributes in Lead.objects.values_list("attributes", flat=True):
        keys |= set(attributes)
    assert keys.isdisjoint({"tags", "lead_quality", "lead_profile", "last_notable_activity"})
    assert not ScoringRule.objects.filter(field="attributes.converted").exists()


def test_datablist_maps_contact_fields_and_merges_a_repeated_email():
    report = run("datablist_sample.csv")

    assert (report.preset, report.rows_read, report.created, report.merged) == (
        "datablist", 4, 3, 1,
    )  # fmt: skip
    amy = Lead.objects.get(email="amy.chen@chen-ortiz.example")
    assert (amy.external_id, amy.phone, amy.company, amy.source.name, amy.context) == (
        "4cB0dA7e9F12a34", "+1-555-201-0199x123", "Chen, Ortiz and Park", "Referral",
        "Asked about pricing; call back Tuesday.",
    )  # fmt: skip
    assert amy.attributes == {"website": "https://chen-ortiz.example/"}
    # Rows 4 and 5 are one person; the first row's values win and the second fills the gaps.
    cara = Lead.objects.get(email__iexact="cara.diaz@diaz.example")
    assert (cara.email, cara.last_name, cara.company, cara.phone, cara.source.name) == (
        "CARA.DIAZ@DIAZ.EXAMPLE", "Diaz", "Diaz Group", "(555)010-4477", "Webinars",
    )  # fmt: skip
    assert Lead.objects.get(email="bruno.silva@silva.example").phone == "001-555-0142"


def test_binary_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00")

    assert refused_errors(path) == [
        "The file is neither CSV text nor an Excel workbook (.xlsx). Save it as CSV (comma or "
        "semicolon separated) or as an .xlsx workbook and import that."
    ]


def test_an_empty_file_is_refused(tmp_path):
    assert refused_errors(write(tmp_path, "")) == ["The file is empty: it has no header row."]


def test_a_file_with_a_header_and_no_rows_is_refused(tmp_path):
    assert refused_errors(write(tmp_path, "Email,Company\n")) == [
        "The file has a header row but no lead rows under it: there is nothing to import."
    ]
    assert Lead.objects.count() == 0


def test_unknown_layout_is_refused_naming_its_columns(tmp_path):
    path = write(tmp_path, "Name,Phone Number\nAda,+44 1\n")

    assert refused_errors(path) == [
        "The columns of this file do not match a known layout (datablist, x_education, "
        "salesforce, hubspot, handoff). A file needs at least an email column (Email, Email 1) "
        "or an id column (External Id, Lead ID, Record ID, Prospect ID), or a saved mapping "
        "for its source. Columns found: 'Name', 'Phone Number'."
    ]


def test_two_columns_for_one_field_are_refused(tmp_path):
    path = write(tmp_path, "Email,Email Address\na@b.example,c@d.example\n")

    assert refused_errors(path) == [
        "The columns 'Email' and 'Email Address' both give the lead's email."
    ]


def test_a_row_with_more_cells_than_headers_is_refused(tmp_path):
    path = write(tmp_path, "Email,Company\na@acme.example,Acme, Inc.\n")

    assert refused_errors(path) == [
        "Row 2: the row has 3 cells but the header has 2 columns; a value holding the "
        "delimiter is probably missing its quotes"
    ]


def test_blank_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers(tmp_path):
    path = write(tmp_path, "Email,Company\na@acme.example,Acme\n,\nbob@,Stone\n")

    assert refused_errors(path) == ["Row 4, Email: 'bob@' is not a valid email address"]


def test_blank_rows_are_counted_as_skipped(tmp_path):
    report = run(write(tmp_path, "Email,Company\n\na@acme.example,Acme\n,\n"))

    assert (report.rows_read, report.created, report.skipped) == (3, 1, 2)


def test_a_row_without_email_or_external_id_is_refused(tmp_path):
    path = write(tmp_path, "Email,First Name\na@acme.example,Ann\n,Bob\n")

    assert refused_errors(path) == [
        "Row 3: the row has no email and no external id, so a later import could not "
        "recognise the lead; add one of them"
    ]


def test_an_iso_date_that_does_not_exist_is_refused_as_such(tmp_path):
    path = write(tmp_path, f"{HANDOFF_HEADER}\nAnn,Lee,ann@acme.example,CEO,100,Demo request,"
                           "2026-02-30\n")  # fmt: skip

    assert refused_errors(path) == [
        "Row 2, Created Date: '2026-02-30' is written as an ISO date but no such date exists "
        "(day is out of range for month)"
    ]
    assert Lead.objects.count() == 0


def test_a_date_outside_iso_needs_its_format_declared(tmp_path):
    path = write(tmp_path, f"{HANDOFF_HEADER}\nAnn,Lee,ann@acme.example,CEO,100,Demo request,"
                           "28/11/2026\n")  # fmt: skip

    assert refused_errors(path) == [
        "Row 2, Created Date: '28/11/2026' is not a date in ISO format (2024-03-31 or "
        "2024-03-31T14:05:00)"
    ]
    run(path, date_formats=["%d/%m/%Y"])
    assert list(Activity.objects.values_list("kind", "occurred_at")) == [
        ("demo_request", datetime(2026, 11, 28, tzinfo=UTC))
    ]


def test_a_phone_mangled_to_scientific_notation_is_refused(tmp_path):
    path = write(tmp_path, "Email,Phone\nann@acme.example,4.47E+11\n")

    assert refused_errors(path) == [
        "Row 2, Phone: '4.47E+11' is a number a spreadsheet rewrote in scientific notation, "
        "which loses digits; format the column as text and export the file again"
    ]


# Errors and all-or-nothing.


def test_every_bad_cell_is_listed_with_its_row_column_and_value():
    assert refused_errors("handoff_bad_rows.csv") == [
        "Row 3, Email: 'bob@' is not a valid email address",
        "Row 4, Phone: '4.47E+11' is a number a spreadsheet rewrote in scientific notation, "
        "which loses digits; format the column as text and export the file again",
        "Row 4, Employees: 'lots' is not a number",
    ]


# Row 2 is fine; row 3 gives a company size no company has and a visit count no column
# holds.
OUT_OF_RANGE = (
    "Email,Employees,Website Visits\n"
    "ana@acme.example,250,3\n"
    "ben@beta.example,99999999999999999999,2147483648\n"
)
OUT_OF_RANGE_ERRORS = [
    "Row 3, Employees: '99999999999999999999' is more than 10,000,000, the largest value this "
    "column takes",
    "Row 3, Website Visits: '2147483648' is more than 2,147,483,647, the largest value this "
    "column takes",
]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_number_too_large_for_its_field_is_refused_by_the_dry_run_and_the_import(
    tmp_path, dry_run
):
    errors = refused_errors(write(tmp_path, OUT_OF_RANGE), dry_run=dry_run)

    assert errors == OUT_OF_RANGE_ERRORS
    assert nothing_written() == ZERO
    assert Source.objects.count() == 0


def test_a_created_date_outside_the_calendar_window_is_refused_with_its_row(tmp_path):
    text = (
        "Email,Created Date\n"
        "ana@acme.example,0001-01-01T00:00:00+05:00\n"
        "ben@beta.example,9999-12-31\n"
    )

    errors = refused_errors(write(tmp_path, text), dry_run=True)

    assert errors == [
        "Row 2, Created Date: '0001-01-01T00:00:00+05:00' is not between 2000-01-01 and 2100-01-01",
        "Row 3, Created Date: '9999-12-31' is not between 2000-01-01 and 2100-01-01",
    ]
    assert nothing_written() == ZERO


def test_the_largest_company_size_and_count_a_field_takes_are_imported(tmp_path):
    text = "Email,Employees,Website Visits\nana@acme.example,10000000,2147483647\n"

    run(write(tmp_path, text))

    lead = Lead.objects.get()
    assert lead.company_size == 10_000_000
    assert list(lead.activities.values_list("quantity", flat=True)) == [2_147_483_647]


def test_a_file_with_bad_rows_writes_nothing_at_all():
    RepFactory()

    with pytest.raises(ImportRefused):
        run("handoff_bad_rows.csv")

    assert nothing_written() == ZERO
    assert Source.objects.count() == 0


def test_a_failure_while_writing_rolls_back_everything_and_sends_nothing(
    monkeypatch, django_capture_on_commit_callbacks
):
    RepFactory()
    real_qualify = import_qualify.leads_qualify_batch
    calls = []

    def qualify_then_fail(**kwargs):  # noqa: ANN003,ANN202
        # The batch's handoffs are written, then the connection fails.
        calls.append(kwargs["lead_ids"])
        real_qualify(**kwargs)
        raise RuntimeError("database went away")

    monkeypatch.setattr(import_qualify, "leads_qualify_batch", qualify_then_fail)
    # Two leads that qualify: the sample's first row, and its third coming from a lead form.
    text = (FIXTURES / "x_education_sample.csv").read_text()
    source = io.BytesIO(text.replace("Landing Page Submission", "Lead Add Form").encode())

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="database went away"),
    ):
        leads_import(source=source, actor=None, now=NOW)

    assert len(calls) == 1
    assert callbacks == []
    assert nothing_written() == ZERO


def test_dry_run_reports_what_would_happen_and_writes_nothing():
    RepFactory()

    report = run("handoff_bom.csv", dry_run=True)

    assert (report.dry_run, report.created, report.activities_created) == (True, 2, 6)
    assert (report.sources_created, report.mqls_expected, report.mqls_created) == (2, 1, 0)
    assert nothing_written() == ZERO
    assert Source.objects.count() == 0


# Duplicates and re-imports.


def test_rows_repeating_an_external_id_become_one_lead(tmp_path):
    path = write(
        tmp_path,
        "External Id,Email,Company,Title\nSF-1,,Acme,\nSF-1,ann@acme.example,Other,CEO\n",
    )

    report = run(path)

    assert (report.created, report.merged) == (1, 1)
    assert list(Lead.objects.values_list("external_id", "email", "company", "job_title")) == [
        ("SF-1", "ann@acme.example", "Acme", "CEO")
    ]


def test_an_existing_lead_is_completed_never_overwritten_nor_moved_back():
    existing = LeadFactory(
        email="Zoe@Nordwind.example", company="Nordwind AG", job_title="", phone="",
        stage=Stage.SQL,
    )  # fmt: skip
    RepFactory()

    report = run("handoff_bom.csv")

    existing.refresh_from_db()
    assert (report.created, report.matched, report.updated) == (1, 1, 1)
    assert (existing.company, existing.job_title, existing.phone, existing.stage) == (
        "Nordwind AG", "VP of Sales", "+44 20 7946 0958", Stage.SQL,
    )  # fmt: skip
    assert existing.activities.count() == 4
    assert Handoff.objects.filter(lead=existing).count() == 0


def test_an_opt_out_in_the_file_wins_over_the_existing_lead(tmp_path):
    existing = LeadFactory(email="ann@acme.example", do_not_email=False)

    run(write(tmp_path, "Email,Email Opt Out\nANN@acme.example,Yes\n"))

    existing.refresh_from_db()
    assert existing.do_not_email is True


def test_importing_the_same_file_again_creates_nothing():
    RepFactory()
    first = run("x_education_sample.csv")
    counts = nothing_written()

    again = run("x_education_sample.csv")

    assert (first.created, first.mqls_created, first.handoffs_created) == (4, 1, 1)
    assert (again.created, again.matched, again.updated, again.activities_created) == (0, 4, 0, 0)
    assert (again.mqls_created, again.handoffs_created, again.sources_created) == (0, 0, 0)
    assert nothing_written() == counts


# Scoring and handoff.


def test_qualifying_rows_become_mql_and_are_handed_off_with_the_actor_recorded(
    django_capture_on_commit_callbacks,
):
    rep = RepFactory()
    marketer = UserFactory(username="marketer")

    with django_capture_on_commit_callbacks() as callbacks:
        report = run("handoff_bom.csv", actor=marketer)

    zoe = Lead.objects.get(email="zoe@nordwind.example")
    asa = Lead.objects.get(email="asa.lindqvist@gmail.com")
    assert (report.mqls_created, report.handoffs_created) == (1, 1)
    assert (zoe.stage, asa.stage) == (Stage.MQL, Stage.LEAD)
    assert Handoff.objects.get().rep == rep
    # The rep's notification email, queued for after the commit.
    assert len(callbacks) == 1
    assert list(Notification.objects.values_list("recipient", "kind")) == [
        (rep.user_id, "handoff_assigned")
    ]
    assert list(LeadEvent.objects.values_list("lead", "to_stage", "actor")) == [
        (zoe.pk, Stage.MQL, marketer.pk)
    ]
    assert sorted(zoe.activities.values_list("kind", "detail", "quantity")) == [
        ("demo_request", "demo request", 1),
        ("email_click", "", 2),
        ("page_visit", "/pricing", 1),
        ("page_visit", "website", 4),
    ]


def test_when_capacity_runs_out_the_best_scores_are_handed_off_first(tmp_path):
    rep = RepFactory(weekly_capacity=1)
    path = write(
        tmp_path,
        f"{HANDOFF_HEADER}\n"
        "Ann,Lee,ann@acme.example,Analyst,10,Demo request,2026-11-30\n"
        "Bea,Kim,bea@acme.example,VP Sales,200,Demo request,2026-11-30\n",
    )

    report = run(path)

    assert (report.mqls_created, report.handoffs_created) == (2, 1)
    assert list(Handoff.objects.values_list("lead__email", "rep")) == [("bea@acme.example", rep.pk)]
    assert Lead.objects.filter(stage=Stage.MQL).count() == 2


# The command.


def test_command_prints_the_report():
    out = StringIO()

    call_command("import_leads", str(FIXTURES / "handoff_semicolon.csv"), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "Imported handoff_semicolon.csv (layout: handoff, utf-8-sig, semicolon-separated)"
    )
    assert "  rows read                 2" in lines
    assert "  leads created             2" in lines
    assert "  errors                    0" in lines


def test_command_reads_a_file_through_its_source_saved_mapping(tmp_path):
    webinar = SourceFactory(name="Webinar tool", slug="webinar-tool")
    ImportMapping.objects.create(
        source=webinar,
        columns={"E-mail Address": "email", "Registered": "created"},
        date_format="%d.%m.%Y",
    )
    path = tmp_path / "webinar.csv"
    path.write_text("E-mail Address,Registered\nann@acme.example,28.11.2026\n")
    out = StringIO()

    call_command("import_leads", str(path), "--source", "webinar-tool", stdout=out)

    lead = Lead.objects.get()
    assert (lead.email, lead.source, lead.created_at.date()) == (
        "ann@acme.example",
        webinar,
        datetime(2026, 11, 28, tzinfo=UTC).date(),
    )
    assert "  leads created             1" in out.getvalue().splitlines()


def test_command_refuses_an_unknown_source():
    with pytest.raises(CommandError, match="No source with the slug 'nowhere'."):
        call_command("import_leads", str(FIXTURES / "handoff_semicolon.csv"), "--source", "nowhere")

    assert Lead.objects.count() == 0


def test_command_refuses_a_bad_file_with_every_error_line():
    err = StringIO()

    with pytest.raises(CommandError, match=r"3 error\(s\)\. Nothing was saved\."):
        call_command("import_leads", str(FIXTURES / "handoff_bad_rows.csv"), stderr=err)

    assert err.getvalue().splitlines()[0] == "Row 3, Email: 'bob@' is not a valid email address"
    assert len(err.getvalue().splitlines()) == 3
    assert Lead.objects.count() == 0


def test_command_dry_run_and_preset_option():
    out = StringIO()

    call_command(
        "import_leads", str(FIXTURES / "datablist_sample.csv"), dry_run=True,
        preset="datablist", stdout=out,
    )  # fmt: skip

    assert out.getvalue().splitlines()[-1] == "Dry run: nothing was saved and nothing was sent."
    assert Lead.objects.count() == 0


# Export.


def test_export_neutralises_formulas_but_not_numbers():
    LeadFactory(
        first_name="@SUM(A1)", last_name="-2+3", company="=HYPERLINK(\"http://x\")",
        phone="+44 20 7946 0958", email="ann@acme.example", score=-5, job_title="\tCEO",
        source=SourceFactory(name="+Paid", slug="paid"),
    )  # fmt: skip

    exported = LeadResource().export().csv
    row = next(csv.DictReader(io.StringIO(exported)))

    assert (row["First Name"], row["Last Name"], row["Company"], row["Phone"]) == (
        "'@SUM(A1)", "'-2+3", "'=HYPERLINK(\"http://x\")", "'+44 20 7946 0958",
    )  # fmt: skip
    assert (row["Title"], row["Lead Source"], row["Email"], row["Score"]) == (
        "'\tCEO", "'+Paid", "ann@acme.example", "-5",
    )  # fmt: skip
    assert (LeadResource().fields["stage"].readonly, LeadResource().fields["score"].readonly) == (
        True, True,
    )  # fmt: skip


def test_an_export_imports_back_with_phones_and_text_unchanged():
    LeadFactory(
        email="ann@acme.example", phone="+44 20 7946 0958", company="=1+1", stage=Stage.MQL,
    )  # fmt: skip
    exported = LeadResource().export().csv.encode()
    Lead.objects.all().delete()

    report = run(io.BytesIO(exported))

    assert (report.preset, report.created) == ("handoff", 1)
    assert dict(report.ignored_columns) == {
        "Stage": "stages change only through the handoff workflow",
        "Score": "Handoff computes the score itself",
    }
    lead = Lead.objects.get()
    assert (lead.phone, lead.company, lead.stage) == ("+44 20 7946 0958", "=1+1", Stage.LEAD)


# The admin.


@pytest.fixture
def marketing_client(client):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(UserFactory._meta.model.objects.get(username="marketing"))
    return client


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FIXTURES / name).read_bytes(), content_type="text/csv")


def test_admin_import_previews_then_confirms_through_the_import_service(marketing_client):
    url = reverse("admin:leads_lead_import")

    preview = marketing_client.post(
        url, {"import_file": upload("handoff_bom.csv"), "format": "0", "resource": "0"}
    )

    assert preview.status_code == 200
    result = preview.context["result"]
    assert (result.totals["new"], result.has_errors(), result.has_validation_errors()) == (
        2, False, False,
    )  # fmt: skip
    assert Lead.objects.count() == 0
    assert [str(message) for message in preview.wsgi_request._messages] == [
        "Preview (nothing saved yet): 2 new leads, 0 to complete, 0 unchanged, 0 duplicate "
        "rows merged; 1 expected to become MQL."
    ]
    confirm = preview.context["confirm_form"].initial

    done = marketing_client.post(reverse("admin:leads_lead_process_import"), confirm)

    assert done.status_code == 302
    assert Lead.objects.count() == 2
    assert Lead.objects.get(email="zoe@nordwind.example").stage == Stage.MQL
    assert Handoff.objects.count() == 1
    messages = [str(message) for message in done.wsgi_request._messages]
    assert messages == [
        "Imported: 2 new leads, 0 completed, 0 unchanged, 0 duplicate rows merged; 1 MQLs, "
        "1 handed off."
    ]


def test_admin_import_of_the_x_education_layout_reads_its_preset(marketing_client):
    response = marketing_client.post(
        reverse("admin:leads_lead_import"),
        {"import_file": upload("x_education_sample.csv"), "format": "0", "resource": "0"},
    )

    result = response.context["result"]
    assert result.import_report.preset == "x_education"
    assert result.totals["new"] == 4
    assert Lead.objects.count() == 0


def test_admin_import_of_a_bad_file_lists_the_errors_and_writes_nothing(marketing_client):
    response = marketing_client.post(
        reverse("admin:leads_lead_import"),
        {"import_file": upload("handoff_bad_rows.csv"), "format": "0", "resource": "0"},
    )

    result = response.context["result"]
    assert [(row.number, row.error_dict) for row in result.invalid_rows] == [
        (3, {"Email": ["'bob@' is not a valid email address"]}),
        (4, {
            "Phone": [
                "'4.47E+11' is a number a spreadsheet rewrote in scientific notation, which "
                "loses digits; format the column as text and export the file again"
            ],
            "Employees": ["'lots' is not a number"],
        }),
    ]  # fmt: skip
    assert result.totals["invalid"] == 2
    assert "confirm_form" not in response.context
    assert nothing_written() == ZERO


def test_admin_import_refuses_a_number_too_large_for_its_field_and_offers_no_confirm(
    marketing_client,
):
    upload = SimpleUploadedFile("leads.csv", OUT_OF_RANGE.encode(), content_type="text/csv")
    before = nothing_written()

    response = marketing_client.post(
        reverse("admin:leads_lead_import"), {"import_file": upload, "format": "0", "resource": "0"}
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert [(row.number, row.error_dict) for row in result.invalid_rows] == [
        (3, {
            "Employees": [
                "'99999999999999999999' is more than 10,000,000, the largest value this "
                "column takes"
            ],
            "Website Visits": [
                "'2147483648' is more than 2,147,483,647, the largest value this column takes"
            ],
        }),
    ]  # fmt: skip
    assert "confirm_form" not in response.context
    assert nothing_written() == before


@pytest.mark.parametrize("username", ["marketing", "revops", "admin"])
def test_lead_admin_is_read_only_and_explains_the_score(client, username):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(UserFactory._meta.model.objects.get(username=username))
    run("handoff_bom.csv")
    lead = Lead.objects.get(email="zoe@nordwind.example")
    url = reverse("admin:leads_lead_change", args=[lead.pk])

    page = client.get(url)
    post = client.post(url, {"first_name": "Changed"})

    assert page.status_code == 200
    content = page.content.decode()
    assert "Where the score came from" in content
    assert "Requested a demo" in content
    assert 'name="stage"' not in content
    assert post.status_code == 403
    lead.refresh_from_db()
    assert lead.first_name == "Zoë"
    assert client.get(reverse("admin:leads_lead_changelist")).status_code == 200


@pytest.mark.parametrize("page", ["lead", "source", "scoringrule", "scoringsettings"])
def test_revops_can_open_the_lead_admin_lists(client, page):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(UserFactory._meta.model.objects.get(username="revops"))

    response = client.get(f"/admin/leads/{page}/")

    assert response.status_code == 200


def test_rescore_action_qualifies_leads_through_the_service(marketing_client):
    lead = LeadFactory(job_title="VP Sales", email="vp@acme.example", company_size=100)
    Activity.objects.create(lead=lead, kind="demo_request", occurred_at=NOW)

    response = marketing_client.post(
        reverse("admin:leads_lead_changelist"),
        {"action": "rescore_and_qualify", "_selected_action": [lead.pk]},
    )

    lead.refresh_from_db()
    assert response.status_code == 302
    assert lead.stage == Stage.MQL
    assert Handoff.objects.filter(lead=lead).count() == 1


def test_rule_admin_refuses_an_unsound_rule_and_a_saved_rule_rescores_nothing(client):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(UserFactory._meta.model.objects.get(username="revops"))
    lead = LeadFactory(score=7)
    url = reverse("admin:leads_scoringrule_add")
    rule = {
        "name": "Sales titles", "category": "fit", "points": "40", "position": "0",
        "field": "job_title", "operator": "matches", "value": "(sales", "active": "on",
    }  # fmt: skip

    refused = client.post(url, rule)
    saved = client.post(url, {**rule, "value": "sales"})

    assert refused.status_code == 200
    assert "is not a valid pattern" in refused.content.decode()
    assert saved.status_code == 302
    assert ScoringRule.objects.filter(name="Sales titles").count() == 1
    lead.refresh_from_db()
    assert lead.score == 7


def test_an_excel_workbook_uploaded_to_the_admin_reads_typed_cells():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Email", "Phone", "Employees", "Created Date", "Lead Source", None])
    # Excel dates carry no time zone.
    created = datetime(2026, 11, 30, 10, tzinfo=UTC).replace(tzinfo=None)
    sheet.append(["ann@acme.example", "+44 20 7946 0958", 120, created, "Demo request"])
    content = io.BytesIO()
    workbook.save(content)
    dataset = XLSX().create_dataset(content.getvalue())

    report = run(table_from_dataset(dataset))

    assert (report.preset, report.created) == ("handoff", 1)
    assert list(Lead.objects.values_list("phone", "company_size")) == [("+44 20 7946 0958", 120)]
    assert list(Activity.objects.values_list("kind", "occurred_at")) == [
        ("demo_request", datetime(2026, 11, 30, 10, tzinfo=UTC))
    ]
