"""The import run: a file streamed in batches, either checked (the dry run) or written.

Both modes share one pass over the rows, so the dry run's counts are what the import does:
rows are parsed, merged with the earlier rows of the file that name the same person, and
matched against the leads Handoff has, one batch at a time. Memory stays bounded by the batch
size plus one key per lead of the file (its canonical email or external id).

The write mode must run inside the caller's transaction: every batch is written as it comes,
and the caller commits once at the end or rolls everything back. See docs/importing.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils.text import slugify

from leads.importing.bulk import RowTemplate, copy_supported, ids_reserve, rows_copy
from leads.importing.canonical import canonical_email
from leads.importing.matching import (
    LOOKUP_BATCH_SIZE,
    PlannedLead,
    activities_new_for,
    activity_rows,
    chunks,
    existing_activity_keys,
    lead_fill_blanks,
    leads_find_existing,
    row_keys,
)
from leads.importing.parsing import ParsedRow, RowError, row_parse
from leads.importing.presets import CustomMapping, Mapping
from leads.importing.reading import FileRefused, Table
from leads.models import Activity, Lead, ScoringSettings, Source, Stage
from leads.scoring import ActivityFacts, LeadFacts, Scorer
from leads.services import MAX_MQL_QUALIFICATIONS, leads_rescore, scorer_current

logger = logging.getLogger(__name__)

# Rows read, matched and written together. Large enough that the per-batch queries are few,
# small enough that a batch's leads, rows and activities stay a few megabytes.
BATCH_SIZE = 2000
WRITE_BATCH_SIZE = 1000
# The errors a report keeps (all are counted): enough to fix a file, bounded for a file
# where every row is wrong.
MAX_KEPT_ERRORS = 1000
# How often a batch is tried again when another writer created one of its leads meanwhile.
INSERT_ATTEMPTS = 3
# Names every import's PostgreSQL advisory lock: imports write one at a time.
IMPORT_LOCK_KEY = 0x1EAD_1A9

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportOptions:
    """What the person importing chose, beside the file itself."""

    preset: str | None = None
    custom: CustomMapping | None = None
    date_formats: tuple[str, ...] = ()
    # Rows that name no source get this one.
    default_source: Source | None = None
    # Leave rows with errors out instead of refusing the file. Off unless asked for.
    skip_invalid_rows: bool = False
    # Keep one outcome per lead for a preview table (small files only: the admin).
    keep_outcomes: bool = False


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
    # Leads the file creates.
    created: int = 0
    # Leads already in Handoff that the file names, and how many of them it completes.
    matched: int = 0
    updated: int = 0
    # Rows that repeat an earlier row of the same file and were merged into it.
    merged: int = 0
    # Blank rows, and the footer lines of a report export.
    skipped: int = 0
    footer_rows: int = 0
    # Rows left out because they had errors (only when asked to skip them).
    rows_with_errors: int = 0
    activities_created: int = 0
    sources_created: int = 0
    # The dry run's prediction: leads whose score would reach the MQL threshold.
    mqls_expected: int = 0
    mqls_created: int = 0
    handoffs_created: int = 0
    seconds: float = 0.0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    ignored_columns: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[LeadOutcome] = field(default_factory=list)

    @property
    def lead_ids(self) -> list[int]:
        return [outcome.lead_id for outcome in self.outcomes if outcome.lead_id is not None]

    @property
    def unchanged(self) -> int:
        return self.matched - self.updated

    def add_error(self, error: RowError) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)

    def counts(self) -> dict[str, int]:
        """The numbers a page or a job row shows."""
        return {
            "rows": self.rows_read,
            "new": self.created,
            "matched": self.matched,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged": self.merged,
            "skipped": self.skipped,
            "footer": self.footer_rows,
            "errors": self.errors_total,
            "rows_with_errors": self.rows_with_errors,
            "activities": self.activities_created,
            "sources": self.sources_created,
            "mqls_expected": self.mqls_expected,
            "mqls": self.mqls_created,
            "handoffs": self.handoffs_created,
        }


def parsed_batches(
    table: Table,
    *,
    mapping: Mapping,
    now: datetime,
    report: ImportReport,
    batch_size: int | None = None,
) -> Iterator[tuple[list[ParsedRow], int]]:
    """The table's rows parsed, in batches, with the number of rows read so far. Errors go to
    the report; blank rows are counted as skipped."""
    batch_size = batch_size or BATCH_SIZE
    batch: list[ParsedRow] = []
    try:
        for record in table.records:
            report.rows_read += 1
            parsed, errors = row_parse(
                record.cells,
                number=record.number,
                mapping=mapping,
                now=now,
                date_formats=mapping.date_formats,
            )
            if errors:
                report.rows_with_errors += 1
                for error in errors:
                    report.add_error(error)
            elif parsed is None:
                report.skipped += 1
            else:
                batch.append(parsed)
            if len(batch) >= batch_size:
                yield batch, report.rows_read
                batch = []
    except FileRefused as error:
        report.add_error(RowError(str(error)))
    report.footer_rows = table.footer_rows
    yield batch, report.rows_read


class ImportRun:
    """One pass over a file. `check` counts what the import would do; `write` does it.

    A lead is known to the run by a token; the file's keys (canonical emails, external ids)
    point at tokens, and in write mode each token at the lead it became.
    """

    def __init__(
        self,
        *,
        mapping: Mapping,
        options: ImportOptions,
        report: ImportReport,
        now: datetime,
        write: bool,
        actor: AbstractBaseUser | None = None,
    ) -> None:
        self.mapping = mapping
        self.options = options
        self.report = report
        self.now = now
        self.write = write
        self.actor = actor
        self.identifies = mapping.preset.external_id_identifies_lead
        self.seen: dict[tuple[str, str], int] = {}
        self.token_lead: list[int | None] = []
        self.token_by_lead: dict[int, int] = {}
        self.outcome_by_token: dict[int, LeadOutcome] = {}
        # Sources by slug and by slugified name, loaded once; None for a name not known.
        self.sources: dict[str, Source | None] = {}
        for source in Source.objects.order_by("pk"):
            self.sources.setdefault(source.slug, source)
            self.sources.setdefault(_slug(source.name), source)
        # How the file spells each source this run creates: the commonest spelling names it.
        self.spellings: dict[str, Counter[str]] = {}
        # In the dry run, unsaved sources standing for the ones the import would create.
        self.placeholders: dict[str, Source] = {}
        # (score, lead id) of the leads written whose score qualifies, for the MQL step.
        self.candidates: list[tuple[int, int]] = []
        self.thresholds = ScoringSettings.current()
        # The dry run predicts scores; on PostgreSQL new leads are scored before they are
        # written (see _copy). Elsewhere the written leads are rescored from the database.
        self.scorer: Scorer | None = (
            scorer_current(now=now) if not write or copy_supported() else None
        )
        self._pending_candidates: list[tuple[int, int]] = []
        self._pending_activities = 0
        self.lead_template = RowTemplate(Lead, now=now)
        self.activity_template = RowTemplate(Activity, now=now)

    # The pass.

    def feed(self, rows: list[ParsedRow]) -> None:
        """Plan and check, or write, one batch of parsed rows."""
        fresh, repeats = self._plan(rows)
        found = leads_find_existing(fresh, identifies=self.identifies, lock=self.write)
        new: list[PlannedLead] = []
        existing: list[PlannedLead] = []
        for position, planned in enumerate(fresh):
            lead = found.get(position)
            if lead is None:
                new.append(planned)
                continue
            earlier = self.token_by_lead.get(lead.pk)
            if earlier is not None:
                # Two rows that name the same lead by different keys: the second repeats it.
                self._alias(planned.token, earlier)
                self.report.merged += len(planned.rows)
                self._repeat(repeats, earlier, planned)
                continue
            planned.origin = "existing"
            planned.lead = lead
            planned.lead_id = lead.pk
            self._bind(planned.token, lead.pk)
            existing.append(planned)
        if self.write:
            self._write(new, existing, list(repeats.values()))
        else:
            self._check(new, existing)

    def _plan(self, rows: list[ParsedRow]) -> tuple[list[PlannedLead], dict[int, PlannedLead]]:
        """Merge the batch's rows that name one person. Returns the leads new to this run,
        and by token the rows that repeat a lead of an earlier batch."""
        fresh: list[PlannedLead] = []
        in_batch: dict[int, PlannedLead] = {}
        repeats: dict[int, PlannedLead] = {}
        for row in rows:
            lookup, keys = row_keys(row, identifies=self.identifies)
            token = next((self.seen[key] for key in lookup if key in self.seen), None)
            if token is None:
                planned = PlannedLead.from_row(row)
                planned.token = token = self._new_token()
                fresh.append(planned)
                in_batch[token] = planned
            elif token in in_batch:
                in_batch[token].absorb(row)
                self.report.merged += 1
            else:
                self.report.merged += 1
                self._repeat(repeats, token, PlannedLead.from_row(row))
            for key in keys:
                self.seen.setdefault(key, token)
        return fresh, repeats

    def _new_token(self) -> int:
        self.token_lead.append(None)
        return len(self.token_lead) - 1

    def _bind(self, token: int, lead_id: int) -> None:
        self.token_lead[token] = lead_id
        self.token_by_lead.setdefault(lead_id, token)

    def _alias(self, token: int, earlier: int) -> None:
        self.token_lead[token] = self.token_lead[earlier]

    def _repeat(self, repeats: dict[int, PlannedLead], token: int, planned: PlannedLead) -> None:
        """Keep a row that repeats an earlier batch's lead, to fill that lead's blanks."""
        token = self.token_by_lead.get(self.token_lead[token] or -1, token)
        if self.options.keep_outcomes and token in self.outcome_by_token:
            self.outcome_by_token[token].rows.extend(planned.rows)
        if not self.write:
            return
        planned.origin = "repeat"
        if token in repeats:
            repeats[token].absorb(planned)
        else:
            planned.token = token
            repeats[token] = planned

    # The dry run.

    def _check(self, new: list[PlannedLead], existing: list[PlannedLead]) -> None:
        report = self.report
        for planned in new:
            report.created += 1
            report.activities_created += len(planned.activities)
            source = self._check_source(planned.source_name)
            facts = self._facts(planned.fields, planned.attributes, source)
            activities = [_activity_facts(activity) for activity in planned.activities.values()]
            if self._qualifies(facts, activities):
                report.mqls_expected += 1
            self._outcome(planned, "new", None)

        lead_ids = [planned.lead.pk for planned in existing]
        known = existing_activity_keys(lead_ids)
        history = _activity_facts_of(lead_ids) if existing else {}
        for planned in existing:
            lead = planned.lead
            report.matched += 1
            fresh = activities_new_for(lead.pk, planned, known)
            changed = lead_fill_blanks(lead, planned, self._check_source(planned.source_name))
            if not (changed or fresh):
                self._outcome(planned, "skip", lead.pk)
                continue
            report.updated += 1
            report.activities_created += len(fresh)
            self._outcome(planned, "update", lead.pk)
            if lead.stage in (Stage.LEAD, Stage.RECYCLED) and (
                lead.mql_count < MAX_MQL_QUALIFICATIONS
            ):
                facts = _lead_facts(lead)
                activities = history.get(lead.pk, []) + [_activity_facts(a) for a in fresh]
                if self._qualifies(facts, activities):
                    report.mqls_expected += 1

    def _qualifies(self, facts: LeadFacts, activities: list[ActivityFacts]) -> bool:
        result = self.scorer.score(facts, activities)
        return result.qualifies(
            threshold=self.thresholds.mql_threshold, fit_minimum=self.thresholds.fit_minimum
        )

    def _facts(self, fields: dict, attributes: dict, source: Source | None) -> LeadFacts:
        return LeadFacts(
            pk=0,
            email=fields.get("email", ""),
            job_title=fields.get("job_title", ""),
            industry=fields.get("industry", ""),
            company_size=fields.get("company_size"),
            country=fields.get("country", ""),
            city=fields.get("city", ""),
            company=fields.get("company", ""),
            campaign=fields.get("campaign", ""),
            do_not_email=bool(fields.get("do_not_email")),
            do_not_call=bool(fields.get("do_not_call")),
            attributes=attributes,
            source_slug=source.slug if source else "",
        )

    # The import.

    def _write(
        self, new: list[PlannedLead], existing: list[PlannedLead], repeats: list[PlannedLead]
    ) -> None:
        report = self.report
        new, late = self._insert(new)
        existing.extend(late)
        report.created += len(new)
        copied = copy_supported()

        # Leads created or matched by an earlier batch, named again by this one.
        if repeats:
            ids = [self.token_lead[planned.token] for planned in repeats]
            leads = Lead.objects.select_for_update().in_bulk(ids)
            for planned in repeats:
                planned.lead = leads[self.token_lead[planned.token]]

        changed_leads: list[Lead] = []
        update_fields: set[str] = set()
        touched: list[PlannedLead] = []
        for planned in existing + repeats:
            changed = lead_fill_blanks(planned.lead, planned, self._source(planned.source_name))
            if changed:
                planned.changed = changed
                planned.lead.updated_at = self.now
                update_fields.update(changed)
                changed_leads.append(planned.lead)
            touched.append(planned)
        if changed_leads:
            Lead.objects.bulk_update(
                changed_leads, sorted(update_fields | {"updated_at"}), batch_size=WRITE_BATCH_SIZE
            )

        activities: list[Activity] = []
        if not copied:
            for planned in new:
                activities.extend(activity_rows(planned.lead_id, planned.activities.values()))
        known = existing_activity_keys([planned.lead.pk for planned in touched])
        gained: set[int] = set()
        for planned in touched:
            fresh = activities_new_for(planned.lead.pk, planned, known)
            if fresh:
                gained.add(planned.lead.pk)
                activities.extend(activity_rows(planned.lead.pk, fresh))
        Activity.objects.bulk_create(activities, batch_size=WRITE_BATCH_SIZE)
        report.activities_created += len(activities)

        # Leads sent by COPY were scored before they were written.
        rescore: list[int] = [] if copied else [planned.lead_id for planned in new]
        for planned in existing:
            report.matched += 1
            status = "update" if planned.changed or planned.lead.pk in gained else "skip"
            report.updated += status == "update"
            self._outcome(planned, status, planned.lead.pk)
        for planned in new:
            self._outcome(planned, "new", planned.lead_id)
        # Only leads this import created or changed are rescored and may qualify: naming a
        # lead again with nothing new is not a reason to hand it off again.
        rescore.extend(
            planned.lead.pk for planned in touched if planned.changed or planned.lead.pk in gained
        )
        self._score(rescore)

    def _insert(self, new: list[PlannedLead]) -> tuple[list[PlannedLead], list[PlannedLead]]:
        """Create the new leads. Returns (created, found existing after all).

        The unique canonical email makes a concurrent writer's lead (a form post, the API)
        fail this batch's insert rather than be created twice; the batch is then matched
        again inside a savepoint and tried once more.
        """
        late: list[PlannedLead] = []
        for attempt in range(1, INSERT_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    if copy_supported():
                        self._copy(new)
                    else:
                        self._bulk_create(new)
            except IntegrityError:
                found = leads_find_existing(new, identifies=self.identifies, lock=True)
                if not found or attempt == INSERT_ATTEMPTS:
                    raise
                logger.warning(
                    "leads import batch met leads created meanwhile count=%s attempt=%s",
                    len(found),
                    attempt,
                )
                for position, lead in found.items():
                    new[position].origin = "existing"
                    new[position].lead = lead
                    new[position].lead_id = lead.pk
                    self._bind(new[position].token, lead.pk)
                    late.append(new[position])
                new = [planned for position, planned in enumerate(new) if position not in found]
                continue
            for planned in new:
                self._bind(planned.token, planned.lead_id)
            self.candidates.extend(self._pending_candidates)
            self.report.activities_created += self._pending_activities
            self._pending_candidates, self._pending_activities = [], 0
            return new, late
        raise AssertionError("unreachable")

    def _bulk_create(self, new: list[PlannedLead]) -> None:
        leads = [self._new_lead(planned) for planned in new]
        Lead.objects.bulk_create(leads, batch_size=WRITE_BATCH_SIZE)
        # bulk_create stamps created_at with the time of the insert whatever the instance
        # held, so the file's Created Dates are written back after it.
        dated: list[Lead] = []
        for planned, lead in zip(new, leads, strict=True):
            planned.lead_id = lead.pk
            if planned.created:
                lead.created_at = self._created_at(planned)
                dated.append(lead)
        if dated:
            Lead.objects.bulk_update(dated, ["created_at"], batch_size=WRITE_BATCH_SIZE)

    def _new_lead(self, planned: PlannedLead) -> Lead:
        return Lead(**self._lead_values(planned))

    def _lead_values(self, planned: PlannedLead) -> dict[str, Any]:
        source = self._source(planned.source_name)
        return {
            **planned.fields,
            "canonical_email": canonical_email(planned.fields.get("email", "")),
            "attributes": planned.attributes,
            "source_id": source.pk if source else None,
            "created_at": self._created_at(planned),
        }

    def _created_at(self, planned: PlannedLead) -> datetime:
        """A new lead keeps the date its source system created it; a date after the import
        (a clock or time zone gone wrong) would put the lead in the future, so it is capped."""
        return min(planned.created, self.now) if planned.created else self.now

    def _copy(self, new: list[PlannedLead]) -> None:
        """Send the new leads and their activities by COPY, scored before they go.

        Their ids come from the sequences first, so that each activity names its lead and
        each score names its activities, as a rescore would. The qualifying leads are kept
        aside until the batch is written, in case the caller tries it again.
        """
        lead_rows: list[dict[str, Any]] = []
        for planned, lead_id in zip(new, ids_reserve(Lead, len(new)), strict=True):
            planned.lead_id = lead_id
            lead_rows.append({**self._lead_values(planned), "id": lead_id})
        activities: list[dict[str, Any]] = []
        for planned in new:
            activities.extend(
                {
                    "lead_id": planned.lead_id,
                    "kind": activity.kind,
                    "detail": activity.detail,
                    "quantity": activity.quantity,
                    "occurred_at": activity.occurred_at,
                }
                for activity in planned.activities.values()
            )
        by_lead: dict[int, list[ActivityFacts]] = {}
        for activity, activity_id in zip(
            activities, ids_reserve(Activity, len(activities)), strict=True
        ):
            activity["id"] = activity_id
            by_lead.setdefault(activity["lead_id"], []).append(
                ActivityFacts(
                    activity_id,
                    activity["kind"],
                    activity["detail"],
                    activity["quantity"],
                    activity["occurred_at"],
                )
            )
        self._pending_candidates = []
        sources = self.sources_by_id
        for values in lead_rows:
            facts = self._row_facts(values, sources)
            result = self.scorer.score(facts, by_lead.get(values["id"], []))
            values.update(
                score=result.total,
                fit_score=result.fit,
                engagement_score=result.engagement,
                score_breakdown=result.breakdown,
                disqualified_by=result.disqualified_by,
                scored_at=self.now,
            )
            if result.qualifies(
                threshold=self.thresholds.mql_threshold, fit_minimum=self.thresholds.fit_minimum
            ):
                self._pending_candidates.append((result.total, values["id"]))
        rows_copy(self.lead_template, lead_rows)
        self._pending_activities = rows_copy(self.activity_template, activities)

    def _row_facts(self, values: dict[str, Any], sources: dict[int | None, Source]) -> LeadFacts:
        source = sources.get(values["source_id"])
        return LeadFacts(
            pk=values["id"],
            email=values.get("email", ""),
            job_title=values.get("job_title", ""),
            industry=values.get("industry", ""),
            company_size=values.get("company_size"),
            country=values.get("country", ""),
            city=values.get("city", ""),
            company=values.get("company", ""),
            campaign=values.get("campaign", ""),
            do_not_email=bool(values.get("do_not_email")),
            do_not_call=bool(values.get("do_not_call")),
            attributes=values["attributes"],
            source_slug=source.slug if source else "",
        )

    def _score(self, lead_ids: list[int]) -> None:
        """Rescore the batch's leads and keep those that now qualify for the MQL step."""
        if not lead_ids:
            return
        leads_rescore(lead_ids=lead_ids, now=self.now)
        for chunk in chunks(lead_ids, LOOKUP_BATCH_SIZE):
            self.candidates.extend(
                Lead.objects.filter(
                    pk__in=chunk,
                    stage__in=(Stage.LEAD, Stage.RECYCLED),
                    mql_count__lt=MAX_MQL_QUALIFICATIONS,
                    disqualified_by="",
                    score__gte=self.thresholds.mql_threshold,
                    fit_score__gte=self.thresholds.fit_minimum,
                ).values_list("score", "pk")
            )

    # Sources.

    @property
    def sources_by_id(self) -> dict[int | None, Source]:
        return {source.pk: source for source in self.sources.values() if source is not None}

    def _known_source(self, name: str) -> Source | None:
        return self.sources.get(_slug(name)) if name else None

    def _check_source(self, name: str) -> Source | None:
        """In the dry run: the Source of a name, or an unsaved one standing for the source
        the import would create (counted once)."""
        if not name:
            return self.options.default_source
        slug = _slug(name)
        if slug not in self.sources:
            self.sources[slug] = None
            self.report.sources_created += 1
            self.placeholders[slug] = Source(name=name, slug=slug)
        return self.sources[slug] or self.placeholders[slug]

    def _source(self, name: str) -> Source | None:
        """The Source of a name, by slug ('Google' and 'google' are one), created when
        missing; rows without one get the source chosen for the import, if any."""
        if not name:
            return self.options.default_source
        slug = _slug(name)
        source = self.sources.get(slug)
        if source is None:
            source = self.sources[slug] = Source.objects.create(name=name, slug=slug)
            self.spellings[slug] = Counter()
            self.report.sources_created += 1
        if slug in self.spellings:
            self.spellings[slug][name] += 1
        return source

    def finish(self) -> None:
        """Name each source this run created with the spelling the file used most."""
        for slug, spellings in self.spellings.items():
            # most_common keeps first-seen order among equal counts.
            name = spellings.most_common(1)[0][0]
            source = self.sources[slug]
            if source is not None and source.name != name:
                Source.objects.filter(pk=source.pk).update(name=name)
                source.name = name

    def _outcome(self, planned: PlannedLead, status: str, lead_id: int | None) -> None:
        if not self.options.keep_outcomes:
            return
        outcome = LeadOutcome(
            rows=list(planned.rows),
            status=status,
            lead_id=lead_id,
            fields=planned.fields,
            source_name=planned.source_name,
            activities=len(planned.activities),
        )
        self.outcome_by_token[planned.token] = outcome
        self.report.outcomes.append(outcome)


