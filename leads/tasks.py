import logging
import time
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from leads.services import lead_ids_open, leads_rescore_and_qualify

logger = logging.getLogger(__name__)

# Leads per rescoring task: the nightly pass spreads over every worker in chunks this size.
RESCORE_CHUNK_SIZE = 5000


@shared_task(name="leads.rescore_open_leads")
def rescore_open_leads() -> int:
    """Queue the nightly rescoring of every open lead, in chunks; returns how many chunks."""
    ids = lead_ids_open()
    # Every chunk scores against the same instant, so that decay is the same for all.
    now = timezone.now().isoformat()
    chunks = [
        ids[offset : offset + RESCORE_CHUNK_SIZE]
        for offset in range(0, len(ids), RESCORE_CHUNK_SIZE)
    ]
    for chunk in chunks:
        rescore_leads.apply_async(args=[chunk, now], expires=3600)
    logger.info("nightly rescore queued leads=%s chunks=%s", len(ids), len(chunks))
    return len(chunks)


@shared_task(name="leads.rescore_leads")
def rescore_leads(lead_ids: list[int], now_iso: str) -> dict[str, int]:
    started = time.monotonic()
    rescored, handed_off = leads_rescore_and_qualify(
        lead_ids=lead_ids, now=datetime.fromisoformat(now_iso)
    )
    logger.info(
        "rescore chunk done rescored=%s handed_off=%s elapsed_ms=%d",
        rescored,
        handed_off,
        (time.monotonic() - started) * 1000,
    )
    return {"rescored": rescored, "handed_off": handed_off}


# Imports run in a worker so that the upload page returns at once. Both tasks take only the
# job's id and are idempotent (see leads.importing.jobs); a lost worker's import rolls back.
# Their limit is long enough for a file of a million rows; the default is for small tasks.
IMPORT_TASK_TIME_LIMIT_SECONDS = 3 * 3600


@shared_task(name="leads.check_import_job", time_limit=IMPORT_TASK_TIME_LIMIT_SECONDS)
def check_import_job(job_id: int) -> str:
    from leads.importing.jobs import import_job_check

    job = import_job_check(job_id=job_id)
    return job.status if job else "skipped"


@shared_task(
    name="leads.run_import_job",
    time_limit=IMPORT_TASK_TIME_LIMIT_SECONDS,
    soft_time_limit=IMPORT_TASK_TIME_LIMIT_SECONDS - 60,
)
def run_import_job(job_id: int) -> str:
    from leads.importing.jobs import import_job_run

    job = import_job_run(job_id=job_id)
    return job.status if job else "skipped"
