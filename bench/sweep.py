"""The SLA sweep at scale: 1,000,000 open handoffs, of which 1% are due for a check.

What beat runs every minute is the task `handoff.sweep_overdue_handoffs`: it pages through
the due handoffs by the partial index on next_check_at, claims each batch, and queues the
batch for the workers. The bench runs that task's body in this process, against a broker in
memory, and times it and counts its queries twice: with a table of 100,000 open handoffs and
again with 1,000,000, the same 10,000 due both times, so that a count that grew with the
table would show. A second sweep straight after each must hand out nothing: the first one
claimed every due handoff.

The workers' side is measured apart, on a sample of the due handoffs: each one missed its
first response an hour ago, so a check warns the rep, reminds them and alerts the manager,
writing the escalations, the notifications and their deliveries.
Target: the sweep at 1,000,000 open handoffs in at most 5 s.
    DATABASE_URL=postgres://... python -m bench.sweep [--open N] [--due N] [--checks N]
"""

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from bench.common import (
    copy_rows,
    lead_columns,
    lead_defaults,
    report,
    setup_django,
    timed,
    wait_for_a_quiet_machine,
)

TARGET_SECONDS = 5
REPS = 100
FIRST_RESPONSE_HOURS = 4
# A first table this share of the full one, holding the same due handoffs.
SMALL_SHARE = 10


def _team() -> list[int]:
    """Reps at work around the clock, so that every due step can be taken whenever the bench
    runs; their manager receives the alerts."""
    from django.contrib.auth import get_user_model

    from reps.models import Rep, Team, WorkingPeriod

    users = get_user_model().objects
    team = Team.objects.create(
        name="Sweep", manager=users.create(username="manager", email="manager@x.example")
    )
    reps = [
        Rep.objects.create(
            user=users.create(username=f"rep{number}", email=f"rep{number}@x.example"), team=team
        )
        for number in range(REPS)
    ]
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(rep=rep, weekday=day, start=clock(0), end=clock(23, 59))
        for rep in reps
        for day in range(7)
    )
    return [rep.pk for rep in reps]


def _load(
    *, first: int, count: int, due_every: int | None, rep_ids: list[int], now: datetime
) -> None:
    """Leads number `first` to `first + count`, each an MQL with an open handoff. One in
    `due_every` missed its deadline an hour ago and is due for a check now; the others are
    on time, their next check (the warning) two hours or more away."""
    from django.db import connection

    columns = lead_columns()
    defaults = lead_defaults(now)

    def lead_rows():  # noqa: ANN202
        for n in range(first, first + count):
            email = f"lead{n}@company{n % 20000}.example"
            row = {
                **defaults,
                "external_id": f"S{n}",
                "email": email,
                "canonical_email": email,
                "company": f"Company {n % 20000}",
                "stage": "mql",
                "mql_count": 1,
                "mql_at": now - timedelta(hours=5),
                "score": 70,
            }
            yield tuple(row[column] for column in columns)

    copy_rows("leads_lead", columns, lead_rows())
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM leads_lead")
        last_id = cursor.fetchone()[0]
    first_id = last_id - count + 1
    budget = timedelta(hours=FIRST_RESPONSE_HOURS)

    def handoff_rows():  # noqa: ANN202
        for offset in range(count):
            n = first + offset
            if due_every and n % due_every == 0:
                assigned = now - budget - timedelta(hours=1)
                next_check = now - timedelta(hours=1)
            else:
                assigned = now - timedelta(minutes=n % 60)
                next_check = assigned + budget * 3 / 4
            yield (
                first_id + offset, rep_ids[n % len(rep_ids)], "assigned", FIRST_RESPONSE_HOURS,
                assigned, assigned + budget, next_check,
            )  # fmt: skip

    columns = ["lead_id", "rep_id", "state", "first_response_hours", "assigned_at", "due_at",
               "next_check_at"]  # fmt: skip
    copy_rows("handoff_handoff", columns, handoff_rows())
    # Vacuum as well as analyze: autovacuum would otherwise start in the middle of the timing.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) leads_lead, handoff_handoff")


@contextmanager
def _counting_queries() -> Iterator[list[int]]:
    """Count the statements sent to the database, without keeping them: a list of one."""
    from django.db import connection

    count = [0]

    def counter(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        yield count


def _sweep() -> tuple[int, int, float]:
    """Handoffs handed out, queries and seconds of one sweep, as beat runs it."""
    from handoff.tasks import sweep_overdue_handoffs

    with _counting_queries() as queries:
        started = time.perf_counter()
        # Called, not queued: the task's body runs here and queues its batches.
        handed_out = sweep_overdue_handoffs()
        seconds = time.perf_counter() - started
    return handed_out, queries[0], seconds


def _make_due_again(now: datetime) -> int:
    """Undo the sweep's claims, so that the next sweep finds the same handoffs due."""
    from django.db import connection

    from handoff.models import Handoff

    count = Handoff.objects.filter(due_at__lt=now).update(next_check_at=now - timedelta(hours=1))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) handoff_handoff")
    return count