def import_lock() -> None:
    """Make this transaction's import wait for any other import to commit first.

    The unique canonical email already stops two imports creating one person twice; the lock
    also covers leads known only by an external id, and keeps matching simple: what an import
    looked up cannot change under it. Imports are rare, so waiting costs little.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])


@lru_cache(maxsize=1024)
def _slug(name: str) -> str:
    """A source name's slug: 'Google' and 'google' are one source. Files repeat a handful of
    names over thousands of rows."""
    return slugify(name)


def _lead_facts(lead: Lead) -> LeadFacts:
    return LeadFacts(
        pk=lead.pk,
        email=lead.email,
        job_title=lead.job_title,
        industry=lead.industry,
        company_size=lead.company_size,
        country=lead.country,
        city=lead.city,
        company=lead.company,
        campaign=lead.campaign,
        do_not_email=lead.do_not_email,
        do_not_call=lead.do_not_call,
        attributes=lead.attributes or {},
        source_slug=lead.source.slug if lead.source else "",
    )


def _activity_facts(activity: Any) -> ActivityFacts:
    return ActivityFacts(
        pk=None,
        kind=activity.kind,
        detail=activity.detail,
        quantity=activity.quantity,
        occurred_at=activity.occurred_at,
    )


def _activity_facts_of(lead_ids: list[int]) -> dict[int, list[ActivityFacts]]:
    history: dict[int, list[ActivityFacts]] = {}
    for chunk in chunks(lead_ids, LOOKUP_BATCH_SIZE):
        rows = Activity.objects.filter(lead_id__in=chunk).values_list(
            "lead_id", "pk", "kind", "detail", "quantity", "occurred_at"
        )
        for lead_id, *fields in rows:
            history.setdefault(lead_id, []).append(ActivityFacts(*fields))
    return history
