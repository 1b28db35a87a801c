"""Planner endpoints, idempotency, cursor pagination and error codes."""

import json
from datetime import datetime

import pytest
from pydantic import ValidationError
from responses import matchers

from adapters.errors import (
    AuthError,
    BadRequest,
    Conflict,
    DuplicateExternalRef,
    IdempotencyMismatch,
    InvalidMode,
    InvalidState,
    MethodNotAllowed,
    NotFound,
    PaginationLoop,
    ServerError,
    SlotUnavailable,
    UnexpectedResponse,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
)
from adapters.parro import PlannerCreate, PlannerPatch
from tests.adapters.conftest import API_KEY, PARRO_API, planner_error

PLANNERS = f"{PARRO_API}/planners"
PLANNER = f"{PLANNERS}/pln_3f8s0k2m9xqa"
CHILDREN = f"{PARRO_API}/children"
KEY = "5b0f1c3e-8d2a-4f6b-9c1d-2e3f4a5b6c7d"
NEW_PLANNER = {
    "external_ref": "sync:12AB00:2026-2027:najaar:71003",
    "group_id": "grp_k3v9qz1m8w2a",
    "title": "Voortgangsgesprekken groep 3/4",
    "description": "Gesprek van 10 minuten.",
    "location": None,
    "kind": "parent_meeting",
    "mode": "self_select",
    "sibling_head_start_hours": 24,
    "opens_at": "2026-10-26T08:00:00+01:00",
    "closes_at": "2026-11-02T17:00:00+01:00",
    "invitee_child_ids": ["chd_7hk2m9q0x3za"],
    "slots": [
        {"start": "2026-11-10T15:00:00+01:00", "end": "2026-11-10T15:10:00+01:00", "staff_ids": ["stf_a81kd0qpz7ce"]}
    ],
}
PLANNER_BODY = {**NEW_PLANNER, "id": "pln_3f8s0k2m9xqa", "status": "draft", "future": "x"}
MESSAGE = {
    "recipients": {"child_ids": ["chd_7hk2m9q0x3za"]},
    "subject": "Inschrijving open",
    "body": "U kunt vanaf nu een gesprek inplannen.",
}


def sent_json(call):
    return json.loads(call.request.body)


def test_it_sends_the_api_key_as_a_bearer_token(rsps, parro):
    rsps.add(
        "GET",
        f"{PARRO_API}/staff",
        json={"data": [], "next_cursor": None},
        match=[matchers.header_matcher({"Authorization": f"Bearer {API_KEY}"})],
    )
    assert list(parro.staff()) == []


def test_it_raises_an_auth_error_for_an_unknown_key_without_retrying(rsps, parro):
    rsps.add(
        "GET", f"{PARRO_API}/guardians", status=401, json=planner_error("unauthorized", "Missing or invalid API key.")
    )
    with pytest.raises(AuthError) as err:
        list(parro.guardians())
    assert (err.value.status, err.value.code) == (401, "unauthorized")
    assert len(rsps.calls) == 1


def test_it_creates_a_planner_with_the_idempotency_key_and_the_contract_body(rsps, parro):
    rsps.add("POST", PLANNERS, status=201, json=PLANNER_BODY, match=[matchers.header_matcher({"Idempotency-Key": KEY})])
    result = parro.create_planner(NEW_PLANNER, idempotency_key=KEY)
    assert (result.id, result.replayed, result.status) == ("pln_3f8s0k2m9xqa", False, 201)
    assert result.planner["future"] == "x"  # unknown fields are kept, harmlessly
    assert sent_json(rsps.calls[0]) == NEW_PLANNER  # incl. "location": null, offsets kept


def test_it_surfaces_an_idempotent_replay(rsps, parro):
    rsps.add("POST", PLANNERS, status=200, json=PLANNER_BODY, headers={"Idempotent-Replayed": "true"})
    result = parro.create_planner(PlannerCreate.model_validate(NEW_PLANNER), idempotency_key=KEY)
    assert result.replayed and result.status == 200


