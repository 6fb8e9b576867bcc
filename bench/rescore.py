"""Bulk rescoring: 100,000 leads with 10 activities each, rescored in one pass.

Target: at least 10,000 leads per second on PostgreSQL.
    DATABASE_URL=postgres://... python -m bench.rescore [--leads N]
"""

import argparse
import json
import multiprocessing
import os
import random
import time
from datetime import UTC, datetime, timedelta

from bench.common import copy_rows, peak_memory_mb, report, setup_django, timed

KINDS = ["page_visit", "page_visit", "page_visit", "email_open", "email_click",
         "content_download", "form_fill", "webinar_attended", "chat", "demo_request"]  # fmt: skip
TITLES = ["VP Sales", "Head of Marketing", "Student", "Engineer", "CTO", "Analyst", ""]


def _rescore_share(lead_ids: list[int], now: datetime) -> None:
    from django.db import connection

    # A forked process must not share the parent's database connection.
    connection.close()
    from leads.services import leads_rescore

    leads_rescore(lead_ids=lead_ids, now=now)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=10)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="Also measure the pass split over this many processes, as the nightly task "
        "spreads its chunks over the workers.",
    )
    args = parser.parse_args()

    setup_django()
    import leads.services as services
    from leads.models import Lead, Source

    rng = random.Random(7)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    source = Source.objects.create(name="Website", slug="website")
    print(f"rescore bench: {args.leads} leads x {args.activities} activities", flush=True)

    def lead_row(n: int) -> dict:
        # Every NOT NULL column, since COPY bypasses Django's defaults.
        email = f"lead{n}@company{n % 5000}.example"
        blank = dict.fromkeys(
            ("first_name", "last_name", "phone", "city", "campaign", "disqualified_by", "pain",
             "context", "budget_note", "authority_note", "need_note", "timeline_note"),
            "",
        )  # fmt: skip
        statuses = dict.fromkeys(
            ("budget_status", "authority_status", "need_status", "timeline_status"), "unknown"
        )
        return {
            **blank,
            **statuses,
            "external_id": f"B{n}",
            "email": email,
            "canonical_email": email,
            "company": f"Company {n % 5000}",
            "job_title": rng.choice(TITLES),
            "industry": "Software",
            "company_size": rng.randint(5, 20000),
            "country": "US",
            "attributes": json.dumps({}),
            "source_id": source.pk,
            "do_not_email": n % 17 == 0,
            "do_not_call": False,
            "stage": "lead",
            "mql_count": 0,
            "score": 0,
            "fit_score": 0,
            "engagement_score": 0,
            "score_breakdown": "[]",
            "ready_for_demo": False,
            "created_at": now,
            "updated_at": now,
        }

    columns = list(lead_row(0))
    with timed("load leads"):
        copy_rows(
            "leads_lead",
            columns,
            (tuple(lead_row(n)[column] for column in columns) for n in range(args.leads)),
        )
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    with timed("load activities"):
        copy_rows(
            "leads_activity",
            ["lead_id", "kind", "detail", "quantity", "occurred_at", "created_at"],
            (
                (
                    lead_id,
                    rng.choice(KINDS),
                    rng.choice(["/pricing", "/blog", "/docs", ""]),
                    rng.randint(1, 3),
                    now - timedelta(days=rng.randint(0, 90)),
                    now,
                )  # fmt: skip
                for lead_id in ids
                for _ in range(args.activities)
            ),
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # The machine is shared: the load when the pass starts, and the CPU this process spent (its
    # threads included; the database server's share is not counted), say how far to trust it.
    load = os.getloadavg()[0]
    started_cpu = time.process_time()
    with timed("rescore, one process") as result:
        services.leads_rescore(lead_ids=ids, now=now)
    cpu_seconds = time.process_time() - started_cpu
    rate = len(ids) / result["seconds"]
    scored = Lead.objects.filter(scored_at=now).count()
    assert scored == len(ids), f"{scored} of {len(ids)} leads were scored"

    later = now + timedelta(days=1)
    connection.close()
    context = multiprocessing.get_context("fork")
    shares = [ids[index :: args.processes] for index in range(args.processes)]
    workers = [context.Process(target=_rescore_share, args=(share, later)) for share in shares]
    with timed(f"rescore, {args.processes} processes") as parallel:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert all(worker.exitcode == 0 for worker in workers)
    rescored_again = Lead.objects.filter(scored_at=later).count()
    assert rescored_again == len(ids), f"{rescored_again} of {len(ids)} leads were rescored"
    parallel_rate = len(ids) / parallel["seconds"]
    report(
        "rescore",
        leads=len(ids),
        activities=len(ids) * args.activities,
        seconds=round(result["seconds"], 2),
        leads_per_second=round(rate),
        cpu_seconds=round(cpu_seconds, 2),
        leads_per_cpu_second=round(len(ids) / cpu_seconds),
        load_average=round(load, 2),
        target_leads_per_second=10_000,
        met=rate >= 10_000,
        processes=args.processes,
        leads_per_second_parallel=round(parallel_rate),
        met_parallel=parallel_rate >= 10_000,
        peak_memory_mb=round(peak_memory_mb()),
    )


if __name__ == "__main__":
    main()
