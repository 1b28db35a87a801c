"""Sending one message to parents or staff, once, through the intent log."""

from __future__ import annotations

from collections.abc import Sequence

from connector.engine.context import Step
from connector.engine.intents import perform


def send(
    step: Step, key: str, body: dict, *, what: str, detail: str, ids: Sequence[str] = (), count: str | None = None
) -> bool:
    """Send `body` under the intent `key`; True when it went out now (not before, not failed).

    The run log gets "`what` sent" (or "`what` planned" in a dry run, which sends nothing)."""
    if step.engine.dry_run:
        step.run.event(f"{what} planned", f"{key}: {detail} (dry run)")
        return False
    outcome = perform(
        step.store,
        step.run,
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
