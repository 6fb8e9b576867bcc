"""Upload jobs: a lead file stored on disk, checked in a worker, then imported once confirmed.

The upload request only stores the file and creates the job, so it returns at once whatever
the file's size. A worker runs the dry run (`import_job_check`), the person reads its counts
and errors and confirms, and a worker runs the import (`import_job_run`). The page follows both
through `rows_done` and `rows_total`.

The import is written in one transaction (see leads.importing.service), so a failure leaves
nothing half-done. Its progress must be visible while that transaction is still open: on
PostgreSQL it is written through a second connection of its own, which commits each update at
once. Elsewhere (SQLite, in development) progress shows when the import commits.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from handoff.errors import HandoffError
from leads.importing.engine import ImportOptions, ImportReport
from leads.importing.parsing import RowError
from leads.importing.presets import CustomMapping
from leads.importing.reading import FileRefused, table_open
from leads.importing.service import ImportRefused, leads_import_check, leads_import_write
from leads.models import ImportJob, ImportJobStatus, ImportMapping, Source

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
UPLOAD_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")
# A running job whose worker has not reported for this long was lost with its worker.
STALE_AFTER = timedelta(minutes=10)
# Progress is written at most this often, whatever the batch size.
PROGRESS_EVERY_SECONDS = 0.5

NOT_CONFIRMABLE = "This import cannot be confirmed: it is {status}."
HAS_ERRORS = (
    "The file has {count} error(s). Correct the file and upload it again, or choose to leave "
    "the rows with errors out."
)
NOTHING_TO_IMPORT = "The file cannot be imported at all: {reason}"
FILE_CHANGED = "The stored file changed after it was checked; upload it again."
UNEXPECTED = "The import stopped on an unexpected error; nothing was imported. Try again."
TOO_LARGE = "The file is {size} MB; the most an upload may be is {limit} MB."
WRONG_SUFFIX = "Upload a .csv or .xlsx file; '{name}' is neither."


class ImportJobRefused(HandoffError):
    """The job cannot do what was asked (confirm a refused file, run twice...)."""


def import_folder() -> Path:
    """Where uploads are kept: settings.LEAD_IMPORT_DIR, else var/imports. Web and workers
    must share it (one machine, or a shared volume)."""
    folder = Path(getattr(settings, "LEAD_IMPORT_DIR", settings.VAR_DIR / "imports"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_problem(*, name: str, size: int) -> str | None:
    """Why an upload is refused before it is stored, or None."""
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        return WRONG_SUFFIX.format(name=name)
    if size > MAX_UPLOAD_BYTES:
        return TOO_LARGE.format(size=size // (1024 * 1024), limit=MAX_UPLOAD_BYTES // (1024 * 1024))
    return None


def import_job_create(
    *,
    actor: AbstractBaseUser,
    upload: UploadedFile,
    source: Source | None = None,
    preset: str = "",
    date_format: str = "",
) -> ImportJob:
    """Store an uploaded file and create its job; the dry run is queued once this commits.

    The file is copied in chunks under a random name, so memory stays flat and two uploads of
    one name never meet.
    """
    from leads.tasks import check_import_job

    suffix = Path(upload.name or "").suffix.lower()
    stored = f"{uuid.uuid4().hex}{suffix}"
    digest = hashlib.sha256()
    size = 0
    path = import_folder() / stored
    with path.open("wb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    with transaction.atomic():
        job = ImportJob.objects.create(
            file_path=stored,
            file_name=Path(upload.name or stored).name[:255],
            file_size=size,
            file_sha256=digest.hexdigest(),
            source=source,
            preset=preset,
            date_format=date_format,
            created_by=actor,
        )
        transaction.on_commit(lambda: check_import_job.delay(job.pk))
    logger.info(
        "import job created job_id=%s bytes=%s actor_id=%s source_id=%s",
        job.pk,
        size,
        actor.pk,
        getattr(source, "pk", None),
    )
    return job


def saved_mapping_for(*, source_id: int) -> CustomMapping | None:
    """The mapping RevOps saved for a source's files, or None."""
    saved = ImportMapping.objects.filter(source_id=source_id).first()
    if saved is None:
        return None
    return CustomMapping.from_saved(
        preset=saved.preset, columns=saved.columns, date_format=saved.date_format
    )


