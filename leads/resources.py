"""Lead import and export through django-import-export, for the admin's Import and Export buttons.

The admin keeps django-import-export's pages (upload, dry-run preview, confirm), but the rows
go through the same reading, presets and all-or-nothing service as `manage.py import_leads`
and the upload page: the same duplicates are found, the same activities created, and a
confirmed import rescores and qualifies the imported leads. A row-by-row import would do none
of that in one transaction, and would take minutes on a 10,000-row file.

There is one resource per layout the admin can choose on its import page: detected from the
headers, Salesforce's lead export, HubSpot's contact export. The admin reads the file in the
request; files of tens of thousands of rows belong on the upload page (/leads/import/), which
runs them in a worker.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.html import escape
from import_export import resources, widgets
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.results import Error, Result, RowResult

from leads.export import neutralise_formula
from leads.importing import (
    FileRefused,
    ImportRefused,
    ImportReport,
    LayoutRefused,
    Table,
    leads_import,
    mapping_for,
    table_open,
)
from leads.importing.reading import FIRST_DATA_ROW, Record
from leads.models import Lead

logger = logging.getLogger(__name__)


class RefusalError(Error):
    """A refusal of the file, written for the person importing it. The admin shows a base
    error's traceback under its message; for a refusal it is noise, and it shows code paths
    to people who only need to know what to fix."""

    @property
    def traceback(self) -> str:
        return ""


# Extra columns the CSV format adds to the data set it hands to django-import-export, which
# wants rectangular rows: the cells a row has beyond the header (a sign of a missing quote),
# and a message when the file could not be read at all.
OVERFLOW_COLUMN = "(cells beyond the header)"
READ_ERROR_COLUMN = "(file could not be read)"
_CELL_SEPARATOR = "\x1f"

PREVIEW_HEADERS = ["Rows", "Email", "External id", "Name", "Company", "Source", "Activities"]


class LeadCSV(base_formats.CSV):
    """CSV read by Handoff's reader: UTF-8 with or without a BOM or Windows-1252, comma,
    semicolon or tab, an Excel "sep=" line, blank header names."""

    def get_title(self) -> str:
        return "csv"

    def is_binary(self) -> bool:
        # The bytes reach the reader untouched, so that it can tell the encoding itself.
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: bytes | str, **kwargs: Any) -> tablib.Dataset:
        data = in_stream.encode("utf-8") if isinstance(in_stream, str) else in_stream
        try:
            with table_open(io.BytesIO(data)) as table:
                return _dataset_from_table(table)
        except FileRefused as error:
            # Raised here, the admin would show only the exception's name; carried in the
            # data set, the import shows the message.
            dataset = tablib.Dataset(headers=[READ_ERROR_COLUMN])
            dataset.append([str(error)])
            return dataset


def _dataset_from_table(table: Table) -> tablib.Dataset:
    width = len(table.headers)
    dataset = tablib.Dataset(headers=[*table.headers, OVERFLOW_COLUMN])
    for record in table.records:
        cells = list(record.cells[:width]) + [""] * max(0, width - len(record.cells))
        dataset.append([*cells, _CELL_SEPARATOR.join(record.cells[width:])])
    return dataset


def table_from_dataset(dataset: tablib.Dataset) -> Table:
    """The data set the admin read, as the Table the import service takes. Row numbers are
    the spreadsheet's: the header is row 1."""
    headers = ["" if header is None else str(header) for header in dataset.headers or []]
    overflow = headers.index(OVERFLOW_COLUMN) if OVERFLOW_COLUMN in headers else None
    real_headers = headers if overflow is None else headers[:overflow]

    def records() -> Any:
        for index, row in enumerate(dataset):
            cells = list(row)
            if overflow is not None:
                extra = cells[overflow]
                cells = cells[:overflow]
                if extra:
                    cells.extend(str(extra).split(_CELL_SEPARATOR))
            yield Record(number=FIRST_DATA_ROW + index, cells=cells)

    return Table(headers=real_headers, records=records())


