from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum
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
    def weekly_volume(self) -> float:
        return self.would_qualify * 7 / self.days

    @property
    def weekly_volume_now(self) -> float:
        return self.qualify_now * 7 / self.days

    @property
    def capacity_share(self) -> float | None:
        """Projected weekly MQLs as a share of what the reps can take; above 1 is overload."""
        return self.weekly_volume / self.weekly_capacity if self.weekly_capacity else None


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
    implies against the team's weekly capacity. Writes nothing."""
    from leads.services import scorer_current
    from reps.models import Rep

    now = now or timezone.now()
    proposed = Scorer(rules=rules, now=now)
    current = scorer_current(now=now)
    saved = ScoringSettings.current()
    ids = Lead.objects.filter(created_at__gte=now - timedelta(days=days)).values_list(
        "pk", flat=True
    )
    leads = would = qualify_now = 0
    for batch in lead_facts_in_batches(lead_ids=ids, batch_size=2000):
        for facts, activities in batch:
            leads += 1
            would += proposed.score(facts, activities).qualifies(
                threshold=threshold, fit_minimum=fit_minimum
            )
            qualify_now += current.score(facts, activities).qualifies(
                threshold=saved.mql_threshold, fit_minimum=saved.fit_minimum
            )
    capacity = Rep.objects.active().aggregate(total=Sum("weekly_capacity"))["total"] or 0
    return ScoringPreview(
        days=days,
        leads=leads,
        would_qualify=would,
        qualify_now=qualify_now,
        weekly_capacity=capacity,
    )