def _options(job: ImportJob) -> ImportOptions:
    """What the job's choices mean for the import: the source's saved mapping, if any."""
    return ImportOptions(
        preset=job.preset or None,
        custom=saved_mapping_for(source_id=job.source_id) if job.source_id else None,
        date_formats=(job.date_format,) if job.date_format else (),
        default_source=job.source,
        skip_invalid_rows=job.skip_invalid_rows,
    )


def _path(job: ImportJob) -> Path:
    return import_folder() / job.file_path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _count_rows(path: Path) -> int:
    """The file's rows, footer left out: a quick pass of the reader alone."""
    with table_open(path) as table:
        return sum(1 for _record in table.records)


def _errors_json(errors: list[RowError]) -> list[dict[str, Any]]:
    return [
        {"row": error.row, "column": error.column, "message": error.message} for error in errors
    ]


def import_job_check(*, job_id: int) -> ImportJob | None:
    """The dry run: count the rows, then read, check and match them all, writing nothing but
    the job's progress and outcome.

    Idempotent: it acts only on a job still being checked, and reads nothing but the file, so
    a redelivered task that finds the job checked does nothing, and one that repeats an
    interrupted check just checks again.
    """
    job = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.CHECKING).first()
    if job is None:
        logger.warning("import job check skipped job_id=%s", job_id)
        return None
    started = time.monotonic()
    now = timezone.now()
    path = _path(job)
    try:
        rows_total = _count_rows(path)
    except (FileRefused, OSError):
        rows_total = 0
    ImportJob.objects.filter(pk=job.pk).update(
        rows_total=rows_total, rows_done=0, started_at=now, heartbeat_at=now
    )
    progress = _Progress(job_id=job.pk, side_connection=False)
    try:
        report = leads_import_check(
            open_table=lambda: table_open(path), options=_options(job), now=now, progress=progress
        )
    except Exception:
        logger.exception("import job check failed job_id=%s", job.pk)
        _fail(job, UNEXPECTED)
        return job
    file_errors = sum(1 for error in report.errors if error.row is None)
    status = ImportJobStatus.REFUSED if report.errors_total else ImportJobStatus.CHECKED
    ImportJob.objects.filter(pk=job.pk, status=ImportJobStatus.CHECKING).update(
        status=status,
        rows_total=report.rows_read,
        rows_done=report.rows_read,
        layout=report.preset,
        encoding=report.encoding,
        delimiter=report.delimiter,
        check_counts={**report.counts(), "file_errors": file_errors},
        errors=_errors_json(report.errors),
        errors_total=report.errors_total,
        ignored_columns=[list(item) for item in report.ignored_columns],
        heartbeat_at=timezone.now(),
    )
    logger.info(
        "import job checked job_id=%s status=%s rows=%s errors=%s elapsed_ms=%d",
        job.pk,
        status,
        report.rows_read,
        report.errors_total,
        (time.monotonic() - started) * 1000,
    )
    job.refresh_from_db()
    return job


def confirm_problem(job: ImportJob, *, skip_invalid_rows: bool) -> str | None:
    """Why the job cannot be confirmed now, or None."""
    if job.status == ImportJobStatus.CHECKED:
        return None
    if job.status != ImportJobStatus.REFUSED:
        return NOT_CONFIRMABLE.format(status=job.get_status_display().lower())
    if job.check_counts.get("file_errors"):
        return NOTHING_TO_IMPORT.format(reason=job.errors[0]["message"] if job.errors else "")
    if not skip_invalid_rows:
        return HAS_ERRORS.format(count=job.errors_total)
    return None


def import_job_confirm(
    *, job_id: int, actor: AbstractBaseUser, skip_invalid_rows: bool = False
) -> ImportJob:
    """Queue the import of a checked file. Only a checked job can be confirmed, once: a
    second confirmation (a double click, another tab) is refused."""
    from leads.tasks import run_import_job

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        problem = confirm_problem(job, skip_invalid_rows=skip_invalid_rows)
        if problem:
            raise ImportJobRefused(problem)
        job.status = ImportJobStatus.QUEUED
        job.skip_invalid_rows = skip_invalid_rows
        job.confirmed_by = actor
        job.confirmed_at = timezone.now()
        job.rows_done = 0
        job.save(
            update_fields=[
                "status",
                "skip_invalid_rows",
                "confirmed_by",
                "confirmed_at",
                "rows_done",
            ]
        )
        transaction.on_commit(lambda: run_import_job.delay(job.pk))
    logger.info(
        "import job confirmed job_id=%s actor_id=%s skip_invalid_rows=%s",
        job.pk,
        actor.pk,
        skip_invalid_rows,
    )
    return job


