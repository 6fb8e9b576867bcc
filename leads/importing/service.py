"""The lead import: check a whole file, then refuse it whole or write it whole.

Every row is read and checked before anything is written (the dry run, `leads_import_check`).
A file with one bad row writes nothing and comes back with every error. A good file is written
by `leads_import_write` in batches inside one transaction: new leads and their activities in
bulk, existing leads completed in their blank fields only, each batch rescored, then the
leads that qualify made MQL and handed to reps through the lead services. Notifications are
queued on commit by those services, so a failed import sends nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from handoff.errors import HandoffError
from leads.importing.engine import (
    ImportOptions,
    ImportReport,
    ImportRun,
    Progress,
    import_lock,
    parsed_batches,
)
from leads.importing.parsing import RowError
from leads.importing.presets import CustomMapping, LayoutRefused, mapping_for
from leads.importing.qualify import leads_qualify_imported
from leads.importing.reading import NO_ROWS, FileRefused, Table, table_open
from leads.services import leads_rescore

logger = logging.getLogger(__name__)

REFUSED = "The file was not imported: {count} error(s). Nothing was saved."

TableOpener = Callable[[], AbstractContextManager[Table]]


class ImportRefused(HandoffError):
    """The file has errors; nothing was written. `report.errors` lists them."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(REFUSED.format(count=report.errors_total))


def table_opener(source: Table | str | Path | IO[bytes]) -> TableOpener:
    """Something that opens the file afresh for each pass: the check, then the write.

    A Table already read (the admin's data set) is kept as a list of records; it is small.
    """
    if isinstance(source, Table):
        records = list(source.records)

        def reopen() -> AbstractContextManager[Table]:
            return nullcontext(
                Table(
                    headers=source.headers,
                    records=iter(records),
                    encoding=source.encoding,
                    delimiter=source.delimiter,
                    kind=source.kind,
                    footer_rows=source.footer_rows,
                )
            )

        return reopen
    return lambda: table_open(source)


