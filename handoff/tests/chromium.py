"""Debian's Chromium under Playwright, for the browser tests.

Playwright's own browser download is not used: the tests drive /usr/bin/chromium, which
.ci/run installs from Debian's packages when it is missing.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, and quiet on a machine with no network beyond the loopback: without the
# background-networking flags Chromium keeps opening connections that are refused.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_browser() -> Iterator:
    """A launched Chromium; the test skips without it, except in CI, where it fails.

    Inside Playwright's synchronous API the test runs in a context of its own, where Django
    hands out database connections of their own. Those do not carry the snapshot of the
    migrated data that serialized rollback restores after each transactional test: without
    it, a test set up in there would flush the seeded tables (roles, reasons, scoring rules)
    for every test after it. The snapshot is handed on to them here, so the test database
    must exist before: a fixture using this one requests `django_db_setup` first.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (CI must run the browser tests, not skip them)")
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    snapshots = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    # Playwright keeps an event loop in this thread, which Django's ORM would take for async
    # code; the tests only use the ORM between browser steps.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            for alias, snapshot in snapshots.items():
                connections[alias]._test_serialized_contents = snapshot
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # Django does not know to close the connections opened in Playwright's context.
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
