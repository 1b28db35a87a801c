"""`outbox.send_all`: a batch of messages is recorded and claimed in one transaction before any is
sent; each message then costs its call and its confirmation only, and goes out once (issue W2-6).

On a SQLite store with a planner double that records each call's Idempotency-Key and, at every
call, what the store holds then.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import event
from sqlmodel import select

from connector.engine.outbox import Message, send_all
from connector.store import Store
from connector.store.models import Intent, IntentState
from tests.fakes import stored_run

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def states(store: Store) -> dict[str, str]:
    with store.read() as session:
        return dict(session.exec(select(Intent.natural_key, Intent.state)).all())


class Planner:
    """The planner's send_message: each key it was called with, and the intents' states at that call."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys: list[str] = []
        self.seen: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def send_message(self, body: dict, *, idempotency_key: str) -> SimpleNamespace:
        seen = states(self.store)
        with self.lock:
            self.keys.append(idempotency_key)
            self.seen.append(seen)
            return SimpleNamespace(id=f"msg_{len(self.keys)}")


def step_of(store: Store, planner: Planner) -> SimpleNamespace:
    run = stored_run(store, NOW)
    engine = SimpleNamespace(settings=SimpleNamespace(sync=SimpleNamespace(concurrency=4)))
    return SimpleNamespace(store=store, now=NOW, run_log=run, run=run, engine=engine, planner=planner)


def messages(*keys: str) -> list[Message]:
    return [Message(key, {"to": key}, "reminder", "a reminder") for key in keys]


def transactions(store: Store) -> list[list[str]]:
    """Each write transaction's statements on the intents table (first word, and RETURNING)."""
    seen: list[list[str]] = []

    def on(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            seen.append([])
        elif "intents" in statement and seen and not statement.startswith("SELECT"):
            seen[-1].append(statement.split()[0] + (" RETURNING" if " RETURNING " in statement else ""))

    event.listen(store.engine, "before_cursor_execute", on)
    return seen


def test_a_batch_is_recorded_and_claimed_in_one_transaction_then_each_costs_only_its_confirmation(store):
    planner = Planner(store)
    step = step_of(store, planner)
    keys = [f"send_message:12AB00:reminder:{n}" for n in range(3)]
    written = transactions(store)
    went = send_all(step, messages(*keys))
    assert went == [True, True, True]
    with_intents = [t for t in written if t]
    assert with_intents[0] == ["INSERT"] + ["UPDATE RETURNING"] * 3  # recorded and claimed together
    assert with_intents[1:] == [["UPDATE"]] * 3  # then one confirmation each, no claim of its own
    # At every call all three were claimed already (in flight, or confirmed by then): none pending.
    assert all(seen[key] != IntentState.PENDING.value for seen in planner.seen for key in keys)
    assert len(set(planner.keys)) == 3 and states(store) == dict.fromkeys(keys, IntentState.CONFIRMED.value)

    assert send_all(step_of(store, planner), messages(*keys)) == [False, False, False]  # sent before: not again
    assert len(planner.keys) == 3


def test_a_key_twice_in_one_batch_is_sent_once(store):
    planner = Planner(store)
    went = send_all(step_of(store, planner), messages("send_message:12AB00:notice:1", "send_message:12AB00:notice:1"))
    assert sorted(went) == [False, True] and len(planner.keys) == 1
