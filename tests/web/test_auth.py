"""Who may see and do what on the web page: login, sessions, CSRF, lockout, roles and the
security headers, through Starlette's TestClient on an empty store."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from connector.store.models import WebSession, WebUser
from connector.web.app import LOGIN_COOKIE, SESSION_COOKIE, create_app

from .conftest import PASSWORD, add_users, csrf_of, login

PAGES = ("/", "/school/12AB00", "/school/12AB00/ronde/start", "/verslagen", "/synchronisaties", "/gezondheid")


def set_cookie_headers(response) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k == "set-cookie"]


@pytest.mark.parametrize("path", [*PAGES, "/verslagen.csv", "/synchroniseren/nope"])
def test_a_page_without_a_session_redirects_to_the_login_page(site, path):
    response = site.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/inloggen?volgende=")


def test_a_figures_fragment_without_a_session_is_401_so_the_script_reloads_to_login(site):
    assert site.get("/?deel=cijfers", follow_redirects=False).status_code == 401


def test_after_login_every_page_opens_also_on_a_store_with_nothing_in_it_yet(site):
    assert login(site, "directeur").status_code == 303
    for path in PAGES:
        response = site.get(path)
        assert response.status_code == 200, path
        assert "Inloggen" not in response.text.split("<main>")[1], path


def test_login_sets_an_httponly_strict_session_cookie_and_goes_where_it_was_asked(site):
    site.get("/school/12AB00", follow_redirects=False)
    page = site.get("/inloggen?volgende=/school/12AB00")
    response = site.post(
        "/inloggen",
        data={"naam": "Directeur", "wachtwoord": PASSWORD, "csrf": csrf_of(page.text), "volgende": "/school/12AB00"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/school/12AB00"
    [session] = [c for c in set_cookie_headers(response) if c.startswith(f"{SESSION_COOKIE}=")]
    assert "HttpOnly" in session and "SameSite=strict" in session and "Secure" not in session  # plain HTTP
    assert site.get("/school/12AB00").status_code == 200


def test_behind_tls_the_cookies_are_secure_and_the_page_asks_for_hsts(runtime, wall):
    app = create_app(runtime, wall=wall)
    add_users(app)
    with TestClient(app, base_url="https://school.example") as client:
        page = client.get("/inloggen")
        assert "max-age" in page.headers["strict-transport-security"]
        assert any("Secure" in c for c in set_cookie_headers(page) if c.startswith(LOGIN_COOKIE))
        response = login(client, "ib")
        [session] = [c for c in set_cookie_headers(response) if c.startswith(f"{SESSION_COOKIE}=")]
        assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
    app.state.web.store.dispose()


def test_after_login_it_never_sends_a_person_to_another_site(site):
    page = site.get("/inloggen")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = site.post(
            "/inloggen",
            data={"naam": "ib", "wachtwoord": PASSWORD, "csrf": csrf_of(page.text), "volgende": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target
        page = site.get("/inloggen")


def test_a_wrong_password_and_an_unknown_name_get_the_same_refusal(site):
    wrong = login(site, "directeur", "niet-het-wachtwoord")
    unknown = login(site, "niemand", "niet-het-wachtwoord")
    assert wrong.status_code == unknown.status_code == 401
    strip = re.compile(r'value="[^"]*"')  # the fresh CSRF tokens differ, nothing else may
    assert strip.sub("", wrong.text) == strip.sub("", unknown.text)
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert site.get("/", follow_redirects=False).status_code == 303


def test_the_login_page_repeats_no_name_it_was_given(site):
    for name in ("ict", "niemand-hier"):
        text = login(site, name, "fout-wachtwoord").text
        assert f'value="{name}"' not in text and f">{name}<" not in text and "bestaat niet" not in text


def test_a_login_without_its_csrf_token_is_refused(site):
    site.get("/inloggen")
    response = site.post("/inloggen", data={"naam": "directeur", "wachtwoord": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    forged = site.post(
        "/inloggen", data={"naam": "directeur", "wachtwoord": PASSWORD, "csrf": "x" * 43}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert site.get("/", follow_redirects=False).status_code == 303


def test_a_post_without_the_sessions_csrf_token_is_refused(site):
    login(site, "directeur")
    assert site.post("/school/12AB00/synchroniseren", data={}, follow_redirects=False).status_code == 403
    assert site.post("/school/12AB00/synchroniseren", data={"csrf": "fout"}, follow_redirects=False).status_code == 403
    assert site.post("/uitloggen", data={}, follow_redirects=False).status_code == 403
    assert site.get("/").status_code == 200  # still logged in: the refused logout did nothing
    assert site.app.state.web.jobs.get("nothing") is None and not site.app.state.web.jobs._jobs


def test_the_ib_reads_everything_but_may_not_sync(site):
    login(site, "ib")
    board = site.get("/")
    assert board.status_code == 200 and "Nu synchroniseren" not in board.text
    response = site.post("/school/12AB00/synchroniseren", data={"csrf": csrf_of(board.text)}, follow_redirects=False)
    assert response.status_code == 403 and "Niet toegestaan" in response.text
    assert not site.app.state.web.jobs._jobs


@pytest.mark.parametrize("name", ["directeur", "ict"])
def test_the_director_and_the_ict_coordinator_see_the_sync_button(site, name):
    login(site, name)
    assert "Nu synchroniseren" in site.get("/").text


def test_repeated_failed_logins_lock_the_account_even_for_the_right_password_until_the_lockout_ends(site, wall):
    limit = site.app.state.web.accounts.web.max_failed_logins
    for _ in range(limit):
        assert login(site, "directeur", "fout-wachtwoord").status_code == 401
    assert login(site, "directeur").status_code == 401  # locked
    assert login(site, "ib").status_code == 303  # another account is not
    wall.offset += timedelta(minutes=site.app.state.web.accounts.web.lockout_minutes, seconds=1)
    assert login(site, "directeur").status_code == 303


def test_a_session_expires_when_idle_and_at_its_end(site, wall):
    web = site.app.state.web.accounts.web
    login(site, "directeur")
    wall.offset += timedelta(minutes=web.session_idle_minutes - 1)
    assert site.get("/", follow_redirects=False).status_code == 200  # used: the idle time starts again
    wall.offset += timedelta(minutes=web.session_idle_minutes + 1)
    assert site.get("/", follow_redirects=False).status_code == 303
    login(site, "directeur")
    logged_in = wall.offset
    for _ in range(web.session_max_hours * 60 // (web.session_idle_minutes - 1) + 1):
        wall.offset += timedelta(minutes=web.session_idle_minutes - 1)
        if site.get("/", follow_redirects=False).status_code == 303:
            break
    else:
        pytest.fail("the session outlived session_max_hours")
    assert (
        timedelta(hours=web.session_max_hours) <= wall.offset - logged_in < timedelta(hours=web.session_max_hours + 1)
    )


def test_logout_ends_the_session_in_the_store(site):
    login(site, "directeur")
    page = site.get("/")
    assert site.post("/uitloggen", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert site.get("/", follow_redirects=False).status_code == 303
    with site.app.state.web.store.read() as session:
        assert session.exec(select(WebSession)).all() == []


def test_the_store_keeps_argon2_hashes_and_session_digests_never_the_secrets(site):
    response = login(site, "directeur")
    token = response.cookies[SESSION_COOKIE]
    with site.app.state.web.store.read() as session:
        users = session.exec(select(WebUser)).all()
        sessions = session.exec(select(WebSession)).all()
    assert {u.name for u in users} == {"directeur", "ib", "ict"}
    assert all(u.password_hash.startswith("$argon2id$") and PASSWORD not in u.password_hash for u in users)
    assert [s.id for s in sessions] != [token] and all(token not in s.id for s in sessions)


@pytest.mark.parametrize("path", ["/inloggen", "/static/app.css", "/", "/bestaat-niet"])
def test_every_response_carries_the_security_headers(site, path):
    login(site, "ict")
    response = site.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    if not path.startswith("/static/"):
        assert response.headers["cache-control"] == "no-store"


def test_an_unknown_school_or_round_is_a_dutch_404(site):
    login(site, "ict")
    for path in ("/school/99ZZ99", "/school/12AB00/ronde/bestaat-niet", "/synchronisaties/abc", "/bestaat-niet"):
        response = site.get(path)
        assert response.status_code == 404 and "Niet gevonden" in response.text, path
