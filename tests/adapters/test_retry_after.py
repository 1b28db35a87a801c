from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from adapters._retry_after import parse_retry_after

NOW = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)


def test_it_reads_delay_seconds():
    assert parse_retry_after("30", now=NOW) == 30.0
    assert parse_retry_after(" 0 ", now=NOW) == 0.0


def test_it_reads_an_http_date_as_the_seconds_until_then():
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(when, now=NOW) == 90.0


def test_it_treats_an_http_date_in_the_past_as_no_wait():
    when = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(when, now=NOW) == 0.0


def test_it_treats_absent_or_garbage_values_as_absent():
    for value in (None, "", "soon", "-5", "1.5", "３０", "Wed, 99 Foo 2026"):
        assert parse_retry_after(value, now=NOW) is None, value


@given(st.integers(min_value=0, max_value=10**9))
def test_it_round_trips_any_whole_number_of_seconds(seconds):
    assert parse_retry_after(str(seconds), now=NOW) == float(seconds)


@given(st.integers(min_value=-(10**7), max_value=10**7))
def test_it_round_trips_any_http_date(offset):
    when = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(when, now=NOW) == max(0.0, float(offset))


@given(st.text())
def test_it_never_raises_and_never_returns_a_negative_wait(value):
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0
