"""Listings end: a PAS `total` of 10^15 or a planner cursor that never runs out cannot keep a
reader paging for ever. Each bound is a named error that says which bound and which endpoint."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.errors import LimitExceeded, PaginationLoop, TemporaryError, TooManyPages
from adapters.parnassys import PasClient
from adapters.parro import ParroClient
from tests.adapters.conftest import API_KEY, CLIENT_SECRET, PARRO, PARRO_API, PAS, PAS_API, pas_page, token_response

PUPILS = f"{PAS_API}/schools/12AB00/pupils"
CHILDREN = f"{PARRO_API}/children"
HUGE = 10**15


def params(request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query))


@pytest.fixture(autouse=True)
def token(rsps):
    token_response(rsps)


def pas_with(clock, policy, **kw) -> PasClient:
    return PasClient(PAS, "my-integration", CLIENT_SECRET, policy=policy, clock=clock, sleep=clock.sleep, **kw)


def pages_of_new_ids(request):
    """A PAS list that claims 10^15 records and has a full page of new ones at every offset."""
    q = params(request)
    offset, limit = int(q["offset"]), int(q["limit"])
    items = [{"id": str(offset + i)} for i in range(limit)]
    return 200, {}, json.dumps(pas_page(items, total=HUGE, offset=offset, limit=limit))


# --- PAS offset pagination --------------------------------------------------------------


def test_a_huge_total_ends_with_the_short_last_page(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=HUGE, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "3"}, {"id": "4"}], total=HUGE, offset=2, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "5"}], total=HUGE, offset=4, limit=2))
    sweep = pas.pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2", "3", "4", "5"]
    assert sweep.complete and sweep.pages == 3
    assert sweep.watermark.isoformat() == "2026-11-20T09:00:00+01:00"
    assert len(rsps.calls) == 4  # the token and three pages


def test_a_huge_total_ends_with_an_empty_page(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=HUGE, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([], total=HUGE, offset=2, limit=2))
    sweep = pas.pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2"]
    assert sweep.complete and sweep.pages == 2


def test_a_huge_total_with_pages_that_never_end_stops_at_max_pages(rsps, clock, policy):
    rsps.add_callback("GET", PUPILS, callback=pages_of_new_ids)
    pas = pas_with(clock, policy, max_pages=5)
    sweep = pas.pupils("12AB00", limit=3)
    with pytest.raises(TooManyPages) as err:
        list(sweep)
    assert isinstance(err.value, TemporaryError) and isinstance(err.value, LimitExceeded)
    assert err.value.bound == "max_pages" and err.value.limit == 5
    text = str(err.value)
    assert "max_pages" in text and "5 pages" in text and "pas GET /schools/12AB00/pupils" in text
    assert sweep.pages == 5 and sweep.yielded == 15 and not sweep.complete
    assert len(rsps.calls) == 1 + 5


def test_a_listing_of_exactly_max_pages_completes(rsps, clock, policy):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=4, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "3"}, {"id": "4"}], total=4, offset=2, limit=2))
    sweep = pas_with(clock, policy, max_pages=2).pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2", "3", "4"] and sweep.complete


def test_pages_that_ignore_the_offset_are_a_loop(rsps, pas):
    # The same full page at every offset, under a total of 10^15.
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=HUGE, limit=2))
    with pytest.raises(PaginationLoop, match="ignore the offset") as err:
        list(pas.pupils("12AB00", limit=2))
    assert err.value.path == "/schools/12AB00/pupils"
    assert len(rsps.calls) == 1 + 3  # the first page, then two without anything new


def test_one_page_of_shifted_items_is_not_a_loop(rsps, pas):
    # Two records were inserted before our offset: page two repeats what page one had.
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=6, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=6, offset=2, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "3"}, {"id": "4"}], total=6, offset=4, limit=2))
    sweep = pas.pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2", "3", "4"]
    assert sweep.complete and sweep.duplicates == 2


def test_the_default_cap_is_ten_thousand_pages(pas):
    assert pas.max_pages == 10_000
    assert pas.pupils("12AB00").max_pages == 10_000


@pytest.mark.parametrize("max_pages", [0, -1, True, 2.5])
def test_a_page_cap_must_be_a_positive_integer(max_pages):
    with pytest.raises(ValueError, match="max_pages"):
        PasClient(PAS, "my-integration", CLIENT_SECRET, max_pages=max_pages)
    with pytest.raises(ValueError, match="max_pages"):
        ParroClient(PARRO, API_KEY, max_pages=max_pages)


# --- planner cursor pagination ------------------------------------------------------------


def same_items_new_cursor(request):
    """A cursor that changes on every page while the page holds the same items."""
    n = int(params(request).get("cursor", "cur0").removeprefix("cur"))
    return 200, {}, json.dumps({"data": [{"id": "c1"}, {"id": "c2"}], "next_cursor": f"cur{n + 1}"})


def test_a_cursor_that_changes_while_the_items_stay_the_same_is_a_loop(rsps, parro):
    rsps.add_callback("GET", CHILDREN, callback=same_items_new_cursor)
    pager = parro.children()
    with pytest.raises(PaginationLoop) as err:
        list(pager)
    text = str(err.value)
    assert "parro GET /children" in text and "only items already seen" in text
    assert pager.pages == 2 and pager.yielded == 2
    assert [params(c.request).get("cursor") for c in rsps.calls] == [None, "cur1"]


def test_a_page_with_one_new_item_among_repeats_is_progress(rsps, parro):
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c1"}, {"id": "c2"}], "next_cursor": "A"})
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c2"}, {"id": "c3"}], "next_cursor": "B"})
    rsps.add("GET", CHILDREN, json={"data": [], "next_cursor": None})
    assert [c["id"] for c in parro.children()] == ["c1", "c2", "c3"]


def test_a_few_empty_pages_with_a_cursor_are_tolerated(rsps, parro):
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c1"}], "next_cursor": "A"})
    rsps.add("GET", CHILDREN, json={"data": [], "next_cursor": "B"})
    rsps.add("GET", CHILDREN, json={"data": [], "next_cursor": "C"})
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c2"}], "next_cursor": None})
    assert [c["id"] for c in parro.children()] == ["c1", "c2"]


def test_empty_pages_with_ever_new_cursors_are_a_loop(rsps, parro):
    def empty(request):
        n = int(params(request).get("cursor", "e0").removeprefix("e"))
        return 200, {}, json.dumps({"data": [], "next_cursor": f"e{n + 1}"})

    rsps.add_callback("GET", CHILDREN, callback=empty)
    with pytest.raises(PaginationLoop, match="3 empty pages in a row"):
        list(parro.children())
    assert len(rsps.calls) == 3


def test_a_cursor_listing_that_never_ends_stops_at_max_pages(rsps, clock, policy):
    def new_ids(request):
        n = int(params(request).get("cursor", "p0").removeprefix("p"))
        return 200, {}, json.dumps({"data": [{"id": f"c{n}"}], "next_cursor": f"p{n + 1}"})

    rsps.add_callback("GET", CHILDREN, callback=new_ids)
    parro = ParroClient(PARRO, API_KEY, policy=policy, clock=clock, sleep=clock.sleep, max_pages=4)
    with pytest.raises(TooManyPages) as err:
        list(parro.children())
    assert err.value.bound == "max_pages" and "parro GET /children" in str(err.value) and "4 pages" in str(err.value)
    assert len(rsps.calls) == 4
