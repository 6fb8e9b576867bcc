"""Reads for marketing's review of what sales rejected.

The review counts handoffs that ended (qualified, rejected or returned to marketing; a
reassignment is not an end) by the ISO week they ended in, UTC. A group's rejection rate is its
rejected handoffs over its ended ones; for a rejection reason it is that reason's rejections
over every handoff that ended that week, so that the reasons of a week add up to the week's
rate. Every table is one grouped query, whatever the number of handoffs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.db.models.functions import TruncWeek

from feedback.models import Rejection
from handoff.models import Handoff, HandoffState

REVIEW_WEEKS = 12
REJECTED_STATES = (HandoffState.REJECTED, HandoffState.RETURNED)
ENDED_STATES = (HandoffState.QUALIFIED, *REJECTED_STATES)

# Score bands on the lead's score. For a lead that stays rejected or disqualified that is its
# score at rejection, since the nightly rescore skips those stages; a recycled lead is rescored
# and may have moved since.
SCORE_BANDS = (
    ("0-24", "Under 25", None, 25),
    ("25-49", "25 to 49", 25, 50),
    ("50-74", "50 to 74", 50, 75),
    ("75-99", "75 to 99", 75, 100),
    ("100+", "100 and over", 100, None),
)
SCORE_BAND_LABELS = {key: label for key, label, _, _ in SCORE_BANDS}

DIMENSIONS = {
    "source": "Source",
    "campaign": "Campaign",
    "reason": "Reason",
    "band": "Score band",
}
# What a drill-down link passes for a group with no value (a lead with no source or campaign).
NONE_KEY = "none"


def score_band_q(key: str) -> Q:
    """The leads whose score falls in the band `key`."""
    for band, _, low, high in SCORE_BANDS:
        if band == key:
            condition = Q()
            if low is not None:
                condition &= Q(lead__score__gte=low)
            if high is not None:
                condition &= Q(lead__score__lt=high)
            return condition
    raise ValueError(f"unknown score band '{key}'")


def _band_expression() -> Case:
    whens = [When(score_band_q(key), then=Value(key)) for key, *_ in SCORE_BANDS]
    return Case(*whens, output_field=CharField())


def week_start(moment: datetime) -> date:
    """Monday of the ISO week containing `moment`, in UTC."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def review_weeks(*, now: datetime, weeks: int = REVIEW_WEEKS) -> list[date]:
    """The Mondays of the last `weeks` ISO weeks, oldest first, the current week last."""
    current = week_start(now)
    return [current - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def iso_week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Cell:
    ended: int = 0
    rejected: int = 0

    @property
    def rate(self) -> float | None:
        return self.rejected / self.ended if self.ended else None

    def __add__(self, other: Cell) -> Cell:
        return Cell(ended=self.ended + other.ended, rejected=self.rejected + other.rejected)


@dataclass
class ReviewRow:
    dimension: str
    key: str
    label: str
    cells: list[Cell]

    @property
    def total(self) -> Cell:
        return sum(self.cells, Cell())


@dataclass
class Review:
    weeks: list[date]
    overall: list[Cell]
    tables: dict[str, list[ReviewRow]] = field(default_factory=dict)

    @property
    def total(self) -> Cell:
        return sum(self.overall, Cell())

    @property
    def week_labels(self) -> list[str]:
        return [iso_week_label(monday) for monday in self.weeks]


def _ended_in(weeks: list[date]) -> QuerySet[Handoff]:
    start = datetime.combine(weeks[0], datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(weeks[-1] + timedelta(days=7), datetime.min.time(), tzinfo=UTC)
    return Handoff.objects.filter(state__in=ENDED_STATES, ended_at__gte=start, ended_at__lt=end)


def _grouped(handoffs: QuerySet[Handoff], *columns: str) -> QuerySet:
    return (
        handoffs.annotate(week=TruncWeek("ended_at", tzinfo=UTC))
        .values("week", *columns)
        .annotate(ended=Count("pk"), rejected=Count("pk", filter=Q(state__in=REJECTED_STATES)))
        .order_by()
    )


def _week_of(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def rejection_review(*, now: datetime, weeks: int = REVIEW_WEEKS) -> Review:
    """Rejection rates by week, overall and by source, campaign, reason and score band."""
    mondays = review_weeks(now=now, weeks=weeks)
    position = {monday: index for index, monday in enumerate(mondays)}
    handoffs = _ended_in(mondays)

    overall = [Cell() for _ in mondays]
    for row in _grouped(handoffs):
        overall[position[_week_of(row["week"])]] = Cell(row["ended"], row["rejected"])
    review = Review(weeks=mondays, overall=overall)

    def collect(dimension: str, rows: QuerySet, key_of, label_of, *, per_week_total: bool) -> None:  # noqa: ANN001
        table: dict[str, ReviewRow] = {}
        for row in rows:
            key = key_of(row)
            if key is None:
                continue
            if key not in table:
                # A reason's weeks without it still count their ended handoffs: its rate over
                # the period is over every handoff that ended in it.
                empty = [Cell(ended=cell.ended) if per_week_total else Cell() for cell in overall]
                table[key] = ReviewRow(dimension, key, label_of(row), empty)
            entry = table[key]
            index = position[_week_of(row["week"])]
            # A reason's rate is over every handoff that ended that week.
            ended = overall[index].ended if per_week_total else row["ended"]
            entry.cells[index] = Cell(ended=ended, rejected=row["rejected"])
        review.tables[dimension] = sorted(
            table.values(), key=lambda r: (-r.total.rejected, -r.total.ended, r.label.casefold())
        )

    collect(
        "source",
        _grouped(handoffs, "lead__source_id", "lead__source__name"),
        lambda row: str(row["lead__source_id"] or NONE_KEY),
        lambda row: row["lead__source__name"] or "No source",
        per_week_total=False,
    )
    collect(
        "campaign",
        _grouped(handoffs, "lead__campaign"),
        lambda row: row["lead__campaign"] or NONE_KEY,
        lambda row: row["lead__campaign"] or "No campaign",
        per_week_total=False,
    )
    collect(
        "reason",
        _grouped(
            handoffs.filter(state__in=REJECTED_STATES),
            "rejection__reason__code",
            "rejection__reason__label",
        ),
        lambda row: row["rejection__reason__code"] or NONE_KEY,
        lambda row: row["rejection__reason__label"] or "No reason recorded",
        per_week_total=True,
    )
    collect(
        "band",
        _grouped(handoffs.annotate(band=_band_expression()), "band"),
        lambda row: row["band"],
        lambda row: SCORE_BAND_LABELS[row["band"]],
        per_week_total=False,
    )
    # Bands read best in score order, whatever their counts.
    order = [key for key, *_ in SCORE_BANDS]
    review.tables["band"].sort(key=lambda row: order.index(row.key))
    return review


def rejection_list() -> QuerySet[Rejection]:
    """Every rejection with what a list of them shows, newest first."""
    return Rejection.objects.select_related(
        "reason", "lead__source", "rejected_by", "handoff__rep__user"
    ).order_by("-created_at", "-id")


def rejection_list_recent(*, limit: int = 50) -> QuerySet[Rejection]:
    return rejection_list()[:limit]
