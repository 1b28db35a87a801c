"""Sending one message to parents or staff, once, through the intent log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connector.engine.actions import Action
from connector.engine.context import Step
from connector.engine.intents import perform


def send(
    step: Step, key: str, body: dict, *, what: str, detail: str, ids: Sequence[str] = (), count: str | None = None
) -> bool:
    """Send `body` under the intent `key`; True when it went out now (not before, not failed).

    The run log gets "`what` sent"."""
    outcome = perform(
        step.store,
        step.run_log,
        key=key,
        kind="send_message",
        payload=body,
        now=step.now,
        send=lambda idempotency_key: step.planner.send_message(body, idempotency_key=idempotency_key).id,
    )
    if outcome.done and not outcome.already:
        step.run.event(f"{what} sent", f"{key}: {detail}", ids=list(ids) or [outcome.vendor_id or ""], count=count)
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
