"""Work held because it needs a person (`connector/engine/attention.py`), as `health` and `status` say it."""

from __future__ import annotations

from datetime import tzinfo

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


def held_line(row: Attention, zone: tzinfo) -> str:
    """One line: whom it concerns, since when (in `zone`), and the reason (which says what to do)."""
    return f"{_whom(row)} needs a person since {row.since.astimezone(zone):%Y-%m-%d %H:%M}: {row.reason}"


def held_attention(store: Store, brin: str, zone: tzinfo) -> list[dict]:
    """The "needs attention" items of `status` for a school's held work: one per hold."""
    return [
        {
            "kind": "needs_a_person",
            "count": 1,
            "ids": [row.scope],
            "message": held_line(row, zone)
            + f". Tried again from {row.retry_at.astimezone(zone):%Y-%m-%d %H:%M}, or at once when the settings "
            "change.",
        }
        for row in held_rows(store, brin)
    ]


def _whom(row: Attention) -> str:
    if row.scope == "pas":
        return "the PAS client"
    kind, _, rest = row.scope.partition(":")
    if kind == "pas":
        return f"school {rest}: PAS access"
    if kind == "planner":
        return f"school {rest}: the planner key"
    return f"school {row.brin}: {row.job}"
