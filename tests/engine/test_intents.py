"""`intents.perform`: each side effect once, claimed before its call (issues 3, W2-6).

On a SQLite store with a send function that counts its calls. An intent recorded beforehand and
due is claimed by one UPDATE … RETURNING, with no read before it; one waiting for its retry moment
is not sent until then, and then under the same Idempotency-Key; one left in flight by a crash is
looked up first and not sent again when the vendor has it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from adapters.errors import TemporaryError
from connector.engine.intents import RETRY_AFTER, add_all, claim, perform, record_all
from connector.store import Store
from connector.store.models import Intent, IntentState
from tests.fakes import stored_run

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY = "send_message:12AB00:reminder:1"


class Vendor:
    """A send that records each Idempotency-Key it was called with (or fails as told)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.fail: Exception | None = None

    def send(self, idempotency_key: str) -> str:
        self.keys.append(idempotency_key)
        if self.fail is not None:
            raise self.fail
        return f"msg_{len(self.keys)}"


def run_perform(store: Store, vendor: Vendor, now: datetime, **kw):
    run = stored_run(store, now)
    return perform(store, run, key=KEY, kind="send_message", payload={"n": 1}, now=now, send=vendor.send, **kw)


def intent(store: Store) -> Intent:
    with store.read() as session:
        return session.exec(select(Intent).where(Intent.natural_key == KEY)).one()


def intent_statements(store: Store) -> list[str]:
    """The statements on the intents table, as they are executed (the first word and RETURNING)."""
    seen: list[str] = []

    def on(conn, cursor, statement, parameters, context, executemany) -> None:
        if "intents" in statement:
            seen.append(statement.split()[0] + (" RETURNING" if " RETURNING " in statement else ""))

    event.listen(store.engine, "before_cursor_execute", on)
    return seen


def test_a_recorded_due_intent_is_claimed_in_one_statement_and_sent_once(store):
    earlier = stored_run(store, NOW)
    record_all(store, [(KEY, "send_message", {"n": 1})], now=NOW, run_id=earlier.id, keep_payload=False)
    vendor = Vendor()
    statements = intent_statements(store)
    outcome = run_perform(store, vendor, NOW)
    assert outcome.done and not outcome.already and outcome.vendor_id == "msg_1"
    assert statements == ["UPDATE RETURNING", "UPDATE"]  # the claim, the confirm: no read
    row = intent(store)
    assert row.state == IntentState.CONFIRMED and row.attempts == 1 and vendor.keys == [row.idempotency_key]

    again = run_perform(store, vendor, NOW + timedelta(hours=1))
    assert again.done and again.already and again.vendor_id == "msg_1" and len(vendor.keys) == 1


def test_an_intent_claimed_in_the_callers_transaction_is_sent_with_no_claim_of_its_own(store):
    earlier = stored_run(store, NOW)
    with store.write() as session:  # as a planner's release is recorded and claimed with its creation
        add_all(session, [(KEY, "send_message", {"n": 1})], now=NOW, run_id=earlier.id, keep_payload=False)
        claimed = claim(session, KEY, NOW)
    assert claimed is not None and intent(store).state == IntentState.IN_FLIGHT  # committed before the call
    vendor = Vendor()
    statements = intent_statements(store)
    outcome = run_perform(store, vendor, NOW, claimed=claimed)
    assert statements == ["UPDATE"]  # the confirm only
    assert outcome.done and vendor.keys == [intent(store).idempotency_key]
    with store.write() as session:
        assert claim(session, KEY, NOW + timedelta(hours=1)) is None  # settled: nothing left to claim


def test_an_intent_new_to_the_store_is_recorded_then_claimed_and_sent_once(store):
    vendor = Vendor()
    outcome = run_perform(store, vendor, NOW)
    assert outcome.done and vendor.keys == [intent(store).idempotency_key]
    assert run_perform(store, vendor, NOW).already and len(vendor.keys) == 1


def test_an_intent_waiting_for_its_retry_moment_is_not_sent_before_it(store):
    vendor = Vendor()
    vendor.fail = TemporaryError("planner down", vendor="parro")
    first = run_perform(store, vendor, NOW)
    assert not first.done and intent(store).state == IntentState.PENDING
    retry_at = intent(store).next_attempt_at
    assert retry_at == NOW + RETRY_AFTER

    vendor.fail = None
    waiting = run_perform(store, vendor, NOW + RETRY_AFTER - timedelta(minutes=1))
    assert waiting.error == "waiting to retry" and len(vendor.keys) == 1
    sent = run_perform(store, vendor, NOW + RETRY_AFTER)
    assert sent.done and len(vendor.keys) == 2 and vendor.keys[0] == vendor.keys[1]  # the same key
    assert intent(store).attempts == 2


def test_an_intent_left_in_flight_is_looked_up_and_not_sent_again_when_the_vendor_has_it(store):
    vendor = Vendor()
    vendor.fail = KeyboardInterrupt()  # the process stops during the call: the intent stays in flight
    with pytest.raises(KeyboardInterrupt):
        run_perform(store, vendor, NOW)
    assert intent(store).state == IntentState.IN_FLIGHT
    vendor.fail = None
    found = run_perform(store, vendor, NOW + timedelta(minutes=5), lookup=lambda: "msg_found")
    assert found.done and found.already and found.vendor_id == "msg_found" and len(vendor.keys) == 1
    assert intent(store).state == IntentState.CONFIRMED
