"""Exports: leads, a rep's queue and the rejection feedback, as CSV or Excel (.xlsx).

Rows stream from the database in chunks: a CSV goes out as it is written, a workbook is built
in openpyxl's write-only mode in a temporary file. Either way memory stays flat.

Text a person or a file wrote could run as a formula when the export is opened in a
spreadsheet (`=HYPERLINK(...)`, `+44 20...`). In a CSV such a cell gets a leading apostrophe,
which spreadsheets show as "this is text"; in a workbook it is an explicit text cell marked
quote-prefixed, so Excel never evaluates it. Importing either kind of export gives the same
values back (see docs/importing.md).

Who may export what follows the pages: leads for marketing and RevOps; the queue of one's
own handoffs for a BDR, of the team's for a manager, of anyone's for RevOps; rejections for
marketing, managers and RevOps.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from handoff import roles
from handoff.models import Handoff
from handoff.selectors import handoff_queue_for_user, team_handoffs_for_manager
from leads.importing.parsing import FORMULA_TRIGGERS
from leads.models import Lead

FORMATS = ("csv", "xlsx")
CHUNK_SIZE = 2000
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

LEAD_EXPORT_ROLES = (roles.MARKETING, roles.REVOPS)
QUEUE_EXPORT_ROLES = (roles.BDR, roles.MANAGER, roles.REVOPS)
FEEDBACK_EXPORT_ROLES = (roles.MARKETING, roles.MANAGER, roles.REVOPS)
OTHER_QUEUE_REFUSED = "You can export your own queue only."


def neutralise_formula(value: Any) -> Any:
    """Prefix a text cell a spreadsheet would run as a formula with an apostrophe.

    A phone number such as '+44 20 7946 0958' is exported as "'+44 20 7946 0958": shown as
    text, never evaluated. The import removes the apostrophe again, so a round trip keeps the
    number as it was. Numbers are left alone: a score of -5 is not a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def _when(moment: datetime | None) -> datetime | None:
    """A time in UTC without its zone: workbooks cannot hold zones, and the import reads a
    zoneless time as the project's (UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment else None


def _attributes(lead: Lead) -> str:
    if not lead.attributes:
        return ""
    return json.dumps(lead.attributes, ensure_ascii=False, sort_keys=True)


# Handoff's own layout, which the import reads back (see leads.importing.presets.HANDOFF).
# Stage and Score are for reading: an import never writes them.
LEAD_COLUMNS = (
    Column("External Id", lambda lead: lead.external_id),
    Column("First Name", lambda lead: lead.first_name),
    Column("Last Name", lambda lead: lead.last_name),
    Column("Email", lambda lead: lead.email),
    Column("Phone", lambda lead: lead.phone),
    Column("Company", lambda lead: lead.company),
    Column("Title", lambda lead: lead.job_title),
    Column("Industry", lambda lead: lead.industry),
    Column("Employees", lambda lead: lead.company_size),
    Column("Country", lambda lead: lead.country),
    Column("City", lambda lead: lead.city),
    Column("Lead Source", lambda lead: lead.source.name if lead.source_id else ""),
    Column("Campaign", lambda lead: lead.campaign),
    Column("Do Not Email", lambda lead: _yes_no(lead.do_not_email)),
    Column("Do Not Call", lambda lead: _yes_no(lead.do_not_call)),
    Column("Notes", lambda lead: lead.context),
    Column("Attributes", _attributes),
    Column("Created Date", lambda lead: _when(lead.created_at)),
    Column("Stage", lambda lead: lead.get_stage_display()),
    Column("Score", lambda lead: lead.score),
)

QUEUE_COLUMNS = (
    Column("Handoff", lambda handoff: handoff.pk),
    Column("Lead", lambda handoff: handoff.lead.display_name),
    Column("Email", lambda handoff: handoff.lead.email),
    Column("Phone", lambda handoff: handoff.lead.phone),
    Column("Company", lambda handoff: handoff.lead.company),
    Column("Title", lambda handoff: handoff.lead.job_title),
    Column("Score", lambda handoff: handoff.lead.score),
    Column("Source", lambda handoff: handoff.lead.source.name if handoff.lead.source_id else ""),
    Column("Rep", lambda handoff: str(handoff.rep)),
    Column("State", lambda handoff: handoff.get_state_display()),
    Column("Assigned At", lambda handoff: _when(handoff.assigned_at)),
    Column("Due At", lambda handoff: _when(handoff.due_at)),
    Column("First Response At", lambda handoff: _when(handoff.first_response_at)),
)

FEEDBACK_COLUMNS = (
    Column("Rejected At", lambda rejection: _when(rejection.created_at)),
    Column("Lead", lambda rejection: rejection.lead.display_name),
    Column("Email", lambda rejection: rejection.lead.email),
    Column("Company", lambda rejection: rejection.lead.company),
    Column(
        "Source", lambda rejection: rejection.lead.source.name if rejection.lead.source_id else ""
    ),
    Column("Campaign", lambda rejection: rejection.lead.campaign),
    Column("Score", lambda rejection: rejection.lead.score),
    Column("Reason", lambda rejection: rejection.reason.label),
    Column("Outcome", lambda rejection: rejection.reason.get_outcome_display()),
    Column("Note", lambda rejection: rejection.note),
    Column(
        "Rejected By",
        lambda rejection: rejection.rejected_by.get_username() if rejection.rejected_by else "",
    ),
    Column("Rep", lambda rejection: str(rejection.handoff.rep)),
)


# What each person may export.


def leads_for_export(*, user: AbstractBaseUser) -> QuerySet[Lead]:
    if not roles.has_role(user, *LEAD_EXPORT_ROLES):
        raise PermissionDenied
    return Lead.objects.select_related("source").order_by("pk")


def queue_for_export(*, user: AbstractBaseUser, rep_id: int | None = None) -> QuerySet[Handoff]:
    """Open handoffs: a BDR's own; a manager's team's (or one rep of it); anyone's for RevOps."""
    if not roles.has_role(user, *QUEUE_EXPORT_ROLES):
        raise PermissionDenied
    if roles.has_role(user, roles.MANAGER, roles.REVOPS):
        handoffs = team_handoffs_for_manager(user=user)
    else:
        own_rep = getattr(getattr(user, "rep", None), "pk", None)
        if rep_id is not None and rep_id != own_rep:
            raise PermissionDenied(OTHER_QUEUE_REFUSED)
        handoffs = handoff_queue_for_user(user=user)
    if rep_id is not None:
        handoffs = handoffs.filter(rep_id=rep_id)
    return handoffs.select_related("lead__source", "rep__user").order_by("due_at", "pk")


def rejections_for_export(*, user: AbstractBaseUser) -> QuerySet:
    from feedback.models import Rejection

    if not roles.has_role(user, *FEEDBACK_EXPORT_ROLES):
        raise PermissionDenied
    return Rejection.objects.select_related(
        "reason", "lead__source", "rejected_by", "handoff__rep__user"
    ).order_by("-created_at", "-pk")


# Writing.


def rows(columns: Iterable[Column], objects: Iterable[Any]) -> Iterator[list[Any]]:
    columns = list(columns)
    for obj in objects:
        yield [column.value(obj) for column in columns]


def _in_chunks(queryset: QuerySet) -> Iterator[Any]:
    return queryset.iterator(chunk_size=CHUNK_SIZE)


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer's output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(columns: Iterable[Column], queryset: QuerySet) -> Iterator[str]:
    """The export as CSV lines: a UTF-8 BOM so that Excel reads the accents, the header, then
    a line per row with formulas neutralised."""
    columns = list(columns)
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow([column.header for column in columns])
    for values in rows(columns, _in_chunks(queryset)):
        yield writer.writerow([_csv_cell(value) for value in values])


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)
    return neutralise_formula(value)


def xlsx_file(columns: Iterable[Column], queryset: QuerySet, *, title: str) -> IO[bytes]:
    """The export as a workbook in a temporary file, rewound, for the response to stream."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    columns = list(columns)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([column.header for column in columns])
    for values in rows(columns, _in_chunks(queryset)):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # A text cell, never a formula, and quote-prefixed so that editing it in Excel
                # keeps it text.
                cell.data_type = "s"
                cell.quotePrefix = value.startswith(FORMULA_TRIGGERS)
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            cells.append(cell)
        sheet.append(cells)
    output = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it
    workbook.save(output)
    output.seek(0)
    return output
