import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from django.db import connection
from django.utils import timezone

from leads.criteria import OUTCOME_ATTRIBUTES
from leads.models import Activity, Lead, ScoringRule, ScoringSettings, Source, SourceToken
from leads.scoring import (
    ACTIVITY_FACT_COLUMNS,
    LEAD_FACT_COLUMNS,
    MICROSECONDS_PER_SECOND,
    ActivityFacts,
    ActivityRow,
    LeadFacts,
    Scorer,
    activity_row,
    age_in_days,
)

PREVIEW_DAYS = 90
PREVIEW_BATCH_SIZE = 2000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lead_details_for_packet(*, lead: Lead) -> list[tuple[str, object]]:
    """The lead's imported attributes as the packet lists them: readable labels, and no
    outcome label (a rep deciding on a lead must not see how the data set says it ended)."""
    # Sorted by label: PostgreSQL's jsonb keeps keys in its own order, not the file's.
    return sorted(
        (key.replace("_", " ").capitalize(), value)
        for key, value in lead.attributes.items()
        if key not in OUTCOME_ATTRIBUTES
    )


def source_for_token(*, token: str) -> Source | None:
    """The active source a bearer token belongs to, or None. Marks the token as used."""
    from leads.services import token_hash

    if not token:
        return None
    match = (
        SourceToken.objects.select_related("source")
        .filter(token_hash=token_hash(token), active=True, source__active=True)
        .first()
    )
    if match is None:
        return None
    SourceToken.objects.filter(pk=match.pk).update(last_used_at=timezone.now())
    return match.source


def lead_facts_in_batches(
    *, lead_ids: Iterable[int], batch_size: int
) -> Iterator[list[tuple[LeadFacts, list[ActivityFacts]]]]:
    """What scoring needs of each lead, as plain rows: two queries per batch, whatever the
    number of activities."""
    ids = list(lead_ids)
    for offset in range(0, len(ids), batch_size):
        batch = ids[offset : offset + batch_size]
        activities: dict[int, list[ActivityFacts]] = defaultdict(list)
        rows = Activity.objects.filter(lead_id__in=batch).values_list(*ACTIVITY_FACT_COLUMNS)
        for lead_id, *fields in rows:
            activities[lead_id].append(ActivityFacts(*fields))
        yield [
            (facts, activities.get(facts.pk, []))
            for facts in (
                LeadFacts(*row[:-1], source_slug=row[-1] or "")
                for row in Lead.objects.filter(pk__in=batch).values_list(*LEAD_FACT_COLUMNS)
            )
        ]


# One query per batch: each lead's scoring fields with its activities aggregated as JSON, newest
# first (the order Activity.Meta gives), each as [id, kind, detail, quantity, microseconds since
# the epoch, occurred_at as datetime.isoformat() writes it in UTC]. Decoding one JSON text per
# lead costs far less than a row and a datetime per activity.
LEAD_SCORE_ROWS_SQL = """
SELECT lead.id, lead.email, lead.job_title, lead.industry, lead.company_size, lead.country,
       lead.city, lead.company, lead.campaign, lead.do_not_email, lead.do_not_call,
       lead.attributes::text, source.slug,
       (SELECT json_agg(json_build_array(
                   activity.id, activity.kind, activity.detail, activity.quantity,
                   (extract(epoch FROM activity.occurred_at) * 1000000)::bigint,
                   to_char(activity.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                   || CASE WHEN mod(extract(microseconds FROM activity.occurred_at)::bigint,
                                    1000000) = 0
                           THEN ''
                           ELSE to_char(activity.occurred_at AT TIME ZONE 'UTC', '.US') END
                   || '+00:00')
               ORDER BY activity.occurred_at DESC, activity.id DESC)::text
          FROM leads_activity AS activity
         WHERE activity.lead_id = lead.id)
  FROM leads_lead AS lead
  LEFT JOIN leads_source AS source ON source.id = lead.source_id
 WHERE lead.id = ANY(%s)
"""


