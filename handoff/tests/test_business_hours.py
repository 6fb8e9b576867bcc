from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.business_hours import END_OF_DAY, BusinessCalendar, CalendarError, Shift

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def weekdays(start: time, end: time, days: range = range(5)) -> list[Shift]:
    return [Shift(weekday=day, start=start, end=end) for day in days]


def nine_to_five(
    tz: ZoneInfo = NEW_YORK, closed: frozenset[date] = frozenset()
) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=tz, shifts=tuple(weekdays(time(9), time(17))), closed_days=closed
    )


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_deadline_inside_one_day():
    calendar = nine_to_five()
    # Tuesday 10:00 + 4 business hours = Tuesday 14:00.
    due = calendar.add(local(NEW_YORK, 2026, 12, 1, 10), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 12, 1, 14)


def test_evening_assignment_is_due_next_morning():
    calendar = nine_to_five()
    # Tuesday 19:30 is after hours: the clock starts Wednesday 09:00.
    due = calendar.add(local(NEW_YORK, 2026, 12, 1, 19, 30), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 12, 2, 13)


def test_budget_runs_over_the_weekend():
    calendar = nine_to_five()
    # Friday 15:00: two hours on Friday, two on Monday.
    due = calendar.add(local(NEW_YORK, 2026, 12, 4, 15), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 12, 7, 11)


def test_weekend_assignment_starts_monday():
    calendar = nine_to_five()
    due = calendar.add(local(NEW_YORK, 2026, 12, 5, 12), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 12, 7, 13)


def test_budget_ending_at_closing_time_is_due_at_closing_time():
    calendar = nine_to_five()
    due = calendar.add(local(NEW_YORK, 2026, 12, 1, 13), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 12, 1, 17)


def test_spring_forward_day_has_the_same_business_hours():
    # On 8 March 2026 New York skips 02:00-03:00; a Monday 9-17 calendar is unaffected, but
    # the UTC offset changes from -5 to -4 across the weekend.
    calendar = nine_to_five()
    due = calendar.add(local(NEW_YORK, 2026, 3, 6, 15), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 3, 9, 11)
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 15, tzinfo=UTC)


def test_overnight_shift_across_spring_forward_is_an_hour_shorter():
    shifts = (Shift(weekday=5, start=time(22), end=time(6)),)  # Saturday night
    calendar = BusinessCalendar(timezone=NEW_YORK, shifts=shifts)
    start = local(NEW_YORK, 2026, 3, 7, 22)
    end_of_shift = local(NEW_YORK, 2026, 3, 8, 6)
    assert calendar.elapsed(start, end_of_shift) == timedelta(hours=7)
    assert calendar.add(start, timedelta(hours=7)) == end_of_shift


def test_overnight_shift_across_fall_back_is_an_hour_longer():
    shifts = (Shift(weekday=5, start=time(22), end=time(6)),)  # Saturday 31 October 2026
    calendar = BusinessCalendar(timezone=NEW_YORK, shifts=shifts)
    start = local(NEW_YORK, 2026, 10, 31, 22)
    assert calendar.elapsed(start, local(NEW_YORK, 2026, 11, 1, 6)) == timedelta(hours=9)


def test_shift_starting_in_the_skipped_hour_opens_after_the_gap():
    shifts = (Shift(weekday=6, start=time(2, 30), end=time(5)),)  # Sunday 8 March 2026
    calendar = BusinessCalendar(timezone=NEW_YORK, shifts=shifts)
    opening = calendar.next_opening(local(NEW_YORK, 2026, 3, 8, 0))
    assert opening == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert calendar.elapsed(opening, local(NEW_YORK, 2026, 3, 8, 5)) == timedelta(
        hours=1, minutes=30
    )


def test_split_shift_skips_the_lunch_break():
    shifts = weekdays(time(9), time(12)) + weekdays(time(13), time(18))
    calendar = BusinessCalendar(timezone=BERLIN, shifts=tuple(shifts))
    due = calendar.add(local(BERLIN, 2026, 12, 1, 10), timedelta(hours=4))
    assert due == local(BERLIN, 2026, 12, 1, 15)


def test_overnight_shift_belongs_to_the_day_it_starts():
    shifts = (Shift(weekday=0, start=time(22), end=time(6)),)  # Monday night only
    calendar = BusinessCalendar(timezone=BERLIN, shifts=shifts)
    due = calendar.add(local(BERLIN, 2026, 11, 30, 23), timedelta(hours=4))
    assert due == local(BERLIN, 2026, 12, 1, 3)
    # Tuesday 23:00 is closed: the next opening is the following Monday 22:00.
    assert calendar.next_opening(local(BERLIN, 2026, 12, 1, 23)) == local(BERLIN, 2026, 12, 7, 22)


