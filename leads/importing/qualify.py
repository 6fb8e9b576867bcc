"""After an import: make the leads that qualify MQL and hand them to reps, best scores first.

A large file can hold thousands of MQLs while the team has room for a few hundred a week.
The leads go in batches through `leads_qualify_batch` (for each lead what
`lead_qualify_if_ready` does: transition, event row, routing, handoff, the rep's notification)
until routing finds no rep for anybody; the rest become MQL in one set-based step and wait,
exactly as a lead that routing could not place waits, for the periodic
`handoff.assign_waiting_leads` to offer them as reps free up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from handoff.services import QUALIFY_BATCH_SIZE, leads_qualify_batch
from leads.importing.matching import LOOKUP_BATCH_SIZE, chunks
from leads.models import Lead, LeadEvent, ScoringSettings, Stage
from leads.services import MAX_MQL_QUALIFICATIONS

logger = logging.getLogger(__name__)

MQL_REASON = "score {score} reached the threshold {threshold}"


def leads_qualify_imported(
    *,
    candidates: Sequence[tuple[int, int]],
    actor: AbstractBaseUser | None,
    now: datetime,
) -> tuple[int, int]:
    """Qualify the (score, lead id) candidates of an import. Returns (MQLs, handoffs).

    Each candidate is locked and checked again as it is qualified, so a candidate that no
    longer qualifies is left alone. Inside an import's transaction, its rows are held anyway.
    """
    from reps.services import rep_pick

    ordered = sorted(set(candidates), key=lambda item: (-item[0], item[1]))
    ordered_ids = [lead_id for _score, lead_id in ordered]
    handoffs = 0
    waiting: list[int] = []
    team_full = False
    for offset in range(0, len(ordered_ids), QUALIFY_BATCH_SIZE):
        batch = ordered_ids[offset : offset + QUALIFY_BATCH_SIZE]
        if team_full:
            waiting.extend(batch)
            continue
        placed = len(leads_qualify_batch(lead_ids=batch, actor=actor, now=now))
        handoffs += placed
        if placed < len(batch):
            # Some lead got no handoff: it may lack a required field, or routing found
            # nobody. Once no rep at all can take a lead, none of the rest can be placed in
            # this import either.
            team_full = rep_pick(now=now, dry_run=True).rep is None
    leads_make_mql_waiting(lead_ids=waiting, actor=actor, now=now)

    # Qualification and the waiting step stamp mql_at with `now`, which tells the leads this
    # import qualified from those it left alone.
    mqls = sum(
        Lead.objects.filter(pk__in=chunk, mql_at=now, stage=Stage.MQL).count()
        for chunk in chunks(ordered_ids, LOOKUP_BATCH_SIZE)
    )
    logger.info(
        "imported leads qualified candidates=%s mqls=%s handoffs=%s waiting=%s",
        len(ordered),
        mqls,
        handoffs,
        len(waiting),
    )
    return mqls, handoffs


def leads_make_mql_waiting(
    *, lead_ids: Sequence[int], actor: AbstractBaseUser | None, now: datetime
) -> int:
    """Make these leads MQL, without a handoff, in one update and one insert of event rows
    per chunk: the same change and audit row as `lead_qualify_if_ready` when routing finds
    nobody. Returns how many leads changed."""
    thresholds = ScoringSettings.current()
    changed = 0
    for chunk in chunks(list(lead_ids), LOOKUP_BATCH_SIZE):
        qualifying = Lead.objects.filter(
            pk__in=chunk,
            stage__in=(Stage.LEAD, Stage.RECYCLED),
            mql_count__lt=MAX_MQL_QUALIFICATIONS,
            disqualified_by="",
            score__gte=thresholds.mql_threshold,
            fit_score__gte=thresholds.fit_minimum,
        )
        with transaction.atomic():
            rows = list(qualifying.select_for_update().values_list("pk", "stage", "score"))
            if not rows:
                continue
            # The state field is protected on instances; a set-based update is the bulk form
            # of the qualify_mql transition, under the same guard, on rows locked above.
            Lead.objects.filter(pk__in=[pk for pk, _stage, _score in rows]).update(
                stage=Stage.MQL, mql_count=F("mql_count") + 1, mql_at=now, updated_at=now
            )
            LeadEvent.objects.bulk_create(
                LeadEvent(
                    lead_id=pk,
                    actor=actor,
                    from_stage=stage,
                    to_stage=Stage.MQL,
                    reason=MQL_REASON.format(score=score, threshold=thresholds.mql_threshold),
                )
                for pk, stage, score in rows
            )
        changed += len(rows)
    if changed:
        logger.info(
            "imported leads made MQL to wait for a rep count=%s actor_id=%s",
            changed,
            getattr(actor, "pk", None),
        )
    return changed
