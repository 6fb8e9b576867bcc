"""Which rows of a file are which leads: duplicates within the file and leads Handoff has.

Two rows are one lead when they share a canonical email (see leads.importing.canonical) or an
external id that names a lead. The first value written wins; later rows and imports only fill
what is blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models.functions import Lower

from leads.importing.bulk import index_lookups
from leads.importing.canonical import canonical_email
from leads.importing.parsing import ParsedRow, PlannedActivity
from leads.models import Activity, Lead, Source

# Rows per query when looking leads up by email or id: well under every database's limit
# on query parameters.
LOOKUP_BATCH_SIZE = 900

# Fields where a "yes" in the file wins over what the lead has: an opt-out is never undone
# by an import.
OPT_OUT_FIELDS = ("do_not_email", "do_not_call")

EMAIL_KEY = "e"
EXTERNAL_ID_KEY = "x"


@dataclass
class PlannedLead:
    """One lead as the file describes it, after merging the rows that repeat it."""

    rows: list[int]
    fields: dict[str, Any]
    attributes: dict[str, Any]
    source_name: str
    activities: dict[tuple, PlannedActivity]
    # When the source system created the lead (a Created Date column), if the file says.
    created: datetime | None = None
    lead: Lead | None = None
    # Where the lead stands: "new", "existing" (a lead Handoff had), or "repeat" (a lead an
    # earlier batch of the same file created or matched).
    origin: str = "new"
    changed: list[str] = field(default_factory=list)
    # The import run's handle on this lead (see leads.importing.engine).
    token: int = -1
    # The lead's id once written: a new lead is sent without building a model instance.
    lead_id: int | None = None

    @classmethod
    def from_row(cls, row: ParsedRow) -> PlannedLead:
        return cls(
            rows=[row.number],
            fields=dict(row.fields),
            attributes=dict(row.attributes),
            source_name=row.source_name,
            activities={activity.key(): activity for activity in row.activities},
            created=row.created,
        )

    @property
    def email_key(self) -> str:
        return canonical_email(self.fields.get("email", ""))

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
        self.created = self.created or other.created
        for activity in activities:
            self.activities.setdefault(activity.key(), activity)


def row_keys(
    row: ParsedRow | PlannedLead, *, identifies: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(keys to look the row's lead up by, keys that name it for later rows).

    The canonical email comes first. An external id is looked up only where the layout's id
    names a lead, or the row has no email; it is always recorded, so that a later row with
    the id and no email finds this lead.
    """
    lookup: list[tuple[str, str]] = []
    email = canonical_email(row.fields.get("email", ""))
    if email:
        lookup.append((EMAIL_KEY, email))
    names = list(lookup)
    external_id = row.fields.get("external_id", "")
    if external_id:
        names.append((EXTERNAL_ID_KEY, external_id))
        if identifies or not email:
            lookup.append((EXTERNAL_ID_KEY, external_id))
    return lookup, names


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def leads_find_existing(
    planned: Sequence[PlannedLead], *, identifies: bool, lock: bool
) -> dict[int, Lead]:
    """The lead Handoff already has for each planned lead, by position in `planned`.

    A canonical email match wins over an external id match. Leads created before canonical
    emails existed, or by a path that does not set one, are found by their email in any case.
    With `lock`, the rows found are locked until the caller's transaction ends, so that
    nobody edits them halfway through the import.
    """
    emails = sorted({lead.email_key for lead in planned if lead.email_key})
    folded = sorted(
        {lead.fields["email"].strip().lower() for lead in planned if lead.fields.get("email")}
    )
    external_ids = sorted(
        {
            lead.external_id
            for lead in planned
            if lead.external_id and (identifies or not lead.email_key)
        }
    )
    with index_lookups():
        by_email, by_folded, by_external_id = _ids_by_key(emails, folded, external_ids)
        wanted = {*by_email.values(), *by_folded.values(), *by_external_id.values()}
        if not wanted:
            return {}
        # Checking reads each lead's source for scoring; writing locks the lead rows only.
        queryset = (
            Lead.objects.select_for_update() if lock else Lead.objects.select_related("source")
        )
        leads: dict[int, Lead] = {}
        for chunk in chunks(sorted(wanted), LOOKUP_BATCH_SIZE):
            leads.update((lead.pk, lead) for lead in queryset.filter(pk__in=chunk).order_by("pk"))

    found: dict[int, Lead] = {}
    for position, lead in enumerate(planned):
        lead_id = by_email.get(lead.email_key) if lead.email_key else None
        if lead_id is None and lead.fields.get("email"):
            lead_id = by_folded.get(lead.fields["email"].strip().lower())
        if lead_id is None and lead.external_id and (identifies or not lead.email_key):
            lead_id = by_external_id.get(lead.external_id)
        if lead_id is not None and lead_id in leads:
            found[position] = leads[lead_id]
    return found