class LeadResource(resources.ModelResource):
    """Export columns use Handoff's own file layout, so an export imports back unchanged.

    Stage and score are exported for reading only: stages move through the handoff workflow
    and scores are computed, so an import never writes either.
    """

    external_id = Field(attribute="external_id", column_name="External Id")
    first_name = Field(attribute="first_name", column_name="First Name")
    last_name = Field(attribute="last_name", column_name="Last Name")
    email = Field(attribute="email", column_name="Email")
    phone = Field(attribute="phone", column_name="Phone")
    company = Field(attribute="company", column_name="Company")
    job_title = Field(attribute="job_title", column_name="Title")
    industry = Field(attribute="industry", column_name="Industry")
    company_size = Field(
        attribute="company_size", column_name="Employees", widget=widgets.IntegerWidget()
    )
    country = Field(attribute="country", column_name="Country")
    city = Field(attribute="city", column_name="City")
    source = Field(attribute="source__name", column_name="Lead Source", readonly=True)
    campaign = Field(attribute="campaign", column_name="Campaign")
    do_not_email = Field(attribute="do_not_email", column_name="Do Not Email")
    do_not_call = Field(attribute="do_not_call", column_name="Do Not Call")
    context = Field(attribute="context", column_name="Notes")
    created_at = Field(
        attribute="created_at",
        column_name="Created Date",
        readonly=True,
        widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S"),
    )
    attributes = Field(attribute="attributes", column_name="Attributes")
    stage = Field(attribute="stage", column_name="Stage", readonly=True)
    score = Field(
        attribute="score", column_name="Score", readonly=True, widget=widgets.IntegerWidget()
    )

    # Text a person or a file wrote, which a spreadsheet might run as a formula.
    TEXT_FIELDS = frozenset(
        {
            "external_id", "first_name", "last_name", "email", "phone", "company",
            "job_title", "industry", "country", "city", "source", "campaign", "context",
        }
    )  # fmt: skip

    class Meta:
        model = Lead
        fields = (
            "external_id", "first_name", "last_name", "email", "phone", "company", "job_title",
            "industry", "company_size", "country", "city", "source", "campaign",
            "do_not_email", "do_not_call", "context", "attributes", "created_at", "stage",
            "score",
        )  # fmt: skip
        export_order = fields
        # The import below replaces django-import-export's row-by-row one; these settings
        # only keep its checks quiet.
        import_id_fields: tuple[str, ...] = ()
        skip_diff = True

    # The layout the import reads; None detects it from the headers.
    PRESET: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preset_name: str | None = self.PRESET
        self.report: ImportReport | None = None

    @classmethod
    def get_display_name(cls) -> str:
        return "Layout detected from the headers"

    # Export.

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("source")

    def dehydrate_do_not_email(self, lead: Lead) -> str:
        return "Yes" if lead.do_not_email else "No"

    def dehydrate_do_not_call(self, lead: Lead) -> str:
        return "Yes" if lead.do_not_call else "No"

    def dehydrate_stage(self, lead: Lead) -> str:
        return lead.get_stage_display()

    def dehydrate_attributes(self, lead: Lead) -> str:
        return (
            json.dumps(lead.attributes, ensure_ascii=False, sort_keys=True)
            if lead.attributes
            else ""
        )

    def export_field(self, field: Field, instance: Lead, **kwargs: Any) -> Any:
        value = super().export_field(field, instance, **kwargs)
        if self.get_field_name(field) in self.TEXT_FIELDS:
            return neutralise_formula(value)
        return value

    # Import.

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        """Recognise the file's layout from its headers with the import's presets: the
        datablist and X Education files, Handoff's own layout and Salesforce's headers."""
        headers = ["" if header is None else str(header) for header in dataset.headers or []]
        if READ_ERROR_COLUMN in headers:
            raise FileRefused(dataset[0][0])
        real_headers = [header for header in headers if header != OVERFLOW_COLUMN]
        self.preset_name = mapping_for(real_headers, preset_name=self.PRESET).preset.name

    def import_data_inner(
        self,
        dataset: tablib.Dataset,
        dry_run: bool,
        raise_errors: bool,
        using_transactions: bool,
        collect_failed_rows: bool,
        **kwargs: Any,
    ) -> Result:
        """Import the whole data set through leads_import, and describe the outcome the way
        the admin's preview and confirmation pages expect."""
        result = self.get_result_class()()
        result.diff_headers = PREVIEW_HEADERS
        result.total_rows = len(dataset)
        try:
            self.before_import(dataset, **kwargs)
            self.report = leads_import(
                source=table_from_dataset(dataset),
                actor=kwargs.get("user"),
                dry_run=dry_run,
                preset=self.preset_name,
                keep_outcomes=True,
            )
        except (FileRefused, LayoutRefused) as error:
            result.append_base_error(RefusalError(error))
            return result
        except ImportRefused as refused:
            self.report = refused.report
            _add_errors(result, refused.report)
            return result

        result.import_report = self.report
        instances = {} if dry_run else Lead.objects.in_bulk(self.report.lead_ids)
        for outcome in self.report.outcomes:
            row_result = self.get_row_result_class()()
            row_result.import_type = {
                "new": RowResult.IMPORT_TYPE_NEW,
                "update": RowResult.IMPORT_TYPE_UPDATE,
            }.get(outcome.status, RowResult.IMPORT_TYPE_SKIP)
            name = " ".join(
                part for part in (outcome.fields.get("first_name"), outcome.fields.get("last_name"))
                if part
            )  # fmt: skip
            row_result.diff = [
                escape(value)
                for value in (
                    ", ".join(str(number) for number in outcome.rows),
                    outcome.fields.get("email", ""),
                    outcome.fields.get("external_id", ""),
                    name,
                    outcome.fields.get("company", ""),
                    outcome.source_name,
                    str(outcome.activities),
                )
            ]
            if not dry_run:
                instance = instances.get(outcome.lead_id)
                row_result.add_instance_info(instance)
                row_result.instance = instance
            result.increment_row_result_total(row_result)
            # Unchanged leads are listed too, so that the preview accounts for every row.
            result.append_row_result(row_result)
        # The totals count rows, as django-import-export's do, so that new + update + skip
        # is the file's row count: a duplicate row merged into an earlier one and a blank row
        # add no lead of their own, and are skipped.
        result.totals[RowResult.IMPORT_TYPE_SKIP] += self.report.merged + self.report.skipped
        return result


