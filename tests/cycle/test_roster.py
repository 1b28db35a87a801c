"""Roster sync: pupils stored with their links, the watermark only moving forward, and the guard
against a sync that would remove too much at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from connector.cycle.settings import load_settings
from connector.engine.context import Engine, Step
from connector.engine.roster import PUPILS_WATERMARK, RemovalGuardError, sync_roster
from connector.engine.runlog import RunLog, bound
from connector.review.status import school_status
from connector.store import Store, upgrade_to_head
from connector.store.models import IdentityLink, PendingRecord, Pupil, SyncEvent, SyncWatermark

T0 = datetime(2026, 9, 1, 6, 0, tzinfo=timezone(timedelta(hours=2)))


class Sweep(list):
    def __init__(self, items, watermark):
        super().__init__(items)
        self.watermark = watermark


class FakePas:
    """The administration as lists; records which `changed_since` each pupil read asked for."""

    def __init__(self, pupils: list[dict], now: datetime) -> None:
        self.pupils_by_id = {p["id"]: p for p in pupils}
        self.now = now
        self.asked_since: list[datetime | None] = []

    def groups(self, brin, *, schoolyear=None):
        return Sweep([{"id": "g1", "name": "Groep 3", "leerjaren": [3], "teacher_ids": ["s1"]}], self.now)

    def staff(self, brin, *, schoolyear=None):
        return Sweep(
            [
                {
                    "id": "s1",
                    "roles": ["leerkracht"],
                    "group_ids": ["g1"],
                    "werkdagen": ["ma", "di"],
                    "email": "juf@school.nl",
                }
            ],
            self.now,
        )

    def pupils(self, brin, *, schoolyear=None, changed_since=None):
        self.asked_since.append(changed_since)
        items = [
            p
            for p in self.pupils_by_id.values()
            # A record whose changed_at PAS sent as null still changed when it did (`_changed`).
            if changed_since is None or datetime.fromisoformat(p["changed_at"] or p["_changed"]) >= changed_since
        ]
        return Sweep(items, self.now)


class FakePlanner:
    def __init__(self, pupil_ids: list[str]) -> None:
        self.pupil_ids = pupil_ids

    def groups(self):
        return [{"id": "grp_1", "external_id": "g1", "teacher_ids": ["stf_1"]}]

    def children(self):
        return [{"id": f"chd_{p}", "external_id": p, "group_id": "grp_1", "guardian_ids": []} for p in self.pupil_ids]

    def guardians(self):
        return []

    def staff(self):
        return [{"id": "stf_1", "external_id": None, "email": "JUF@school.nl"}]


def pupil(pas_id: str, status: str = "ingeschreven", changed: datetime = T0 - timedelta(days=30)) -> dict:
    return {
        "id": pas_id,
        "group_id": "g1",
        "leerjaar": 3,
        "status": status,
        "uitschrijfdatum": None if status == "ingeschreven" else "2026-09-01",
        "ondersteuningsniveau": 1,
        "handelingsplan": False,
        "ontwikkelingsperspectief": False,
        "guardians": [
            {
                "id": f"v{pas_id}",
                "huishouden_id": f"h{pas_id}",
                "gezag": True,
                "ontvangt_informatie": True,
                "email": None,
            }
        ],
        "changed_at": changed.isoformat(),
        "_changed": changed.isoformat(),
    }


@pytest.fixture
def world(write_settings, tmp_path):
    loaded = load_settings(write_settings())
    url = str(tmp_path / "roster.db")
    upgrade_to_head(url)
    pas = FakePas([pupil(str(n)) for n in range(20)], T0)
    engine = Engine(loaded, Store(url), pas, lambda brin: FakePlanner(sorted(pas.pupils_by_id)))
    return engine, pas


def sync(engine: Engine, now: datetime):
    run = RunLog(engine.store, trigger="test", school_id=None, now=now)
    with bound(run):
        return sync_roster(Step(engine, engine.settings.schools[0], now, run))


def enrolled(engine: Engine) -> int:
    with engine.store.read() as session:
        return len(list(session.exec(select(Pupil.id).where(Pupil.archived_at.is_(None)))))


def test_the_first_sync_stores_pupils_and_links_staff_by_e_mail(world):
    engine, pas = world
    result = sync(engine, T0)
    assert result.pupils_changed == 20 and enrolled(engine) == 20
    with engine.store.read() as session:
        links = {(link.kind, link.matched_by) for link in session.exec(select(IdentityLink))}
    assert links == {("group", "external_id"), ("child", "external_id"), ("staff", "email")}


def test_the_watermark_is_the_vendors_time_and_the_next_read_asks_from_there(world):
    engine, pas = world
    sync(engine, T0)
    pas.now = T0 + timedelta(days=1)
    sync(engine, T0 + timedelta(days=1))
    assert pas.asked_since == [None, T0]
    with engine.store.read() as session:
        mark = session.exec(select(SyncWatermark).where(SyncWatermark.resource == PUPILS_WATERMARK)).one()
    assert datetime.fromisoformat(mark.value) == T0 + timedelta(days=1)


def test_a_sync_that_would_remove_too_many_pupils_changes_nothing_and_names_the_flag(world):
    engine, pas = world
    sync(engine, T0)
    later = T0 + timedelta(days=1)
    pas.now = later
    for pas_id in ("1", "2", "3", "4"):  # 20% leave at once; the default limit is 15%
        pas.pupils_by_id[pas_id] = pupil(pas_id, "uitgeschreven", later)
    with pytest.raises(RemovalGuardError) as refused:
        sync(engine, later)
    assert "4 of 20 pupils" in str(refused.value) and "--allow-removals" in str(refused.value)
    assert enrolled(engine) == 20
    with engine.store.read() as session:
        mark = session.exec(select(SyncWatermark).where(SyncWatermark.resource == PUPILS_WATERMARK)).one()
    assert datetime.fromisoformat(mark.value) == T0  # not moved: the same changes are read again
    engine.allow_removals = True
    assert sync(engine, later).archived == 4 and enrolled(engine) == 16


def test_a_pupil_who_left_and_came_back_is_restored(world):
    engine, pas = world
    sync(engine, T0)
    pas.pupils_by_id["7"] = pupil("7", "uitgeschreven", T0 + timedelta(hours=1))
    pas.now = T0 + timedelta(days=1)
    assert sync(engine, pas.now).archived == 1 and enrolled(engine) == 19
    pas.pupils_by_id["7"] = pupil("7", "ingeschreven", T0 + timedelta(days=1, hours=1))
    pas.now = T0 + timedelta(days=2)
    assert sync(engine, pas.now).restored == 1 and enrolled(engine) == 20


def events(engine: Engine, action: str) -> list:
    with engine.store.read() as session:
        return list(session.exec(select(SyncEvent).where(SyncEvent.action == action)))


def pending_ids(engine: Engine) -> list[str]:
    with engine.store.read() as session:
        return sorted(r.record_id for r in session.exec(select(PendingRecord)))


def test_pupils_that_fail_mapping_are_kept_pending_and_stored_once_corrected(world):
    engine, pas = world
    sync(engine, T0)
    later = T0 + timedelta(days=1)
    broken = [str(n) for n in range(20, 27)]  # seven new pupils, each with a value PAS should not send
    faults = [
        ("leerjaar", None),
        ("status", None),
        ("group_id", None),
        ("guardians", None),
        ("ondersteuningsniveau", None),
        ("changed_at", None),
        ("uitschrijfdatum", "31-02-2026"),
    ]
    for pas_id, (field, value) in zip(broken, faults, strict=True):
        record = pupil(pas_id, changed=T0 + timedelta(hours=1))
        record[field] = value
        pas.pupils_by_id[pas_id] = record
    pas.now = later
    sync(engine, later)
    assert pending_ids(engine) == broken and enrolled(engine) == 20
    (said,) = events(engine, "records pending")
    assert said.vendor_ids == broken and all(pas_id in said.message for pas_id in broken)
    (listed,) = [
        a
        for a in school_status(engine, engine.settings.schools[0], later)["attention"]
        if a["kind"] == "records_pending"
    ]
    assert listed["ids"] == broken and "leerjaar" in listed["message"]

    # PAS corrects them without moving their changed_at past the watermark: they are read again.
    for pas_id in broken:
        pas.pupils_by_id[pas_id] = pupil(pas_id, changed=T0 + timedelta(hours=1))
    pas.now = later + timedelta(days=1)
    sync(engine, pas.now)
    assert enrolled(engine) == 27 and pending_ids(engine) == []
    assert pas.asked_since[-1] <= T0 + timedelta(hours=1) and len(events(engine, "records resolved")) == 1


def test_a_pupil_in_a_group_the_school_year_does_not_have_is_pending_with_an_event(world):
    engine, pas = world
    sync(engine, T0)
    stray = pupil("99", changed=T0 + timedelta(hours=1))
    stray["group_id"] = "g-unknown"
    pas.pupils_by_id["99"] = stray
    pas.now = T0 + timedelta(days=1)
    sync(engine, pas.now)
    assert pending_ids(engine) == ["99"] and enrolled(engine) == 20
    assert any("g-unknown" in e.message for e in events(engine, "record failed"))