def _ids_by_key(
    emails: Sequence[str], folded: Sequence[str], external_ids: Sequence[str]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Ids of the oldest lead per canonical email, per email in any case (leads without a
    canonical email only), and per external id. Only ids and keys are read: most rows of a
    large file are new, and building model instances for nothing would cost more than the
    queries."""
    by_email: dict[str, int] = {}
    by_folded: dict[str, int] = {}
    by_external_id: dict[str, int] = {}
    if connection.vendor == "postgresql":
        # One array parameter per query, however many keys: far cheaper to send than IN
        # lists of hundreds of parameters.
        with connection.cursor() as cursor:
            for target, sql, keys in (
                (by_email, _CANONICAL_SQL, emails),
                (by_folded, _FOLDED_SQL, folded),
                (by_external_id, _EXTERNAL_ID_SQL, external_ids),
            ):
                if keys:
                    cursor.execute(sql, [list(keys)])
                    _keep_oldest(target, cursor.fetchall())
        return by_email, by_folded, by_external_id
    for chunk in chunks(emails, LOOKUP_BATCH_SIZE):
        rows = Lead.objects.filter(canonical_email__in=chunk).exclude(canonical_email="")
        _keep_oldest(by_email, rows.values_list("canonical_email", "pk"))
    for chunk in chunks(folded, LOOKUP_BATCH_SIZE):
        # Served by the partial index on Lower("email") of leads without a canonical email.
        rows = (
            Lead.objects.annotate(email_folded=Lower("email"))
            .filter(canonical_email="", email_folded__in=chunk)
            .exclude(email="")
        )
        _keep_oldest(by_folded, rows.values_list("email_folded", "pk"))
    for chunk in chunks(external_ids, LOOKUP_BATCH_SIZE):
        rows = Lead.objects.filter(external_id__in=chunk)
        _keep_oldest(by_external_id, rows.values_list("external_id", "pk"))
    return by_email, by_folded, by_external_id


def _keep_oldest(target: dict[str, int], rows: Iterable[tuple[str, int]]) -> None:
    """Record the smallest id per key. The lookups ask for no order: sorting by id would
    tempt the planner into reading the whole table along its primary key."""
    for key, lead_id in rows:
        if lead_id < target.get(key, lead_id + 1):
            target[key] = lead_id


# Served by the partial unique index lead_unique_canonical_email. The planner uses a partial
# index only when the query implies its condition, and cannot tell that an array parameter
# holds no blank: without `<> ''` every batch scans the whole table, growing with the import.
# None of the lookups is ordered (see _keep_oldest).
_CANONICAL_SQL = (
    "SELECT canonical_email, id FROM leads_lead WHERE canonical_email <> '' "
    "AND canonical_email = ANY(%s)"
)
# Served by the partial index lead_email_uncanonical.
_FOLDED_SQL = (
    "SELECT lower(email), id FROM leads_lead WHERE canonical_email = '' AND email <> '' "
    "AND lower(email) = ANY(%s)"
)
_EXTERNAL_ID_SQL = "SELECT external_id, id FROM leads_lead WHERE external_id = ANY(%s)"


def lead_fill_blanks(lead: Lead, planned: PlannedLead, source: Source | None) -> list[str]:
    """Complete an existing lead from the file without overwriting anything it has.

    An opt-out is the exception: a "yes" in the file always applies. A lead found by its email
    in another spelling keeps its own spelling.
    """
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
            if name == "email" and not lead.canonical_email:
                lead.canonical_email = canonical_email(value)
                changed.append("canonical_email")
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


def existing_activity_keys(lead_ids: Sequence[int]) -> tuple[set[tuple], set[tuple]]:
    """The activities the leads have, keyed with and without their time."""
    dated: set[tuple] = set()
    undated: set[tuple] = set()
    if not lead_ids:
        return dated, undated
    with index_lookups():
        for chunk in chunks(list(lead_ids), LOOKUP_BATCH_SIZE):
            rows = Activity.objects.filter(lead_id__in=chunk).values_list(
                "lead_id", "kind", "detail", "quantity", "occurred_at"
            )
            for lead_id, kind, detail, quantity, occurred_at in rows:
                dated.add((lead_id, kind, detail, quantity, occurred_at))
                undated.add((lead_id, kind, detail, quantity))
    return dated, undated


def activities_new_for(
    lead_id: int | None,
    planned: PlannedLead,
    known: tuple[set[tuple], set[tuple]],
) -> list[PlannedActivity]:
    """The planned activities the lead does not have yet, so that importing the same file
    again adds nothing. Undated activities (the file had no date) match on everything but
    their time, which was the time of the earlier import."""
    dated, undated = known
    fresh = []
    for activity in planned.activities.values():
        if activity.dated:
            key = (lead_id, activity.kind, activity.detail, activity.quantity, activity.occurred_at)
            seen = key in dated
        else:
            seen = (lead_id, activity.kind, activity.detail, activity.quantity) in undated
        if not seen:
            fresh.append(activity)
    return fresh


def activity_rows(lead_id: int, activities: Iterable[PlannedActivity]) -> list[Activity]:
    return [
        Activity(
            lead_id=lead_id,
            kind=activity.kind,
            detail=activity.detail,
            quantity=activity.quantity,
            occurred_at=activity.occurred_at,
        )
        for activity in activities
    ]
