"""Strict validation of planner request bodies (contract: "Request bodies are strict").

Each validator returns `details` ([{field, issue}]) — empty when the body is acceptable — so the
caller can answer `422 validation_error` with every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise
from typing import Any

from .common import parse_ts

KINDS = ("parent_meeting", "child_meeting", "parent_child_meeting", "report_meeting", "advice_meeting", "other")
MODES = ("self_select", "preferences")


class Checker:
    """Collects problems while walking a JSON body."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, field: str, issue: str) -> None:
        self.details.append({"field": field, "issue": issue})

    def obj(
        self, value: Any, field: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(field or "body", "must be an object")
            return None
        required = list(required)
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.add(_join(field, key), "is not a documented member")
        for key in required:
            if key not in value:
                self.add(_join(field, key), "is required")
        return value

    def string(
        self, d: dict[str, Any], key: str, field: str, lo: int = 0, hi: int | None = None, nullable: bool = False
    ) -> None:
        if key not in d:
            return
        v = d[key]
        if v is None and nullable:
            return
        if not isinstance(v, str):
            self.add(_join(field, key), "must be a string" + (" or null" if nullable else ""))
        elif len(v) < lo or (hi is not None and len(v) > hi):
            self.add(_join(field, key), f"length must be between {lo} and {hi}")

    def enum(self, d: dict[str, Any], key: str, field: str, values: tuple[str, ...]) -> None:
        if key in d and d[key] not in values:
            self.add(_join(field, key), "must be one of " + ", ".join(values))

    def integer(self, d: dict[str, Any], key: str, field: str, lo: int, hi: int) -> None:
        if key not in d:
            return
        v = d[key]
        ok = not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
        if not ok or not lo <= v <= hi:
            self.add(_join(field, key), f"must be an integer between {lo} and {hi}")

    def ts(self, d: dict[str, Any], key: str, field: str) -> datetime | None:
        if key not in d:
            return None
        value = parse_ts(d[key])
        if value is None:
            self.add(_join(field, key), "must be an ISO 8601 date-time with a UTC offset")
        return value

    def ids(self, d: dict[str, Any], key: str, field: str, lo: int, hi: int) -> list[str] | None:
        if key not in d:
            return None
        v = d[key]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.add(_join(field, key), "must be an array of strings")
            return None
        if not lo <= len(v) <= hi:
            self.add(_join(field, key), f"must have between {lo} and {hi} items")
        if len(set(v)) != len(v):
            self.add(_join(field, key), "items must be unique")
        return v


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def check_slots(c: Checker, slots: Any, field: str) -> list[dict[str, Any]]:
    """SlotInput items; returns the parsed slots (start/end as datetimes) that are well-formed."""
    parsed: list[dict[str, Any]] = []
    if not isinstance(slots, list):
        c.add(field, "must be an array")
        return parsed
    if not 1 <= len(slots) <= 2000:
        c.add(field, "must have between 1 and 2000 items")
    for n, slot in enumerate(slots):
        f = f"{field}[{n}]"
        d = c.obj(slot, f, ("start", "end", "staff_ids"))
        if d is None:
            continue
        start, end = c.ts(d, "start", f), c.ts(d, "end", f)
        staff = c.ids(d, "staff_ids", f, 1, 5)
        if start and end and staff is not None:
            if start >= end:
                c.add(f"{f}.end", "must be after start")
            parsed.append({"start": start, "end": end, "staff_ids": staff, "field": f})
    return parsed


def check_overlaps(c: Checker, new: list[dict[str, Any]], existing: list[Any], known_staff: set[str]) -> None:
    """Known staff only; a staff member's slots must not overlap (also with existing slots)."""
    spans: dict[str, list[tuple[datetime, datetime, str | None]]] = {}
    for s in existing:
        for sid in s.staff_ids:
            spans.setdefault(sid, []).append((s.start, s.end, None))
    for s in new:
        for sid in s["staff_ids"]:
            if sid not in known_staff:
                c.add(f"{s['field']}.staff_ids", f"Unknown staff member {sid}.")
            spans.setdefault(sid, []).append((s["start"], s["end"], s["field"]))
    for sid, items in spans.items():
        items.sort(key=lambda t: (t[0], t[1]))
        for (_, e1, f1), (s2, _, f2) in pairwise(items):
            if s2 < e1 and (f1 or f2):
                c.add(f"{f2 or f1}.staff_ids", f"Staff member {sid} already has an overlapping slot.")


def check_planner_create(body: Any) -> tuple[Checker, dict[str, Any]]:
    """Shape of PlannerCreate; references are checked by the caller."""
    c = Checker()
    required = (
        "external_ref",
        "group_id",
        "title",
        "description",
        "location",
        "kind",
        "mode",
        "sibling_head_start_hours",
        "opens_at",
        "closes_at",
        "invitee_child_ids",
        "slots",
    )
    d = c.obj(body, "", required)
    out: dict[str, Any] = {}
    if d is None:
        return c, out
    c.string(d, "external_ref", "", 1, 128)
    c.string(d, "group_id", "", 0)
    c.string(d, "title", "", 1, 200)
    c.string(d, "description", "", 0, 5000)
    c.string(d, "location", "", 0, 200, nullable=True)
    c.enum(d, "kind", "", KINDS)
    c.enum(d, "mode", "", MODES)
    c.integer(d, "sibling_head_start_hours", "", 0, 168)
    out["opens_at"], out["closes_at"] = c.ts(d, "opens_at", ""), c.ts(d, "closes_at", "")
    if out["opens_at"] and out["closes_at"] and out["opens_at"] >= out["closes_at"]:
        c.add("closes_at", "must be after opens_at")
    out["invitee_child_ids"] = c.ids(d, "invitee_child_ids", "", 1, 1000)
    out["slots"] = check_slots(c, d["slots"], "slots") if "slots" in d else []
    return c, out


def check_planner_patch(body: Any) -> tuple[Checker, dict[str, Any]]:
    """Shape of PlannerPatch (title, description, closes_at, add_slots; at least one)."""
    c = Checker()
    d = c.obj(body, "", (), ("title", "description", "closes_at", "add_slots"))
    out: dict[str, Any] = {}
    if d is None:
        return c, out
    if not d:
        c.add("body", "must contain at least one member")
    c.string(d, "title", "", 1, 200)
    c.string(d, "description", "", 0, 5000)
    out["closes_at"] = c.ts(d, "closes_at", "")
    out["add_slots"] = check_slots(c, d["add_slots"], "add_slots") if "add_slots" in d else []
    return c, out


def check_assignments(body: Any) -> tuple[Checker, list[dict[str, str]]]:
    """Shape of AssignmentRequest."""
    c = Checker()
    d = c.obj(body, "", ("assignments",))
    rows: list[dict[str, str]] = []
    if d is None or "assignments" not in d:
        return c, rows
    items = d["assignments"]
    if not isinstance(items, list) or not 1 <= len(items) <= 1000:
        c.add("assignments", "must be an array with 1 to 1000 items")
        return c, rows
    for n, item in enumerate(items):
        f = f"assignments[{n}]"
        a = c.obj(item, f, ("child_id", "slot_id"))
        if a is not None:
            c.string(a, "child_id", f)
            c.string(a, "slot_id", f)
            if isinstance(a.get("child_id"), str) and isinstance(a.get("slot_id"), str):
                rows.append({"child_id": a["child_id"], "slot_id": a["slot_id"], "field": f})
    return c, rows


def check_message(body: Any) -> tuple[Checker, dict[str, Any]]:
    """Shape of MessageCreate: exactly one of recipients.child_ids / recipients.staff_ids."""
    c = Checker()
    d = c.obj(body, "", ("recipients", "subject", "body"))
    out: dict[str, Any] = {}
    if d is None:
        return c, out
    c.string(d, "subject", "", 1, 200)
    c.string(d, "body", "", 1, 10000)
    r = d.get("recipients")
    if "recipients" in d:
        if not isinstance(r, dict) or len(r) != 1 or next(iter(r)) not in ("child_ids", "staff_ids"):
            c.add("recipients", "must have exactly one of child_ids or staff_ids")
        else:
            kind = next(iter(r))
            out[kind] = c.ids(r, kind, "recipients", 1, 1000)
    return c, out