class SalesforceLeadResource(LeadResource):
    """Reads a Salesforce lead export whatever its headers suggest."""

    PRESET = "salesforce"

    @classmethod
    def get_display_name(cls) -> str:
        return "Salesforce lead export"


class HubSpotLeadResource(LeadResource):
    """Reads a HubSpot contact export whatever its headers suggest."""

    PRESET = "hubspot"

    @classmethod
    def get_display_name(cls) -> str:
        return "HubSpot contact export"


def _add_errors(result: Result, report: ImportReport) -> None:
    """One invalid row per row of the file, holding all of that row's errors, so that the
    invalid count is a count of rows."""
    by_row: dict[int, dict[str, list[str]]] = {}
    for error in report.errors:
        if error.row is None:
            result.append_base_error(RefusalError(ValueError(error.message)))
            continue
        field = error.column or NON_FIELD_ERRORS
        message = error.message if error.column else str(error)
        by_row.setdefault(error.row, {}).setdefault(field, []).append(message)
    for row, errors in sorted(by_row.items()):
        result.append_invalid_row(row, {"Rows": str(row)}, ValidationError(errors))
    # Every row with an error counts, including those beyond the errors a report keeps.
    result.totals[RowResult.IMPORT_TYPE_INVALID] = max(report.rows_with_errors, len(by_row))
