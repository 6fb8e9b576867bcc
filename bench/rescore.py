"""Bulk rescoring: 100,000 leads with 10 activities each, rescored in one pass.

Target: at least 10,000 leads per second on PostgreSQL.
    DATABASE_URL=postgres://... python -m bench.rescore [--leads N]
"""

import argparse
import json
import random
from datetime import UTC, datetime, timedelta

from bench.common import copy_rows, peak_memory_mb, report, setup_django, timed

KINDS = ["page_visit", "page_visit", "page_visit", "email_open", "email_click",
         "content_download", "form_fill", "webinar_attended", "chat", "demo_request"]  # fmt: skip
TITLES = ["VP Sales", "Head of Marketing", "Student", "Engineer", "CTO", "Analyst", ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=10)
    args = parser.parse_args()

    setup_django()
    import leads.services as services
    from leads.models import Lead, Source

    rng = random.Random(7)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    source = Source.objects.create(name="Website", slug="website")
    print(f"rescore bench: {args.leads} leads x {args.activities} activities", flush=True)
    with timed("load leads"):
        copy_rows(
            "leads_lead",
            [
                "external_id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "company",
                "job_title",
                "industry",
                "company_size",
                "country",
                "city",
                "attributes",
                "source_id",
                "campaign",
                "do_not_email",
                "do_not_call",
                "stage",
                "mql_count",
                "score",
                "fit_score",
                "engagement_score",
                "score_breakdown",
                "disqualified_by",
                "pain",
                "context",
                "budget_status",
                "budget_note",
                "authority_status",
                "authority_note",
                "need_status",
                "need_note",
                "timeline_status",
                "timeline_note",
                "ready_for_demo",
                "created_at",
                "updated_at",
            ],  # fmt: skip
            (
                (
                    f"B{n}",
                    "",
                    "",
                    f"lead{n}@company{n % 5000}.example",
                    "",
                    f"Company {n % 5000}",
                    rng.choice(TITLES),
                    "Software",
                    rng.randint(5, 20000),
                    "US",
                    "",
                    json.dumps({}),
                    source.pk,
                    "",
                    n % 17 == 0,
                    False,
                    "lead",
                    0,
                    0,
                    0,
                    0,
                    "[]",
                    "",
                    "",
                    "",
                    "unknown",
                    "",
                    "unknown",
                    "",
                    "unknown",
                    "",
                    "unknown",
                    "",
                    False,
                    now,
                    now,
                )  # fmt: skip
                for n in range(args.leads)
            ),
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
    with timed("rescore") as result:
        services.leads_rescore(lead_ids=ids, now=now)
    rate = len(ids) / result["seconds"]
    scored = Lead.objects.filter(scored_at=now).count()
    assert scored == len(ids), f"{scored} of {len(ids)} leads were scored"
    report(
        "rescore",
        leads=len(ids),
        activities=len(ids) * args.activities,
        seconds=round(result["seconds"], 2),
        leads_per_second=round(rate),
        target_leads_per_second=10_000,
        met=rate >= 10_000,
        peak_memory_mb=round(peak_memory_mb()),
    )


if __name__ == "__main__":
    main()
