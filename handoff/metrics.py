"""The protocol's measures, as defined in docs/metrics.md: speed to lead, SLA compliance,
MQL to SQL rate and acceptance rate, overall or by rep, team or source.

Reads only. Each function takes a period (on the handoff's assignment time, or the lead's MQL
time for the MQL to SQL rate) so that pages, the protocol export and the quarterly snapshot
agree on the numbers.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from handoff.models import OPEN_HANDOFF_STATES, Handoff, HandoffState
from leads.models import Lead, LeadEvent, Stage

# For each grouping: the key and label columns for queries, and the same read from a loaded
# handoff.
GROUPS = {
    "rep": ("rep_id", "rep__user__username"),
    "team": ("rep__team_id", "rep__team__name"),
    "source": ("lead__source_id", "lead__source__name"),
}
GROUP_OF_HANDOFF = {
    "rep": lambda handoff: (handoff.rep_id, handoff.rep.user.username),
    "team": lambda handoff: (
        handoff.rep.team_id,
        handoff.rep.team.name if handoff.rep.team_id else None,
    ),
    "source": lambda handoff: (
        handoff.lead.source_id,
        handoff.lead.source.name if handoff.lead.source_id else None,
    ),
}


@dataclass
class Compliance:
    """First responses on or before the deadline, among handoffs whose outcome is known."""

    label: str
    met: int = 0
    breached: int = 0

    @property
    def total(self) -> int:
        return self.met + self.breached

    @property
    def rate(self) -> float | None:
        return self.met / self.total if self.total else None


@dataclass
class SpeedToLead:
    """Medians, in hours: MQL to assignment (the system's part), assignment to first response
    in wall-clock and in the rep's business hours (the rep's part), and MQL to first response."""

    label: str
    system_hours: list[float] = field(default_factory=list)
    rep_hours: list[float] = field(default_factory=list)
    rep_business_hours: list[float] = field(default_factory=list)
    total_hours: list[float] = field(default_factory=list)

    @staticmethod
    def _median(values: list[float]) -> float | None:
        return round(statistics.median(values), 2) if values else None

    @property
    def count(self) -> int:
        return len(self.rep_hours)

    @property
    def median_system_hours(self) -> float | None:
        return self._median(self.system_hours)

    @property
    def median_rep_hours(self) -> float | None:
        return self._median(self.rep_hours)

    @property
    def median_rep_business_hours(self) -> float | None:
        return self._median(self.rep_business_hours)

    @property
    def median_total_hours(self) -> float | None:
        return self._median(self.total_hours)


def _handoffs(since: datetime | None, until: datetime | None) -> QuerySet[Handoff]:
    handoffs = Handoff.objects.all()
    if since is not None:
        handoffs = handoffs.filter(assigned_at__gte=since)
    if until is not None:
        handoffs = handoffs.filter(assigned_at__lt=until)
    return handoffs


def sla_compliance(
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: str | None = None,
) -> list[Compliance]:
    """SLA compliance, one row per group (or one row overall). A handoff still waiting whose
    deadline has not passed is not counted yet; one still waiting past it is a breach, held
    against the rep who had it."""
    key, label = GROUPS[group_by] if group_by else (None, None)
    columns = ["due_at", "first_response_at", *([key, label] if key else [])]
    rows: dict[object, Compliance] = {}
    decided = _handoffs(since, until).filter(
        Q(first_response_at__isnull=False) | Q(due_at__lte=now)
    )
    for due_at, first_response_at, *group in decided.values_list(*columns):
        group_key, group_label = (group[0], group[1] or "(none)") if key else (None, "All")
        row = rows.setdefault(group_key, Compliance(label=group_label))
        if first_response_at is not None and first_response_at <= due_at:
            row.met += 1
        else:
            row.breached += 1
    return sorted(rows.values(), key=lambda row: row.label)


def speed_to_lead(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: str | None = None,
) -> list[SpeedToLead]:
    """Speed to lead for handoffs that got a first response."""
    handoffs = (
        _handoffs(since, until)
        .filter(first_response_at__isnull=False)
        .select_related("lead", "rep__user", "rep__team", "lead__source")
        .prefetch_related("rep__working_periods")
    )
    rows: dict[object, SpeedToLead] = {}
    calendars: dict[int, object] = {}
    for handoff in handoffs:
        group_key, group_label = GROUP_OF_HANDOFF[group_by](handoff) if group_by else (None, "All")
        group_label = group_label or "(none)"
        row = rows.setdefault(group_key, SpeedToLead(label=group_label))
        rep_part = handoff.first_response_at - handoff.assigned_at
        row.rep_hours.append(_hours(rep_part))
        if handoff.rep_id not in calendars:
            calendars[handoff.rep_id] = handoff.rep.calendar()
        business = calendars[handoff.rep_id].elapsed(handoff.assigned_at, handoff.first_response_at)
        row.rep_business_hours.append(_hours(business))
        # The system's part belongs to the first handoff of an MQL, not to reassignments.
        if handoff.previous_id is None and handoff.lead.mql_at is not None:
            system = max(handoff.assigned_at - handoff.lead.mql_at, timedelta(0))
            row.system_hours.append(_hours(system))
            row.total_hours.append(_hours(handoff.first_response_at - handoff.lead.mql_at))
    return sorted(rows.values(), key=lambda row: row.label)


def mql_to_sql_rate(*, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Of the leads that became MQL in the period, how many became SQL (at any time since)."""
    mql_events = LeadEvent.objects.filter(to_stage=Stage.MQL)
    if since is not None:
        mql_events = mql_events.filter(created_at__gte=since)
    if until is not None:
        mql_events = mql_events.filter(created_at__lt=until)
    mql_ids = set(mql_events.values_list("lead_id", flat=True))
    sql_ids = set(
        LeadEvent.objects.filter(lead_id__in=mql_ids, to_stage=Stage.SQL).values_list(
            "lead_id", flat=True
        )
    )
    return {
        "mqls": len(mql_ids),
        "sqls": len(sql_ids),
        "rate": len(sql_ids) / len(mql_ids) if mql_ids else None,
    }


def acceptance_rate(
    *, since: datetime | None = None, until: datetime | None = None, group_by: str | None = None
) -> list[dict]:
    """Of the handoffs that ended (qualified, rejected or returned; not reassigned), the
    share not rejected."""
    key, label = GROUPS[group_by] if group_by else (None, None)
    ended = _handoffs(since, until).exclude(
        state__in=[*OPEN_HANDOFF_STATES, HandoffState.REASSIGNED]
    )
    counts: dict[object, dict] = defaultdict(lambda: {"ended": 0, "rejected": 0})
    labels: dict[object, str] = {}
    columns = ["state", *([key, label] if key else [])]
    for state, *group in ended.values_list(*columns):
        group_key = group[0] if key else None
        labels[group_key] = (group[1] or "(none)") if key else "All"
        counts[group_key]["ended"] += 1
        counts[group_key]["rejected"] += state in (HandoffState.REJECTED, HandoffState.RETURNED)
    return sorted(
        (
            {
                "label": labels[group_key],
                **value,
                "rate": (value["ended"] - value["rejected"]) / value["ended"],
            }
            for group_key, value in counts.items()
        ),
        key=lambda row: row["label"],
    )


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def lead_count_by_stage() -> dict[str, int]:
    from django.db.models import Count

    return dict(Lead.objects.values_list("stage").annotate(count=Count("pk")).order_by())
