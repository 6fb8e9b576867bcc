"""The window of dates and times Handoff accepts from people and files.

Python's datetime stops at years 1 and 9999, so an instant near either end overflows as soon
as it is moved to another timezone or has a week added, and the page fails instead of saying
what is wrong. Nothing Handoff tracks happened before 2000 or is planned after 2100, so an
instant outside that window is a typo.
"""

from datetime import UTC, datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

OUT_OF_WINDOW = f"'{{value}}' is not between {EARLIEST.date()} and {LATEST.date()}"


def out_of_window(at: datetime) -> bool:
    """Whether a datetime falls outside the window Handoff accepts. A naive one is judged by
    its year alone, so that it can be checked before a timezone is added to it."""
    # The year first: converting an instant near year 1 or 9999 to UTC is itself what
    # overflows.
    if not EARLIEST.year <= at.year < LATEST.year:
        return True
    return at.tzinfo is not None and not EARLIEST <= at < LATEST
