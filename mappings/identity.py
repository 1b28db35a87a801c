"""Linking the two systems' records: group to group, pupil to child, staff, guardians. Pure.

The planner carries `external_id`, the administration's id, on groups, children and staff; names
are typed separately in both systems and are never used to link (contracts/README.md). Staff
without `external_id` are linked by e-mail when that is unique on both sides. Guardians need no
link: the planner reaches them through their children. Whatever cannot be linked is returned as
`Unmatched` with its reason, never dropped silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from connector.domain import Group, PlannerChild, PlannerGroup, PlannerStaff, Pupil, StaffMember


@dataclass(frozen=True)
class Link:
    kind: str  # group | child | staff | guardian
    pas_id: str
    planner_id: str
    matched_by: str  # external_id | email


@dataclass(frozen=True)
class Unmatched:
    kind: str
    system: str  # pas | planner: where the record lives
    record_id: str
    reason: str


@dataclass
class Matching:
    links: list[Link] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    def planner_id(self, pas_id: str) -> str | None:
        return next((link.planner_id for link in self.links if link.pas_id == pas_id), None)

    def by_pas_id(self) -> dict[str, str]:
        return {link.pas_id: link.planner_id for link in self.links}


def _by_external_id(
    kind: str, pas_ids: Iterable[str], planner: Iterable[tuple[str, str | None]]
) -> tuple[Matching, set[str], list[str]]:
    """Link on external_id; returns the matching, the PAS ids left, and planner ids without external_id."""
    pas_left = set(pas_ids)
    planner = list(planner)
    counts = Counter(ext for _, ext in planner if ext is not None)
    result = Matching()
    no_external: list[str] = []
    for planner_id, external_id in planner:
        if external_id is None:
            no_external.append(planner_id)
        elif counts[external_id] > 1:
            result.unmatched.append(
                Unmatched(
                    kind,
                    "planner",
                    planner_id,
                    f"external_id {external_id} is used by {counts[external_id]} planner records",
                )
            )
        elif external_id not in pas_left:
            result.unmatched.append(
                Unmatched(kind, "planner", planner_id, f"external_id {external_id} is not in the administration")
            )
        else:
            result.links.append(Link(kind, external_id, planner_id, "external_id"))
            pas_left.discard(external_id)
    return result, pas_left, no_external


def match_groups(groups: Iterable[Group], planner_groups: Iterable[PlannerGroup]) -> Matching:
    result, pas_left, no_external = _by_external_id(
        "group", (g.pas_id for g in groups), ((g.planner_id, g.external_id) for g in planner_groups)
    )
    result.unmatched += [
        Unmatched("group", "planner", pid, "not linked to the administration (external_id is null)")
        for pid in no_external
    ]
    result.unmatched += [
        Unmatched("group", "pas", pas_id, "no planner group has this external_id") for pas_id in sorted(pas_left)
    ]
    return result


def match_children(pupils: Iterable[Pupil], children: Iterable[PlannerChild]) -> Matching:
    """Enrolled pupils to planner children; a pupil who left needs no planner child."""
    pupils = list(pupils)
    left = {p.pas_id for p in pupils if not p.enrolled}
    result, pas_left, no_external = _by_external_id(
        "child", (p.pas_id for p in pupils), ((c.planner_id, c.external_id) for c in children)
    )
    result.unmatched += [
        Unmatched("child", "planner", pid, "not linked to the administration (external_id is null)")
        for pid in no_external
    ]
    result.unmatched += [
        Unmatched("child", "pas", pas_id, "no planner child has this external_id (not in the app yet, or not linked)")
        for pas_id in sorted(pas_left - left)
    ]
    return result


def match_staff(staff: Iterable[StaffMember], planner_staff: Iterable[PlannerStaff]) -> Matching:
    staff = list(staff)
    planner_staff = list(planner_staff)
    result, pas_left, no_external = _by_external_id(
        "staff", (s.pas_id for s in staff), ((s.planner_id, s.external_id) for s in planner_staff)
    )
    pas_by_email = _unique_by_email((s.pas_id, s.email) for s in staff if s.pas_id in pas_left)
    planner_by_email = _unique_by_email((s.planner_id, s.email) for s in planner_staff if s.planner_id in no_external)
    for planner_id in no_external:
        email = next(s.email for s in planner_staff if s.planner_id == planner_id)
        pas_id = pas_by_email.get(email) if email and planner_by_email.get(email) == planner_id else None
        if pas_id is None:
            result.unmatched.append(
                Unmatched(
                    "staff",
                    "planner",
                    planner_id,
                    "no external_id, and no unique e-mail address shared with the administration",
                )
            )
            continue
        result.links.append(Link("staff", pas_id, planner_id, "email"))
        pas_left.discard(pas_id)
    result.unmatched += [
        Unmatched("staff", "pas", pas_id, "not found in the planner by external_id or e-mail address")
        for pas_id in sorted(pas_left)
    ]
    return result


def _unique_by_email(pairs: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    seen: dict[str, list[str]] = defaultdict(list)
    for record_id, email in pairs:
        if email:
            seen[email].append(record_id)
    return {email: ids[0] for email, ids in seen.items() if len(ids) == 1}