def test_it_repeats_a_create_after_a_502_with_the_same_key_and_body(rsps, parro):
    rsps.add("POST", PLANNERS, status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    rsps.add("POST", PLANNERS, status=200, json=PLANNER_BODY, headers={"Idempotent-Replayed": "true"})
    assert parro.create_planner(NEW_PLANNER, idempotency_key=KEY).replayed
    first, second = rsps.calls
    assert first.request.headers["Idempotency-Key"] == second.request.headers["Idempotency-Key"]
    assert sent_json(first) == sent_json(second)


def test_it_requires_a_well_formed_idempotency_key(parro):
    with pytest.raises(TypeError):
        parro.create_planner(NEW_PLANNER)  # type: ignore[call-arg]
    for bad in ("", "has space", "x" * 256, "sleutel-é"):
        with pytest.raises(ValueError, match="idempotency_key must be 1-255 printable ASCII characters"):
            parro.create_planner(NEW_PLANNER, idempotency_key=bad)
        with pytest.raises(ValueError, match="idempotency_key must be 1-255 printable ASCII characters"):
            parro.send_message(MESSAGE, idempotency_key=bad)


def test_it_raises_duplicate_external_ref_with_the_existing_id_and_fetches_it(rsps, parro):
    rsps.add(
        "POST",
        PLANNERS,
        status=409,
        json=planner_error(
            "duplicate_external_ref", "A planner with external_ref ... already exists.", existing_id="pln_3f8s0k2m9xqa"
        ),
    )
    rsps.add("GET", PLANNER, json=PLANNER_BODY)
    with pytest.raises(DuplicateExternalRef) as err:
        parro.create_planner(NEW_PLANNER, idempotency_key="another-key")
    assert err.value.existing_id == "pln_3f8s0k2m9xqa"
    assert parro.get_existing_planner(err.value)["id"] == "pln_3f8s0k2m9xqa"
    assert len([c for c in rsps.calls if c.request.method == "POST"]) == 1


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_parameter", BadRequest),
        (400, "idempotency_key_required", BadRequest),
        (400, "invalid_json", BadRequest),
        (415, "unsupported_media_type", UnsupportedMediaType),
        (422, "idempotency_mismatch", IdempotencyMismatch),
        (422, "validation_error", ValidationFailed),
        (422, "something_new", Unprocessable),
        (409, "something_new", Conflict),
    ],
)
def test_it_types_every_documented_create_error(rsps, parro, status, code, error):
    rsps.add("POST", PLANNERS, status=status, json=planner_error(code, "Noor de Vries heeft al een gesprek."))
    with pytest.raises(error) as err:
        parro.create_planner(NEW_PLANNER, idempotency_key=KEY)
    assert type(err.value) is error
    # The vendor's own sentence may quote a name: only its code is kept.
    assert (err.value.status, err.value.code, err.value.message) == (status, code, code)
    assert "Noor" not in str(err.value)
    assert len(rsps.calls) == 1


def test_it_keeps_the_fields_of_a_validation_error_but_not_the_vendors_words(rsps, parro):
    details = [{"field": "slots[3].staff_ids", "issue": "overlapping slot of Zoë"}]
    rsps.add(
        "POST",
        PLANNERS,
        status=422,
        json=planner_error("validation_error", "The request body is invalid.", details=details),
    )
    with pytest.raises(ValidationFailed) as err:
        parro.create_planner(NEW_PLANNER, idempotency_key=KEY)
    assert err.value.details == [{"field": "slots[3].staff_ids"}]


def test_a_field_name_with_terminal_escapes_is_kept_escaped(rsps, parro):
    details = [{"field": "slots[3]\x1b[2J\r\nFAKE LINE", "issue": "Zoë"}]
    rsps.add("POST", PLANNERS, status=422, json=planner_error("validation_error", details=details))
    with pytest.raises(ValidationFailed) as err:
        parro.create_planner(NEW_PLANNER, idempotency_key=KEY)
    assert err.value.details == [{"field": "slots[3]\\x1b[2J\\r\\nFAKE LINE"}]


@pytest.mark.parametrize(
    "change",
    [
        {"opens_at": "2026-10-26T08:00:00"},  # no offset
        {"unknown_member": 1},
        {"kind": "party"},
        {"sibling_head_start_hours": 169},
        {"closes_at": "2026-10-01T08:00:00+01:00"},  # before opens_at
        {"slots": []},
        {"invitee_child_ids": ["chd_1", "chd_1"]},
    ],
)
def test_it_refuses_a_planner_body_the_contract_would_reject(parro, change):
    with pytest.raises(ValidationError):
        parro.create_planner({**NEW_PLANNER, **change}, idempotency_key=KEY)


def test_it_writes_timestamps_with_their_offset_never_z():
    body = PlannerCreate.model_validate(
        {**NEW_PLANNER, "opens_at": datetime.fromisoformat("2026-10-26T07:00:00+00:00")}
    ).to_json()
    assert body["opens_at"] == "2026-10-26T07:00:00+00:00"


def test_it_lists_planners_by_external_ref_and_finds_none(rsps, parro):
    rsps.add(
        "GET",
        PLANNERS,
        json={"data": [], "next_cursor": None},
        match=[matchers.query_param_matcher({"external_ref": "sync:x", "limit": "200"})],
    )
    assert parro.find_planner("sync:x") is None


