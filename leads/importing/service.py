"""The lead import: read a whole file, refuse it whole or write it whole.

Every row is parsed and checked before anything is written. A file with one bad row writes
nothing and comes back with every error. A good file is written in one transaction: new leads
and their activities in bulk, existing leads completed in their blank fields only, then all of
them rescored and the qualifying ones made MQL and handed to a rep through the lead services.
Notifications are queued on commit by those services, so a failed import sends nothing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from handoff.errors import HandoffError
from leads.importing.matching import (
    LOOKUP_BATCH_SIZE,
    PlannedLead,
    activities_to_add,
    chunks,
    lead_fill_blanks,
    leads_match_existing,
    rows_plan,
)
from leads.importing.parsing import ParsedRow, RowError, row_parse
from leads.importing.presets import LayoutRefused, Mapping, mapping_for
from leads.importing.reading import FileRefused, Table, table_open
from leads.models import Activity, Lead, ScoringSettings, Source, Stage
from leads.services import MAX_MQL_QUALIFICATIONS, lead_qualify_if_ready, leads_rescore

logger = logging.getLogger(__name__)

WRITE_BATCH_SIZE = 1000
REFUSED = "The file was not imported: {count} error(s). Nothing was saved."


class ImportRefused(HandoffError):
    """The file has errors; nothing was written. `report.errors` lists every one."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(REFUSED.format(count=len(report.errors)))


@dataclass
class LeadOutcome:
    """What the import did with one lead: the rows that gave it, and new/update/skip."""

    rows: list[int]
    status: str
    lead_id: int | None
    fields: dict[str, Any]
    source_name: str
    activities: int


@dataclass
class ImportReport:
    preset: str = ""
    encoding: str = ""
    delimiter: str = ""
    dry_run: bool = False
    rows_read: int = 0
    created: int = 0
    # Leads already in Handoff that a row matched, and how many of them the row completed.
    matched: int = 0
    updated: int = 0
    # Rows that repeated an earlier row of the same file and were merged into it.
    merged: int = 0
    # Blank rows.
    skipped: int = 0
    activities_created: int = 0
    sources_created: int = 0
    mqls_created: int = 0
    handoffs_created: int = 0
    seconds: float = 0.0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[LeadOutcome] = field(default_factory=list)

    @property
    def lead_ids(self) -> list[int]:
        return [outcome.lead_id for outcome in self.outcomes if outcome.lead_id is not None]


def leads_import(
    *,
    source: Table | str | Path | IO[bytes],
    actor: AbstractBaseUser | None,
    dry_run: bool = False,
    preset: str | None = None,
    date_formats: Sequence[str] = (),
    now: datetime | None = None,
) -> ImportReport:
    """Import a lead file (a path, an uploaded stream, or a Table already read).

    Raises ImportRefused, with every error, when any row is wrong; nothing is written then.
    A dry run does all the work, including scoring and routing, inside a transaction it
    rolls back, so its report predicts the real one and it sends nothing.
    """
    if isinstance(source, Table):
        return _import_table(
            source, actor=actor, dry_run=dry_run, preset=preset,
            date_formats=tuple(date_formats), now=now,
        )  # fmt: skip
    try:
        with table_open(source) as table:
            return _import_table(
                table, actor=actor, dry_run=dry_run, preset=preset,
                date_formats=tuple(date_formats), now=now,
            )  # fmt: skip
    except FileRefused as error:
        report = ImportReport(dry_run=dry_run, errors=[RowError(str(error))])
        logger.info("leads import refused errors=1 reason=unreadable")
        raise ImportRefused(report) from error


def _import_table(
    table: Table,
    *,
    actor: AbstractBaseUser | None,
    dry_run: bool,
    preset: str | None,
    date_formats: tuple[str, ...],
    now: datetime | None,
) -> ImportReport:
    started = time.monotonic()
    now = now or timezone.now()
    report = ImportReport(encoding=table.encoding, delimiter=table.delimiter, dry_run=dry_run)

    try:
        mapping = mapping_for(table.headers, preset_name=preset)
    except LayoutRefused as error:
        report.errors.append(RowError(str(error)))
        logger.info("leads import refused errors=1 reason=layout")
        raise ImportRefused(report) from error
    report.preset = mapping.preset.name
    report.ignored_columns = mapping.ignored

    rows = _parse_all(table, mapping=mapping, now=now, date_formats=date_formats, report=report)
    if report.errors:
        report.seconds = time.monotonic() - started
        logger.info(
            "leads import refused preset=%s rows=%s errors=%s",
            report.preset,
            report.rows_read,
            len(report.errors),
        )
        raise ImportRefused(report)

    planned, report.merged = rows_plan(rows, mapping=mapping)
    with transaction.atomic():
        _write(planned, mapping=mapping, actor=actor, now=now, report=report)
        if dry_run:
            transaction.set_rollback(True)

    report.seconds = time.monotonic() - started
    logger.info(
        "leads import finished preset=%s dry_run=%s rows=%s created=%s matched=%s updated=%s "
        "merged=%s skipped=%s activities=%s mqls=%s handoffs=%s elapsed_ms=%d",
        report.preset,
        dry_run,
        report.rows_read,
        report.created,
        report.matched,
        report.updated,
        report.merged,
        report.skipped,
        report.activities_created,
        report.mqls_created,
        report.handoffs_created,
        report.seconds * 1000,
    )
    return report


