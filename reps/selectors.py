from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reps.models import Rep


def week_start(*, at: datetime, tz: str) -> datetime:
    """Monday 00:00 of the week containing `at`, in the given timezone."""
    local = at.astimezone(ZoneInfo(tz))
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, datetime.min.time(), tzinfo=ZoneInfo(tz))


def rep_assigned_this_week(*, reps: Sequence[Rep], now: datetime) -> dict[int, int]:
    """How many handoffs each rep was given since Monday 00:00 of their own week."""
    from handoff.models import Handoff

    if not reps:
        return {}
    starts = {rep.pk: week_start(at=now, tz=rep.timezone) for rep in reps}
    rows = Handoff.objects.filter(
        rep_id__in=starts.keys(), assigned_at__gte=min(starts.values())
    ).values_list("rep_id", "assigned_at")
    counts: Counter[int] = Counter()
    for rep_id, assigned_at in rows:
        if assigned_at >= starts[rep_id]:
            counts[rep_id] += 1
    return dict(counts)


def rep_local_now(*, rep: Rep, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(rep.timezone))