def _measure_sweeps(label: str) -> dict:
    load = wait_for_a_quiet_machine()
    handed_out, queries, seconds = _sweep()
    again, again_queries, _ = _sweep()
    print(
        f"  {label}: {handed_out} handed out in {seconds:.2f} s with {queries} queries; "
        f"straight after: {again} with {again_queries} queries",
        flush=True,
    )
    return {
        "handed_out": handed_out,
        "queries": queries,
        "seconds": seconds,
        "again": again,
        "load": load,
    }


def _measure_checks(*, sample: int, now: datetime) -> dict:
    """The workers' side: the checks of `sample` due handoffs, one after the other."""
    from handoff.models import Escalation, Handoff, Notification
    from handoff.services import handoff_sla_check

    ids = list(Handoff.objects.filter(due_at__lt=now).order_by("pk").values_list("pk", flat=True))
    ids = ids[:: max(1, len(ids) // sample)][:sample]
    with _counting_queries() as queries:
        started = time.perf_counter()
        steps = sum(len(handoff_sla_check(handoff_id=handoff_id)) for handoff_id in ids)
        seconds = time.perf_counter() - started
    again = sum(len(handoff_sla_check(handoff_id=handoff_id)) for handoff_id in ids)
    return {
        "handoffs": len(ids),
        "steps": steps,
        "escalation_rows": Escalation.objects.count(),
        "notifications": Notification.objects.count(),
        "seconds": seconds,
        "queries_per_check": round(queries[0] / max(1, len(ids)), 1),
        "steps_when_run_again": again,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=1_000_000, help="open handoffs in the end")
    parser.add_argument("--due", type=int, default=10_000, help="of which due for a check")
    parser.add_argument("--checks", type=int, default=500, help="due handoffs checked after")
    args = parser.parse_args()

    setup_django()
    from handoff.celery import app
    from handoff.models import Handoff

    # The sweep's batches go to a broker in memory: the bench measures the sweep, not a worker.
    app.conf.broker_url = "memory://"
    now = datetime.now(tz=UTC)
    small = args.open // SMALL_SHARE
    print(f"sweep bench: {args.open} open handoffs, {args.due} due, {REPS} reps", flush=True)
    rep_ids = _team()

    # The due handoffs are all in the first, small table; the rest of the table comes on
    # time, so that both sweeps find the same ones due.
    with timed(f"load {small} open handoffs, {args.due} due"):
        _load(first=0, count=small, due_every=small // args.due, rep_ids=rep_ids, now=now)
    small_run = _measure_sweeps(f"{small} open")

    with timed(f"load {args.open - small} more open handoffs"):
        _load(first=small, count=args.open - small, due_every=None, rep_ids=rep_ids, now=now)
    due_count = _make_due_again(now)
    full_run = _measure_sweeps(f"{args.open} open")

    _make_due_again(now)
    checks = _measure_checks(sample=args.checks, now=now)
    print(
        f"  checks: {checks['handoffs']} handoffs, {checks['steps']} steps in "
        f"{checks['seconds']:.2f} s, {checks['queries_per_check']} queries each; "
        f"run again: {checks['steps_when_run_again']} steps",
        flush=True,
    )
    report(
        "sweep",
        open_handoffs=Handoff.objects.open().count(),
        due=due_count,
        seconds=round(full_run["seconds"], 2),
        queries=full_run["queries"],
        handed_out=full_run["handed_out"],
        second_sweep_handed_out=full_run["again"],
        small_table_open=small,
        small_table_seconds=round(small_run["seconds"], 2),
        small_table_queries=small_run["queries"],
        queries_grow_with_table=full_run["queries"] != small_run["queries"],
        checks_per_second=round(checks["handoffs"] / checks["seconds"], 1),
        steps_per_check=round(checks["steps"] / max(1, checks["handoffs"]), 2),
        escalations=checks["escalation_rows"],
        notifications=checks["notifications"],
        queries_per_check=checks["queries_per_check"],
        load_average=round(full_run["load"], 1),
        target_seconds=TARGET_SECONDS,
        met=full_run["seconds"] <= TARGET_SECONDS
        and full_run["handed_out"] == due_count
        and full_run["again"] == 0,
    )


if __name__ == "__main__":
    main()
