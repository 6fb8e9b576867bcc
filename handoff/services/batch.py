"""MQLs qualified and handed to reps in batches, one transaction per batch.

A batch gives each lead what leads.services.lead_qualify_if_ready gives it when the leads are
qualified one after the other in the same order: the stage change and its event row, the rep
that routing picks (account owner, routing rule, weighted round robin among the eligible reps,
those at work first), the deadline on that rep's calendar, the handoff's event row and the
rep's notification. Only the cost differs: the configuration is read once, the reps' rows are
locked once, routing runs in memory (reps.services.RoutingBatch), and each table is written
with one statement.

Locks go as everywhere: the batch's leads in id order, then the reps in id order, held until
the batch commits. Every active rep is locked, since any may be picked, so concurrent batches
take turns on the reps; a batch should stay small (QUALIFY_BATCH_SIZE) to keep that turn short.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from handoff.documentation import required_fields_missing
from handoff.models import (
    OPEN_HANDOFF_STATES,
    Handoff,
    HandoffEvent,
    HandoffPoint,
    RequiredField,
)
from handoff.notifications import notifications_create_new
from handoff.selectors import mql_waiting_ids
from handoff.services.assignment import (
    handoff_assigned_event,
    handoff_assigned_notice,
    handoff_build,
    handoff_log_assigned,
    managers_alert_routing_exhausted,
)
from handoff.services.common import company_days_off, sla_policies_active, sla_policy_matching
from leads.models import Lead, LeadEvent, ScoringSettings, Stage
from leads.services import lead_ready_for_mql, mql_reason
from reps.models import Rep
from reps.selectors import AccountOwners
from reps.services import RoutingBatch

logger = logging.getLogger(__name__)

# Leads per transaction: large enough that the per-batch reads and statements are shared by
# many leads, small enough that the reps' row locks are not held for long.
QUALIFY_BATCH_SIZE = 100


def leads_qualify_batch(
    *,
    lead_ids: Sequence[int],
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> list[Handoff]:
    """Make MQL the leads of `lead_ids` whose score qualifies and hand them to reps, in that
    order and in one transaction. Returns the new handoffs, in the same order.

    The same result as lead_qualify_if_ready for each id in turn, and idempotent like it: a
    lead that is already MQL (or beyond), or no longer qualifies, is left alone, so calling
    this again hands nothing off twice. Pass at most about QUALIFY_BATCH_SIZE ids.
    """
    started = time.monotonic()
    now = now or timezone.now()
    thresholds = ScoringSettings.current()
    with transaction.atomic():
        locked = Lead.objects.select_for_update().filter(pk__in=list(lead_ids)).order_by("pk")
        by_pk = {lead.pk: lead for lead in locked}
        leads = [
            by_pk[lead_id]
            for lead_id in dict.fromkeys(lead_ids)
            if lead_id in by_pk and lead_ready_for_mql(lead=by_pk[lead_id], thresholds=thresholds)
        ]
        if not leads:
            return []
        # Read before the leads change: a lead of the batch owns its account only from its turn.
        accounts = AccountOwners(leads=leads)

        wall_clock = timezone.now()
        events = []
        for lead in leads:
            from_stage = lead.stage
            lead.mql_count += 1
            lead.mql_at = now
            lead.qualify_mql()
            # What save() would stamp; a set-based update leaves auto_now fields to the caller.
            lead.updated_at = wall_clock
            events.append(
                LeadEvent(
                    lead=lead,
                    actor=actor,
                    from_stage=from_stage,
                    to_stage=lead.stage,
                    reason=mql_reason(lead=lead, thresholds=thresholds)[:200],
                )
            )
        # The transitions ran on the instances; their new values are written with one UPDATE
        # per distinct value (at most two: first and second qualification), which costs far
        # less than bulk_update's CASE per row.
        changed: dict[tuple[str, int], list[int]] = {}
        for lead in leads:
            changed.setdefault((lead.stage, lead.mql_count), []).append(lead.pk)
        for (stage, mql_count), pks in changed.items():
            Lead.objects.filter(pk__in=pks).update(
                stage=stage, mql_count=mql_count, mql_at=now, updated_at=wall_clock
            )
        LeadEvent.objects.bulk_create(events)
        for event in events:
            logger.info(
                "lead stage changed lead_id=%s from=%s to=%s actor_id=%s",
                event.lead_id,
                event.from_stage,
                event.to_stage,
                getattr(actor, "pk", None),
            )

        handoffs = _assign_locked(leads=leads, accounts=accounts, actor=actor, now=now)
    logger.info(
        "leads qualified in batch candidates=%s mqls=%s handoffs=%s elapsed_ms=%d",
        len(lead_ids),
        len(leads),
        len(handoffs),
        (time.monotonic() - started) * 1000,
    )
    return handoffs


def leads_qualify_in_batches(
    *,
    lead_ids: Iterable[int],
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
    batch_size: int = QUALIFY_BATCH_SIZE,
) -> int:
    """leads_qualify_batch over `lead_ids` in order, `batch_size` at a time, each batch in a
    transaction of its own; returns how many leads were handed off."""
    ids = list(lead_ids)
    return sum(
        len(leads_qualify_batch(lead_ids=ids[offset : offset + batch_size], actor=actor, now=now))
        for offset in range(0, len(ids), batch_size)
    )


def leads_assign_locked(
    *,
    leads: Sequence[Lead],
    actor: AbstractBaseUser | None,
    now: datetime,
    stop_when_unplaced: bool = False,
) -> list[Handoff]:
    """Hand to reps these MQLs, which the caller has locked (in id order) and which have no
    open handoff, as handoff_assign would one after the other; returns the new handoffs.

    With `stop_when_unplaced` the leads after the first one left without a rep are not
    tried, as the waiting-queue retry does.
    """
    return _assign_locked(
        leads=leads,
        accounts=AccountOwners(leads=leads),
        actor=actor,
        now=now,
        stop_when_unplaced=stop_when_unplaced,
    )


def _assign_locked(
    *,
    leads: Sequence[Lead],
    accounts: AccountOwners,
    actor: AbstractBaseUser | None,
    now: datetime,
    stop_when_unplaced: bool = False,
) -> list[Handoff]:
    required = list(RequiredField.objects.filter(point=HandoffPoint.TO_BDR, active=True))
    policies = sla_policies_active()
    days_off = company_days_off()
    routing = RoutingBatch(accounts=accounts, now=now, days_off=days_off)

    placed: list[tuple[Lead, Rep]] = []
    nobody_eligible = False
    for lead in leads:
        missing = required_fields_missing(lead=lead, required=required)
        if missing:
            # The lead waits as an unassigned MQL until marketing completes it.
            logger.warning(
                "handoff blocked by missing fields lead_id=%s count=%s", lead.pk, len(missing)
            )
            if stop_when_unplaced:
                break
            continue
        decision = routing.route(lead=lead)
        if decision.rep is None:
            logger.warning("no eligible rep lead_id=%s skipped=%s", lead.pk, len(decision.skipped))
            nobody_eligible = True
            if stop_when_unplaced:
                break
            continue
        placed.append((lead, decision.rep))
    routing.save()

    handoffs = [
        handoff_build(
            lead=lead,
            rep=rep,
            actor=actor,
            now=now,
            policy=sla_policy_matching(lead=lead, policies=policies),
            calendar=routing.calendar(rep),
        )
        for lead, rep in placed
    ]
    Handoff.objects.bulk_create(handoffs)
    HandoffEvent.objects.bulk_create(
        handoff_assigned_event(handoff=handoff, actor=actor) for handoff in handoffs
    )
    notifications_create_new(
        drafts=[handoff_assigned_notice(handoff=handoff) for handoff in handoffs]
    )
    for handoff in handoffs:
        handoff_log_assigned(handoff)
    if nobody_eligible:
        # One alert per spell of waiting, as for a single lead: written after the batch's
        # leads, it names the same spell the first lead left waiting would have named.
        managers_alert_routing_exhausted()
    return handoffs


# Waiting MQLs offered again at each run of the periodic retry.
SWEEP_BATCH_SIZE = 500


def leads_assign_waiting(*, now: datetime | None = None) -> int:
    """Try again to place MQLs that found no eligible rep, oldest first, QUALIFY_BATCH_SIZE
    per transaction; returns how many were placed.

    Stops at the first lead that cannot be placed (nobody eligible, or a required field
    missing), as trying them one by one did: the rest would most likely fail the same way.
    """
    now = now or timezone.now()
    ids = mql_waiting_ids(limit=SWEEP_BATCH_SIZE)
    placed = 0
    for offset in range(0, len(ids), QUALIFY_BATCH_SIZE):
        batch = ids[offset : offset + QUALIFY_BATCH_SIZE]
        with transaction.atomic():
            locked = Lead.objects.select_for_update().filter(pk__in=batch).order_by("pk")
            by_pk = {lead.pk: lead for lead in locked}
            # Checked again under the locks: a lead may have been placed or moved on since.
            handed = set(
                Handoff.objects.filter(
                    lead_id__in=batch, state__in=OPEN_HANDOFF_STATES
                ).values_list("lead_id", flat=True)
            )
            leads = [
                by_pk[lead_id]
                for lead_id in batch
                if lead_id in by_pk and by_pk[lead_id].stage == Stage.MQL and lead_id not in handed
            ]
            handoffs = leads_assign_locked(
                leads=leads, actor=None, now=now, stop_when_unplaced=True
            )
        placed += len(handoffs)
        if len(handoffs) < len(leads):
            break
    return placed
