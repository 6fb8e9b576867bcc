import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leads.importing import leads_import
from leads.management.commands.make_demo_leads import CREATED_DATE_FORMAT, HEADERS
from leads.models import Lead, Stage

ANCHOR = "2026-12-01T00:00:00+00:00"


def generate(path: Path, *, rows: int = 300, seed: int = 42) -> list[dict[str, str]]:
    call_command(
        "make_demo_leads", rows=rows, seed=seed, out=str(path), now=ANCHOR, stdout=StringIO()
    )
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_and_anchor_give_the_same_file_byte_for_byte(tmp_path):
    generate(tmp_path / "a.csv")
    generate(tmp_path / "b.csv")
    generate(tmp_path / "c.csv", seed=7)

    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_demo_file_has_the_columns_and_a_realistic_mix(tmp_path):
    rows = generate(tmp_path / "demo.csv")

    assert list(rows[0]) == HEADERS
    assert HEADERS[:13] == [
        "First Name", "Last Name", "Email", "Phone", "Company", "Title", "Industry",
        "Employees", "Country", "City", "Lead Source", "Campaign", "Created Date",
    ]  # fmt: skip
    assert len(rows) == 300
    assert len({row["Email"] for row in rows}) == 300
    assert set(Counter(row["Lead Source"] for row in rows)) == {
        "Demo request", "Pricing-page visit", "Case-study download", "Newsletter signup",
    }  # fmt: skip
    anchor = datetime.fromisoformat(ANCHOR)
    for row in rows:
        created = datetime.strptime(row["Created Date"], CREATED_DATE_FORMAT).replace(tzinfo=UTC)
        assert anchor - timedelta(days=14) <= created < anchor
    titles = Counter(row["Title"] for row in rows)
    assert titles["Student"] + titles["MBA Student"] + titles["Job seeker"] > 0
    assert titles["CEO"] + titles["VP of Sales"] + titles["Head of Growth"] > 0
    domains = Counter(row["Email"].rpartition("@")[2] for row in rows)
    assert domains["gmail.com"] > 0


def test_rows_must_be_positive(tmp_path):
    with pytest.raises(CommandError, match="--rows must be at least 1, not 0"):
        call_command("make_demo_leads", rows=0, out=str(tmp_path / "x.csv"), stdout=StringIO())

    assert not (tmp_path / "x.csv").exists()


@pytest.mark.django_db
def test_demo_file_imports_cleanly_and_qualifies_a_week_of_work_for_the_demo_team(tmp_path):
    call_command("seed_demo", stdout=StringIO())
    generate(tmp_path / "demo.csv")

    report = leads_import(source=tmp_path / "demo.csv", actor=None)

    assert (report.created, report.errors, report.ignored_columns) == (300, [], [])
    mqls = Lead.objects.filter(stage=Stage.MQL).count()
    # Five BDRs at 50 a week: the demo must give them real work without exceeding capacity.
    assert 100 <= mqls <= 200
    assert report.handoffs_created == mqls
    assert Lead.objects.filter(stage=Stage.MQL, job_title="Student").count() == 0
