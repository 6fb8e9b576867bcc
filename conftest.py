"""Shared pytest set-up.

Tests that need a real PostgreSQL or Redis carry the `postgres` or `redis` marker. Outside CI
they skip when the server is not configured; in CI (CI=true) they fail instead, so that a
missing server can never turn into a green run.
"""

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


def _missing_server(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://..."
    return None


@pytest.fixture(autouse=True)
def _require_servers(request: pytest.FixtureRequest) -> None:
    for marker in ("postgres", "redis"):
        if request.node.get_closest_marker(marker) is None:
            continue
        problem = _missing_server(marker)
        if problem is None:
            continue
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI must run this test, not skip it)")
        pytest.skip(problem)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Transactional tests must restore the rows that data migrations seed (roles, rejection
    reasons, default scoring rules); one that does not empties those tables for every later
    test and makes the next restoring test collide with what Django recreates."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None or not marker.kwargs.get("transaction"):
            continue
        if not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(
                f"{item.nodeid}: use django_db(transaction=True, serialized_rollback=True)"
            )


# The real public lead files live beside the repository, never in it (their licences allow
# testing, not redistribution). HANDOFF_SHARED_DATA points elsewhere when needed.
SHARED_DATA = Path(
    os.environ.get(
        "HANDOFF_SHARED_DATA", Path(__file__).resolve().parent.parent / "shared/data/real"
    )
)


@pytest.fixture
def real_data_file() -> Callable[[str], Path]:
    """Return the path of a file from shared/data/real: skip when it is not there, except in
    CI, where it must be."""

    def find(name: str) -> Path:
        path = SHARED_DATA / name
        if path.exists():
            return path
        message = f"{name} not found in {SHARED_DATA}; set HANDOFF_SHARED_DATA"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    return find