def _parse_all(
    table: Table,
    *,
    mapping: Mapping,
    now: datetime,
    date_formats: tuple[str, ...],
    report: ImportReport,
) -> list[ParsedRow]:
    rows: list[ParsedRow] = []
    try:
        for record in table.records:
            report.rows_read += 1
            parsed, errors = row_parse(
                record.cells,
                number=record.number,
                mapping=mapping,
                now=now,
                date_formats=date_formats,
            )
            if errors:
                report.errors.extend(errors)
            elif parsed is None:
                report.skipped += 1
            else:
                rows.append(parsed)
    except FileRefused as error:
        report.errors.append(RowError(str(error)))
    return rows


def _sources_resolve(planned: list[PlannedLead], *, report: ImportReport) -> dict[str, Source]:
    """The Source of every source name in the file, by slug, creating the missing ones.

    Names that differ only in case or punctuation ('Google', 'google') are one source. A new
    source takes the spelling the file uses most.
    """
    spellings: dict[str, Counter[str]] = {}
    for lead in planned:
        if lead.source_name:
            spellings.setdefault(slugify(lead.source_name), Counter())[lead.source_name] += 1
    if not spellings:
        return {}
    known: dict[str, Source] = {}
    for existing in Source.objects.all():
        known.setdefault(existing.slug, existing)
        known.setdefault(slugify(existing.name), existing)
    sources: dict[str, Source] = {}
    for slug, counter in spellings.items():
        if slug in known:
            sources[slug] = known[slug]
            continue
        # most_common keeps first-seen order among equal counts.
        name = counter.most_common(1)[0][0]
        sources[slug] = Source.objects.create(name=name, slug=slug)
        report.sources_created += 1
    return sources


def _write(
    planned: list[PlannedLead],
    *,
    mapping: Mapping,
    actor: AbstractBaseUser | None,
    now: datetime,
    report: ImportReport,
) -> None:
    planned, merged = leads_match_existing(planned, mapping=mapping)
    report.merged += merged
    sources = _sources_resolve(planned, report=report)

    new: list[PlannedLead] = []
    updated: list[Lead] = []
    update_fields: set[str] = set()
    statuses: dict[int, str] = {}
    for position, lead in enumerate(planned):
        source = sources.get(slugify(lead.source_name)) if lead.source_name else None
        if lead.lead is None:
            lead.lead = Lead(**lead.fields, attributes=lead.attributes, source=source)
            new.append(lead)
            statuses[position] = "new"
            continue
        report.matched += 1
        changed = lead_fill_blanks(lead.lead, lead, source)
        statuses[position] = "update" if changed else "skip"
        if changed:
            lead.lead.updated_at = now
            update_fields.update(changed)
            updated.append(lead.lead)

    # TODO: two imports running at once can both create the same new lead, since nothing
    # unique backs the email; a unique index on Lower("email") would need a migration and a
    # policy for the duplicates that forms and the API may already have made.
    Lead.objects.bulk_create([lead.lead for lead in new], batch_size=WRITE_BATCH_SIZE)
    if updated:
        Lead.objects.bulk_update(
            updated, sorted(update_fields | {"updated_at"}), batch_size=WRITE_BATCH_SIZE
        )
    report.created = len(new)

    activities = activities_to_add(planned)
    Activity.objects.bulk_create(activities, batch_size=WRITE_BATCH_SIZE)
    report.activities_created = len(activities)
    # An existing lead that gained an activity was updated too, even with no field filled.
    touched = {activity.lead_id for activity in activities}
    for position, lead in enumerate(planned):
        if statuses[position] == "skip" and lead.lead.pk in touched:
            statuses[position] = "update"
    report.updated = sum(1 for status in statuses.values() if status == "update")

    report.outcomes = [
        LeadOutcome(
            rows=lead.rows,
            status=statuses[position],
            lead_id=lead.lead.pk,
            fields=lead.fields,
            source_name=lead.source_name,
            activities=len(lead.activities),
        )
        for position, lead in enumerate(planned)
    ]
    leads_score_and_qualify(lead_ids=report.lead_ids, actor=actor, now=now, report=report)


def leads_score_and_qualify(
    *,
    lead_ids: Sequence[int],
    actor: AbstractBaseUser | None,
    now: datetime | None = None,
    report: ImportReport | None = None,
) -> tuple[int, int]:
    """Rescore the leads, then make MQL and hand off each one whose score qualifies.

    The best-scoring leads go first, so that when the reps' weekly capacity runs out it is
    the weaker MQLs that wait. Returns (MQLs created, handoffs created).
    """
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
    candidates.sort(key=lambda item: (-item[0], item[1]))

    handoffs = 0
    for _score, lead_id in candidates:
        if lead_qualify_if_ready(lead_id=lead_id, actor=actor, now=now) is not None:
            handoffs += 1
    # lead_qualify_if_ready stamps mql_at with the `now` it is given, which tells the leads
    # it qualified from those a concurrent change left alone.
    candidate_ids = [lead_id for _score, lead_id in candidates]
    mqls = sum(
        Lead.objects.filter(pk__in=chunk, mql_at=now).count()
        for chunk in chunks(candidate_ids, LOOKUP_BATCH_SIZE)
    )
    if report is not None:
        report.mqls_created = mqls
        report.handoffs_created = handoffs
    logger.info(
        "leads qualified candidates=%s mqls=%s handoffs=%s", len(candidates), mqls, handoffs
    )
    return mqls, handoffs
