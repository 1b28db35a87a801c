"""The benchmark's floor (benchmarks/floor.py): the fewest requests × latency ÷ concurrency, never
below what the board's PAS limit (300/min, one client) and each school key's planner limit (120/min)
allow. (The whole benchmark takes minutes even on a tiny board, so it is not run here.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.floor import Need, floor, rate_bound, ratio, shares_a_window


def test_a_board_at_the_latency_bound():
    # the README's first full sync: 75 schools x (3 PAS pages + 4 planner pages), one token
    need = Need(pas=226, planner={f"S{i}": 4 for i in range(75)})
    got = floor(need, 0.02, 4)
    assert need.total == 526
    assert got["floor_bound"] == "latency" and got["floor_s"] == pytest.approx(526 * 0.02 / 4)
    assert got["pas_limit_bound_s"] == pytest.approx(0.02)  # 226 requests fit in the first minute


def test_the_pas_limit_is_the_floor_when_the_board_needs_more_than_300_requests_a_minute():
    got = floor(Need(pas=601), 0.02, 8)
    assert got["floor_bound"] == "pas_limit"
    assert got["floor_s"] == pytest.approx(120.02)  # requests 301-600 in minute 2, the 601st at 120 s


def test_the_busiest_planner_key_counts_not_the_sum_of_the_keys():
    need = Need(planner={"A": 121, "B": 120, "C": 5})
    got = floor(need, 0.01, 16)
    assert got["floor_bound"] == "planner_limit" and got["floor_s"] == pytest.approx(60.01)
    assert floor(Need(planner={"A": 120, "B": 120}), 0.01, 16)["planner_limit_bound_s"] == pytest.approx(0.01)


@given(st.integers(1, 5000), st.integers(1, 600), st.floats(0.001, 1))
def test_the_rate_bound_lets_exactly_the_limit_start_in_each_minute(n, per_minute, latency):
    minutes = (n - 1) // per_minute
    assert rate_bound(n, per_minute, latency) == pytest.approx(minutes * 60 + latency)
    assert n <= (minutes + 1) * per_minute  # the n-th request fits in minute `minutes`
    assert minutes == 0 or n > minutes * per_minute  # and not in an earlier one


@given(
    st.integers(0, 2000),
    st.dictionaries(st.sampled_from("ABCDE"), st.integers(0, 500)),
    st.floats(0.001, 0.5),
    st.integers(1, 16),
)
def test_the_floor_is_the_largest_bound_and_grows_with_the_requests(pas, planner, latency, concurrency):
    need = Need(pas, planner)
    got = floor(need, latency, concurrency)
    bounds = [got["latency_bound_s"], got["pas_limit_bound_s"], got["planner_limit_bound_s"]]
    assert got["floor_s"] == max(bounds)
    assert got["latency_bound_s"] == pytest.approx(need.total * latency / concurrency, abs=1e-3)
    more = floor(need + Need(1, {"A": 1}), latency, concurrency)
    assert more["floor_s"] >= got["floor_s"]


def test_a_scenario_shares_a_rate_window_only_when_the_previous_requests_push_it_over_a_limit():
    roster = Need(226, {"A": 4})
    assert shares_a_window(roster, Need(225, {"A": 4}))  # 451 PAS requests in a minute
    assert not shares_a_window(roster, Need(74, {"A": 4}))
    assert shares_a_window(Need(0, {"A": 100}), Need(0, {"A": 21}))
    assert not shares_a_window(Need(0, {"A": 100}), Need(0, {"B": 21}))  # another key
    assert not shares_a_window(Need(0), Need(400))  # over the limit on its own: its floor says so


def test_the_ratio_to_the_floor():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None
    with pytest.raises(ValueError, match="concurrency"):
        floor(Need(1), 0.02, 0)
