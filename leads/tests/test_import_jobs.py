"""The upload page and its jobs: stored at once, checked in a worker (the dry run), imported
once confirmed, all or nothing. Tasks run eagerly here; test_upload.py runs a real worker."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from handoff import roles
from handoff.models import Handoff, Notification
from leads import tasks
from leads.importing import jobs, qualify
from leads.models import ImportJob, ImportJobStatus, Lead, LeadEvent, Source
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "First Name,Last Name,Email,Title,Employees,Lead Source,Created Date\n"
    "Ana,Ruiz,ana@ruiz.example,VP Sales,120,Demo request,2026-11-30\n"
    "Bob,Stone,bob@stone.example,Engineer,80,Web,2026-11-30\n"
    "Cleo,Ngata,cleo@ngata.example,Founder,300,Demo request,2026-11-30\n"
)
BAD = (
    "Email,Phone,Employees\n"
    "ana@ruiz.example,+34 600 000 000,120\n"
    "bob@,+1 555 0100,80\n"
    "cleo@ngata.example,4.47E+11,lots\n"
)


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path: Path) -> Path:
    settings.LEAD_IMPORT_DIR = tmp_path / "imports"
    return settings.LEAD_IMPORT_DIR


@pytest.fixture
def marketer():  # noqa: ANN201
    return UserFactory(username="marketer", roles=[roles.MARKETING])


@pytest.fixture
def marketing_client(client, marketer):  # noqa: ANN001,ANN201
    client.force_login(marketer)
    return client


def upload(client, text: str, *, name: str = "leads.csv", capture, **data):  # noqa: ANN001,ANN003,ANN201
    """Post a file to the upload page and run what it queues (the dry run)."""
    with capture(execute=True):
        return client.post(
            reverse("lead-import"),
            {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), **data},
        )


def confirm(client, job: ImportJob, *, capture, **data):  # noqa: ANN001,ANN003,ANN201
    with capture(execute=True):
        return client.post(reverse("lead-import-confirm", args=[job.pk]), data)


def messages_of(response) -> list[str]:  # noqa: ANN001
    return [str(message) for message in response.wsgi_request._messages]


# The pages and who may use them.


@pytest.mark.parametrize(
    ("role", "status"), [(roles.MARKETING, 200), (roles.REVOPS, 200), (roles.BDR, 403)]
)
def test_the_upload_page_is_for_marketing_and_revops(client, role, status):
    client.force_login(UserFactory(roles=[role]))

    assert client.get(reverse("lead-import")).status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("lead-import"))

    assert (response.status_code, response.url) == (302, "/login/?next=/leads/import/")


def test_an_upload_is_stored_and_checked_and_nothing_is_written(
    marketing_client, marketer, import_dir, django_capture_on_commit_callbacks
):
    response = upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert (response.status_code, response.url) == (302, f"/leads/import/{job.pk}/")
    assert (job.status, job.layout, job.created_by, job.file_name) == (
        ImportJobStatus.CHECKED, "handoff", marketer, "leads.csv",
    )  # fmt: skip
    assert (job.rows_total, job.rows_done, job.errors_total) == (3, 3, 0)
    assert (import_dir / job.file_path).read_text() == GOOD
    assert {key: job.check_counts[key] for key in ("new", "matched", "merged", "errors")} == {
        "new": 3, "matched": 0, "merged": 0, "errors": 0,
    }  # fmt: skip
    assert job.check_counts["mqls_expected"] == 2
    assert (Lead.objects.count(), Source.objects.count(), LeadEvent.objects.count()) == (0, 0, 0)
    page = marketing_client.get(response.url)
    assert 'id="confirm-import"' in page.content.decode()


def test_the_status_endpoint_gives_rows_done_out_of_the_total(
    marketing_client, django_capture_on_commit_callbacks
):
    upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()

    status = marketing_client.get(reverse("lead-import-status", args=[job.pk])).json()

    assert {key: status[key] for key in ("status", "running", "rows_done", "rows_total")} == {
        "status": "checked", "running": False, "rows_done": 3, "rows_total": 3,
    }  # fmt: skip
    assert (status["percent"], status["counts"]["new"]) == (100, 3)


def test_a_file_that_is_not_csv_or_xlsx_is_refused_before_it_is_stored(
    marketing_client, import_dir, django_capture_on_commit_callbacks
):
    response = upload(
        marketing_client, GOOD, name="leads.pdf", capture=django_capture_on_commit_callbacks
    )

    assert response.status_code == 400
    assert "Upload a .csv or .xlsx file; &#x27;leads.pdf&#x27; is neither." in (
        response.content.decode()
    )
    assert ImportJob.objects.count() == 0


# The dry run's errors, and all or nothing.


def test_the_dry_run_names_every_error_by_row_and_column(
    marketing_client, django_capture_on_commit_callbacks
):
    upload(marketing_client, BAD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()

    assert (job.status, job.errors_total, job.check_counts["rows_with_errors"]) == (
        ImportJobStatus.REFUSED, 3, 2,
    )  # fmt: skip
    assert job.errors == [
        {"row": 3, "column": "Email", "message": "'bob@' is not a valid email address"},
        {"row": 4, "column": "Phone", "message": (
            "'4.47E+11' is a number a spreadsheet rewrote in scientific notation, which loses "
            "digits; format the column as text and export the file again"
        )},
        {"row": 4, "column": "Employees", "message": "'lots' is not a number"},
    ]  # fmt: skip
    errors_csv = marketing_client.get(reverse("lead-import-errors", args=[job.pk]))
    assert errors_csv.content.decode().splitlines()[:3] == [
        "\ufeffRow,Column,Error",
        "3,Email,'bob@' is not a valid email address",
        "4,Phone,\"'4.47E+11' is a number a spreadsheet rewrote in scientific notation, which "
        'loses digits; format the column as text and export the file again"',
    ]
    assert Lead.objects.count() == 0


def test_a_file_with_errors_is_not_imported_unless_its_bad_rows_are_left_out(
    marketing_client, django_capture_on_commit_callbacks
):
    upload(marketing_client, BAD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()

    refused = confirm(marketing_client, job, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert messages_of(refused) == [
        "The file has 3 error(s). Correct the file and upload it again, or choose to leave the "
        "rows with errors out."
    ]
    assert (job.status, Lead.objects.count()) == (ImportJobStatus.REFUSED, 0)

    confirm(
        marketing_client, job, skip_invalid_rows="on", capture=django_capture_on_commit_callbacks
    )

    job.refresh_from_db()
    assert (job.status, job.skip_invalid_rows) == (ImportJobStatus.DONE, True)
    assert (job.counts["new"], job.counts["rows_with_errors"]) == (1, 2)
    assert list(Lead.objects.values_list("email", flat=True)) == ["ana@ruiz.example"]


def test_a_file_the_import_cannot_read_at_all_cannot_be_confirmed(
    marketing_client, django_capture_on_commit_callbacks
):
    upload(
        marketing_client,
        "Name,Phone Number\nAda,+44 1\n",
        capture=django_capture_on_commit_callbacks,
    )
    job = ImportJob.objects.get()

    response = confirm(
        marketing_client, job, skip_invalid_rows="on", capture=django_capture_on_commit_callbacks
    )

    job.refresh_from_db()
    assert messages_of(response)[0].startswith(
        "The file cannot be imported at all: The columns of this file do not match"
    )
    assert (job.status, job.check_counts["file_errors"]) == (ImportJobStatus.REFUSED, 1)


def test_a_confirmed_import_writes_everything_and_hands_off_the_qualifying_leads(
    marketing_client, marketer, django_capture_on_commit_callbacks
):
    rep = RepFactory()
    upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()

    response = confirm(marketing_client, job, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert response.status_code == 302
    assert (job.status, job.confirmed_by, job.rows_done) == (ImportJobStatus.DONE, marketer, 3)
    assert {key: job.counts[key] for key in ("new", "mqls", "handoffs")} == {
        "new": 3, "mqls": 2, "handoffs": 2,
    }  # fmt: skip
    assert Lead.objects.count() == 3
    assert sorted(Handoff.objects.values_list("lead__email", "rep")) == [
        ("ana@ruiz.example", rep.pk), ("cleo@ngata.example", rep.pk),
    ]  # fmt: skip
    assert set(LeadEvent.objects.values_list("actor", flat=True)) == {marketer.pk}
    page = marketing_client.get(reverse("lead-import-job", args=[job.pk])).content.decode()
    assert '<dd class="col-sm-7" data-count="handoffs">2</dd>' in page


def test_confirming_twice_imports_once(marketing_client, django_capture_on_commit_callbacks):
    upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    confirm(marketing_client, job, capture=django_capture_on_commit_callbacks)

    again = confirm(marketing_client, job, capture=django_capture_on_commit_callbacks)

    assert messages_of(again) == ["This import cannot be confirmed: it is imported."]
    assert Lead.objects.count() == 3


def test_a_failure_in_the_worker_leaves_nothing_behind_and_sends_nothing(
    marketing_client, monkeypatch, django_capture_on_commit_callbacks
):
    RepFactory()
    real_qualify = qualify.leads_qualify_batch
    calls = []

    def qualify_then_fail(**kwargs):  # noqa: ANN003,ANN202
        # The batch's handoffs are written, then the connection fails.
        calls.append(kwargs["lead_ids"])
        real_qualify(**kwargs)
        raise RuntimeError("database went away")

    monkeypatch.setattr(qualify, "leads_qualify_batch", qualify_then_fail)
    upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()

    confirm(marketing_client, job, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert len(calls) == 1
    assert (job.status, job.failure) == (ImportJobStatus.FAILED, jobs.UNEXPECTED)
    assert (Lead.objects.count(), Source.objects.count(), LeadEvent.objects.count()) == (0, 0, 0)
    assert (Handoff.objects.count(), Notification.objects.count()) == (0, 0)
    assert mail.outbox == []


def test_the_same_file_uploaded_again_creates_nothing(
    marketing_client, django_capture_on_commit_callbacks
):
    RepFactory()
    upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)
    confirm(marketing_client, ImportJob.objects.get(), capture=django_capture_on_commit_callbacks)
    counts = (Lead.objects.count(), Handoff.objects.count(), Notification.objects.count())

    upload(marketing_client, GOOD, capture=django_capture_on_commit_callbacks)
    second = ImportJob.objects.order_by("pk").last()
    assert (second.check_counts["new"], second.check_counts["matched"]) == (0, 3)
    confirm(marketing_client, second, capture=django_capture_on_commit_callbacks)

    second.refresh_from_db()
    assert (second.counts["new"], second.counts["updated"], second.counts["handoffs"]) == (0, 0, 0)
    assert counts == (Lead.objects.count(), Handoff.objects.count(), Notification.objects.count())


def test_the_source_chosen_on_upload_is_given_to_rows_without_one(
    marketing_client, django_capture_on_commit_callbacks
):
    fair = Source.objects.create(name="Trade fair", slug="trade-fair")
    text = "Email,Lead Source\nann@acme.example,\nbob@beta.example,Web\n"
    upload(marketing_client, text, source=fair.pk, capture=django_capture_on_commit_callbacks)

    confirm(marketing_client, ImportJob.objects.get(), capture=django_capture_on_commit_callbacks)

    assert sorted(Lead.objects.values_list("email", "source__name")) == [
        ("ann@acme.example", "Trade fair"), ("bob@beta.example", "Web"),
    ]  # fmt: skip


# The worker's side: idempotent tasks, lost workers, changed files.


def _checked_job(client, capture) -> ImportJob:  # noqa: ANN001
    upload(client, GOOD, capture=capture)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJobStatus.QUEUED)
    return job


def test_the_import_task_runs_a_job_once(marketing_client, django_capture_on_commit_callbacks):
    job = _checked_job(marketing_client, django_capture_on_commit_callbacks)

    first = tasks.run_import_job(job.pk)
    second = tasks.run_import_job(job.pk)

    assert (first, second) == ("done", "skipped")
    assert Lead.objects.count() == 3
    assert (tasks.check_import_job.name, tasks.run_import_job.name) == (
        "leads.check_import_job", "leads.run_import_job",
    )  # fmt: skip


def test_a_job_whose_worker_was_lost_is_taken_over_and_one_still_reporting_is_not(
    marketing_client, django_capture_on_commit_callbacks
):
    job = _checked_job(marketing_client, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJobStatus.IMPORTING, heartbeat_at=timezone.now()
    )

    assert tasks.run_import_job(job.pk) == "skipped"

    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - jobs.STALE_AFTER - timedelta(seconds=1)
    )
    assert tasks.run_import_job(job.pk) == "done"
    assert Lead.objects.count() == 3


def test_a_file_changed_after_its_check_is_not_imported(
    marketing_client, import_dir, django_capture_on_commit_callbacks
):
    job = _checked_job(marketing_client, django_capture_on_commit_callbacks)
    (import_dir / job.file_path).write_text(GOOD + "Dan,Iyer,dan@iyer.example,CEO,5,Web,\n")

    tasks.run_import_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.failure) == (ImportJobStatus.FAILED, jobs.FILE_CHANGED)
    assert Lead.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_is_visible_while_the_import_transaction_is_still_open():
    job = ImportJob.objects.create(file_path="x.csv", file_name="x.csv", file_sha256="0" * 64)
    seen: list[int] = []

    def read_from_elsewhere() -> None:
        seen.append(ImportJob.objects.get(pk=job.pk).rows_done)
        connection.close()

    progress = jobs._Progress(job_id=job.pk, side_connection=True)
    with transaction.atomic():
        Lead.objects.create(email="inside@acme.example")
        progress(1234)
        reader = threading.Thread(target=read_from_elsewhere)
        reader.start()
        reader.join(timeout=30)
    progress.close()

    assert seen == [1234]
