"""Work held because it needs a person (`connector/engine/attention.py`), as `health` and `status` say it."""

from __future__ import annotations

from datetime import UTC

from sqlmodel import col, or_, select

from connector.store import Store
from connector.store.models import Attention


def held_rows(store: Store, brin: str | None = None) -> list[Attention]:
    """The holds, oldest first: all of them, or those concerning one school (the board's PAS client too)."""
    query = select(Attention).order_by(col(Attention.since), col(Attention.scope))
    if brin is not None:
        query = query.where(or_(col(Attention.brin) == brin, col(Attention.scope) == "pas"))
    with store.read() as session:
        return list(session.exec(query))


def held_line(row: Attention) -> str:
    """One line: whom it concerns, since when, and the reason (which says what to do)."""
    return f"{_whom(row)} needs a person since {row.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {row.reason}"


def held_attention(store: Store, brin: str) -> dict | None:
    """The "needs attention" item of `status` for a school's held work, or None."""
    rows = held_rows(store, brin)
    if not rows:
        return None
    return {
        "kind": "needs_a_person",
        "count": len(rows),
        "ids": [row.scope for row in rows],
        "message": "; ".join(held_line(row) for row in rows)
        + ". It is tried again an hour after each try, or at once when the settings change.",
    }


def _whom(row: Attention) -> str:
    if row.scope == "pas":
        return "the PAS client"
    kind, _, rest = row.scope.partition(":")
    if kind == "pas":
        return f"school {rest}: PAS access"
    if kind == "planner":
        return f"school {rest}: the planner key"
    return f"school {row.brin}: {row.job}"
