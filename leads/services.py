"""Every write to leads: stage transitions, scoring, and qualification to MQL."""

import gc
import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime

import orjson
import psycopg
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_fsm import can_proceed

from handoff.errors import TransitionRefused
from leads import criteria
from leads.models import (
    Activity,
    InboundRequest,
    Lead,
    LeadEvent,
    ScoringRule,
    ScoringSettings,
    Source,
    SourceToken,
    Stage,
    bant_missing,
)
from leads.scoring import ActivityRow, LeadFacts, Scorer, ScoreResult
from leads.selectors import lead_score_rows_in_batches

logger = logging.getLogger(__name__)

# A lead becomes MQL at most this many times: once, and once more after being recycled.
MAX_MQL_QUALIFICATIONS = 2
RESCORE_BATCH_SIZE = 2000
# Batches scored ahead of the writer in a bulk pass: bounds the memory held.
RESCORE_WRITES_AHEAD = 2

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
    return Scorer(
        rules=ScoringRule.objects.filter(active=True),
        now=now or timezone.now(),
        customer_domains=customer_domains(),
    )


def customer_domains() -> frozenset[str]:
    """Company email domains of leads that became customers (webmail domains excluded)."""
    domains = {
        email.rpartition("@")[2].lower()
        for email in Lead.objects.in_stage(Stage.CUSTOMER)
        .exclude(email="")
        .values_list("email", flat=True)
    }
    return frozenset(
        domain for domain in domains if criteria.email_domain_kind(domain) == "company"
    )


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


def leads_rescore(
    *, lead_ids: Iterable[int], now: datetime | None = None, batch_size: int = RESCORE_BATCH_SIZE
) -> int:
    """Recompute and save the score of many leads, in batches; returns how many were scored.

    Scores only: qualification is a separate step so that a bulk rescore cannot hand off
    leads as a side effect, and a lower score never demotes a lead that is already MQL. Reads
    plain rows rather than model instances, because this runs nightly over every open lead.
    """
    started = time.monotonic()
    now = now or timezone.now()
    scorer = scorer_current(now=now)
    ids = list(lead_ids)
    batches = lead_score_rows_in_batches(lead_ids=ids, batch_size=batch_size, now=now)
    with _cyclic_gc_paused():
        if (
            len(ids) > batch_size
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
        ):
            _rescore_overlapped(batches, scorer=scorer, now=now)
        else:
            for batch in batches:
                scored = [(facts.pk, scorer.score_rows(facts, rows)) for facts, rows in batch]
                _write_scores(scored, now)
    logger.info(
        "leads rescored count=%s elapsed_ms=%d", len(ids), (time.monotonic() - started) * 1000
    )
    return len(ids)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector for the length of a pass.

    Scoring allocates a few dicts and lists per activity, so the collector would otherwise run
    thousands of times a pass and walk every batch still waiting to be written: it took half of
    the pass's CPU. What a pass allocates holds no reference cycles and is freed by reference
    counting as usual; the collector is switched back on, as it was, when the pass ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rescore_overlapped(
    batches: Iterator[list[tuple[LeadFacts, list[ActivityRow]]]], *, scorer: Scorer, now: datetime
) -> None:
    """Score each batch while the previous one is written by a thread of its own.

    The write is mostly the database's work, so a bulk pass keeps a second core busy. The
    thread has its own connection and each batch commits on its own, as in the plain loop,
    which is why callers inside a transaction never come here. At most two batches wait.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rescore-writer") as writer:
        pending: deque[Future] = deque()
        try:
            for batch in batches:
                scored = [(facts.pk, scorer.score_rows(facts, rows)) for facts, rows in batch]
                if len(pending) == RESCORE_WRITES_AHEAD:
                    pending.popleft().result()
                pending.append(writer.submit(_write_scores, scored, now))
            while pending:
                pending.popleft().result()
        finally:
            writer.submit(_close_connection).result()


def _close_connection() -> None:
    # Looked up where it runs: in the writer thread, this closes that thread's connection.
    connection.close()


WRITE_SCORES_SQL = """
UPDATE leads_lead AS lead
   SET score = batch.score, fit_score = batch.fit, engagement_score = batch.engagement,
       score_breakdown = batch.breakdown::jsonb, disqualified_by = batch.disqualified_by,
       scored_at = %b
  FROM unnest(%b::bigint[], %b::integer[], %b::integer[], %b::integer[], %b::text[], %b::text[])
       AS batch (id, score, fit, engagement, breakdown, disqualified_by)
 WHERE lead.id = batch.id
