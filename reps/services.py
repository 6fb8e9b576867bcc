"""Routing: which rep gets a lead.

Smooth weighted round robin over the reps who can take a lead now. Each eligible rep earns
its weight (weekly capacity) in credit at every pick; the rep with the most credit wins and
pays back the sum of the weights. Over time each rep's share follows its weight, with no
bursts. Reps who are not eligible earn nothing, so a rep back from leave is not flooded to
catch up.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from reps.models import Rep
from reps.selectors import rep_assigned_this_week

logger = logging.getLogger(__name__)


@dataclass
class RoutingDecision:
    rep: Rep | None
    skipped: dict[int, str] = field(default_factory=dict)


def rep_pick(*, now: datetime | None = None, candidates=None) -> RoutingDecision:  # noqa: ANN001
    """Choose the next rep and update the round-robin state.

    Must run inside a transaction: the candidate rows are locked (in id order, so that
    concurrent pickers queue rather than deadlock) before credits are read and written.
    """
    now = now or timezone.now()
    queryset = candidates if candidates is not None else Rep.objects.active()
    reps = list(
        queryset.select_for_update().order_by("pk").prefetch_related("absences", "working_periods")
    )
    loads = rep_assigned_this_week(reps=reps, now=now)
    eligible: list[Rep] = []
    skipped: dict[int, str] = {}
    for rep in reps:
        if any(absence.covers(now) for absence in rep.absences.all()):
            skipped[rep.pk] = "out of office"
        elif not rep.working_periods.all():
            skipped[rep.pk] = "no working hours"
        elif loads.get(rep.pk, 0) >= rep.weekly_capacity:
            skipped[rep.pk] = "at weekly capacity"
        else:
            eligible.append(rep)
    if not eligible:
        return RoutingDecision(rep=None, skipped=skipped)

    total_weight = sum(rep.weekly_capacity for rep in eligible)
    for rep in eligible:
        rep.routing_credit += rep.weekly_capacity
    chosen = max(eligible, key=lambda rep: (rep.routing_credit, -rep.pk))
    chosen.routing_credit -= total_weight
    chosen.last_assigned_at = now
    Rep.objects.bulk_update(eligible, ["routing_credit"])
    chosen.save(update_fields=["routing_credit", "last_assigned_at"])
    logger.info(
        "rep picked rep_id=%s eligible=%s skipped=%s", chosen.pk, len(eligible), len(skipped)
    )
    return RoutingDecision(rep=chosen, skipped=skipped)
