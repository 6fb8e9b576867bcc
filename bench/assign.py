"""Assignment throughput: MQLs handed to reps by 8 parallel workers on PostgreSQL.

Each worker qualifies its share of the leads through the real service (MQL transition,
routing with row locks, deadline on the rep's calendar, handoff, event and notification rows).
At the end every lead must have exactly one handoff and the split must follow the weights.
Target: at least 300 assignments per second, with zero duplicates.
    DATABASE_URL=postgres://... python -m bench.assign [--leads N] [--workers N]
"""

import argparse
import multiprocessing
from collections import Counter
from datetime import UTC, datetime
from datetime import time as clock_time

from bench.common import report, setup_django, timed


def _worker(lead_ids: list[int], start_barrier, results, now: datetime) -> None:  # noqa: ANN001
    from django.db import connection

    # A forked process must not share the parent's database connection.
    connection.close()
    from leads.services import lead_qualify_if_ready

    start_barrier.wait()
    placed = 0
    for lead_id in lead_ids:
        placed += lead_qualify_if_ready(lead_id=lead_id, now=now) is not None
    results.put(placed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from handoff.models import Handoff, HandoffEvent
    from leads.models import Lead
    from reps.models import Rep, Team, WorkingPeriod

    now = datetime(2026, 12, 1, 10, tzinfo=UTC)
    team = Team.objects.create(name="Bench")
    for index in range(args.reps):
        user = get_user_model().objects.create(username=f"rep{index}", email=f"rep{index}@x.io")
        # Two weights, so that the check covers the weighted split.
        rep = Rep.objects.create(user=user, team=team, weekly_capacity=200 if index % 2 else 400)
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(rep=rep, weekday=day, start=clock_time(9), end=clock_time(17))
            for day in range(5)
        )
    leads = Lead.objects.bulk_create(
        Lead(email=f"lead{n}@corp{n}.example", score=80, fit_score=30, engagement_score=50)
        for n in range(args.leads)
    )
    ids = [lead.pk for lead in leads]
    connection.close()

    print(f"assign bench: {args.leads} MQLs, {args.reps} reps, {args.workers} workers", flush=True)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(args.workers + 1)
    shares = [ids[index :: args.workers] for index in range(args.workers)]
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(share, barrier, results, now)) for share in shares
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    with timed("assign") as result:
        placed = sum(results.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join()

    handoffs = Handoff.objects.count()
    duplicates = handoffs - Handoff.objects.values("lead_id").distinct().count()
    per_rep = Counter(Handoff.objects.values_list("rep__weekly_capacity", flat=True))
    events = HandoffEvent.objects.filter(kind="assigned").count()
    assert placed == handoffs == events == args.leads, (placed, handoffs, events)
    assert duplicates == 0
    rate = args.leads / result["seconds"]
    report(
        "assign",
        leads=args.leads,
        workers=args.workers,
        seconds=round(result["seconds"], 2),
        assignments_per_second=round(rate),
        target=300,
        met=rate >= 300,
        duplicates=duplicates,
        heavy_vs_light_reps=f"{per_rep[400]}:{per_rep[200]}",
    )


if __name__ == "__main__":
    main()
