"""Vendor records the roster keeps pending (`connector/engine/pending.py`), as `status` lists them."""

from __future__ import annotations

from sqlmodel import col, select

from connector.logging_setup import safe_id, safe_text
from connector.store import Store
from connector.store.models import PendingRecord, School

SHOWN = 8  # ids named in the sentence; the item's `ids` holds them all


def pending_attention(store: Store, brin: str) -> dict | None:
    """The "needs attention" item for a school's pending records, or None when there are none."""
    with store.read() as session:
        query = (
            select(PendingRecord)
            .join(School, col(School.id) == PendingRecord.school_id)
            .where(School.brin == brin)
            .order_by(col(PendingRecord.first_seen_at), col(PendingRecord.record_id))
        )
        records = list(session.exec(query))
    if not records:
        return None
    shown = "; ".join(f"{safe_id(r.record_id)} ({safe_text(r.reason, 200)})" for r in records[:SHOWN])
    more = f"; and {len(records) - SHOWN} more" if len(records) > SHOWN else ""
    return {
        "kind": "records_pending",
        "count": len(records),
        "ids": [safe_id(r.record_id) for r in records],
        "message": f"{len(records)} PAS record(s) cannot be used yet and are read again at every roster sync: "
        f"{shown}{more}. Correct them in PAS; `connector logs --school {brin} --level warning` shows each.",
    }
