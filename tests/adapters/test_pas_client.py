"""PAS endpoints, pagination and error classification."""

import inspect
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from responses import matchers

from adapters._classify import parse_error_body
from adapters._redact import Redactor
from adapters.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RetriesExhausted,
    ServerError,
    UnexpectedResponse,
    VendorUnavailable,
)
from adapters.parnassys import PasClient, SweepIncomplete
from tests.adapters.conftest import PAS_API, pas_page, problem, token_response

PUPILS = f"{PAS_API}/schools/12AB00/pupils"
NOTES = f"{PAS_API}/schools/12AB00/notes"
AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(autouse=True)
def token(rsps):
    token_response(rsps)


def query(call) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(call.request.url).query)


def test_it_sends_changed_since_with_its_offset_url_encoded(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([]))
    list(pas.pupils("12AB00", changed_since=datetime(2026, 10, 5, 8, 30, tzinfo=AMS)))
    url = rsps.calls[-1].request.url
    assert "changed_since=2026-10-05T08%3A30%3A00%2B02%3A00" in url
    assert ("changed_since", "2026-10-05T08:30:00+02:00") in query(rsps.calls[-1])


def test_it_accepts_a_stored_watermark_string_and_keeps_its_offset(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([]))
    list(pas.pupils("12AB00", changed_since="2026-11-20T09:00:00.250+01:00"))
    assert ("changed_since", "2026-11-20T09:00:00.250000+01:00") in query(rsps.calls[-1])


@pytest.mark.parametrize("naive", [datetime(2026, 10, 5, 8, 30), "2026-10-05T08:30:00"])
def test_it_refuses_a_changed_since_without_offset(pas, naive):
    with pytest.raises(ValueError, match="offset"):
        pas.pupils("12AB00", changed_since=naive)


def test_it_sends_schoolyear_and_status_filters(rsps, pas):
    rsps.add(
        "GET",
        PUPILS,
        json=pas_page([]),
        match=[
            matchers.query_param_matcher(
                {"schoolyear": "2026-2027", "status": "uitgeschreven", "offset": "0", "limit": "250"}
            )
        ],
    )
    assert list(pas.pupils("12AB00", schoolyear="2026-2027", status="uitgeschreven")) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"brin": "12ab00"}, "brin must look like 12AB00"),
        ({"brin": "12AB00\n"}, "brin must look like 12AB00"),
        ({"schoolyear": "2026"}, "schoolyear must look like 2026-2027"),
        ({"status": "weg"}, "status must be 'ingeschreven' or 'uitgeschreven'"),
        ({"limit": 0}, "limit must be an integer from 1 to 500"),
        ({"limit": 501}, "limit must be an integer from 1 to 500"),
    ],
)
def test_it_refuses_parameters_outside_the_contract(pas, kwargs, message):
    brin = kwargs.pop("brin", "12AB00")
    with pytest.raises(ValueError, match=message):
        pas.pupils(brin, **kwargs)


def test_it_pages_until_offset_reaches_the_total_of_the_latest_page(rsps, pas):
    # total grows from 3 to 5 while we page: the latest total decides.
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=3, limit=2))
    rsps.add(
        "GET",
        PUPILS,
        json=pas_page([{"id": "3"}, {"id": "4"}], total=5, offset=2, limit=2, server_time="2026-11-20T09:00:05+01:00"),
    )
    rsps.add("GET", PUPILS, json=pas_page([{"id": "5"}], total=5, offset=4, limit=2))
    sweep = pas.pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2", "3", "4", "5"]
    assert [q for c in rsps.calls[1:] for q in query(c) if q[0] == "offset"] == [
        ("offset", "0"),
        ("offset", "2"),
        ("offset", "4"),
    ]


def test_it_stops_when_the_total_shrinks_below_the_next_offset(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=4, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "3"}], total=2, offset=2, limit=2))
    assert [p["id"] for p in pas.pupils("12AB00", limit=2)] == ["1", "2", "3"]
    assert len(rsps.calls) == 3


def test_it_yields_an_item_that_shifted_onto_the_next_page_once(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}, {"id": "2"}], total=4, limit=2))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "2"}, {"id": "3"}], total=4, offset=2, limit=2))
    sweep = pas.pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2", "3"]
    assert sweep.duplicates == 1


def test_it_steps_by_the_limit_the_server_applied(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}], total=2, limit=1))
    rsps.add("GET", PUPILS, json=pas_page([{"id": "2"}], total=2, offset=1, limit=1))
    assert [p["id"] for p in pas.pupils("12AB00", limit=500)] == ["1", "2"]
    assert ("offset", "1") in query(rsps.calls[-1])