def test_holiday_closes_the_shift_that_starts_on_it():
    closed = frozenset({date(2026, 12, 25)})
    calendar = nine_to_five(closed=closed)
    # Thursday 24 December 16:00: one hour that day; Friday is Christmas and the weekend is
    # closed, so the other three hours fall on Monday 28 December.
    due = calendar.add(local(NEW_YORK, 2026, 12, 24, 16), timedelta(hours=4))
    assert due == local(NEW_YORK, 2026, 12, 28, 12)


def test_close_time_2359_means_end_of_day():
    calendar = BusinessCalendar(
        timezone=BERLIN, shifts=(Shift(weekday=1, start=time(20), end=time(23, 59)),)
    )
    start = local(BERLIN, 2026, 12, 1, 20)
    assert calendar.add(start, timedelta(hours=4)) == local(BERLIN, 2026, 12, 2, 0)


def test_elapsed_counts_only_open_time():
    calendar = nine_to_five()
    elapsed = calendar.elapsed(local(NEW_YORK, 2026, 12, 4, 16), local(NEW_YORK, 2026, 12, 7, 10))
    assert elapsed == timedelta(hours=2)


def test_next_opening_inside_hours_is_now():
    calendar = nine_to_five()
    now = local(NEW_YORK, 2026, 12, 1, 11, 5)
    assert calendar.next_opening(now) == now
    assert calendar.is_open(now)
    assert not calendar.is_open(local(NEW_YORK, 2026, 12, 1, 17))


def test_naive_datetimes_are_refused():
    with pytest.raises(CalendarError, match="timezone-aware"):
        nine_to_five().add(datetime(2026, 12, 1, 10), timedelta(hours=1))  # noqa: DTZ001


def test_a_calendar_that_never_opens_is_refused():
    with pytest.raises(CalendarError, match="at least one shift"):
        BusinessCalendar(timezone=BERLIN, shifts=())


def test_public_holidays_from_the_holidays_package():
    import holidays

    calendar = nine_to_five(tz=BERLIN, closed=holidays.country_holidays("DE", subdiv="BY"))
    # 6 January (Epiphany) is a holiday in Bavaria: Tuesday 5 January 16:00 + 4h = Thursday 12:00.
    due = calendar.add(local(BERLIN, 2027, 1, 5, 16), timedelta(hours=4))
    assert due == local(BERLIN, 2027, 1, 7, 12)


# Property tests: the calendar against a plain minute-by-minute reference.


def reference_is_open(calendar: BusinessCalendar, minute: datetime) -> bool:
    """Is the calendar open during the UTC minute starting at `minute`? Checked directly from the
    shifts: look at the local wall time and at the shifts of today and yesterday."""
    tz = calendar.timezone
    wall = minute.astimezone(tz).replace(tzinfo=None)
    for day in (wall.date(), wall.date() - timedelta(days=1)):
        if day in calendar.closed_days:
            continue
        for shift in calendar.shifts:
            if shift.weekday != day.weekday():
                continue
            start_wall, end_wall = shift.local_bounds(day)
            # Compare real instants, so that the skipped and repeated hours count as they pass.
            start = start_wall.replace(tzinfo=tz).astimezone(UTC)
            end = end_wall.replace(tzinfo=tz).astimezone(UTC)
            if start <= minute < end:
                return True
    return False


