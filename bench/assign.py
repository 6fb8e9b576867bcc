"""Assignment throughput: MQLs handed to reps by 8 parallel workers on PostgreSQL.

Each worker is its own process with its own database connection and qualifies its share of
the leads through the real service (MQL transition, routing, deadline on the rep's calendar,
handoff, event and notification rows, the delivery task queued after commit). Throughput is
assignments over the wall-clock time from the common start to the last worker's end. At the
end SQL counts the handoffs per lead, so a duplicate cannot hide, and the split must follow
the weights. Target: at least 300 assignments per second, with zero duplicates.
    DATABASE_URL=postgres://... python -m bench.assign [--leads N] [--workers N]

Without REDIS_URL the delivery tasks go to a throwaway folder broker, so that queueing them
costs what it costs in production and leaves nothing behind for a running worker to pick up.
"""

import argparse
import multiprocessing
import os
import resource
import tempfile
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from bench.common import report, setup_django, timed


def _worker(lead_ids: list[int], start_barrier, results, now: datetime) -> None:  # noqa: ANN001
    from django.db import connection

    # A forked process must not share the parent's database connection.
    connection.close()
    from leads.services import lead_qualify_if_ready

    queries = 0

    def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    # Open the connection before the start, as a pooled worker would have it open.
    connection.ensure_connection()
    start_barrier.wait()
    placed = 0
    with connection.execute_wrapper(count):
        for lead_id in lead_ids:
            placed += lead_qualify_if_ready(lead_id=lead_id, now=now) is not None
    results.put((placed, queries))


def _machine_busy() -> tuple[float, float]:
    """Busy and total CPU jiffies of the whole machine, every process included."""
    fields = [float(value) for value in Path("/proc/stat").read_text().split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _throwaway_broker(folder: str) -> None:
    from django.conf import settings

    from handoff.celery import app

    if settings.REDIS_URL:
        return
    for name in ("out", "processed", "control"):
        os.makedirs(os.path.join(folder, name))
    app.conf.broker_transport_options = {
        "data_folder_in": os.path.join(folder, "out"),
        "data_folder_out": os.path.join(folder, "out"),
        "processed_folder": os.path.join(folder, "processed"),
        # Without it kombu writes its control files into the working directory.
        "control_folder": os.path.join(folder, "control"),
        "store_processed": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from leads.models import Lead
    from reps.models import Rep, Team, WorkingPeriod

    broker = tempfile.TemporaryDirectory(prefix="assign-bench-broker-")
    _throwaway_broker(broker.name)
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
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
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
    busy_before, total_before = _machine_busy()
    with timed("assign") as result:
        outcomes = [results.get(timeout=1800) for _ in workers]
    busy_after, total_after = _machine_busy()
    for worker in workers:
        worker.join()
    broker.cleanup()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    placed = sum(placed for placed, _ in outcomes)
    queries = sum(queries for _, queries in outcomes)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT lead_id) FROM handoff_handoff",
        )
        handoffs, leads_handed = cursor.fetchone()
        cursor.execute(
            "SELECT r.weekly_capacity, count(*) FROM handoff_handoff h"
            " JOIN reps_rep r ON r.id = h.rep_id GROUP BY r.weekly_capacity"
        )
        per_weight = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM handoff_handoffevent WHERE kind = 'assigned'")
        (events,) = cursor.fetchone()
    duplicates = handoffs - leads_handed
    assert placed == handoffs == events == args.leads, (placed, handoffs, events)
    assert duplicates == 0
    rate = args.leads / result["seconds"]
    cores = os.cpu_count() or 1
    report(
        "assign",
        leads=args.leads,
        workers=args.workers,
        seconds=round(result["seconds"], 2),
        assignments_per_second=round(rate),
        target=300,
        met=rate >= 300,
        duplicates=duplicates,
        heavy_vs_light_reps=f"{per_weight.get(400, 0)}:{per_weight.get(200, 0)}",
        queries_per_assignment=round(queries / args.leads, 1),
        worker_cpu_ms_per_assignment=round(
            (children.ru_utime + children.ru_stime) * 1000 / args.leads, 2
        ),
        # Everything that ran meanwhile (PostgreSQL, and anyone else on the machine) over the
        # cores' capacity: near 100% means the machine, not locking, set the pace.
        machine_busy_percent=round(100 * (busy_after - busy_before) / (total_after - total_before)),
        machine_cpu_ms_per_assignment=round(
            (busy_after - busy_before) / os.sysconf("SC_CLK_TCK") * 1000 / args.leads, 2
        ),
        cores=cores,
    )


if __name__ == "__main__":
    main()
