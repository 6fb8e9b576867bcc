from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from leads.models import Activity, Lead, ScoringRule, ScoringSettings, Source, SourceToken
from leads.scoring import (
    ACTIVITY_FACT_COLUMNS,
    LEAD_FACT_COLUMNS,
    ActivityFacts,
    LeadFacts,
    Scorer,
)

PREVIEW_DAYS = 90
PREVIEW_BATCH_SIZE = 2000


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
    for batch in lead_facts_in_batches(lead_ids=ids, batch_size=PREVIEW_BATCH_SIZE):
        for facts, activities in batch:
            leads += 1
            would += proposed.score(facts, activities).qualifies(
                threshold=threshold, fit_minimum=fit_minimum
            )
            qualify_now += current.score(facts, activities).qualifies(
                threshold=saved.mql_threshold, fit_minimum=saved.fit_minimum
            )
    return ScoringPreview(
        days=days,
        leads=leads,
        would_qualify=would,
        qualify_now=qualify_now,
        weekly_capacity=rep_weekly_capacity_total(),
    )