def reference_add(calendar: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    cursor = start.astimezone(UTC)
    remaining = minutes
    while True:
        if remaining == 0:
            return cursor
        if reference_is_open(calendar, cursor):
            remaining -= 1
            cursor += timedelta(minutes=1)
            if remaining == 0:
                return cursor
        else:
            cursor += timedelta(minutes=1)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Sao_Paulo", "Pacific/Auckland"]  # fmt: skip


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    shifts = []
    # Up to two shifts a day, which may be split, overnight, overlapping, meeting end to start,
    # or the whole day (00:00 to 23:59).
    weekdays = draw(st.lists(st.integers(0, 6), min_size=1, max_size=14))
    for weekday in weekdays:
        if draw(st.integers(0, 9)) == 0:
            shifts.append(Shift(weekday=weekday, start=time(0), end=END_OF_DAY))
            continue
        start_minutes = draw(st.integers(0, 23 * 4)) * 15
        length = draw(st.integers(1, 16 * 4)) * 15
        start = time(start_minutes // 60, start_minutes % 60)
        end_minutes = (start_minutes + length) % (24 * 60)
        end = time(end_minutes // 60, end_minutes % 60)
        if end == start:
            continue
        shifts.append(Shift(weekday=weekday, start=start, end=end))
    if not shifts:
        shifts.append(Shift(weekday=0, start=time(9), end=time(17)))
    closed = frozenset(draw(st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20)))
    return BusinessCalendar(timezone=tz, shifts=tuple(shifts), closed_days=closed)


# Instants on whole minutes, concentrated around the 2026 daylight-saving changes.
instants = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 1)),  # noqa: DTZ001
    st.datetimes(datetime(2026, 3, 6), datetime(2026, 3, 30)),  # noqa: DTZ001
    st.datetimes(datetime(2026, 10, 23), datetime(2026, 11, 3)),  # noqa: DTZ001
    st.datetimes(datetime(2026, 4, 1), datetime(2026, 4, 7)),  # noqa: DTZ001
).map(lambda naive: naive.replace(second=0, microsecond=0, tzinfo=UTC))

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=instants, minutes=st.integers(0, 24 * 60))
def test_add_matches_minute_by_minute_reference(
    calendar: BusinessCalendar, start: datetime, minutes: int
):
    assert calendar.add(start, timedelta(minutes=minutes)) == reference_add(
        calendar, start, minutes
    )


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=instants, span=st.integers(0, 3 * 24 * 60))
def test_elapsed_matches_minute_by_minute_reference(
    calendar: BusinessCalendar, start: datetime, span: int
):
    end = start + timedelta(minutes=span)
    expected = sum(
        reference_is_open(calendar, start + timedelta(minutes=offset)) for offset in range(span)
    )
    assert calendar.elapsed(start, end) == timedelta(minutes=expected)


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=instants, minutes=st.integers(1, 24 * 60))
def test_elapsed_undoes_add(calendar: BusinessCalendar, start: datetime, minutes: int):
    due = calendar.add(start, timedelta(minutes=minutes))
    assert calendar.elapsed(start, due) == timedelta(minutes=minutes)


def test_add_days_counts_working_days_including_today():
    calendar = nine_to_five()
    # Thursday 10:00: Thursday, Friday, Monday -> Monday 17:00.
    assert calendar.add_days(local(NEW_YORK, 2026, 12, 3, 10), 3) == local(
        NEW_YORK, 2026, 12, 7, 17
    )
    # After Thursday's close, Thursday no longer counts.
    assert calendar.add_days(local(NEW_YORK, 2026, 12, 3, 18), 1) == local(
        NEW_YORK, 2026, 12, 4, 17
    )


def test_add_days_skips_holidays():
    calendar = nine_to_five(closed=frozenset({date(2026, 12, 25)}))
    assert calendar.add_days(local(NEW_YORK, 2026, 12, 24, 9), 2) == local(
        NEW_YORK, 2026, 12, 28, 17
    )


def around_the_clock(days: range = range(7)) -> BusinessCalendar:
    return BusinessCalendar(timezone=NEW_YORK, shifts=tuple(weekdays(time(0), END_OF_DAY, days)))


def test_a_calendar_open_around_the_clock_counts_every_hour():
    calendar = around_the_clock()
    start = local(NEW_YORK, 2026, 12, 3, 10)

    assert calendar.add(start, timedelta(hours=100)) == start + timedelta(hours=100)
    assert calendar.elapsed(start, start + timedelta(days=9)) == timedelta(days=9)
    assert calendar.is_open(start)


def test_whole_days_that_meet_still_count_as_separate_working_days():
    # Monday to Friday, all day: three working days from Tuesday noon end on Thursday night.
    calendar = around_the_clock(range(5))

    assert calendar.add_days(local(NEW_YORK, 2026, 12, 1, 12), 3) == local(NEW_YORK, 2026, 12, 4, 0)
    # From Saturday, the first working day is Monday.
    assert calendar.add_days(local(NEW_YORK, 2026, 12, 5, 12), 1) == local(NEW_YORK, 2026, 12, 8, 0)


def test_a_day_shift_and_the_night_shift_after_it_are_counted_once():
    # 09:00-17:00 and 17:00-09:00 every weekday, with the night shift overlapping nothing.
    shifts = weekdays(time(9), time(17)) + weekdays(time(17), time(9)) + weekdays(time(8), time(10))
    calendar = BusinessCalendar(timezone=NEW_YORK, shifts=tuple(shifts))
    monday_9 = local(NEW_YORK, 2026, 11, 30, 9)

    # Monday 09:00 to Saturday 09:00 is open throughout, 120 hours, none counted twice.
    assert calendar.elapsed(monday_9, monday_9 + timedelta(days=5)) == timedelta(hours=120)
    assert calendar.add(monday_9, timedelta(hours=119)) == monday_9 + timedelta(hours=119)
