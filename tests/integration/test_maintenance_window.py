"""During the nightly PAS maintenance (01:00-01:30 Europe/Amsterdam) a read gives up at once
with VendorUnavailable and the wait the vendor asked for, instead of blocking a thread."""

from __future__ import annotations

import time as real_time
from datetime import datetime

import pytest

from adapters.errors import VendorUnavailable
from adapters.simulator.config import AMS

from .conftest import counters, make_config, pas_client, running, set_clock


def test_it_raises_vendor_unavailable_with_retry_after_promptly_inside_the_window(clock):
    with (
        running(make_config(start_time=datetime(2026, 10, 2, 0, 55, tzinfo=AMS))) as sim,
        pas_client(sim, clock) as pas,
    ):
        assert len(list(pas.groups("12AB00"))) > 0  # before the window: a token and data

        set_clock(sim, datetime(2026, 10, 2, 1, 10, tzinfo=AMS))
        started = real_time.monotonic()
        with pytest.raises(VendorUnavailable) as unavailable:
            list(pas.pupils("12AB00"))
        elapsed = real_time.monotonic() - started

        error = unavailable.value
        assert error.status == 503 and error.retry_after == 20 * 60  # until 01:30
        assert "retry after 1200 s" in str(error)
        assert clock.sleeps == [] and elapsed < 2.0  # no waiting at all
        assert counters(sim)["statuses"]["GET /api/v1/schools/{brin}/pupils 503"] == 1

        set_clock(sim, datetime(2026, 10, 2, 1, 30, tzinfo=AMS))
        assert len(list(pas.pupils("12AB00"))) >= 75  # the window is over


def test_it_raises_vendor_unavailable_when_even_the_token_request_falls_in_the_window(clock):
    with running(make_config(start_time=datetime(2026, 10, 2, 1, 0, tzinfo=AMS))) as sim:
        with pas_client(sim, clock) as pas, pytest.raises(VendorUnavailable) as unavailable:
            list(pas.staff("34CD01"))
        assert unavailable.value.retry_after == 30 * 60 and unavailable.value.path == "/oauth/token"
        assert clock.sleeps == [] and pas.tokens_fetched == 0