def test_it_exposes_the_server_time_of_the_first_page_as_the_watermark(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}], total=2, limit=1, server_time="2026-11-20T09:00:00+01:00"))
    rsps.add(
        "GET", PUPILS, json=pas_page([{"id": "2"}], total=2, offset=1, limit=1, server_time="2026-11-20T09:00:07+01:00")
    )
    sweep = pas.pupils("12AB00", limit=1)
    items = iter(sweep)
    next(items)
    assert sweep.server_time == datetime(2026, 11, 20, 9, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(SweepIncomplete):
        _ = sweep.watermark
    list(items)
    assert sweep.watermark.isoformat() == "2026-11-20T09:00:00+01:00"


def test_it_passes_unknown_fields_and_documented_nulls_through(rsps, pas):
    pupil = {"id": "581207", "tussenvoegsel": None, "uitschrijfdatum": None, "new_field": 1}
    rsps.add("GET", PUPILS, json=pas_page([pupil, "garbage"]))
    assert list(pas.pupils("12AB00")) == [pupil]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"items": None, "total": 1, "offset": 0, "limit": 1, "server_time": "x"},
        {"items": [], "total": "1", "offset": 0, "limit": 1, "server_time": "2026-11-20T09:00:00+01:00"},
        {"items": [], "total": 0, "offset": 0, "limit": 1, "server_time": "2026-11-20T09:00:00"},
    ],
)
def test_it_rejects_a_malformed_envelope(rsps, pas, body):
    rsps.add("GET", PUPILS, json=body)
    with pytest.raises(UnexpectedResponse):
        list(pas.pupils("12AB00"))


def test_it_rejects_a_success_response_that_is_not_json(rsps, pas):
    rsps.add("GET", f"{PAS_API}/schools/12AB00", body="<html>login</html>", content_type="text/html")
    with pytest.raises(UnexpectedResponse):
        pas.get_school("12AB00")


def test_a_sweep_can_be_iterated_only_once(rsps, pas):
    rsps.add("GET", PUPILS, json=pas_page([]))
    sweep = pas.pupils("12AB00")
    list(sweep)
    with pytest.raises(RuntimeError):
        iter(sweep)


def test_it_lists_schoolyears_groups_and_staff(rsps, pas):
    for resource in ("schoolyears", "groups", "staff"):
        rsps.add("GET", f"{PAS_API}/schools/12AB00/{resource}", json=pas_page([{"id": resource}]))
    assert [y["id"] for y in pas.schoolyears("12AB00")] == ["schoolyears"]
    assert [g["id"] for g in pas.groups("12AB00", schoolyear="2026-2027")] == ["groups"]
    assert [s["id"] for s in pas.staff("12AB00")] == ["staff"]
    assert ("schoolyear", "2026-2027") in query(rsps.calls[2])


def test_it_filters_notes_by_repeated_categories_creation_time_and_pupil(rsps, pas):
    rsps.add("GET", NOTES, json=pas_page([]))
    list(
        pas.notes(
            "12AB00",
            categories=["Oudergesprek", "Kindgesprek"],
            created_since=datetime(2026, 11, 1, tzinfo=AMS),
            pupil_id="581207",
        )
    )
    assert query(rsps.calls[-1]) == [
        ("category", "Oudergesprek"),
        ("category", "Kindgesprek"),
        ("created_since", "2026-11-01T00:00:00+01:00"),
        ("pupil_id", "581207"),
        ("offset", "0"),
        ("limit", "250"),
    ]


def test_it_never_requests_note_bodies_and_drops_one_sent_anyway(rsps, pas):
    rsps.add("GET", NOTES, json=pas_page([{"id": "N-1", "category": "Zorg", "body": "private"}]))
    notes = list(pas.notes("12AB00"))
    assert notes == [{"id": "N-1", "category": "Zorg"}]
    assert "include" not in dict(query(rsps.calls[-1]))
    params = inspect.signature(PasClient.notes).parameters
    assert "include" not in params
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())


def test_it_refuses_a_single_string_as_categories(pas):
    with pytest.raises(TypeError):
        pas.notes("12AB00", categories="Zorg")


@pytest.mark.parametrize(
    ("status", "slug", "error"),
    [
        (400, "invalid-parameter", BadRequest),
        (403, "forbidden", Forbidden),
        (404, "not-found", NotFound),
    ],
)
def test_it_turns_problem_details_into_typed_errors(rsps, pas, status, slug, error):
    rsps.add(
        "GET",
        f"{PAS_API}/schools/12AB00",
        status=status,
        json=problem(status, slug, "School 12AB00 is not yours."),
        content_type="application/problem+json",
    )
    with pytest.raises(error) as err:
        pas.get_school("12AB00")
    assert (err.value.status, err.value.code) == (status, slug)
    assert "is not yours" not in str(err.value)  # a problem's detail may quote a name: only its title is kept
    assert len(rsps.calls) == 2  # token + one GET: no retry


