"""How well the MQL score predicts conversion, for files that carry the outcome.

Pure computation over (score, converted) pairs, so that the same numbers come out whether
the leads come from a file or from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Score bands as marketing reads them: each band is [low, high).
SCORE_BANDS = ((None, 0), (0, 25), (25, 50), (50, 75), (75, 100), (100, None))


def band_label(low: int | None, high: int | None) -> str:
    if low is None:
        return f"below {high}"
    if high is None:
        return f"{low} and above"
    return f"{low} to {high - 1}"


def band_of(score: int) -> tuple[int | None, int | None]:
    for low, high in SCORE_BANDS:
        if (low is None or score >= low) and (high is None or score < high):
            return low, high
    raise AssertionError("the bands cover every score")  # pragma: no cover


@dataclass(frozen=True)
class Scored:
    score: int
    qualified: bool
    converted: bool


@dataclass
class ScoringReport:
    leads: int = 0
    converted: int = 0
    roc_auc: float | None = None
    mqls: int = 0
    mqls_converted: int = 0
    top_decile_conversion: float | None = None
    bands: list[dict] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        """Of the leads that would be MQL, the share that converted."""
        return self.mqls_converted / self.mqls if self.mqls else None

    @property
    def recall(self) -> float | None:
        """Of the leads that converted, the share the threshold would have made MQL."""
        return self.mqls_converted / self.converted if self.converted else None

    @property
    def base_rate(self) -> float | None:
        return self.converted / self.leads if self.leads else None


def roc_auc(pairs: list[tuple[int, bool]]) -> float | None:
    """The probability that a converted lead scores above one that did not (ties count half):
    the Mann-Whitney form of the area under the ROC curve, from average ranks."""
    positives = sum(1 for _, converted in pairs if converted)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        return None
    ordered = sorted(pairs, key=lambda pair: pair[0])
    rank_sum = 0.0
    index = 0
    while index < len(ordered):
        end = index
        while end < len(ordered) and ordered[end][0] == ordered[index][0]:
            end += 1
        # Tied scores share the average of the ranks they span (ranks start at 1).
        average_rank = (index + 1 + end) / 2
        rank_sum += average_rank * sum(1 for _, converted in ordered[index:end] if converted)
        index = end
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def scoring_report(results: Iterable[Scored]) -> ScoringReport:
    rows = list(results)
    report = ScoringReport(leads=len(rows))
    report.converted = sum(row.converted for row in rows)
    report.roc_auc = roc_auc([(row.score, row.converted) for row in rows])
    report.mqls = sum(row.qualified for row in rows)
    report.mqls_converted = sum(row.qualified and row.converted for row in rows)
    if rows:
        top = sorted(rows, key=lambda row: row.score, reverse=True)[: max(len(rows) // 10, 1)]
        report.top_decile_conversion = sum(row.converted for row in top) / len(top)
    for low, high in SCORE_BANDS:
        in_band = [row for row in rows if band_of(row.score) == (low, high)]
        converted = sum(row.converted for row in in_band)
        report.bands.append(
            {
                "band": band_label(low, high),
                "leads": len(in_band),
                "converted": converted,
                "rate": converted / len(in_band) if in_band else None,
            }
        )
    return report
