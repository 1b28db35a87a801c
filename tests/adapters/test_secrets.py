"""No client secret, access token or API key in any log line, exception text or repr."""

import logging

import pytest
import requests
from structlog.testing import capture_logs

import adapters._http  # noqa: F401  (sets the urllib3 level)
from adapters.errors import AdapterError
from tests.adapters.conftest import (
    ACCESS_TOKEN,
    ACCESS_TOKEN_2,
    API_KEY,
    CLIENT_SECRET,
    PARRO_API,
    PAS_API,
    planner_error,
    problem,
    token_response,
)

SECRETS = (CLIENT_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_2, API_KEY)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def exercise_pas(rsps, pas) -> list[BaseException]:
    school = f"{PAS_API}/schools/12AB00"
    token_response(rsps, ACCESS_TOKEN)
    token_response(rsps, ACCESS_TOKEN_2)
    rsps.add(
        "GET",
        school,
        status=401,
        json=problem(401, "invalid-token"),
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        content_type="application/problem+json",
    )
    rsps.add("GET", school, json={"brin": "12AB00"})
    # A sloppy server echoing our credentials back in its error texts:
    rsps.add(
        "GET",
        f"{school}/groups",
        status=400,
        content_type="application/problem+json",
        json=problem(
            400, "invalid-parameter", f"bad header Authorization: Bearer {ACCESS_TOKEN_2} client_secret={CLIENT_SECRET}"
        ),
    )
    rsps.add(
        "GET",
        f"{school}/staff",
        body=requests.ConnectionError(f"failed {school}/staff?offset=0 token={ACCESS_TOKEN_2}"),
    )
    errors: list[BaseException] = []
    pas.get_school("12AB00")
    for call in (lambda: list(pas.groups("12AB00")), lambda: list(pas.staff("12AB00"))):
        with pytest.raises(AdapterError) as err:
            call()
        errors.append(err.value)
    return errors


def exercise_token_endpoint(rsps, pas) -> list[BaseException]:
    rsps.replace(
        "POST",
        f"{PAS_API}/oauth/token",
        status=401,
        content_type="application/problem+json",
        json=problem(
            401,
            "invalid-client",
            f"secret {CLIENT_SECRET} is wrong",
            error="invalid_client",
            error_description=f"client_secret={CLIENT_SECRET}",
        ),
    )
    pas._auth._token = None
    with pytest.raises(AdapterError) as err:
        pas.get_school("12AB00")
    return [err.value]


def exercise_parro(rsps, parro) -> list[BaseException]:
    rsps.add(
        "GET",
        f"{PARRO_API}/groups",
        status=401,
        json=planner_error(
            "unauthorized", f"key {API_KEY} unknown", details=[{"field": "Authorization", "issue": API_KEY}]
        ),
    )
    rsps.add("POST", f"{PARRO_API}/planners/pln_1/open", body=requests.ReadTimeout(f"Bearer {API_KEY} timed out"))
    errors: list[BaseException] = []
    for call in (lambda: list(parro.groups()), lambda: parro.open_planner("pln_1")):
        with pytest.raises(AdapterError) as err:
            call()
        errors.append(err.value)
    return errors


def texts_of(errors) -> str:
    parts = []
    for error in errors:
        while error is not None:
            parts += [str(error), repr(error), repr(getattr(error, "details", ""))]
            error = error.__cause__ or error.__context__
    return "\n".join(parts)


def test_no_secret_appears_in_logs_exceptions_or_reprs(rsps, pas, parro, caplog):
    caplog.set_level(logging.DEBUG)
    with capture_logs() as events:
        errors = exercise_pas(rsps, pas)
        errors += exercise_token_endpoint(rsps, pas)
        errors += exercise_parro(rsps, parro)
    assert len(errors) == 5 and events  # the flows ran and logged
    assert leaks("\n".join(repr(e) for e in events)) == []
    assert leaks(caplog.text) == []
    assert leaks(texts_of(errors)) == [], texts_of(errors)
    assert leaks(repr(pas) + repr(parro) + repr(pas._auth) + repr(parro._auth)) == []


def test_log_lines_carry_method_path_status_attempt_and_duration_but_no_query(rsps, pas):
    token_response(rsps)
    rsps.add(
        "GET",
        f"{PAS_API}/schools/12AB00/notes",
        json={"items": [], "total": 0, "offset": 0, "limit": 250, "server_time": "2026-11-20T09:00:00+01:00"},
    )
    with capture_logs() as events:
        list(pas.notes("12AB00", pupil_id="581207"))
    requests_logged = [e for e in events if e["event"] == "http_request"]
    assert requests_logged[-1] | {"log_level": None} == {
        "event": "http_request",
        "vendor": "pas",
        "method": "GET",
        "path": "/schools/12AB00/notes",
        "status": 200,
        "attempt": 1,
        "duration_ms": 0,
        "log_level": None,
    }
    assert "581207" not in repr(events)


def test_urllib3_is_kept_quiet():
    assert logging.getLogger("urllib3").getEffectiveLevel() >= logging.WARNING
