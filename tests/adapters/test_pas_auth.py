"""PAS auth: client credentials, token cache, one re-auth on invalid_token."""

import pytest
from responses import matchers

from adapters.errors import AuthError, InvalidToken, RetriesExhausted, TokenEndpointError
from tests.adapters.conftest import (
    ACCESS_TOKEN,
    ACCESS_TOKEN_2,
    CLIENT_SECRET,
    PAS_API,
    pas_page,
    problem,
    token_response,
)

SCHOOL = f"{PAS_API}/schools/12AB00"
SCHOOL_BODY = {"brin": "12AB00", "name": "De Regenboog", "region": "midden"}
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def bearer(token):
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


def test_it_requests_a_token_with_form_encoded_client_credentials(rsps, pas):
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        json={"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600},
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "client_credentials", "client_id": "my-integration", "client_secret": CLIENT_SECRET}
            )
        ],
    )
    rsps.add("GET", SCHOOL, json=SCHOOL_BODY, match=[bearer(ACCESS_TOKEN)])
    assert pas.get_school("12AB00")["name"] == "De Regenboog"
    token_call = rsps.calls[0].request
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in token_call.headers


def test_it_reuses_the_token_until_shortly_before_it_expires(rsps, pas, clock):
    token_response(rsps, ACCESS_TOKEN)
    token_response(rsps, ACCESS_TOKEN_2)
    rsps.add("GET", SCHOOL, json=SCHOOL_BODY)
    pas.get_school("12AB00")
    clock.advance(3600 - 61)
    pas.get_school("12AB00")
    assert pas.tokens_fetched == 1
    clock.advance(2)  # within the 60 s refresh margin
    pas.get_school("12AB00")
    assert pas.tokens_fetched == 2
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN_2}"


def test_it_fetches_a_new_token_once_and_repeats_the_request_once_on_invalid_token(rsps, pas):
    token_response(rsps, ACCESS_TOKEN)
    token_response(rsps, ACCESS_TOKEN_2)
    rsps.add(
        "GET",
        SCHOOL,
        status=401,
        headers=INVALID_TOKEN,
        json=problem(401, "invalid-token"),
        content_type="application/problem+json",
        match=[bearer(ACCESS_TOKEN)],
    )
    rsps.add("GET", SCHOOL, json=SCHOOL_BODY, match=[bearer(ACCESS_TOKEN_2)])
    assert pas.get_school("12AB00") == SCHOOL_BODY
    assert pas.tokens_fetched == 2
    assert [c.request.method for c in rsps.calls] == ["POST", "GET", "POST", "GET"]


def test_it_raises_invalid_token_when_the_new_token_is_rejected_too(rsps, pas):
    token_response(rsps, ACCESS_TOKEN)
    token_response(rsps, ACCESS_TOKEN_2)
    rsps.add(
        "GET",
        SCHOOL,
        status=401,
        headers=INVALID_TOKEN,
        json=problem(401, "invalid-token"),
        content_type="application/problem+json",
    )
    with pytest.raises(InvalidToken) as err:
        pas.get_school("12AB00")
    assert err.value.status == 401
    assert pas.tokens_fetched == 2  # never a third token
    assert len(rsps.calls) == 4


def test_it_does_not_refresh_when_the_401_is_not_about_an_invalid_token(rsps, pas):
    token_response(rsps)
    rsps.add(
        "GET",
        SCHOOL,
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="pas"'},
        json=problem(401, "unauthorized"),
        content_type="application/problem+json",
    )
    with pytest.raises(AuthError) as err:
        pas.get_school("12AB00")
    assert not isinstance(err.value, InvalidToken)
    assert pas.tokens_fetched == 1