def _claim(job_id: int) -> bool:
    """Take the job for this worker: a queued job, or one whose worker stopped reporting
    (its transaction rolled back with it, so starting again is safe)."""
    now = timezone.now()
    fields = {"status": ImportJobStatus.IMPORTING, "started_at": now, "heartbeat_at": now}
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.QUEUED).update(
        rows_done=0, **fields
    )
    if claimed:
        return True
    stale = ImportJob.objects.filter(
        pk=job_id, status=ImportJobStatus.IMPORTING, heartbeat_at__lt=now - STALE_AFTER
    ).update(rows_done=0, **fields)
    if stale:
        logger.warning("import job taken over from a lost worker job_id=%s", job_id)
    return bool(stale)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """The confirmed import: the whole file in one transaction that also marks the job done.

    Idempotent: the job is claimed with a conditional update, so a repeated task does nothing,
    and a done job is marked so in the import's own transaction: there is no moment when the
    leads exist and the job could still be run again.
    """
    if not _claim(job_id):
        logger.warning("import job run skipped job_id=%s", job_id)
        return None
    job = ImportJob.objects.select_related("source", "confirmed_by").get(pk=job_id)
    started = time.monotonic()
    now = timezone.now()
    path = _path(job)
    logger.info("import job started job_id=%s rows=%s", job.pk, job.rows_total)
    if not path.is_file() or _sha256(path) != job.file_sha256:
        _fail(job, FILE_CHANGED)
        return job

    progress = _Progress(job_id=job.pk, side_connection=not connection.in_atomic_block)
    try:
        with transaction.atomic():
            report = leads_import_write(
                open_table=lambda: table_open(path),
                options=_options(job),
                actor=job.confirmed_by,
                now=now,
                progress=progress,
            )
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJobStatus.DONE,
                rows_done=report.rows_read,
                counts=report.counts(),
                errors=_errors_json(report.errors),
                errors_total=report.errors_total,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
            )
    except ImportRefused as refused:
        _fail(job, str(refused), report=refused.report)
        return job
    except Exception:
        logger.exception("import job failed job_id=%s", job.pk)
        _fail(job, UNEXPECTED)
        return job
    finally:
        progress.close()
    logger.info(
        "import job done job_id=%s rows=%s created=%s matched=%s mqls=%s handoffs=%s elapsed_ms=%d",
        job.pk,
        report.rows_read,
        report.created,
        report.matched,
        report.mqls_created,
        report.handoffs_created,
        (time.monotonic() - started) * 1000,
    )
    job.refresh_from_db()
    return job


def _fail(job: ImportJob, message: str, *, report: ImportReport | None = None) -> None:
    values: dict[str, Any] = {
        "status": ImportJobStatus.FAILED,
        "failure": message,
        "finished_at": timezone.now(),
    }
    if report is not None:
        values.update(errors=_errors_json(report.errors), errors_total=report.errors_total)
    ImportJob.objects.filter(pk=job.pk).update(**values)
    logger.warning("import job failed job_id=%s", job.pk)


@dataclass
class _Progress:
    """Writes a job's rows done, at most every PROGRESS_EVERY_SECONDS.

    With `side_connection` (PostgreSQL, outside any transaction of the caller's), through a
    connection of its own in autocommit, so the page sees progress while the import's
    transaction is still open. The import's transaction never touches the job row before its
    last statement, so the two never wait on each other.
    """

    job_id: int
    side_connection: bool
    _connection: Any = None
    _last: float = 0.0

    def __post_init__(self) -> None:
        if self.side_connection and connection.vendor == "postgresql":
            main = connections[DEFAULT_DB_ALIAS]
            self._connection = type(main)(dict(main.settings_dict), alias=DEFAULT_DB_ALIAS)

    def __call__(self, rows_done: int) -> None:
        if time.monotonic() - self._last < PROGRESS_EVERY_SECONDS:
            return
        self._last = time.monotonic()
        now = timezone.now()
        if self._connection is None:
            ImportJob.objects.filter(pk=self.job_id).update(rows_done=rows_done, heartbeat_at=now)
            return
        table = ImportJob._meta.db_table
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET rows_done = %s, heartbeat_at = %s WHERE id = %s",  # noqa: S608
                [rows_done, now, self.job_id],
            )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