"""


def _write_scores(scored: list[tuple[int, ScoreResult]], now: datetime) -> None:
    if not scored:
        return
    if connection.vendor == "postgresql":
        ids, totals, fits, engagements, breakdowns, disqualifiers = [], [], [], [], [], []
        for lead_id, result in scored:
            ids.append(lead_id)
            totals.append(result.total)
            fits.append(result.fit)
            engagements.append(result.engagement)
            breakdowns.append(orjson.dumps(result.breakdown).decode())
            disqualifiers.append(result.disqualified_by)
        # The batch goes as arrays in binary, bound on the server, and the planner fetches each
        # lead by its key. A batch in a temporary table has no statistics: the plan for it
        # scanned and hashed the whole lead table once per batch.
        with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as raw:
            raw.execute(
                WRITE_SCORES_SQL,
                [now, ids, totals, fits, engagements, breakdowns, disqualifiers],
            )
        return
    # Elsewhere (SQLite in development and tests), one parametrised UPDATE run per row:
    # bulk_update's CASE expressions cost about a millisecond per lead and field there.
    fields = [Lead._meta.get_field(name) for name in SCORE_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    rows = []
    for lead_id, result in scored:
        lead = Lead(pk=lead_id)
        _apply_score(lead, result, now)
        values = [f.get_db_prep_save(getattr(lead, f.attname), connection) for f in fields]
        rows.append([*values, lead_id])
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {connection.ops.quote_name(Lead._meta.db_table)} SET {assignments} "
            f"WHERE {connection.ops.quote_name(Lead._meta.pk.column)} = %s",
            rows,
        )


# Stages whose score still matters: leads that may qualify, and MQLs being worked.
OPEN_STAGES = (Stage.LEAD, Stage.RECYCLED, Stage.MQL)


def lead_ids_open() -> list[int]:
    return list(Lead.objects.in_stage(*OPEN_STAGES).order_by("pk").values_list("pk", flat=True))


def leads_rescore_and_qualify(
    *, lead_ids: list[int], now: datetime | None = None
) -> tuple[int, int]:
    """Rescore these leads so that decay and rule changes take effect, then hand off the
    ones that now qualify. Returns (rescored, handed off).

    A lower score never demotes an MQL: stages only move through transitions, and rescoring
    makes none. Safe to run again: a lead handed off once is not handed off twice.
    """
    from handoff.services import leads_qualify_in_batches

    now = now or timezone.now()
    rescored = leads_rescore(lead_ids=lead_ids, now=now)
    thresholds = ScoringSettings.current()
    candidates = (
        Lead.objects.in_stage(Stage.LEAD, Stage.RECYCLED)
        .filter(
            pk__in=lead_ids,
            score__gte=thresholds.mql_threshold,
            fit_score__gte=thresholds.fit_minimum,
            disqualified_by="",
            mql_count__lt=MAX_MQL_QUALIFICATIONS,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # In batches, each qualified and handed off as lead_qualify_if_ready would one by one.
    handed_off = leads_qualify_in_batches(lead_ids=list(candidates), now=now)
    return rescored, handed_off


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
        if not lead_ready_for_mql(lead=lead, thresholds=thresholds):
            return None
        lead.mql_count += 1
        lead.mql_at = now
        lead_transition(
            lead=lead,
            transition="qualify_mql",
            actor=actor,
            reason=mql_reason(lead=lead, thresholds=thresholds),
        )
        return handoff_assign(lead=lead, actor=actor, now=now)


def lead_ready_for_mql(*, lead: Lead, thresholds: ScoringSettings) -> bool:
    """Whether a lead may become MQL now: it is a new or recycled lead, has not used up its
    qualifications, and its stored score qualifies."""
    if lead.stage not in (Stage.LEAD, Stage.RECYCLED):
        return False
    if lead.mql_count >= MAX_MQL_QUALIFICATIONS:
        return False
    result = ScoreResult(
        fit=lead.fit_score, engagement=lead.engagement_score, disqualified_by=lead.disqualified_by
    )
    return result.qualifies(threshold=thresholds.mql_threshold, fit_minimum=thresholds.fit_minimum)


def mql_reason(*, lead: Lead, thresholds: ScoringSettings) -> str:
    return f"score {lead.score} reached the threshold {thresholds.mql_threshold}"


def lead_rescore_and_qualify(
    *, lead_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
):  # noqa: ANN201 - returns a handoff.models.Handoff or None
    """Rescore one lead after new activity and hand it off if it now qualifies."""
    leads_rescore(lead_ids=[lead_id], now=now)
    return lead_qualify_if_ready(lead_id=lead_id, actor=actor, now=now)


def lead_match_or_create(*, source: Source, fields: dict) -> tuple[Lead, bool]:
    """Find the lead by email (case-insensitive) or external id, or create it.

    An existing lead only gains values it did not have: a form post never overwrites what sales
    or an import recorded.
    """
    # The same canonical email as the import, which a unique constraint backs (imported here:
    # the importing package imports this module).
    from leads.importing.canonical import canonical_email

    lead = None
    canonical = canonical_email(fields.get("email") or "")
    if canonical:
        lead = Lead.objects.filter(canonical_email=canonical).first() or (
            Lead.objects.filter(canonical_email="", email__iexact=fields["email"])
            .order_by("pk")
            .first()
        )
    if lead is None and fields.get("external_id"):
        lead = Lead.objects.filter(external_id=fields["external_id"]).order_by("pk").first()
    if lead is None:
        return Lead.objects.create(
            source=source, canonical_email=canonical, **_non_blank(fields)
        ), True
    changed = [name for name, value in _non_blank(fields).items() if not getattr(lead, name)]
    for name in changed:
        setattr(lead, name, fields[name])
    if "email" in changed and not lead.canonical_email:
        lead.canonical_email = canonical
        changed.append("canonical_email")
    if changed:
        lead.save(update_fields=[*changed, "updated_at"])
    return lead, False


def _non_blank(fields: dict) -> dict:
    return {name: value for name, value in fields.items() if value not in (None, "")}


def activity_ingest(
    *, source: Source, key: str, lead_fields: dict, activity_fields: dict
) -> tuple[dict, bool]:
    """Record one inbound activity, rescore the lead and hand it off if it now qualifies.

    Idempotent per (source, key): the first request's answer is stored in the same transaction
    as its effects, and a retry gets that answer back with nothing new written. Two copies
    racing each other are serialised by the unique key. Returns (response, replayed).
    """
    stored = InboundRequest.objects.filter(source=source, key=key).first()
    if stored is not None:
        logger.warning("inbound request replayed source_id=%s", source.pk)
        return stored.response, True

    now = timezone.now()
    try:
        with transaction.atomic():
            # Claim the key first: a concurrent copy blocks here until this one commits.
            claim = InboundRequest.objects.create(source=source, key=key, response={})
            lead, created = lead_match_or_create(source=source, fields=lead_fields)
            activity = Activity.objects.create(
                lead=lead,
                kind=activity_fields["kind"],
                detail=activity_fields.get("detail") or "",
                quantity=activity_fields.get("quantity") or 1,
                occurred_at=activity_fields.get("occurred_at") or now,
            )
            handoff = lead_rescore_and_qualify(lead_id=lead.pk, now=now)
            lead.refresh_from_db()
            if handoff is None:
                handoff = lead.handoffs.filter(state__in=("assigned", "accepted")).first()
            response = {
                "lead_id": lead.pk,
                "created": created,
                "activity_id": activity.pk,
                "score": lead.score,
                "fit_score": lead.fit_score,
                "engagement_score": lead.engagement_score,
                "stage": lead.stage,
                "handoff": (
                    {
                        "id": handoff.pk,
                        "owner": handoff.rep.user.get_username(),
                        "due_at": handoff.due_at.isoformat(),
                    }
                    if handoff
                    else None
                ),
            }
            claim.lead = lead
            claim.response = response
            claim.save(update_fields=["lead", "response"])
    except IntegrityError:
        stored = InboundRequest.objects.filter(source=source, key=key).first()
        if stored is None:
            raise
        logger.warning("inbound request replayed after race source_id=%s", source.pk)
        return stored.response, True
    logger.info(
        "inbound activity recorded source_id=%s lead_id=%s activity_id=%s stage=%s",
        source.pk,
        lead.pk,
        activity.pk,
        lead.stage,
    )
    return response, False


def source_token_create(*, source: Source, label: str = "") -> str:
    """Create an API token for a source and return it; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    SourceToken.objects.create(source=source, token_hash=token_hash(token), label=label)
    logger.info("source token created source_id=%s", source.pk)
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
