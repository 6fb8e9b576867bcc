"""Duplicates: one person is one lead, within a file, against Handoff's leads, and when two
imports run at once. Re-importing never moves a lead backwards or starts a second clock."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from feedback.models import Rejection
from handoff.models import Handoff, HandoffEvent, Notification
from leads.importing import canonical_email, engine, leads_import
from leads.models import Activity, Lead, LeadEvent, Stage
from leads.services import lead_qualify_if_ready
from leads.tests.factories import LeadFactory
from reps.tests.factories import RepFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


def run(source, **kwargs):  # noqa: ANN001,ANN003,ANN201
    kwargs.setdefault("actor", None)
    return leads_import(source=source, now=NOW, **kwargs)


def csv_file(tmp_path: Path, text: str, *, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("  Ann.Lee@Acme.Example ", "ann.lee@acme.example"),
        ("John.Smith+webinar@googlemail.com", "johnsmith@gmail.com"),
        ("J.O.H.N.SMITH@GMAIL.COM", "johnsmith@gmail.com"),
        # Other providers promise nothing about dots and tags.
        ("ann.lee+news@outlook.com", "ann.lee+news@outlook.com"),
        ("", ""),
        ("not-an-address", "not-an-address"),
    ],
)
def test_canonical_email(email, canonical):
    assert canonical_email(email) == canonical


def test_the_database_refuses_two_leads_with_one_canonical_email():
    LeadFactory(email="ann@acme.example", canonical_email="ann@acme.example")
    LeadFactory(email="", canonical_email="")
    LeadFactory(email="", canonical_email="")

    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(email="ANN@acme.example", canonical_email="ann@acme.example")

    assert Lead.objects.count() == 3


def test_gmail_spellings_of_one_mailbox_in_a_file_become_one_lead(tmp_path):
    path = csv_file(
        tmp_path,
        "Email,First Name,Company\n"
        "John.Smith+webinar@googlemail.com,John,\n"
        "johnsmith@gmail.com,,Smith & Co\n"
        "JOHNSMITH@GMAIL.COM,Johnny,Other\n"
        "john.smith@outlook.com,John,\n",
    )

    report = run(path)

    assert (report.created, report.merged) == (2, 2)
    # The first row's values win; a later row only fills what is blank.
    assert sorted(
        Lead.objects.values_list("email", "canonical_email", "first_name", "company")
    ) == [
        ("John.Smith+webinar@googlemail.com", "johnsmith@gmail.com", "John", "Smith & Co"),
        ("john.smith@outlook.com", "john.smith@outlook.com", "John", ""),
    ]


def test_duplicates_far_apart_in_a_large_file_are_merged_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    path = csv_file(
        tmp_path,
        "Email,Company,Title,Lead Source\n"
        "ann@acme.example,Acme,,\n"
        "bob@beta.example,Beta,,\n"
        "cat@gamma.example,Gamma,,\n"
        "dan@delta.example,Delta,,\n"
        "ANN@ACME.EXAMPLE,Other,CFO,Demo request\n",
    )

    check = run(path, dry_run=True)
    report = run(path)

    assert (check.created, check.merged) == (4, 1)
    assert (report.created, report.merged, report.matched) == (4, 1, 0)
    ann = Lead.objects.get(canonical_email="ann@acme.example")
    assert (ann.company, ann.job_title, ann.source.name) == ("Acme", "CFO", "Demo request")
    assert list(ann.activities.values_list("kind", flat=True)) == ["demo_request"]


def test_a_file_row_matches_an_existing_lead_by_canonical_email(tmp_path):
    existing = LeadFactory(
        email="johnsmith@gmail.com", canonical_email="johnsmith@gmail.com", company="",
        job_title="",
    )  # fmt: skip

    report = run(csv_file(tmp_path, "Email,Company\nJohn.Smith+ads@googlemail.com,Smith Co\n"))

    existing.refresh_from_db()
    assert (report.created, report.matched, report.updated) == (0, 1, 1)
    assert (existing.email, existing.company) == ("johnsmith@gmail.com", "Smith Co")
    assert Lead.objects.count() == 1


def test_a_lead_without_a_canonical_email_is_found_by_its_email_in_any_case(tmp_path):
    # Made by a path that does not set the canonical email, as the test factory does.
    existing = LeadFactory(email="Ann@Acme.example", company="", job_title="")

    report = run(csv_file(tmp_path, "Email,Company\nann@acme.EXAMPLE,Acme\n"))

    existing.refresh_from_db()
    assert (report.created, report.matched) == (0, 1)
    assert (existing.company, existing.canonical_email) == ("Acme", "")


def test_a_lead_that_shared_its_email_before_the_constraint_is_not_matched(tmp_path):
    oldest = LeadFactory(email="ann@acme.example", canonical_email="ann@acme.example", job_title="")
    # The migration leaves the later lead of a duplicate group without a canonical email.
    LeadFactory(email="ANN@acme.example", canonical_email="", company="")

    run(csv_file(tmp_path, "Email,Title\nann@acme.example,CFO\n"))

    assert list(Lead.objects.filter(job_title="CFO").values_list("pk", flat=True)) == [oldest.pk]


# The stage machine.

QUALIFYING = (
    "Email,Title,Employees,Lead Source,Created Date\n"
    "vp@acme.example,VP Sales,200,Demo request,2026-11-30\n"
)


def test_reimporting_a_worked_lead_with_new_activity_keeps_its_owner_and_its_one_clock(
    tmp_path,
):
    rep = RepFactory()
    run(csv_file(tmp_path, QUALIFYING))
    lead = Lead.objects.get()
    handoff = Handoff.objects.get()
    counts = (LeadEvent.objects.count(), HandoffEvent.objects.count(), Notification.objects.count())

    again = run(
        csv_file(
            tmp_path,
            QUALIFYING.replace("Created Date", "Created Date,Pricing Page Visits").replace(
                "2026-11-30", "2026-11-30,3"
            ),
            name="again.csv",
        )
    )

    lead.refresh_from_db()
    assert (again.created, again.matched, again.updated, again.activities_created) == (0, 1, 1, 1)
    assert (again.mqls_created, again.handoffs_created) == (0, 0)
    assert lead.stage == Stage.MQL
    assert list(Handoff.objects.values_list("pk", "lead", "rep")) == [(handoff.pk, lead.pk, rep.pk)]
    assert counts == (
        LeadEvent.objects.count(), HandoffEvent.objects.count(), Notification.objects.count(),
    )  # fmt: skip


@pytest.mark.parametrize(
    "stage", [Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.REJECTED, Stage.DISQUALIFIED]
)
def test_reimporting_never_moves_a_lead_backwards(tmp_path, stage):
    RepFactory()
    lead = LeadFactory(
        email="vp@acme.example", canonical_email="vp@acme.example", stage=stage, mql_count=1,
        job_title="", company_size=None,
    )  # fmt: skip

    report = run(csv_file(tmp_path, QUALIFYING))

    lead.refresh_from_db()
    assert (report.matched, report.updated, report.mqls_created) == (1, 1, 0)
    assert (lead.stage, lead.job_title, lead.company_size) == (stage, "VP Sales", 200)
    assert Handoff.objects.count() == 0
    assert LeadEvent.objects.count() == 0


def test_reimporting_the_same_file_leaves_a_recycled_lead_where_it_is(tmp_path):
    rep = RepFactory()
    run(csv_file(tmp_path, QUALIFYING))
    lead = Lead.objects.get()
    # Sales rejected it and it went back to nurture; its score still clears the threshold.
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.RECYCLED)
    Handoff.objects.filter(rep=rep).update(state="rejected")
    assert Rejection.objects.count() == 0

    again = run(csv_file(tmp_path, QUALIFYING))

    lead.refresh_from_db()
    assert (again.matched, again.updated, again.mqls_created, again.handoffs_created) == (
        1,
        0,
        0,
        0,
    )
    assert (lead.stage, Handoff.objects.count()) == (Stage.RECYCLED, 1)


# Two imports at once.


def test_a_lead_created_while_the_import_looked_the_other_way_is_matched_not_duplicated(
    tmp_path, monkeypatch, caplog
):
    real_find = engine.leads_find_existing
    calls = []

    def find_then_race(planned, **kwargs):  # noqa: ANN001,ANN003,ANN202
        if kwargs["lock"]:
            calls.append(len(planned))
        if calls == [2]:
            # A form post creates the lead just after the import looked it up.
            Lead.objects.create(email="ann@acme.example", canonical_email="ann@acme.example")
            return {}
        return real_find(planned, **kwargs)

    monkeypatch.setattr(engine, "leads_find_existing", find_then_race)
    path = csv_file(tmp_path, "Email,Company\nANN@acme.example,Acme\nbob@beta.example,Beta\n")

    report = run(path)

    assert (report.created, report.matched, report.updated) == (1, 1, 1)
    assert sorted(Lead.objects.values_list("canonical_email", "company")) == [
        ("ann@acme.example", "Acme"), ("bob@beta.example", "Beta"),
    ]  # fmt: skip
    assert calls == [2, 2]
    assert "leads import batch met leads created meanwhile count=1 attempt=1" in caplog.text


def _people_file(tmp_path: Path, count: int) -> Path:
    rows = "".join(f"person{n}@corp{n % 7}.example,Corp {n % 7}\n" for n in range(count))
    return csv_file(tmp_path, "Email,Company\n" + rows, name="people.csv")


def _concurrently(path: Path) -> list:
    barrier = threading.Barrier(2)
    outcomes: list = []

    def one_import() -> None:
        try:
            barrier.wait()
            outcomes.append(leads_import(source=path, actor=None, now=NOW))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_import) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_imports_of_one_file_at_once_create_each_lead_once(tmp_path):
    path = _people_file(tmp_path, 300)

    outcomes = _concurrently(path)

    assert sorted(outcome.created for outcome in outcomes) == [0, 300]
    assert sorted(outcome.matched for outcome in outcomes) == [0, 300]
    assert Lead.objects.count() == 300


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_unique_canonical_email_alone_stops_concurrent_imports_duplicating(
    tmp_path, monkeypatch
):
    # Without the lock that makes imports take turns, both look the leads up before either
    # has written them; the constraint makes the second wait, fail its batch, and match.
    monkeypatch.setattr("leads.importing.service.import_lock", lambda: None)
    path = _people_file(tmp_path, 300)

    outcomes = _concurrently(path)

    assert [type(outcome).__name__ for outcome in outcomes] == ["ImportReport", "ImportReport"]
    assert sorted(outcome.created for outcome in outcomes) == [0, 300]
    assert Lead.objects.count() == Lead.objects.values("canonical_email").distinct().count()
    assert Lead.objects.count() == 300


# The migration that brought canonical emails in.

BEFORE = ("leads", "0006_pre_handoff_behaviour_rules")
AFTER = ("leads", "0007_canonical_email_and_import_jobs")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_fills_canonical_emails_and_keeps_the_oldest_of_a_duplicate_group():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old_apps = executor.loader.project_state([BEFORE]).apps
    OldLead = old_apps.get_model("leads", "Lead")
    defaults = {"attributes": {}, "score_breakdown": []}
    emails = ["Ann@Acme.example", "ann@acme.example ", "j.o.hn+x@googlemail.com", "john@gmail.com",
              "", "bob@beta.example"]  # fmt: skip
    ids = [OldLead.objects.create(email=email, **defaults).pk for email in emails]

    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    canonical = dict(Lead.objects.filter(pk__in=ids).values_list("pk", "canonical_email"))
    assert [canonical[pk] for pk in ids] == [
        "ann@acme.example", "", "john@gmail.com", "", "", "bob@beta.example",
    ]  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.filter(pk=ids[4]).update(canonical_email="bob@beta.example")
    assert Activity.objects.count() == 0


def test_qualify_if_ready_keeps_working_on_leads_with_canonical_emails():
    rep = RepFactory()
    lead = LeadFactory(
        email="vp@acme.example", canonical_email="vp@acme.example", score=80, fit_score=30,
        engagement_score=50,
    )  # fmt: skip

    handoff = lead_qualify_if_ready(lead_id=lead.pk, now=NOW)

    assert (handoff.lead_id, handoff.rep_id) == (lead.pk, rep.pk)


@pytest.mark.postgres
def test_batch_lookups_by_canonical_email_probe_its_partial_index():
    # The unique index leaves blank canonical emails out; a lookup the planner cannot prove
    # blank-free scans the whole table once per batch of an import. It proves it element by
    # element for arrays of up to 100 constants only, so the batch here is larger.
    emails = [f"lead{n}@acme.example" for n in range(500)]
    # A table the size of a few batches, as an import writes it: no statistics yet.
    Lead.objects.bulk_create(
        Lead(email=f"known{n}@acme.example", canonical_email=f"known{n}@acme.example")
        for n in range(5000)
    )
    from leads.importing.bulk import index_lookups
    from leads.importing.matching import _CANONICAL_SQL

    with transaction.atomic(), index_lookups(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {_CANONICAL_SQL}", [emails])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "lead_unique_canonical_email" in plan