def test_it_gets_patches_opens_and_closes_a_planner(rsps, parro):
    rsps.add("GET", PLANNER, json=PLANNER_BODY)
    rsps.add("PATCH", PLANNER, json=PLANNER_BODY, headers={"Idempotent-Replayed": "true"})
    rsps.add("POST", f"{PLANNER}/open", json={**PLANNER_BODY, "status": "scheduled"})
    rsps.add("POST", f"{PLANNER}/close", json={**PLANNER_BODY, "status": "closed"})
    assert parro.get_planner("pln_3f8s0k2m9xqa")["status"] == "draft"
    patched = parro.update_planner(
        "pln_3f8s0k2m9xqa", {"closes_at": "2026-11-04T17:00:00+01:00"}, idempotency_key="patch-1"
    )
    assert patched.replayed
    assert sent_json(rsps.calls[1]) == {"closes_at": "2026-11-04T17:00:00+01:00"}
    assert parro.open_planner("pln_3f8s0k2m9xqa")["status"] == "scheduled"
    assert parro.close_planner("pln_3f8s0k2m9xqa")["status"] == "closed"
    assert rsps.calls[2].request.body is None  # open has no body


def test_it_refuses_an_empty_patch(parro):
    with pytest.raises(ValidationError):
        parro.update_planner("pln_1", PlannerPatch())


def test_it_sends_adding_slots_without_a_key_only_once(rsps, parro):
    rsps.add("PATCH", PLANNER, status=502, body="<html/>", content_type="text/html")
    slot = {"start": "2026-11-12T15:00:00+01:00", "end": "2026-11-12T15:10:00+01:00", "staff_ids": ["stf_a81kd0qpz7ce"]}
    with pytest.raises(ServerError) as err:
        parro.update_planner("pln_3f8s0k2m9xqa", {"add_slots": [slot]})
    assert err.value.outcome_unknown and len(rsps.calls) == 1


@pytest.mark.parametrize(("code", "error"), [("invalid_state", InvalidState)])
def test_it_raises_invalid_state_when_opening_a_closed_planner(rsps, parro, code, error):
    rsps.add("POST", f"{PLANNER}/open", status=409, json=planner_error(code))
    with pytest.raises(error):
        parro.open_planner("pln_3f8s0k2m9xqa")


def test_it_raises_not_found_and_method_not_allowed(rsps, parro):
    rsps.add("GET", f"{PLANNERS}/pln_unknown", status=404, json=planner_error("not_found"))
    rsps.add("POST", f"{PLANNER}/close", status=405, json=planner_error("method_not_allowed"))
    with pytest.raises(NotFound):
        parro.get_planner("pln_unknown")
    with pytest.raises(MethodNotAllowed):
        parro.close_planner("pln_3f8s0k2m9xqa")


def test_it_quotes_planner_ids_in_paths(rsps, parro):
    rsps.add("GET", f"{PLANNERS}/a%2Fb", json={"id": "a/b"})
    assert parro.get_planner("a/b") == {"id": "a/b"}


def test_it_raises_invalid_mode_for_preferences_of_a_self_select_planner(rsps, parro):
    rsps.add("GET", f"{PLANNER}/preferences", status=409, json=planner_error("invalid_mode"))
    with pytest.raises(InvalidMode):
        list(parro.preferences("pln_3f8s0k2m9xqa"))


def test_it_keeps_distinct_preference_submissions_and_drops_repeats(rsps, parro):
    pref = {
        "child_id": "c1",
        "guardian_id": "g1",
        "available_slot_ids": ["s1"],
        "submitted_at": "2026-10-27T19:44:02+01:00",
    }
    newer = {**pref, "submitted_at": "2026-10-27T20:00:00+01:00"}
    rsps.add("GET", f"{PLANNER}/preferences", json={"data": [pref], "next_cursor": "c1"})
    rsps.add("GET", f"{PLANNER}/preferences", json={"data": [pref, newer], "next_cursor": None})
    assert list(parro.preferences("pln_3f8s0k2m9xqa")) == [pref, newer]


