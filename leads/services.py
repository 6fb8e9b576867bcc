"""Every write to leads: stage transitions, scoring, and qualification to MQL."""

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from handoff.errors import TransitionRefused
from leads.models import Lead, LeadEvent, ScoringRule, ScoringSettings, Stage, bant_missing
from leads.scoring import Scorer, ScoreResult

logger = logging.getLogger(__name__)

# A lead becomes MQL at most this many times: once, and once more after being recycled.
MAX_MQL_QUALIFICATIONS = 2
RESCORE_BATCH_SIZE = 2000

TRANSITION_REFUSED = "A lead in stage '{stage}' cannot be moved by '{transition}'."
SQL_MISSING = "This lead cannot become SQL yet. Missing: {missing}."


def lead_transition(
    *,
    lead: Lead,
    transition: str,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> LeadEvent:
    """Apply one stage transition to a lead the caller has locked, and record it.

    Must run inside the caller's transaction, on a row fetched with select_for_update, so that
    the check and the change see the same stage.
    """
    method: Callable[[], None] = getattr(lead, transition)
    if not can_proceed(method):
        if transition == "qualify_sql" and lead.stage == Stage.MQL:
            raise TransitionRefused(SQL_MISSING.format(missing=", ".join(bant_missing(lead))))
        raise TransitionRefused(
            TRANSITION_REFUSED.format(stage=lead.get_stage_display(), transition=transition)
        )
    from_stage = lead.stage
    method()
    lead.save(update_fields=["stage", "mql_count", "mql_at", "updated_at"])
    event = LeadEvent.objects.create(
        lead=lead,
        actor=actor,
        from_stage=from_stage,
        to_stage=lead.stage,
        reason=reason[:200],
    )
    logger.info(
        "lead stage changed lead_id=%s from=%s to=%s actor_id=%s",
        lead.pk,
        from_stage,
        lead.stage,
        getattr(actor, "pk", None),
    )
    return event


def lead_lock(*, lead_id: int) -> Lead:
    return Lead.objects.select_for_update().get(pk=lead_id)


def scorer_current(*, now: datetime | None = None) -> Scorer:
    return Scorer(rules=ScoringRule.objects.filter(active=True), now=now or timezone.now())


def _apply_score(lead: Lead, result: ScoreResult, now: datetime) -> None:
    lead.score = result.total
    lead.fit_score = result.fit
    lead.engagement_score = result.engagement
    lead.score_breakdown = result.breakdown
    lead.disqualified_by = result.disqualified_by
    lead.scored_at = now


SCORE_FIELDS = [
    "score",
    "fit_score",
    "engagement_score",
    "score_breakdown",
    "disqualified_by",
    "scored_at",
]


def leads_rescore(*, lead_ids: Iterable[int], now: datetime | None = None) -> int:
    """Recompute and save the score of many leads, in batches; returns how many were scored.

    Scores only: qualification is a separate step so that a bulk rescore cannot hand off
    leads as a side effect.
    """
    started = time.monotonic()
    now = now or timezone.now()
    scorer = scorer_current(now=now)
    ids = list(lead_ids)
    for offset in range(0, len(ids), RESCORE_BATCH_SIZE):
        batch = list(
            Lead.objects.filter(pk__in=ids[offset : offset + RESCORE_BATCH_SIZE])
            .select_related("source")
            .prefetch_related("activities")
        )
        for lead in batch:
            _apply_score(lead, scorer.score(lead, list(lead.activities.all())), now)
        Lead.objects.bulk_update(batch, SCORE_FIELDS)
    logger.info(
        "leads rescored count=%s elapsed_ms=%d", len(ids), (time.monotonic() - started) * 1000
    )
    return len(ids)


def lead_qualify_if_ready(
    *, lead_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
):  # noqa: ANN201 - returns a handoff.models.Handoff or None
    """Make the lead MQL when its score qualifies, and hand it to a rep.

    Idempotent: a lead that is already MQL (or beyond) is left alone, so calling this again
    after a retry hands nothing off twice. Returns the new handoff, or None.
    """
    from handoff.services import handoff_assign

    now = now or timezone.now()
    thresholds = ScoringSettings.current()
    with transaction.atomic():
        lead = lead_lock(lead_id=lead_id)
        if lead.stage not in (Stage.LEAD, Stage.RECYCLED):
            return None
        if lead.mql_count >= MAX_MQL_QUALIFICATIONS:
            return None
        result = ScoreResult(
            fit=lead.fit_score, engagement=lead.engagement_score,
            disqualified_by=lead.disqualified_by,
        )  # fmt: skip
        if not result.qualifies(
            threshold=thresholds.mql_threshold, fit_minimum=thresholds.fit_minimum
        ):
            return None
        lead.mql_count += 1
        lead.mql_at = now
        lead_transition(
            lead=lead,
            transition="qualify_mql",
            actor=actor,
            reason=f"score {lead.score} reached the threshold {thresholds.mql_threshold}",
        )
        return handoff_assign(lead=lead, actor=actor, now=now)
