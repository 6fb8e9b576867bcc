"""Assignment throughput: MQLs handed to reps by 8 parallel worker processes on PostgreSQL.

Each worker is its own process with its own database connection and qualifies its share of
the leads through the real services (MQL transition, routing, deadline on the rep's calendar,
handoff, event and notification rows, the delivery tasks queued after commit). Two paths are
measured, each from the same starting state (no handoffs, no routing credit):
- one by one: `lead_qualify_if_ready` for each lead, as the API does (fewer leads, it is slow);
- batched: `leads_qualify_in_batches`, QUALIFY_BATCH_SIZE leads per transaction, as the
  import, the nightly rescore and the waiting-queue retry do.
Throughput is assignments over the wall-clock time from the common start to the last worker's
end. After each path SQL counts the handoffs per lead, so a duplicate cannot hide, and the
split must follow the weights. Target: at least 300 assignments per second for the batched
path, with zero duplicates.
    DATABASE_URL=postgres://... python -m bench.assign [--leads N] [--single-leads N]

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


def _worker(mode: str, lead_ids: list[int], start_barrier, results, now: datetime) -> None:  # noqa: ANN001
    from django.db import connection

    # A forked process must not share the parent's database connection.
    connection.close()
    from handoff.services import leads_qualify_in_batches
    from leads.services import lead_qualify_if_ready

    queries = 0

    def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    # Open the connection before the start, as a pooled worker would have it open.
    connection.ensure_connection()
    start_barrier.wait()
    with connection.execute_wrapper(count):
        if mode == "batched":
            placed = leads_qualify_in_batches(lead_ids=lead_ids, now=now)
        else:
            placed = sum(
                lead_qualify_if_ready(lead_id=lead_id, now=now) is not None for lead_id in lead_ids
            )
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


def _children_cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _measure(mode: str, ids: list[int], *, workers: int, reps: int, now: datetime) -> dict:
    """Run one path over `ids` in `workers` processes, check the result, and return the
    figures for the RESULT line."""
    from django.db import connection

    connection.close()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers + 1)
    shares = [ids[index::workers] for index in range(workers)]
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(mode, share, barrier, results, now))
        for share in shares
    ]
    cpu_before = _children_cpu_seconds()
    for process in processes:
        process.start()
    barrier.wait()
    busy_before, total_before = _machine_busy()
    with timed(mode) as result:
        outcomes = [results.get(timeout=1800) for _ in processes]
    busy_after, total_after = _machine_busy()
    for process in processes:
        process.join()
    worker_cpu = _children_cpu_seconds() - cpu_before
    placed = sum(placed for placed, _ in outcomes)
    queries = sum(queries for _, queries in outcomes)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT lead_id) FROM handoff_handoff")
        handoffs, leads_handed = cursor.fetchone()
        cursor.execute(
            "SELECT r.weekly_capacity, count(*) FROM handoff_handoff h"
            " JOIN reps_rep r ON r.id = h.rep_id GROUP BY r.weekly_capacity"
        )
        per_weight = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM handoff_handoffevent WHERE kind = 'assigned'")
        (events,) = cursor.fetchone()
    duplicates = handoffs - leads_handed
    count = len(ids)
    assert placed == handoffs == events == count, (mode, placed, handoffs, events)
    assert duplicates == 0
    # The weights are 400 and 200, with as many reps of each: two to one, to within about a
    # lead per rep, which a smooth round robin may have given ahead of the weights when it
    # stops.
    heavy, light = per_weight.get(400, 0), per_weight.get(200, 0)
    assert abs(heavy - 2 * light) <= reps, (mode, heavy, light)
    rate = count / result["seconds"]
    return {
        f"{mode}_leads": count,
        f"{mode}_seconds": round(result["seconds"], 2),
        f"{mode}_assignments_per_second": round(rate),
        f"{mode}_duplicates": duplicates,
        f"{mode}_heavy_vs_light_reps": f"{heavy}:{light}",
        f"{mode}_queries_per_assignment": round(queries / count, 1),
        f"{mode}_worker_cpu_ms_per_assignment": round(worker_cpu * 1000 / count, 2),
        # Everything that ran meanwhile (PostgreSQL, and anyone else on the machine) over the
        # cores' capacity: near 100% means the machine, not locking, set the pace.
        f"{mode}_machine_busy_percent": round(
            100 * (busy_after - busy_before) / (total_after - total_before)
        ),
        f"{mode}_machine_cpu_ms_per_assignment": round(
            (busy_after - busy_before) / os.sysconf("SC_CLK_TCK") * 1000 / count, 2
        ),
        "rate": rate,
    }


def _start_afresh() -> None:
    """Forget the handoffs and routing credit of the previous path, so that each path starts
    from the same state. The leads it qualified stay MQL and play no further part."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE handoff_handoff, handoff_handoffevent, handoff_notification,"
            " handoff_delivery CASCADE"
        )
        cursor.execute("UPDATE reps_rep SET routing_credit = 0, last_assigned_at = NULL")
        cursor.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=4000, help="for the batched path")
    parser.add_argument("--single-leads", type=int, default=1000, help="for the one-by-one path")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from handoff.services import QUALIFY_BATCH_SIZE
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
        for n in range(args.single_leads + args.leads)
    )
    ids = [lead.pk for lead in leads]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    print(
        f"assign bench: {args.single_leads} MQLs one by one, then {args.leads} in batches of"
        f" {QUALIFY_BATCH_SIZE}; {args.reps} reps, {args.workers} workers",
        flush=True,
    )
    single = _measure(
        "single", ids[: args.single_leads], workers=args.workers, reps=args.reps, now=now
    )
    _start_afresh()
    batched = _measure(
        "batched", ids[args.single_leads :], workers=args.workers, reps=args.reps, now=now
    )
    broker.cleanup()
    rate = batched.pop("rate")
    single.pop("rate")
    report(
        "assign",
        workers=args.workers,
        batch_size=QUALIFY_BATCH_SIZE,
        target=300,
        met=rate >= 300,
        **batched,
        **single,
        cores=os.cpu_count() or 1,
    )


if __name__ == "__main__":
    main()
