"""Issue "[P6] Proof at school-board scale": hostile payloads, generated with hypothesis, in the
roster sync and the planner opening of the "start" round (2026-08-31 08:00).

Each example starts from the same fresh simulator world (one simulator for the whole test; its
world is replaced by a clone of the prepared one) and an empty database, then poisons both
vendors before the release run:

* PAS pupils (every version of the record dict in `sim.world`) and their guardians get unknown
  fields, documented nulls (uitschrijfdatum, tussenvoegsel, guardian e-mail and phone) and huge
  or unusual Unicode names (RTL marks, zero-width joiners, combining marks, emoji, NUL, up to
  ~60 kB);
* planner children and guardians get such names and null e-mail addresses; every item of every
  planner list (children, guardians, groups, staff, planners) carries unknown fields (added by a
  wrapper around the simulator's request handling);
* lists are read in small pages (PAS 37, planner 23) and every page after the first repeats the
  previous page's last item (a record that moved while paging);
* a few records, drawn by hypothesis, break the contract (a required field null or out of range,
  an unknown status, guardians not a list, a guardian's gezag null; a planner child without a
  group).

Then: every planner of the round exists once (by external_ref) and is released (but for a planner
all of whose invitees are children of broken records: nobody is left to invite); the invitees are
exactly the reference run's minus the children of the broken records (nothing lost, nothing
doubled); every pupil that did not break is stored once; no message is sent twice; and the sync
log has one "record failed" event per broken record, naming it by its id, and no other.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.simulator.common import Response
from connector.engine.run import run_due
from connector.store import upgrade_to_head
from tests.engine.conftest import BRIN, clone_world, copy_database

from .conftest import fresh_env, local, make_engine

RELEASE = local("2026-08-31 08:00")  # the start round's release, on the first school day
OPEN_KEY = f"open:{BRIN}:2026-2027:start"
PAS_PAGE, PLANNER_PAGE = 37, 23
PLANNER_LISTS = ("/v1/children", "/v1/guardians", "/v1/groups", "/v1/staff", "/v1/planners")

# --- strategies ----------------------------------------------------------------------------------

ODD = [
    "\u200f",
    "\u202e",
    "\u200d",
    "\ufeff",
    "\u0301",
    "\x00",
    "\U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1",
    "\u00a0",
    "\u2028",
    "\"'<>&\\",
]
_chars = st.characters(blacklist_categories=("Cs",))  # any code point JSON in UTF-8 can carry
unusual = st.lists(st.one_of(st.text(_chars, max_size=6), st.sampled_from(ODD)), max_size=8).map("".join)
huge = st.builds(
    lambda piece, n: piece * n,
    st.lists(st.one_of(_chars, st.sampled_from(ODD)), min_size=1, max_size=4).map("".join),
    st.integers(2_000, 10_000),
)
name = st.one_of(unusual, huge)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | unusual,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(unusual, inner, max_size=3),
    max_leaves=6,
)
extra_fields = st.dictionaries(st.text(min_size=1, max_size=12).map(lambda k: f"x_{k}"), json_value, max_size=3)

PUPIL_BREAKS = {
    "leerjaar null": lambda r: r.update(leerjaar=None),
    "leerjaar 9": lambda r: r.update(leerjaar=9),
    "unknown status": lambda r: r.update(status="verhuisd"),
    "guardians null": lambda r: r.update(guardians=None),
    "group_id null": lambda r: r.update(group_id=None),
    "ontwikkelingsperspectief null": lambda r: r.update(ontwikkelingsperspectief=None),
    "guardian gezag null": lambda r: (
        [g.update(gezag=None) for g in r["guardians"][:1]] or r.update(guardians=[{"id": "g?", "gezag": None}])
    ),
}


@st.composite
def poison(draw, pupil_ids: list[str], child_ids: list[str], guardian_ids: list[str]) -> dict[str, Any]:
    """What to do to the world: per pupil/child/guardian index a change, and which records break."""
    n_pupils = len(pupil_ids)
    touched = draw(st.lists(st.integers(0, n_pupils - 1), min_size=1, max_size=12, unique=True))
    return {
        "pupils": {
            pupil_ids[i]: {
                "extra": draw(extra_fields),
                "roepnaam": draw(name),
                "achternaam": draw(name),
                "nulls": draw(st.booleans()),
                "guardian_extra": draw(extra_fields),
                "guardian_name": draw(name),
            }
            for i in touched
        },
        "broken_pupils": draw(
            st.dictionaries(st.sampled_from(pupil_ids), st.sampled_from(sorted(PUPIL_BREAKS)), max_size=4)
        ),
        "children": {c: draw(name) for c in draw(st.lists(st.sampled_from(child_ids), max_size=8, unique=True))},
        "guardians": {
            g: (draw(name), draw(st.booleans()))
            for g in draw(st.lists(st.sampled_from(guardian_ids), max_size=8, unique=True))
        },
        "broken_children": draw(st.lists(st.sampled_from(child_ids), max_size=2, unique=True)),
        "item_extra": draw(extra_fields),
    }


# --- the simulator side ----------------------------------------------------------------------


def apply(world, plan: dict[str, Any]) -> None:
    with world.lock:
        school = world.schools[BRIN]
        for pid, change in plan["pupils"].items():
            for _at, record in school.pupils[pid].versions:
                record.update(change["extra"], roepnaam=change["roepnaam"], achternaam=change["achternaam"])
                if change["nulls"]:
                    record.update(tussenvoegsel=None, uitschrijfdatum=None)
                for guardian in record.get("guardians") or []:
                    guardian.update(change["guardian_extra"], roepnaam=change["guardian_name"])
                    if change["nulls"]:
                        guardian.update(email=None, telefoon=None)
        for pid, how in plan["broken_pupils"].items():
            for _at, record in school.pupils[pid].versions:
                PUPIL_BREAKS[how](record)
        for cid, text in plan["children"].items():
            school.p_children[cid].first_name = school.p_children[cid].last_name = text
        for gid, (text, no_email) in plan["guardians"].items():
            school.p_guardians[gid].name = text
            if no_email:
                school.p_guardians[gid].email = None
        for cid in plan["broken_children"]:
            school.p_children[cid].group_id = None


class Hostile:
    """Wraps the simulator's request handling: unknown fields on every planner list item, and every
    page after the first of a list repeats the previous page's last item."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.handle = sim.app.handle
        self.extra: dict[str, Any] = {}
        self.last: dict[str, Any] = {}  # path -> last item of the page served before
        self.repeated = 0

    def __call__(self, req) -> Response:
        response = self.handle(req)
        if req.method != "GET" or response.status != 200:
            return response
        path = req.path
        pas_list = path.startswith("/api/v1/schools/") and path.rsplit("/", 1)[-1] in ("pupils", "groups", "staff")
        if not (pas_list or path in PLANNER_LISTS):
            return response
        data = response.payload()
        key = "items" if pas_list else "data"
        items = data[key]
        follow_up = (req.single("offset") not in (None, "0")) if pas_list else req.single("cursor") is not None
        if not pas_list:
            for item in items:
                item.update(self.extra)
        previous = self.last.get(path)
        if items:
            self.last[path] = items[-1]
        if follow_up and previous is not None and items:
            data[key] = [previous, *items]
            self.repeated += 1
        return Response.json(
            response.status, data, headers={k: v for k, v in response.headers.items() if k != "Content-Type"}
        )


