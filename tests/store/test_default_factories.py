"""A table model's default factories are inspected once per factory, not at every construction
(pydantic issue #13376: SQLModel's construction asks `inspect.signature` of each factory)."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from pydantic._internal import _typing_extra

from connector.store.models import Slot, SyncRun


def test_a_model_built_again_does_not_inspect_its_default_factories_again():
    moment = datetime(2026, 11, 10, 14, tzinfo=UTC)
    first = Slot(planner_id=1, vendor_id="slt_1", starts_at=moment, ends_at=moment)
    earlier = SyncRun(trigger="manual", started_at=moment)
    with mock.patch.object(_typing_extra, "signature_no_eval", wraps=_typing_extra.signature_no_eval) as asked:
        again = Slot(planner_id=1, vendor_id="slt_2", starts_at=moment, ends_at=moment)
        run = SyncRun(trigger="manual", started_at=moment)
    assert asked.call_count == 0
    # The factories still run per row: each gets its own list and timestamps, each run its own id.
    assert again.staff_ids == [] and again.staff_ids is not first.staff_ids
    assert run.id != earlier.id and run.counts is not earlier.counts
