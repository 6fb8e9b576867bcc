"""The SLA schedule of one handoff: what falls due, and when.

Pure computation on a handoff, its policy and the rep's calendar; handoff.services acts on
it. Before the first response the chain is: warn the rep at a share of the budget, then, at
delays counted in business hours after the deadline, remind the rep, alert the manager,
reassign, and return the lead to marketing. After the first response the follow-up cadence
applies: the agreed number of attempts within a number of business days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from handoff.business_hours import BusinessCalendar
from handoff.models import EscalationLevel, Handoff, HandoffState, SlaPolicy

if TYPE_CHECKING:
    from reps.models import Rep

# A handoff with no matching policy follows the protocol's defaults: the model's own.
DEFAULT_POLICY = SlaPolicy(name="Protocol default")

CHAIN = (
    (EscalationLevel.REMIND_REP, "remind_rep_after_hours"),
    (EscalationLevel.MANAGER_ALERT, "alert_manager_after_hours"),
    (EscalationLevel.REASSIGN, "reassign_after_hours"),
    (EscalationLevel.RETURN_TO_MARKETING, "return_after_hours"),
)
# Messages to the rep wait for the rep's working hours; the others go out when due.
DURING_WORKING_HOURS = frozenset({EscalationLevel.WARNING, EscalationLevel.REMIND_REP})


@dataclass(frozen=True)
class Step:
    level: EscalationLevel
    at: datetime

    @property
    def during_working_hours(self) -> bool:
        return self.level in DURING_WORKING_HOURS


def deadline_for_rep(*, at: datetime, rep: Rep) -> str:
    """A deadline as the rep's own clock shows it, e.g. "Fri 04 Dec 16:17 +08", for every
    message about it: the rep's working hours decide it, so their timezone is the one to read
    it in, whoever the message is for."""
    return f"{at.astimezone(ZoneInfo(rep.timezone)):%a %d %b %H:%M %Z}"


def sla_steps(
    *,
    handoff: Handoff,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    reassigned_by_sla: bool,
) -> list[Step]:
    """Every step of the handoff's schedule, done or not, in time order.

    `reassigned_by_sla` says the handoff itself came from an SLA reassignment: the chain then
    skips reassigning again and ends by returning the lead to marketing.
    """
    if handoff.first_response_at is None:
        steps = []
        if policy.warning_percent:
            budget = timedelta(hours=handoff.first_response_hours) * policy.warning_percent / 100
            steps.append(Step(EscalationLevel.WARNING, calendar.add(handoff.assigned_at, budget)))
        for level, field in CHAIN:
            hours = getattr(policy, field)
            if hours is None or (level == EscalationLevel.REASSIGN and reassigned_by_sla):
                continue
            steps.append(Step(level, calendar.add(handoff.due_at, timedelta(hours=hours))))
        return sorted(steps, key=lambda step: (step.at, step.level))
    if policy.cadence_attempts:
        return [
            Step(
                EscalationLevel.CADENCE_MISSED,
                cadence_deadline(handoff=handoff, policy=policy, calendar=calendar),
            )
        ]
    return []


def cadence_deadline(
    *, handoff: Handoff, policy: SlaPolicy, calendar: BusinessCalendar
) -> datetime:
    return calendar.add_days(handoff.first_response_at, policy.cadence_business_days)


def counted_attempts(attempt_times: list[datetime], *, min_spacing: timedelta) -> int:
    """Attempts that count toward the cadence: ones closer than the minimum spacing to the
    previous counted attempt count as one."""
    counted = 0
    last: datetime | None = None
    for at in sorted(attempt_times):
        if last is None or at - last >= min_spacing:
            counted += 1
            last = at
    return counted


def cadence_status(
    *,
    handoff: Handoff,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    attempt_times: list[datetime],
    now: datetime,
) -> str:
    """'met', 'missed', 'pending', or 'not started' (no first response yet). A handoff that
    ended by qualification or rejection before the cadence ran out counts as met."""
    if handoff.first_response_at is None or not policy.cadence_attempts:
        return "not started"
    deadline = cadence_deadline(handoff=handoff, policy=policy, calendar=calendar)
    in_time = [at for at in attempt_times if at <= deadline]
    spacing = timedelta(hours=policy.cadence_min_spacing_hours)
    if counted_attempts(in_time, min_spacing=spacing) >= policy.cadence_attempts:
        return "met"
    ended_early = handoff.ended_at is not None and handoff.ended_at <= deadline
    if ended_early and handoff.state in (HandoffState.QUALIFIED, HandoffState.REJECTED):
        return "met"
    return "pending" if now < deadline and handoff.is_open else "missed"
