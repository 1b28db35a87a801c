"""Sending messages to parents or staff, each once, through the intent log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from connector.engine import pool
from connector.engine.actions import Action
from connector.engine.context import Step
from connector.engine.intents import Outcome, add_all, claim, perform


def send(
    step: Step, key: str, body: dict, *, what: str, detail: str, ids: Sequence[str] = (), count: str | None = None
) -> bool:
    """Send `body` under the intent `key`; True when it went out now (not before, not failed).

    The run log gets "`what` sent"."""
    return _sent(step, Message(key, body, what, detail, tuple(ids), count), _perform(step, key, body))


def send_all(step: Step, messages: Sequence[Message]) -> list[bool]:
    """Send several messages, `sync.concurrency` at a time; per message, True when it went out now.

    Their intents are recorded and claimed first, together in one transaction, before any is sent
    (a transaction per message less): a crash midway leaves each recorded, those not sent yet in
    flight, and the next run sends each at most once (again under its own Idempotency-Key, which the
    vendor replays if it had it). The run log gets each "`what` sent" in the messages' order. A key
    twice in the batch is sent once, for its first message. A bug in one send does not stop the others;
    it is raised after them."""
    if not messages:
        return []
    first_of: dict[str, int] = {}  # each key's first message
    for n, message in enumerate(messages):
        first_of.setdefault(message.key, n)
    firsts = [messages[n] for n in first_of.values()]
    claimed: dict[str, Row[Any]] = {}
    with step.store.write() as session:
        recorded = [(m.key, "send_message", m.body) for m in firsts]
        # Messages name pupils: their bodies are not stored.
        add_all(session, recorded, now=step.now, run_id=step.run_log.id, keep_payload=False)
        for message in firsts:
            row = claim(session, message.key, step.now)  # None: sent before, or waiting to retry
            if row is not None:
                claimed[message.key] = row
    done = pool.each(step.engine, lambda m: _perform(step, m.key, m.body, claimed.get(m.key)), firsts, name="messages")
    with step.run.batch():  # their "sent" lines in one transaction, not one each
        went = {d.item.key: d.error is None and d.result is not None and _sent(step, d.item, d.result) for d in done}
    pool.results(done)
    return [n == first_of[m.key] and went[m.key] for n, m in enumerate(messages)]


def _perform(step: Step, key: str, body: dict, claimed: Row[Any] | None = None) -> Outcome:
    return perform(
        step.store,
        step.run_log,
        key=key,
        kind="send_message",
        payload=body,
        now=step.now,
        send=lambda idempotency_key: step.planner.send_message(body, idempotency_key=idempotency_key).id,
        claimed=claimed,
    )


def _sent(step: Step, message: Message, outcome: Outcome) -> bool:
    if outcome.done and not outcome.already:
        ids = list(message.ids) or [outcome.vendor_id or ""]
        step.run.event(f"{message.what} sent", f"{message.key}: {message.detail}", ids=ids, count=message.count)
        return True
    return False


@dataclass(frozen=True)
class Message:
    """A message planned to be sent once under `key` (see `send`)."""

    key: str
    body: dict
    what: str  # "reminder", "teacher notice", …: the run log says "`what` sent"
    detail: str
    ids: tuple[str, ...] = ()
    count: str | None = None

    def action(self) -> Action:
        return Action(f"send {self.what}", self.key, self.detail)

    def send(self, step: Step) -> bool:
        return send(step, self.key, self.body, what=self.what, detail=self.detail, ids=self.ids, count=self.count)
