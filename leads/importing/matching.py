"""Which rows of a file are which leads: duplicates within the file and leads Handoff has.

Two rows are one lead when they share an email (in any case) or an external id that names a
lead. The first value written wins; later rows and imports only fill what is blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models.functions import Lower

from leads.importing.parsing import ParsedRow, PlannedActivity
from leads.importing.presets import Mapping
from leads.models import Activity, Lead, Source

# Rows per query when looking leads up by email or id: well under every database's limit
# on query parameters.
LOOKUP_BATCH_SIZE = 900

# Fields where a "yes" in the file wins over what the lead has: an opt-out is never undone
# by an import.
OPT_OUT_FIELDS = ("do_not_email", "do_not_call")


@dataclass
class PlannedLead:
    """One lead as the file describes it, after merging the rows that repeat it."""

    rows: list[int]
    fields: dict[str, Any]
    attributes: dict[str, Any]
    source_name: str
    activities: dict[tuple, PlannedActivity]
    lead: Lead | None = None

    @property
    def email_key(self) -> str:
        return self.fields.get("email", "").casefold()

    @property
    def external_id(self) -> str:
        return self.fields.get("external_id", "")

    def absorb(self, other: PlannedLead | ParsedRow) -> None:
        """Take from a later row what this one lacks; the first value written wins."""
        if isinstance(other, PlannedLead):
            self.rows.extend(other.rows)
            activities: Iterable[PlannedActivity] = other.activities.values()
        else:
            self.rows.append(other.number)
            activities = other.activities
        for name, value in other.fields.items():
            if name in OPT_OUT_FIELDS:
                self.fields[name] = bool(self.fields.get(name)) or value
            else:
                self.fields.setdefault(name, value)
        for key, value in other.attributes.items():
            self.attributes.setdefault(key, value)
        self.source_name = self.source_name or other.source_name
        for activity in activities:
            self.activities.setdefault(activity.key(), activity)


def rows_plan(rows: list[ParsedRow], *, mapping: Mapping) -> tuple[list[PlannedLead], int]:
    """Merge the rows that describe the same lead: the same email (in any case), or the
    same external id where the layout's id names a lead."""
    identifies = mapping.preset.external_id_identifies_lead
    planned: list[PlannedLead] = []
    merged = 0
    by_email: dict[str, PlannedLead] = {}
    by_external_id: dict[str, PlannedLead] = {}
    for row in rows:
        email_key = row.email.casefold()
        target = by_email.get(email_key) if email_key else None
        if target is None and row.external_id and (identifies or not email_key):
            target = by_external_id.get(row.external_id)
        if target is not None:
            target.absorb(row)
            merged += 1
        else:
            target = PlannedLead(
                rows=[row.number],
                fields=dict(row.fields),
                attributes=dict(row.attributes),
                source_name=row.source_name,
                activities={activity.key(): activity for activity in row.activities},
            )
            planned.append(target)
        if email_key:
            by_email.setdefault(email_key, target)
        if row.external_id:
            by_external_id.setdefault(row.external_id, target)
    return planned, merged


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def leads_match_existing(
    planned: list[PlannedLead], *, mapping: Mapping
) -> tuple[list[PlannedLead], int]:
    """Attach each planned lead to the lead Handoff already has, if any, and lock those
    rows so that nobody edits them halfway through the import. Two planned leads that turn
    out to be the same existing lead are merged; returns the leads kept and how many rows
    were merged that way."""
    identifies = mapping.preset.external_id_identifies_lead
    emails = sorted({lead.email_key for lead in planned if lead.email_key})
    external_ids = sorted(
        {
            lead.external_id
            for lead in planned
            if lead.external_id and (identifies or not lead.email_key)
        }
    )
    existing_by_email: dict[str, Lead] = {}
    existing_by_external_id: dict[str, Lead] = {}
    # TODO: an index on Lower("email") would serve this lookup on large tables; it needs a
    # migration of the leads app.
    for chunk in chunks(emails, LOOKUP_BATCH_SIZE):
        queryset = (
            Lead.objects.select_for_update()
            .annotate(email_folded=Lower("email"))
            .filter(email_folded__in=chunk)
            .order_by("pk")
        )
        for lead in queryset:
            existing_by_email.setdefault(lead.email_folded, lead)
    for chunk in chunks(external_ids, LOOKUP_BATCH_SIZE):
        queryset = Lead.objects.select_for_update().filter(external_id__in=chunk).order_by("pk")
        for lead in queryset:
            existing_by_external_id.setdefault(lead.external_id, lead)

    kept: list[PlannedLead] = []
    merged = 0
    by_lead_id: dict[int, PlannedLead] = {}
    for lead in planned:
        existing = existing_by_email.get(lead.email_key) if lead.email_key else None
        if existing is None and lead.external_id and (identifies or not lead.email_key):
            existing = existing_by_external_id.get(lead.external_id)
        if existing is None:
            kept.append(lead)
            continue
        earlier = by_lead_id.get(existing.pk)
        if earlier is not None:
            earlier.absorb(lead)
            merged += len(lead.rows)
            continue
        lead.lead = existing
        by_lead_id[existing.pk] = lead
        kept.append(lead)
    return kept, merged


def lead_fill_blanks(lead: Lead, planned: PlannedLead, source: Source | None) -> list[str]:
    """Complete an existing lead from the file without overwriting anything it has."""
    changed: list[str] = []
    for name, value in planned.fields.items():
        current = getattr(lead, name)
        if name in OPT_OUT_FIELDS:
            if value and not current:
                setattr(lead, name, True)
                changed.append(name)
        elif current in ("", None):
            setattr(lead, name, value)
            changed.append(name)
    if source is not None and lead.source_id is None:
        lead.source = source
        changed.append("source")
    attributes = dict(lead.attributes or {})
    for key, value in planned.attributes.items():
        if attributes.get(key) in (None, ""):
            attributes[key] = value
    if attributes != (lead.attributes or {}):
        lead.attributes = attributes
        changed.append("attributes")
    return changed


def activities_to_add(
    planned: list[PlannedLead],
) -> list[Activity]:
    """The activities to add: all for a new lead; for an existing lead, those it does not
    have yet, so that importing the same file again adds nothing."""
    existing_ids = [lead.lead.pk for lead in planned if lead.lead is not None]
    dated: set[tuple] = set()
    undated: set[tuple] = set()
    for chunk in chunks(existing_ids, LOOKUP_BATCH_SIZE):
        for lead_id, kind, detail, quantity, occurred_at in Activity.objects.filter(
            lead_id__in=chunk
        ).values_list("lead_id", "kind", "detail", "quantity", "occurred_at"):
            dated.add((lead_id, kind, detail, quantity, occurred_at))
            undated.add((lead_id, kind, detail, quantity))

    activities: list[Activity] = []
    for lead in planned:
        lead_id = lead.lead.pk
        for activity in lead.activities.values():
            if activity.dated:
                seen = (lead_id, activity.kind, activity.detail, activity.quantity,
                        activity.occurred_at) in dated  # fmt: skip
            else:
                seen = (lead_id, activity.kind, activity.detail, activity.quantity) in undated
            if seen:
                continue
            activities.append(
                Activity(
                    lead_id=lead_id,
                    kind=activity.kind,
                    detail=activity.detail,
                    quantity=activity.quantity,
                    occurred_at=activity.occurred_at,
                )
            )
    return activities