def test_a_problem_title_that_quotes_a_person_is_not_kept_only_its_code(rsps, pas):
    # Found at a school (issue W2-2): a PAS title naming a parent. No pattern knows a name.
    title = "Guardian Jan de Vries-Ouderling (jan.devries@ouders-example.nl, 06-19283746) not found"
    rsps.add(
        "GET",
        f"{PAS_API}/schools/12AB00",
        status=404,
        json={**problem(404, "not-found"), "title": title},
        content_type="application/problem+json",
    )
    with pytest.raises(NotFound) as err:
        pas.get_school("12AB00")
    text = f"{err.value} {err.value!r}"
    assert (err.value.code, err.value.message) == ("not-found", "not-found")
    for leaked in ("Vries", "Ouderling", "jan.devries", "ouders-example", "19283746"):
        assert leaked not in text


@pytest.mark.parametrize(
    ("status", "slug", "title"),
    [
        (404, "not-found", "Not found"),
        (400, "invalid-parameter", "Invalid-Parameter"),
        (401, "invalid-token", "Invalid access token"),
        (503, "maintenance", "Service unavailable"),
        (429, "rate-limited", "Too Many Requests"),
    ],
)
def test_a_plain_problem_title_is_kept(status, slug, title):
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/problem+json"
    response._content = json.dumps({**problem(status, slug), "title": title}).encode()
    assert parse_error_body(response, Redactor())[:2] == (slug, title)


def test_a_problem_type_with_terminal_escapes_gives_an_escaped_bounded_code(rsps, pas):
    slug = "bad-request\x1b[2J\r\nFAKE LINE\u202e" + "x" * 1000
    rsps.add(
        "GET",
        f"{PAS_API}/schools/12AB00",
        status=400,
        json={**problem(400, "bad-request"), "type": f"https://pas.example/problems/{slug}"},
        content_type="application/problem+json",
    )
    with pytest.raises(BadRequest) as err:
        pas.get_school("12AB00")
    code = err.value.code or ""
    assert code.startswith("bad-request\\x1b[2J\\r\\nFAKE LINE\\u202e") and code.endswith("(cut, 1,037 characters)")
    assert len(code) <= 200 and not any(c in str(err.value) for c in "\x1b\r\n\u202e")


def test_it_retries_a_502_with_an_html_body(rsps, pas):
    rsps.add("GET", f"{PAS_API}/schools/12AB00", status=502, body="<html><h1>502</h1>", content_type="text/html")
    rsps.add("GET", f"{PAS_API}/schools/12AB00", json={"brin": "12AB00"})
    assert pas.get_school("12AB00") == {"brin": "12AB00"}


def test_it_raises_vendor_unavailable_during_nightly_maintenance(rsps, pas, clock):
    rsps.add(
        "GET",
        PUPILS,
        status=503,
        headers={"Retry-After": "1800"},
        json=problem(503, "maintenance", "Nightly maintenance in progress."),
        content_type="application/problem+json",
    )
    with pytest.raises(VendorUnavailable) as err:
        list(pas.pupils("12AB00"))
    assert err.value.retry_after == 1800
    assert clock.sleeps == []


def test_it_gives_up_after_the_deadline_naming_method_path_and_last_status(rsps, pas, clock):
    rsps.add("GET", PUPILS, status=504, body="Gateway Timeout", content_type="text/plain")
    start = clock.now
    with pytest.raises(RetriesExhausted) as err:
        list(pas.pupils("12AB00", changed_since="2026-11-20T09:00:00+01:00"))
    text = str(err.value)
    assert "GET /schools/12AB00/pupils" in text and "504" in text
    assert "changed_since" not in text
    assert isinstance(err.value.__cause__, ServerError)
    assert clock.now - start <= 60


@pytest.mark.parametrize(("status", "slug"), [(429, "rate-limited"), (503, "maintenance")])
def test_it_waits_the_retry_after_of_a_429_or_503_and_repeats(rsps, pas, clock, status, slug):
    rsps.add(
        "GET",
        PUPILS,
        status=status,
        headers={"Retry-After": "12"},
        json=problem(status, slug),
        content_type="application/problem+json",
    )
    rsps.add("GET", PUPILS, json=pas_page([{"id": "1"}]))
    assert [p["id"] for p in pas.pupils("12AB00")] == ["1"]
    assert clock.sleeps == [12]


def test_it_keeps_pas_calls_under_300_per_minute_by_default(rsps, pas, clock):
    rsps.add("GET", f"{PAS_API}/schools/12AB00", json={"brin": "12AB00"})
    for _ in range(300):  # plus the token request: 301 requests
        pas.get_school("12AB00")
    assert clock.sleeps == [60]


def test_it_refuses_a_read_timeout_below_what_pas_asks_for():
    from adapters.parnassys import HttpPolicy

    with pytest.raises(ValueError, match="PAS needs a read timeout of at least 10 seconds"):
        PasClient("https://pas.test", "id", "secret", policy=HttpPolicy(read_timeout=5))


def test_it_survives_a_502_that_claims_json_but_sends_html(rsps, pas):
    rsps.add("GET", f"{PAS_API}/schools/12AB00", status=502, body="<html>502</html>", content_type="application/json")
    rsps.add("GET", f"{PAS_API}/schools/12AB00", json={"brin": "12AB00"})
    assert pas.get_school("12AB00") == {"brin": "12AB00"}
