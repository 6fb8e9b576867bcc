"""Business-hours arithmetic for SLA deadlines.

This module knows nothing of the models, so that it can be tested on its own. A calendar is a
timezone, a set of weekly shifts and the days that are closed. Business time is the real time
that passes while the calendar is open: an eight-hour shift that spans the night the clocks go
back holds nine hours of business time. All instants given and returned are timezone-aware;
results are in UTC.

Rules a reader might not guess:
- A shift whose end is at or before its start runs overnight and belongs to the day it starts,
  so a holiday closes the shift that starts on it, not the one that ends on it.
- An end of 23:59 means the end of the day, as an admin would write it in a form.
- A local time that does not exist (the hour skipped when clocks go forward) is read as the
  same wall time in the offset before the change, which moves it forward by the gap; a local
  time that repeats is read as its first occurrence.
- A budget that runs out exactly at a closing time is due at that closing time.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

END_OF_DAY = time(23, 59)
# A calendar with no open time for this many days in a row is treated as broken rather than
# searched forever.
MAX_CLOSED_DAYS = 3 * 366

Interval = tuple[datetime, datetime]


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class Shift:
    """Open hours on one weekday (Monday is 0), in the calendar's local time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise CalendarError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if self.start == self.end:
            raise CalendarError(f"a shift cannot start and end at {self.start:%H:%M}")

    def local_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Naive local start and end of this shift when it starts on `day`."""
        start = datetime.combine(day, self.start)
        if self.end == END_OF_DAY or self.end == time(0, 0):
            end = datetime.combine(day + timedelta(days=1), time(0, 0))
        elif self.end < self.start:
            end = datetime.combine(day + timedelta(days=1), self.end)
        else:
            end = datetime.combine(day, self.end)
        return start, end


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: ZoneInfo
    shifts: tuple[Shift, ...]
    closed_days: Container[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.shifts:
            raise CalendarError("a calendar needs at least one shift")

    @classmethod
    def build(
        cls,
        *,
        timezone: str | ZoneInfo,
        shifts: Iterable[Shift],
        closed_days: Container[date] = frozenset(),
    ) -> BusinessCalendar:
        zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        return cls(timezone=zone, shifts=tuple(shifts), closed_days=closed_days)

    def _to_utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.timezone).astimezone(UTC)

    def _intervals_of_day(self, day: date) -> list[Interval]:
        if day in self.closed_days:
            return []
        intervals = []
        for shift in self.shifts:
            if shift.weekday != day.weekday():
                continue
            local_start, local_end = shift.local_bounds(day)
            start, end = self._to_utc(local_start), self._to_utc(local_end)
            if end > start:
                intervals.append((start, end))
        return sorted(intervals)

    def open_intervals(self, since: datetime) -> Iterator[Interval]:
        """Yield the open intervals from `since` on, in order, clipped to `since`, with no
        time in two of them. Each shift yields its own interval: shifts that meet (a day
        shift and the night shift after it, or a calendar open around the clock) are not
        joined, so that the search always moves on and each working day stays apart."""
        _require_aware(since)
        # Start a day early: an overnight shift from yesterday may still be open.
        day = since.astimezone(self.timezone).date() - timedelta(days=1)
        covered_until = since
        closed_streak = 0
        while True:
            intervals = self._intervals_of_day(day)
            closed_streak = 0 if intervals else closed_streak + 1
            if closed_streak > MAX_CLOSED_DAYS:
                raise CalendarError(f"no open hours for {MAX_CLOSED_DAYS} days after {day}")
            for start, end in intervals:
                # Shifts may overlap, such as last night's shift and this morning's: the
                # time already yielded is cut from the later one.
                start = max(start, covered_until)
                if end <= start:
                    continue
                yield start, end
                covered_until = end
            day += timedelta(days=1)

    def add(self, start: datetime, budget: timedelta) -> datetime:
        """The instant at which `budget` of business time, counted from `start`, is used up."""
        if budget < timedelta(0):
            raise CalendarError("a business-time budget cannot be negative")
        if budget == timedelta(0):
            return start.astimezone(UTC)
        remaining = budget
        for open_at, close_at in self.open_intervals(start):
            span = close_at - open_at
            if remaining <= span:
                return open_at + remaining
            remaining -= span
        raise AssertionError("open_intervals never ends")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when `end` is not after `start`."""
        _require_aware(end)
        total = timedelta(0)
        if end <= start:
            return total
        for open_at, close_at in self.open_intervals(start):
            if open_at >= end:
                break
            total += min(close_at, end) - open_at
        return total

    def add_days(self, start: datetime, days: int) -> datetime:
        """The close of the `days`-th working day counted from `start`, the day of `start`
        included when the calendar is still open after it. A working day is a local date on
        which a shift starts."""
        if days < 1:
            raise CalendarError("count at least one business day")
        seen: list[date] = []
        last_close: datetime | None = None
        for open_at, close_at in self.open_intervals(start):
            day = open_at.astimezone(self.timezone).date()
            if not seen or seen[-1] != day:
                if len(seen) == days:
                    break
                seen.append(day)
            last_close = close_at
        assert last_close is not None
        return last_close

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when the calendar is open then, otherwise the next time it opens."""
        open_at, _ = next(self.open_intervals(at))
        return open_at

    def is_open(self, at: datetime) -> bool:
        return self.next_opening(at) == at.astimezone(UTC)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError("business-hours arithmetic needs timezone-aware datetimes")
