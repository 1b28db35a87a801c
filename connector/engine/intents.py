"""Every external side effect goes through here: record the intent, call, confirm.

The intent row (unique natural key, stable Idempotency-Key) is committed before the call and
no transaction is held across HTTP (pitfalls.md, "Side effects"). An intent found `in_flight`
was interrupted (a crash, a timeout with unknown outcome): it is first looked up at the vendor
(`lookup`, e.g. `GET /planners?external_ref=`), and only if it is not there is it sent again,
with the same key, so the vendor replays instead of repeating. A message cannot be looked up;
within the vendor's 24 h key lifetime the same key and body make a resend safe, after that it
is reported and never resent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from adapters.errors import IdempotencyMismatch, PermanentError, TemporaryError
from connector.engine.runlog import RunLog
from connector.logging_setup import redact_text
from connector.store import Store
from connector.store.base import metadata
from connector.store.bulk import insert_rows
from connector.store.models import Intent, IntentState, idempotency_key_for, payload_hash

KEY_LIFETIME = timedelta(hours=24)  # the planner keeps Idempotency-Keys at least 24 h
RETRY_AFTER = timedelta(minutes=15)

# Core statements on the table, built once: `perform` runs per planner and message, and the ORM's
# objects and per-statement work were most of its cost (issue W2-6).
_T = metadata.tables["intents"]
_BY_KEY = sa_select(_T).where(_T.c.natural_key == bindparam("key"))
_IN_FLIGHT = {"state": IntentState.IN_FLIGHT.value, "attempts": _T.c.attempts + 1, "last_attempt_at": bindparam("now")}
_CLAIM = update(_T).where(_T.c.id == bindparam("intent_id"), _T.c.state == bindparam("from_state")).values(_IN_FLIGHT)
# A recorded intent that is due, claimed in one statement: the common case needs no read first.
_CLAIM_DUE = (
    update(_T)
    .where(
        _T.c.natural_key == bindparam("key"),
        _T.c.state == IntentState.PENDING.value,
        or_(_T.c.next_attempt_at.is_(None), _T.c.next_attempt_at <= bindparam("now")),
    )
    .values(_IN_FLIGHT)
    .returning(_T.c.id, _T.c.idempotency_key, _T.c.vendor_id)
)
_BY_ID = _T.c.id == bindparam("intent_id")
_CONFIRM = (
    update(_T)
    .where(_BY_ID)
    .values(state=IntentState.CONFIRMED.value, vendor_id=bindparam("found"), confirmed_at=bindparam("now"), error=None)
)
_RELEASE = (
    update(_T)
    .where(_BY_ID)
    .values(state=IntentState.PENDING.value, error=bindparam("why"), next_attempt_at=bindparam("retry_at"))
)
_FAIL = update(_T).where(_BY_ID).values(state=IntentState.FAILED_PERMANENT.value, error=bindparam("why"))


@dataclass(frozen=True)
class Outcome:
    done: bool  # the effect has happened (now or before)
    vendor_id: str | None = None
    already: bool = False  # it had happened before this call
    error: str | None = None


class OutcomeUnknown(Exception):
    """The call may or may not have taken effect; the intent stays in flight for the next run."""


def perform(
    store: Store,
    run: RunLog,
    *,
    key: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    send: Callable[[str], str | None],
    lookup: Callable[[], str | None] | None = None,
    keep_payload: bool = False,
    on_confirm: Callable[[Session, str | None], None] | None = None,
    claimed: Row[Any] | None = None,
) -> Outcome:
    """Carry out one side effect exactly once.

    `send(idempotency_key)` performs the call and returns the vendor id; `lookup()` tells
    whether an interrupted earlier attempt took effect (returns its vendor id, or None).
    `keep_payload` stores the request with the intent (only for payloads without personal data).
    `on_confirm(session, vendor_id)` stores what the effect brought in the confirm's own transaction.
    `claimed` is the intent as `claim` returned it in the caller's own transaction: it is sent at once.
    """
    if claimed is None:
        claimed = _claim_due(store, key, now)
    if claimed is not None:
        return _send(store, run, kind, key, claimed, now, send, on_confirm)
    digest = payload_hash(payload)
    intent = _load_or_record(store, key, kind, digest, now, run.id, payload if keep_payload else None)
    assert intent.id is not None  # loaded or flushed: the row has its id
    if intent.state == IntentState.CONFIRMED:
        return Outcome(True, intent.vendor_id, already=True)
    if intent.state == IntentState.FAILED_PERMANENT:
        return Outcome(False, error=intent.error)
    if intent.state == IntentState.PENDING and intent.next_attempt_at and intent.next_attempt_at > now:
        return Outcome(False, error="waiting to retry")
    if intent.state == IntentState.IN_FLIGHT:
        if lookup is not None:
            found = lookup()
            if found is not None:
                _confirm(store, intent.id, found, now, on_confirm)
                run.event(f"{kind} reconciled", f"{key}: found at the vendor after an interrupted attempt", ids=[found])
                return Outcome(True, found, already=True)
        elif intent.last_attempt_at and now - intent.last_attempt_at > KEY_LIFETIME:
            message = "interrupted more than 24 h ago; not resent, because the vendor no longer recognises its key"
            _fail(store, intent.id, message, now)
            run.event(f"{kind} failed", f"{key}: {message}", level="error")
            return Outcome(False, error=message)
    if not _claim(store, intent.id, intent.state, now):
        return Outcome(False, error="claimed by another process")
    return _send(store, run, kind, key, intent, now, send, on_confirm)


def _send(
    store: Store,
    run: RunLog,
    kind: str,
    key: str,
    intent: Row[Any],
    now: datetime,
    send: Callable[[str], str | None],
    on_confirm: Callable[[Session, str | None], None] | None,
) -> Outcome:
    """The call of an intent this process has claimed (in flight), and what its answer means."""
    try:
        vendor_id = send(intent.idempotency_key)
    except IdempotencyMismatch:
        # Only successful requests are stored under a key: an earlier attempt took effect.
        _confirm(store, intent.id, intent.vendor_id, now, on_confirm)
        return Outcome(True, intent.vendor_id, already=True)
    except OutcomeUnknown as exc:
        run.event(f"{kind} unknown", f"{key}: {exc}; it is looked up before anything is sent again", level="warning")
        return Outcome(False, error=str(exc))
    except TemporaryError as exc:
        if exc.outcome_unknown:
            run.event(
                f"{kind} unknown", f"{key}: {exc}; it is looked up before anything is sent again", level="warning"
            )
            return Outcome(False, error=str(exc))
        _release(store, intent.id, str(exc), now + max(RETRY_AFTER, timedelta(seconds=exc.retry_after or 0)))
        run.event(f"{kind} postponed", f"{key}: {exc}", level="warning")
        return Outcome(False, error=str(exc))
    except PermanentError as exc:
        _fail(store, intent.id, str(exc), now)
        run.event(f"{kind} failed", f"{key}: {exc}", level="error")
        return Outcome(False, error=str(exc))
    _confirm(store, intent.id, vendor_id, now, on_confirm)
    return Outcome(True, vendor_id)


def record_all(
    store: Store,
    intents: list[tuple[str, str, dict[str, Any]]],
    *,
    now: datetime,
    run_id: str,
    keep_payload: bool = True,
) -> None:
    """Record several intents (key, kind, payload) in one transaction, before any of their calls:
    what belongs together (a round's assignments) is then replayed together, and a batch costs one
    write. Recorded ones are kept. `keep_payload` as in `perform`."""
    with store.write() as session:
        add_all(session, intents, now=now, run_id=run_id, keep_payload=keep_payload)


def add_all(
    session: Session,
    intents: list[tuple[str, str, dict[str, Any]]],
    *,
    now: datetime,
    run_id: str,
    keep_payload: bool = True,
) -> None:
    """`record_all` in the caller's transaction (with the rows the intents are about). Core
    statements, not ORM objects: a school's planners record theirs one by one, in their hot path."""
    keys = [key for key, _, _ in intents]
    known: set[str] = set()
    connection = session.connection()
    for n in range(0, len(keys), 500):  # SQLite's bound on parameters per statement
        chunk = keys[n : n + 500]
        known |= set(connection.scalars(sa_select(_T.c.natural_key).where(_T.c.natural_key.in_(chunk))))
    rows = []
    for key, kind, payload in intents:
        if key not in known:
            known.add(key)
            rows.append(_row(key, kind, payload_hash(payload), payload if keep_payload else None, now, run_id))
    insert_rows(session, Intent, rows)


def _row(key: str, kind: str, digest: str, payload: dict[str, Any] | None, now: datetime, run_id: str) -> dict:
    """A new intent's row (the table's defaults: pending, no attempt yet)."""
    return {
        "natural_key": key,
        "idempotency_key": idempotency_key_for(key),
        "kind": kind,
        "payload_hash": digest,
        "payload": payload,
        "run_id": run_id,
        "next_attempt_at": now,
    }


def is_confirmed(store: Store, key: str) -> bool:
    with store.read() as session:
        state = session.exec(select(Intent.state).where(Intent.natural_key == key)).first()
    return state == IntentState.CONFIRMED


def recorded_payload(store: Store, key: str) -> dict[str, Any] | None:
    """The request stored with an intent (see `keep_payload`), or None."""
    with store.read() as session:
        return session.exec(select(col(Intent.payload)).where(Intent.natural_key == key)).first()


def _load_or_record(
    store: Store, key: str, kind: str, digest: str, now: datetime, run_id: str, payload: dict[str, Any] | None
) -> Row[Any]:
    """The intent's row (columns by name), recorded first if it is new."""
    with store.read() as session:  # recorded already (`record_all`, an earlier run): no write lock taken
        known = session.connection().execute(_BY_KEY, {"key": key}).first()
    if known is not None:
        return known
    with store.write() as session:
        connection = session.connection()
        intent = connection.execute(_BY_KEY, {"key": key}).first()
        if intent is None:
            insert_rows(session, Intent, [_row(key, kind, digest, payload, now, run_id)])
            intent = connection.execute(_BY_KEY, {"key": key}).one()
    return intent


def claim(session: Session, key: str, now: datetime) -> Row[Any] | None:
    """The recorded, due intent `key` claimed (in flight) in the caller's transaction, or None: not
    recorded yet, not due, in flight or settled. Committed before its call, like `perform`'s own claim:
    an intent recorded and claimed with what it follows from (a planner's release, in the transaction
    that stores its creation) costs no transaction of its own."""
    return session.connection().execute(_CLAIM_DUE, {"key": key, "now": now}).first()


def _claim_due(store: Store, key: str, now: datetime) -> Row[Any] | None:
    """`claim` in a transaction of its own (`perform` then reads an intent it did not claim, and decides)."""
    with store.write() as session:
        return claim(session, key, now)


def _claim(store: Store, intent_id: int, state: str, now: datetime) -> bool:
    """Compare-and-set to in_flight; False when another process changed it meanwhile."""
    with store.write() as session:
        result = session.connection().execute(_CLAIM, {"intent_id": intent_id, "from_state": state, "now": now})
        return result.rowcount == 1


def _confirm(
    store: Store,
    intent_id: int,
    vendor_id: str | None,
    now: datetime,
    also: Callable[[Session, str | None], None] | None = None,
) -> None:
    with store.write() as session:
        if also is not None:
            also(session, vendor_id)
        session.connection().execute(_CONFIRM, {"intent_id": intent_id, "found": vendor_id, "now": now})


def _release(store: Store, intent_id: int, error: str, retry_at: datetime) -> None:
    with store.write() as session:
        values = {"intent_id": intent_id, "why": redact_text(error)[:500], "retry_at": retry_at}
        session.connection().execute(_RELEASE, values)


def _fail(store: Store, intent_id: int, error: str, now: datetime) -> None:
    with store.write() as session:
        session.connection().execute(_FAIL, {"intent_id": intent_id, "why": redact_text(error)[:500]})
