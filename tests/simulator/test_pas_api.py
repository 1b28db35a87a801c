"""PAS: authentication, offset pagination, incremental sync and notes, over real HTTP."""

from __future__ import annotations

from datetime import datetime

import requests

from adapters.simulator import FaultConfig, Simulator

from .conftest import Pas, control, make_config, set_clock


def test_token_is_issued_with_no_store(sim, http):
    r = http.post(
        f"{sim.base_url}/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "client", "client_secret": "secret"},
    )
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == 3600


def test_token_errors_follow_the_contract(sim, http):
    url = f"{sim.base_url}/api/v1/oauth/token"
    wrong = http.post(url, data={"grant_type": "client_credentials", "client_id": "client", "client_secret": "x"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["Content-Type"].startswith("application/problem+json")
    grant = http.post(url, data={"grant_type": "password", "client_id": "client", "client_secret": "secret"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = http.post(url, data={"grant_type": "client_credentials", "client_id": "client"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    as_json = http.post(
        url, json={"grant_type": "client_credentials", "client_id": "client", "client_secret": "secret"}
    )
    assert as_json.status_code == 415


def test_the_two_401_flavours_differ_in_www_authenticate(pas, http):
    url = f"{pas.base}/schools/12AB00"
    missing = http.get(url)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="pas"'
    bogus = http.get(url, headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401 and bogus.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert bogus.json()["status"] == 401 and "type" in bogus.json()


def test_token_expires_on_the_simulated_clock(sim, pas):
    assert pas.get("/schools/12AB00").status_code == 200
    control(sim, "POST", "/clock", {"advance_seconds": 3599})
    assert pas.get("/schools/12AB00").status_code == 200
    control(sim, "POST", "/clock", {"advance_seconds": 1})
    r = pas.get("/schools/12AB00")
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_revoked_token_needs_a_new_one(sim, pas):
    assert control(sim, "POST", "/tokens/revoke").json()["revoked"] == 1
    assert pas.get("/schools/12AB00").status_code == 401
    pas.token = pas.new_token()
    assert pas.get("/schools/12AB00").status_code == 200


def test_injected_revocation_after_n_requests():
    with (
        Simulator(make_config(faults=FaultConfig(maintenance=None, revoke_token_after=3))) as sim,
        requests.Session() as http,
    ):
        pas = Pas(sim, http)
        assert [pas.get("/schools/12AB00").status_code for _ in range(4)] == [200, 200, 200, 401]
        pas.token = pas.new_token()
        assert [pas.get("/schools/12AB00").status_code for _ in range(3)] == [200, 200, 200]


def test_school_errors(pas):
    assert pas.get("/schools/99ZZ00").status_code == 404
    assert pas.get("/schools/bad").status_code == 400
    assert pas.get("/schools/12AB00").json() == {
        "brin": "12AB00",
        "name": "Basisschool De Regenboog",
        "region": "midden",
    }


def test_offset_pagination_limits_and_envelope(pas):
    for bad in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"offset": -1}, {"unknown": 1}):
        r = pas.get("/schools/12AB00/pupils", **bad)
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json")
    page = pas.get("/schools/12AB00/pupils", offset=0, limit=7).json()
    assert set(page) == {"items", "total", "offset", "limit", "server_time"}
    assert len(page["items"]) == 7 and page["limit"] == 7
    ids = [p["id"] for p in page["items"]]
    assert ids == sorted(ids)
    beyond = pas.get("/schools/12AB00/pupils", offset=page["total"]).json()
    assert beyond["items"] == []
    everything, _ = pas.sweep("/schools/12AB00/pupils", limit=13)
    assert len(everything) == page["total"]


def test_groups_staff_and_schoolyears(pas):
    years = pas.get("/schools/12AB00/schoolyears").json()["items"]
    assert [y["id"] for y in years if y["current"]] == ["2026-2027"]
    groups, _ = pas.sweep("/schools/12AB00/groups")
    assert any(g["leerjaren"] == [3, 4] for g in groups)
    assert any(len(g["teacher_ids"]) == 2 for g in groups)
    staff, _ = pas.sweep("/schools/12AB00/staff")
    roles = {r for s in staff for r in s["roles"]}
    assert {"leerkracht", "intern_begeleider", "directeur"} <= roles
    duo = next(g for g in groups if len(g["teacher_ids"]) == 2)
    days = [set(s["werkdagen"]) for s in staff if s["id"] in duo["teacher_ids"]]
    assert not days[0] & days[1]
    prev = pas.get("/schools/12AB00/groups", schoolyear="2025-2026").json()["items"]
    assert {g["id"] for g in prev}.isdisjoint({g["id"] for g in groups})
    assert pas.get("/schools/12AB00/groups", schoolyear="1999-2000").status_code == 404
    assert pas.get("/schools/12AB00/groups", schoolyear="2026").status_code == 400


def test_world_has_the_awkward_cases(pas):
    pupils, _ = pas.sweep("/schools/12AB00/pupils")
    guardians = [g for p in pupils for g in p["guardians"]]
    assert any(g["email"] is None for g in guardians)
    assert any(len({g["huishouden_id"] for g in p["guardians"]}) > 1 for p in pupils)
    assert any(p["ondersteuningsniveau"] >= 3 and p["handelingsplan"] for p in pupils)
    assert any(p["ontwikkelingsperspectief"] for p in pupils)
    assert any(p["tussenvoegsel"] for p in pupils)
    by_guardian: dict[str, set[str]] = {}
    for p in pupils:
        for g in p["guardians"]:
            by_guardian.setdefault(g["id"], set()).add(p["group_id"])
    assert any(len(groups) > 1 for groups in by_guardian.values())  # siblings across groups


def test_changed_since_sweep_picks_up_leaver_and_arrival(sim, pas):
    facts = control(sim, "GET", "/schools/12AB00").json()["facts"]
    first, watermark = pas.sweep("/schools/12AB00/pupils")
    assert facts["arrival_pupil_id"] not in {p["id"] for p in first}
    set_clock(sim, "2026-11-20T09:00:00+01:00")
    pas.token = pas.new_token()  # the old one expired on the simulated clock
    changed, _ = pas.sweep("/schools/12AB00/pupils", changed_since=watermark)
    by_id = {p["id"]: p for p in changed}
    leaver = by_id[facts["leaver_pupil_id"]]
    assert leaver["status"] == "uitgeschreven" and leaver["uitschrijfdatum"] == "2026-11-06"
    assert leaver["changed_at"] == "2026-11-06T15:40:00+01:00"
    assert facts["arrival_pupil_id"] in by_id
    stamps = [datetime.fromisoformat(p["changed_at"]) for p in changed]
    assert stamps == sorted(stamps) and all(s >= datetime.fromisoformat(watermark) for s in stamps)
    # inclusive: a record changed exactly at the watermark comes back
    again = pas.get("/schools/12AB00/pupils", changed_since=leaver["changed_at"]).json()["items"]
    assert leaver["id"] in {p["id"] for p in again}
    only_left = pas.get("/schools/12AB00/pupils", status="uitgeschreven").json()["items"]
    assert [p["id"] for p in only_left] == [leaver["id"]]


def test_changed_since_needs_an_offset(pas, http):
    assert pas.get("/schools/12AB00/pupils", changed_since="2026-10-01T08:00:00").status_code == 400
    # a '+' that was not URL-encoded arrives as a space and is rejected
    raw = http.get(
        f"{pas.base}/schools/12AB00/pupils?changed_since=2026-10-01T08:00:00+02:00",
        headers={"Authorization": f"Bearer {pas.token}"},
    )
    assert raw.status_code == 400


def test_notes_filters_and_body_minimisation(sim, pas):
    pupil = pas.get("/schools/12AB00/pupils", limit=1).json()["items"][0]
    written = control(
        sim,
        "POST",
        "/schools/12AB00/notes",
        {
            "pupil_id": pupil["id"],
            "category": "Oudergesprek",
            "gespreksdatum": "2026-09-29",
            "zichtbaar_ouderportaal": False,
        },
    ).json()
    watermark = "2026-10-01T09:00:00+02:00"
    new = pas.get("/schools/12AB00/notes", created_since=watermark).json()
    assert [n["id"] for n in new["items"]] == [written["id"]]
    assert "body" not in new["items"][0]
    assert new["items"][0]["gespreksdatum"] == "2026-09-29" and new["items"][0]["zichtbaar_ouderportaal"] is False
    with_body = pas.get("/schools/12AB00/notes", created_since=watermark, include="body").json()
    assert with_body["items"][0]["body"]
    assert pas.get("/schools/12AB00/notes", include="text").status_code == 400
    both, _ = pas.sweep("/schools/12AB00/notes", category=["Oudergesprek", "Kindgesprek"])
    assert both and {n["category"] for n in both} <= {"Oudergesprek", "Kindgesprek"}
    assert pas.get("/schools/12AB00/notes", category="oudergesprek").json()["total"] == 0  # case-sensitive
    mine = pas.get("/schools/12AB00/notes", pupil_id=pupil["id"]).json()["items"]
    assert written["id"] in {n["id"] for n in mine}
