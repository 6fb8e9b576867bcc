"""Shared set-up for the benchmarks: a throwaway PostgreSQL database and bulk loaders.

Benchmarks run against their own database (`<name>_bench`) so that they never touch the data
of a running install, and load rows with COPY so that set-up time does not drown the
measurement.
"""

import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test"


def setup_django() -> None:
    """Point Django at a fresh bench database and migrate it."""
    import psycopg

    base_url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not base_url.startswith("postgres"):
        sys.exit("The benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    head, _, name = base_url.rpartition("/")
    bench_name = f"{name.split('?')[0]}_bench"
    # Create the bench database from the maintenance database, which always exists.
    with psycopg.connect(f"{head}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{bench_name}"')
    os.environ["DATABASE_URL"] = f"{head}/{bench_name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff.settings.local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def copy_rows(table: str, columns: list[str], rows: Iterator[tuple]) -> int:
    from django.db import connection

    count = 0
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def lead_columns() -> list[str]:
    """Every column of the lead table but the id: COPY bypasses Django's defaults, so each
    row gives them all, whatever columns other features add."""
    from leads.models import Lead

    return [field.column for field in Lead._meta.concrete_fields if not field.primary_key]


def lead_defaults(now: datetime) -> dict:
    """A value for each lead column a bench row does not set: the field's default, else
    empty text or NULL."""
    from leads.models import Lead

    values = {}
    for field in Lead._meta.concrete_fields:
        if field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        else:
            value = ""
        if isinstance(value, dict | list):
            value = json.dumps(value)
        elif hasattr(value, "value"):
            # A TextChoices member: COPY writes its value.
            value = value.value
        values[field.column] = value
    return values


@contextmanager
def timed(label: str) -> Iterator[dict]:
    result: dict = {}
    started = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - started
    print(f"  {label}: {result['seconds']:.2f} s", flush=True)


def wait_for_a_quiet_machine(*, seconds: int = 180) -> float:
    """The timings are wall-clock on a shared machine: wait, for a while, until the load
    average is below the number of cores. Returns the load average when measuring starts."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + seconds
    load = os.getloadavg()[0]
    while load >= cores and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    if load >= cores:
        print(f"  the machine stays busy (load {load:.1f} on {cores} cores)", flush=True)
    return load


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, **values: object) -> None:
    parts = ", ".join(f"{key}={value}" for key, value in values.items())
    print(f"RESULT {name}: {parts}", flush=True)