def leads_import(
    *,
    source: Table | str | Path | IO[bytes],
    actor: AbstractBaseUser | None,
    dry_run: bool = False,
    preset: str | None = None,
    date_formats: Sequence[str] = (),
    custom: CustomMapping | None = None,
    default_source=None,  # noqa: ANN001 - a leads.models.Source or None
    skip_invalid_rows: bool = False,
    keep_outcomes: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Import a lead file (a path, an uploaded stream, or a Table already read).

    Raises ImportRefused, with the errors, when any row is wrong: nothing is written then,
    unless `skip_invalid_rows` asks to leave those rows out. A dry run only checks: its report
    counts what the import would create, match, complete and merge, and how many leads would
    become MQL; it writes nothing and locks nothing.
    """
    options = ImportOptions(
        preset=preset,
        custom=custom,
        date_formats=tuple(date_formats),
        default_source=default_source,
        skip_invalid_rows=skip_invalid_rows,
        keep_outcomes=keep_outcomes,
    )
    opener = table_opener(source)
    now = now or timezone.now()
    report = leads_import_check(open_table=opener, options=options, now=now)
    if refuses(report, options=options):
        raise ImportRefused(report)
    if dry_run:
        return report
    with transaction.atomic():
        return leads_import_write(open_table=opener, options=options, actor=actor, now=now)


def refuses(report: ImportReport, *, options: ImportOptions) -> bool:
    """Whether the errors stop the import: any error by default; with `skip_invalid_rows`,
    only an error with the file as a whole."""
    if not report.errors_total:
        return False
    if not options.skip_invalid_rows:
        return True
    return any(error.row is None for error in report.errors)


def leads_import_check(
    *,
    open_table: TableOpener,
    options: ImportOptions,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """The dry run: read and check every row, find the duplicates, and count what the import
    would do. Writes nothing."""
    return _run(open_table=open_table, options=options, now=now, progress=progress, write=False)


def leads_import_write(
    *,
    open_table: TableOpener,
    options: ImportOptions,
    actor: AbstractBaseUser | None,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Write the file. Must run inside the caller's transaction, which it leaves to commit or
    roll back as a whole: raises ImportRefused (the caller rolls back) when a row turns out
    wrong. Waits for any other import to finish first (see engine.import_lock)."""
    if not connection.in_atomic_block:
        raise RuntimeError("leads_import_write must run inside a transaction")
    import_lock()
    report = _run(
        open_table=open_table, options=options, now=now, progress=progress, write=True, actor=actor
    )
    if refuses(report, options=options):
        raise ImportRefused(report)
    return report


def _run(
    *,
    open_table: TableOpener,
    options: ImportOptions,
    now: datetime,
    progress: Progress | None,
    write: bool,
    actor: AbstractBaseUser | None = None,
) -> ImportReport:
    started = time.monotonic()
    report = ImportReport(dry_run=not write)
    try:
        with open_table() as table:
            report.encoding, report.delimiter = table.encoding, table.delimiter
            mapping = mapping_for(
                table.headers,
                preset_name=options.preset,
                custom=options.custom,
                date_formats=options.date_formats,
            )
            report.preset = mapping.preset.name
            report.ignored_columns = mapping.ignored
            run = ImportRun(
                mapping=mapping, options=options, report=report, now=now, write=write, actor=actor
            )
            for rows, rows_read in parsed_batches(table, mapping=mapping, now=now, report=report):
                if write and refuses(report, options=options):
                    break
                run.feed(rows)
                if progress is not None:
                    progress(rows_read)
            if not report.rows_read:
                # Refused rather than "imported nothing", so that nobody confirms an empty
                # export believing the leads went in.
                raise FileRefused(NO_ROWS)
    except (FileRefused, LayoutRefused) as error:
        report.add_error(RowError(str(error)))
    if write and not refuses(report, options=options):
        run.finish()
        report.mqls_created, report.handoffs_created = leads_qualify_imported(
            candidates=run.candidates, actor=actor, now=now
        )
    report.seconds = time.monotonic() - started
    logger.info(
        "leads import %s preset=%s rows=%s created=%s matched=%s updated=%s merged=%s "
        "skipped=%s footer=%s errors=%s activities=%s mqls=%s handoffs=%s elapsed_ms=%d",
        "written" if write else "checked",
        report.preset,
        report.rows_read,
        report.created,
        report.matched,
        report.updated,
        report.merged,
        report.skipped,
        report.footer_rows,
        report.errors_total,
        report.activities_created,
        report.mqls_created,
        report.handoffs_created,
        report.seconds * 1000,
    )
    return report


def leads_score_and_qualify(
    *,
    lead_ids: Sequence[int],
    actor: AbstractBaseUser | None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Rescore the leads, then make MQL and hand off each one whose score qualifies, best
    scores first. Returns (MQLs created, handoffs created)."""
    from leads.importing.matching import LOOKUP_BATCH_SIZE, chunks
    from leads.models import Lead, ScoringSettings, Stage
    from leads.services import MAX_MQL_QUALIFICATIONS

    now = now or timezone.now()
    leads_rescore(lead_ids=lead_ids, now=now)
    thresholds = ScoringSettings.current()
    candidates: list[tuple[int, int]] = []
    for chunk in chunks(list(lead_ids), LOOKUP_BATCH_SIZE):
        candidates.extend(
            Lead.objects.filter(
                pk__in=chunk,
                stage__in=(Stage.LEAD, Stage.RECYCLED),
                mql_count__lt=MAX_MQL_QUALIFICATIONS,
                disqualified_by="",
                score__gte=thresholds.mql_threshold,
                fit_score__gte=thresholds.fit_minimum,
            ).values_list("score", "pk")
        )
    return leads_qualify_imported(candidates=candidates, actor=actor, now=now)