# --- the test ------------------------------------------------------------------------------------


def facts(env) -> dict[str, Any]:
    world = env.sim.world
    with world.lock:
        planners = list(world.schools[BRIN].planners.values())
        return {
            "refs": Counter(p.external_ref for p in planners),
            "released": {p.external_ref for p in planners if p.released_at},
            "invitees": Counter(c for p in planners for c in p.invitee_child_ids),
            "members": {p.external_ref: set(p.invitee_child_ids) for p in planners},
        }


def stored(db: Path) -> dict[str, Any]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        pupils = [pid for (pid,) in conn.execute("SELECT pas_id FROM pupils")]
        failed = [
            json.loads(ids)
            for (ids,) in conn.execute("SELECT vendor_ids FROM sync_events WHERE action = 'record failed'")
        ]
    conn.close()
    return {"pupils": Counter(pupils), "failed": failed}


def test_hostile_payloads_lose_and_double_nothing_and_every_failed_record_is_named(tmp_path):
    env = fresh_env(tmp_path / "env", stable=False)  # its world is replaced per example
    template = tmp_path / "empty.db"
    upgrade_to_head(str(template))
    pristine = clone_world(env.sim.world)
    hostile = Hostile(env.sim)
    env.sim.app.handle = hostile

    def release(plan: dict[str, Any] | None) -> dict[str, Any]:
        """A fresh world and database, poisoned by `plan`, through the release run."""
        env.sim.app.world = clone_world(pristine)
        copy_database(template, env.db)
        hostile.last.clear()
        hostile.extra = plan["item_extra"] if plan else {}
        if plan:
            apply(env.sim.world, plan)
        env.set_clock(RELEASE)
        engine = make_engine(env, pas_page=PAS_PAGE, planner_page=PLANNER_PAGE)
        try:
            reports = run_due(engine, RELEASE, trigger="run-due")
        finally:
            engine.store.dispose()
        return {"reports": reports, **facts(env), **stored(env.db), "counters": env.counters()}

    try:
        world = env.sim.world
        with world.lock:
            school = world.schools[BRIN]
            pupil_ids = sorted(pid for pid, p in school.pupils.items() if p.at(RELEASE) is not None)
            children = {c.id: c.external_id for c in school.children_now(RELEASE)}
            guardian_ids = sorted(school.p_guardians)
        linked = sorted(c for c, ext in children.items() if ext)
        reference = release(None)
        assert [r.done for r in reference["reports"]][0][-1] == OPEN_KEY and reference["failed"] == []
        assert len(reference["refs"]) >= 8 and hostile.repeated >= 5  # small pages: the repeats happened
        examples = []

        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(plan=poison(pupil_ids, linked, guardian_ids))
        def example(plan: dict[str, Any]) -> None:
            result = release(plan)
            examples.append(plan)
            broken_pupils, broken_children = set(plan["broken_pupils"]), set(plan["broken_children"])
            reports = result["reports"]
            assert [(r.postponed, OPEN_KEY in r.done) for r in reports] == [([], True)], reports
            lost_children = broken_children | {c for c, ext in children.items() if ext in broken_pupils}
            # planners: the reference's, once each, all released; except one all of whose invitees are the
            # children of broken records (a support planner of one pupil): nobody is left to invite
            members = reference["members"]
            kept = Counter({ref: n for ref, n in reference["refs"].items() if members[ref] - lost_children})
            assert result["refs"] == kept and result["released"] == set(kept)
            # invitees: the reference's, once each, minus the children of the broken records
            expected = Counter({c: n for c, n in reference["invitees"].items() if c not in lost_children})
            assert result["invitees"] == expected
            # PAS pupils: every one that did not break is stored once, the broken ones not
            assert result["pupils"] == Counter({p: 1 for p in pupil_ids if p not in broken_pupils})
            # the sync log names every failed record, once, by its id, and nothing else
            assert sorted(i for ids in result["failed"] for i in ids) == sorted(broken_pupils | broken_children)
            assert result["counters"]["duplicate_messages"] == 0
            assert result["counters"]["messages_sent"] == reference["counters"]["messages_sent"]
            dropped = sum(reference["refs"].values()) - sum(kept.values())  # each: no create, no open
            writes = Counter(reference["counters"]["writes"])
            writes.subtract({"POST /v1/planners": dropped, "POST /v1/planners/{planner_id}/open": dropped})
            assert Counter(result["counters"]["writes"]) == +writes

        example()
        # the examples did take the hostile paths: broken records of both kinds, huge names
        assert len(examples) >= 8 and hostile.repeated >= 40
        assert (
            sum(len(p["broken_pupils"]) for p in examples) >= 3
            and sum(len(p["broken_children"]) for p in examples) >= 2
        )
        assert any(len(c["roepnaam"]) >= 2_000 for p in examples for c in p["pupils"].values())
    finally:
        env.stop()