def lead_score_rows_in_batches(
    *, lead_ids: Iterable[int], batch_size: int, now: datetime
) -> Iterator[list[tuple[LeadFacts, list[ActivityRow]]]]:
    """What scoring needs of each lead, with its activities as rows aged at `now`.

    On PostgreSQL one query per batch (LEAD_SCORE_ROWS_SQL); elsewhere the two queries of
    lead_facts_in_batches. Both give the same rows, so that scores never depend on the database.
    """
    if connection.vendor != "postgresql":
        for batch in lead_facts_in_batches(lead_ids=lead_ids, batch_size=batch_size):
            yield [
                (facts, [activity_row(activity, now) for activity in activities])
                for facts, activities in batch
            ]
        return

    # Ages come from whole microseconds, as timedelta.total_seconds() computes them.
    now_us = (now - EPOCH) // timedelta(microseconds=1)
    ids = list(lead_ids)
    with connection.cursor() as cursor:
        for offset in range(0, len(ids), batch_size):
            cursor.execute(LEAD_SCORE_ROWS_SQL, [ids[offset : offset + batch_size]])
            batch = []
            for *fields, attributes, slug, activities in cursor.fetchall():
                facts = LeadFacts(*fields, _json(attributes), slug or "")
                rows = (
                    [
                        (
                            pk,
                            kind,
                            detail,
                            quantity,
                            age_in_days((now_us - at) / MICROSECONDS_PER_SECOND),
                            iso,
                        )
                        for pk, kind, detail, quantity, at, iso in orjson.loads(activities)
                    ]
                    if activities
                    else []
                )
                batch.append((facts, rows))
            yield batch


def _json(text: str) -> object:
    if text == "{}":
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # Integers beyond 64 bits, which orjson refuses and jsonb may hold.
        return json.loads(text)


@dataclass(frozen=True)
class ScoringPreview:
    days: int
    leads: int
    would_qualify: int
    qualify_now: int
    weekly_capacity: int

    @property
    def difference(self) -> int:
        return self.would_qualify - self.qualify_now

    @property
    def weekly_volume(self) -> float:
        return self.would_qualify * 7 / self.days

    @property
    def weekly_volume_now(self) -> float:
        return self.qualify_now * 7 / self.days

    @property
    def weekly_difference(self) -> float:
        return self.weekly_volume - self.weekly_volume_now

    @property
    def capacity_share(self) -> float | None:
        """Projected weekly MQLs as a share of what the reps can take; above 1 is overload."""
        return self.weekly_volume / self.weekly_capacity if self.weekly_capacity else None

    @property
    def capacity_share_now(self) -> float | None:
        return self.weekly_volume_now / self.weekly_capacity if self.weekly_capacity else None

    @property
    def capacity_percent(self) -> int | None:
        share = self.capacity_share
        return None if share is None else round(100 * share)

    @property
    def capacity_percent_now(self) -> int | None:
        share = self.capacity_share_now
        return None if share is None else round(100 * share)

    @property
    def over_capacity(self) -> bool:
        return self.weekly_volume > self.weekly_capacity


def scoring_preview(
    *,
    rules: Iterable[ScoringRule],
    threshold: int,
    fit_minimum: int,
    now: datetime | None = None,
    days: int = PREVIEW_DAYS,
) -> ScoringPreview:
    """How many leads of the last `days` would have been MQL under `rules` and the given
    thresholds, against how many qualify under the saved ones, and the weekly volume that
    implies against the team's weekly capacity. Writes nothing.

    Every lead is scored as of `now` under both sets of rules, so that the two counts differ
    only by the change. A fixed number of queries per batch of leads, whatever their number.
    """
    from leads.services import customer_domains
    from reps.selectors import rep_weekly_capacity_total

    now = now or timezone.now()
    domains = customer_domains()
    proposed = Scorer(rules=rules, now=now, customer_domains=domains)
    current = Scorer(
        rules=ScoringRule.objects.filter(active=True), now=now, customer_domains=domains
    )
    saved = ScoringSettings.current()
    ids = Lead.objects.filter(created_at__gte=now - timedelta(days=days)).values_list(
        "pk", flat=True
    )
    leads = would = qualify_now = 0
    batches = lead_score_rows_in_batches(lead_ids=ids, batch_size=PREVIEW_BATCH_SIZE, now=now)
    for batch in batches:
        for facts, activities in batch:
            leads += 1
            would += proposed.score_rows(facts, activities).qualifies(
                threshold=threshold, fit_minimum=fit_minimum
            )
            qualify_now += current.score_rows(facts, activities).qualifies(
                threshold=saved.mql_threshold, fit_minimum=saved.fit_minimum
            )
    return ScoringPreview(
        days=days,
        leads=leads,
        would_qualify=would,
        qualify_now=qualify_now,
        weekly_capacity=rep_weekly_capacity_total(),
    )
