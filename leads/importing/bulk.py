"""Writing many new rows at once on PostgreSQL: ids taken from the sequence, rows sent by COPY.

An INSERT of thousands of rows costs more in building and quoting the statement, and in
building model instances, than in the database. COPY streams plain rows in PostgreSQL's own
format instead. Taking the ids from the sequence first lets activities point at their lead,
and scores name their activities, before anything is sent.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb


def copy_supported() -> bool:
    return connection.vendor == "postgresql"


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys from the model's sequence (or identity column)."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


class RowTemplate:
    """A model's columns, and the value each takes when a row does not set it: the field's
    default (what a new instance would hold), or `now` for the automatic timestamps."""

    def __init__(self, model: type[models.Model], *, now: datetime) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in fields]
        self.columns = [field.column for field in fields]
        self.json = frozenset(
            field.attname for field in fields if isinstance(field, models.JSONField)
        )
        self.defaults: dict[str, Any] = {}
        for field in fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                self.defaults[field.attname] = now
            elif field.primary_key:
                self.defaults[field.attname] = None
            else:
                self.defaults[field.attname] = field.get_default()

        # Picks the columns out of a row's values in order, in C: a row is built per lead
        # and per activity, a hundred thousand times for a large file.
        self._pick = operator.itemgetter(*self.attnames)

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        merged = {**self.defaults, **values}
        for name in self.json:
            merged[name] = Jsonb(merged[name])
        return self._pick(merged)


def rows_copy(template: RowTemplate, rows: Iterable[Mapping[str, Any]]) -> int:
    """COPY the rows (each a mapping of attribute names to values, the primary key set) into
    the template's table. Returns how many were sent.

    Runs on the caller's connection and transaction; database errors (a unique violation)
    come out as Django's, like any query's.
    """
    table = connection.ops.quote_name(template.model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in template.columns)
    count = 0
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for values in rows:
            copy.write_row(template.row(values))
            count += 1
    return count


@contextmanager
def index_lookups() -> Iterator[None]:
    """Look rows up by their indexes, whatever the planner's statistics say.

    An import writes tens of thousands of rows in one transaction, and the table's statistics
    cannot know of them until it commits. Planned from statistics that still describe a small
    table, a lookup of a batch's keys scans the whole growing table instead of probing the
    index, and every batch costs more than the one before. Inside the transaction only, and
    only for the lookups, sequential scans are priced out.
    """
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
