import logging
import time

from celery import shared_task

from handoff.protocol import quarterly_review_remind

logger = logging.getLogger(__name__)


@shared_task(name="feedback.remind_quarterly_review")
def remind_quarterly_review() -> int:
    """Daily: remind RevOps while the quarter's protocol review is due (once per quarter)."""
    started = time.monotonic()
    sent = quarterly_review_remind()
    logger.info(
        "quarterly review reminder done sent=%s elapsed_ms=%d",
        sent,
        (time.monotonic() - started) * 1000,
    )
    return sent