def test_it_assigns_children_and_raises_slot_unavailable(rsps, parro):
    result = [{"child_id": "c1", "slot_id": "s1", "booking_id": "b1"}]
    rsps.add("POST", f"{PLANNER}/assignments", json={"data": result}, headers={"Idempotent-Replayed": "true"})
    rsps.add("POST", f"{PLANNER}/assignments", status=409, json=planner_error("slot_unavailable"))
    assigned = parro.assign("pln_3f8s0k2m9xqa", [{"child_id": "c1", "slot_id": "s1"}], idempotency_key="assign-1")
    assert assigned.data == result and assigned.replayed
    assert sent_json(rsps.calls[0]) == {"assignments": [{"child_id": "c1", "slot_id": "s1"}]}
    with pytest.raises(SlotUnavailable):
        parro.assign("pln_3f8s0k2m9xqa", [{"child_id": "c2", "slot_id": "s1"}], idempotency_key="assign-2")


def test_it_sends_a_message_and_surfaces_the_replay(rsps, parro):
    rsps.add(
        "POST",
        f"{PARRO_API}/messages",
        status=202,
        json={"id": "msg_1"},
        match=[matchers.header_matcher({"Idempotency-Key": "msg-key"}), matchers.json_params_matcher(MESSAGE)],
    )
    rsps.add("POST", f"{PARRO_API}/messages", status=202, json={"id": "msg_1"}, headers={"Idempotent-Replayed": "true"})
    first = parro.send_message(MESSAGE, idempotency_key="msg-key")
    again = parro.send_message(MESSAGE, idempotency_key="msg-key")
    assert (first.id, first.replayed, again.id, again.replayed) == ("msg_1", False, "msg_1", True)


@pytest.mark.parametrize("recipients", [{}, {"child_ids": ["c"], "staff_ids": ["s"]}, {"child_ids": []}])
def test_it_refuses_a_message_without_exactly_one_recipient_kind(parro, recipients):
    with pytest.raises(ValidationError):
        parro.send_message({**MESSAGE, "recipients": recipients}, idempotency_key="k")


def test_it_follows_cursors_with_the_same_filters_until_an_empty_last_page(rsps, parro):
    rsps.add(
        "GET",
        CHILDREN,
        json={"data": [{"id": "c1"}, {"id": "c2"}], "next_cursor": "A"},
        match=[matchers.query_param_matcher({"group_id": "grp_1", "limit": "2"})],
    )
    rsps.add(
        "GET",
        CHILDREN,
        json={"data": [{"id": "c2"}, {"id": "c3"}], "next_cursor": "B"},
        match=[matchers.query_param_matcher({"group_id": "grp_1", "limit": "2", "cursor": "A"})],
    )
    rsps.add(
        "GET",
        CHILDREN,
        json={"data": [], "next_cursor": None},
        match=[matchers.query_param_matcher({"group_id": "grp_1", "limit": "2", "cursor": "B"})],
    )
    pager = parro.children(group_id="grp_1", limit=2)
    assert [c["id"] for c in pager] == ["c1", "c2", "c3"]
    assert (pager.pages, pager.duplicates, pager.complete) == (3, 1, True)


def test_it_detects_a_repeated_cursor_as_a_loop(rsps, parro):
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c1"}], "next_cursor": "A"})
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c2"}], "next_cursor": "B"})
    rsps.add("GET", CHILDREN, json={"data": [{"id": "c3"}], "next_cursor": "A"})
    with pytest.raises(PaginationLoop):
        list(parro.children())
    assert len(rsps.calls) == 3


def test_it_raises_bad_request_for_an_invalid_cursor(rsps, parro):
    rsps.add("GET", f"{PLANNER}/bookings", status=400, json=planner_error("invalid_cursor"))
    with pytest.raises(BadRequest) as err:
        list(parro.bookings("pln_3f8s0k2m9xqa"))
    assert err.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    "body", [{"data": None, "next_cursor": None}, {"data": []}, {"data": [], "next_cursor": 5}, ["x"]]
)
def test_it_rejects_a_malformed_list_envelope(rsps, parro, body):
    rsps.add("GET", f"{PARRO_API}/groups", json=body)
    with pytest.raises(UnexpectedResponse):
        list(parro.groups())


@pytest.mark.parametrize("limit", [0, 201, True])
def test_it_refuses_a_page_size_outside_1_to_200(parro, limit):
    with pytest.raises(ValueError, match="limit must be an integer from 1 to 200"):
        parro.groups(limit=limit)


@pytest.mark.parametrize("status", [500, 503, 504])
def test_it_retries_a_keyed_message_after_a_temporary_failure(rsps, parro, status):
    rsps.add("POST", f"{PARRO_API}/messages", status=status, json=planner_error("service_unavailable"))
    rsps.add("POST", f"{PARRO_API}/messages", status=202, json={"id": "msg_1"})
    assert parro.send_message(MESSAGE, idempotency_key="msg-key").id == "msg_1"
    assert len(rsps.calls) == 2