def test_a_token_revoked_mid_sweep_costs_exactly_one_reauth_and_the_read_completes(rsps, pas):
    token_response(rsps, ACCESS_TOKEN)
    token_response(rsps, ACCESS_TOKEN_2)
    url = f"{PAS_API}/schools/12AB00/pupils"

    def page(offset):
        return [matchers.query_param_matcher({"offset": str(offset), "limit": "2"})]

    rsps.add("GET", url, json=pas_page([{"id": "1"}, {"id": "2"}], total=5, limit=2), match=page(0))
    rsps.add(
        "GET",
        url,
        status=401,
        headers=INVALID_TOKEN,
        json=problem(401, "invalid-token"),
        content_type="application/problem+json",
        match=[*page(2), bearer(ACCESS_TOKEN)],
    )
    rsps.add(
        "GET",
        url,
        json=pas_page([{"id": "3"}, {"id": "4"}], total=5, offset=2, limit=2),
        match=[*page(2), bearer(ACCESS_TOKEN_2)],
    )
    rsps.add(
        "GET", url, json=pas_page([{"id": "5"}], total=5, offset=4, limit=2), match=[*page(4), bearer(ACCESS_TOKEN_2)]
    )
    sweep = pas.pupils("12AB00", limit=2)
    assert [p["id"] for p in sweep] == ["1", "2", "3", "4", "5"]
    assert sweep.complete
    assert pas.tokens_fetched == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, "invalid_client"),
        (400, "invalid_request"),
        (400, "unsupported_grant_type"),
    ],
)
def test_it_raises_a_token_endpoint_error_without_retrying_on_refused_credentials(rsps, pas, clock, status, error):
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        status=status,
        content_type="application/problem+json",
        json=problem(
            status,
            error.replace("_", "-"),
            "Client authentication failed.",
            error=error,
            error_description="Client authentication failed.",
        ),
    )
    with pytest.raises(TokenEndpointError) as err:
        pas.get_school("12AB00")
    assert (err.value.status, err.value.code) == (status, error)
    assert len(rsps.calls) == 1
    assert clock.sleeps == []


def test_it_raises_a_token_endpoint_error_on_415(rsps, pas):
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        status=415,
        content_type="application/problem+json",
        json=problem(415, "unsupported-media-type"),
    )
    with pytest.raises(TokenEndpointError) as err:
        pas.get_school("12AB00")
    assert err.value.status == 415


def test_it_retries_the_token_request_on_gateway_errors_and_rate_limits(rsps, pas, clock):
    rsps.add("POST", f"{PAS_API}/oauth/token", status=502, body="<html>Bad gateway</html>", content_type="text/html")
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        status=429,
        headers={"Retry-After": "3"},
        json=problem(429, "rate-limited"),
        content_type="application/problem+json",
    )
    token_response(rsps)
    rsps.add("GET", SCHOOL, json=SCHOOL_BODY)
    assert pas.get_school("12AB00") == SCHOOL_BODY
    assert clock.sleeps[-1] == 3


def test_it_gives_up_on_an_unavailable_token_endpoint_without_retrying_the_outer_call(rsps, pas, clock):
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        status=503,
        json=problem(503, "maintenance"),
        content_type="application/problem+json",
    )
    with pytest.raises(RetriesExhausted) as err:
        pas.get_school("12AB00")
    assert err.value.path == "/oauth/token"
    assert sum(clock.sleeps) < 60  # one bounded retry loop, not one per outer attempt
    assert all(c.request.method == "POST" for c in rsps.calls)


def test_concurrent_threads_share_one_token(rsps, pas):
    import threading

    token_response(rsps)
    rsps.add("GET", SCHOOL, json=SCHOOL_BODY)
    threads = [threading.Thread(target=pas.get_school, args=("12AB00",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pas.tokens_fetched == 1
    assert len(rsps.calls) == 9


def test_a_late_401_for_an_old_token_does_not_drop_the_new_one(rsps, pas):
    import requests as rq

    token_response(rsps, ACCESS_TOKEN)
    token_response(rsps, ACCESS_TOKEN_2)
    auth = pas._auth

    def rejected(token):
        response = rq.Response()
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        response.request = rq.Request("GET", SCHOOL, headers={"Authorization": f"Bearer {token}"}).prepare()
        return response

    assert auth.token() == ACCESS_TOKEN
    assert auth.should_repeat_after_401(rejected(ACCESS_TOKEN))
    assert auth.token() == ACCESS_TOKEN_2  # thread A fetched the new token
    assert auth.should_repeat_after_401(rejected(ACCESS_TOKEN))  # thread B, same old token
    assert auth.token() == ACCESS_TOKEN_2 and pas.tokens_fetched == 2


def test_after_refused_credentials_no_token_is_asked_for_an_hour(rsps, pas, clock):
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        status=401,
        content_type="application/problem+json",
        json=problem(401, "invalid-client", "Client authentication failed.", error="invalid_client"),
    )
    for _ in range(3):
        with pytest.raises(TokenEndpointError, match=r"check \[pas\] client_id and client_secret"):
            pas.get_school("12AB00")
    clock.advance(3599)
    with pytest.raises(TokenEndpointError):
        pas.get_school("12AB00")
    assert len(rsps.calls) == 1  # one refusal; the rest of the hour nothing is asked
    clock.advance(2)
    with pytest.raises(TokenEndpointError):
        pas.get_school("12AB00")
    assert len(rsps.calls) == 2
