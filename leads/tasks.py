import logging
import time

from celery import shared_task

from leads.services import leads_rescore_open

logger = logging.getLogger(__name__)


@shared_task(name="leads.rescore_open_leads")
def rescore_open_leads() -> dict[str, int]:
    started = time.monotonic()
    logger.info("nightly rescore started")
    rescored, handed_off = leads_rescore_open()
    logger.info(
        "nightly rescore done rescored=%s handed_off=%s elapsed_ms=%d",
        rescored,
        handed_off,
        (time.monotonic() - started) * 1000,
    )
    return {"rescored": rescored, "handed_off": handed_off}
