from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.reports import Scored, band_of, roc_auc, scoring_report


def test_roc_auc_counts_ties_as_half():
    # Converted scores 3 and 2; not converted 2 and 1: pairs (3>2), (3>1), (2=2 half), (2>1).
    assert roc_auc([(3, True), (2, True), (2, False), (1, False)]) == 0.875
    assert roc_auc([(1, True), (2, False)]) == 0.0
    assert roc_auc([(5, True), (5, False)]) == 0.5
    assert roc_auc([(1, True), (2, True)]) is None


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (-5, (None, 0)),
        (0, (0, 25)),
        (24, (0, 25)),
        (50, (50, 75)),
        (99, (75, 100)),
        (140, (100, None)),
    ],
)
def test_score_bands(score, band):
    assert band_of(score) == band


def test_report_precision_recall_and_bands():
    rows = [
        Scored(score=80, qualified=True, converted=True),
        Scored(score=60, qualified=True, converted=False),
        Scored(score=30, qualified=False, converted=True),
        Scored(score=10, qualified=False, converted=False),
    ]
    report = scoring_report(rows)
    assert (report.leads, report.converted, report.mqls, report.mqls_converted) == (4, 2, 2, 1)
    assert (report.precision, report.recall, report.base_rate) == (0.5, 0.5, 0.5)
    assert report.roc_auc == 0.75
    assert report.top_decile_conversion == 1.0
    assert [(band["band"], band["leads"], band["converted"]) for band in report.bands] == [
        ("below 0", 0, 0),
        ("0 to 24", 1, 0),
        ("25 to 49", 1, 1),
        ("50 to 74", 1, 0),
        ("75 to 99", 1, 1),
        ("100 and above", 0, 0),
    ]


@pytest.mark.django_db
def test_command_refuses_a_file_without_outcomes(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("First Name,Last Name,Email\nAnn,Lee,ann@acme.example\n")
    with pytest.raises(CommandError, match="No row has a 'converted' value"):
        call_command("scoring_report", str(path), stdout=StringIO())


@pytest.mark.django_db
def test_command_on_the_real_x_education_file(real_data_file):
    out = StringIO()
    call_command("scoring_report", str(real_data_file("x_education_leads.csv")), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Leads scored: 9240 (skipped 0 without an outcome)"
    assert lines[1] == "Converted: 3561 (38.5%)"
    # The shipped rules, using only what is known before the handoff.
    assert lines[2] == "ROC AUC of the current rules: 0.805"
