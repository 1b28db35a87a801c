"""Retention: data of pupils who left is purged after `retention.left_pupils_days`, with all
that hangs off it; guardians nobody links to go too; the sync log is kept `sync_events_days`.
A purge is itself a reviewable run (trigger "retention")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlmodel import select

from connector.cycle.settings import load_settings
from connector.engine.retention import COUNT_NAMES, PurgePlan, describe, plan_purge, purge, purge_counts
from connector.errors import SettingsError
from connector.store import Store, upgrade_to_head
from connector.store.models import (
    Booking,
    Conversation,
    Group,
    Guardian,
    IdentityLink,
    Intent,
    JobMark,
    Note,
    Planner,
    PlannerInvitee,
    Pupil,
    PupilGuardian,
    ReminderSent,
    Round,
    School,
    SchoolYear,
    SyncEvent,
    SyncRun,
    VerslagCheck,
)

from .conftest import cli, settings_copy

NOW = datetime(2027, 9, 1, 8, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)  # left before the 365-day period
RECENTLY = NOW - timedelta(days=30)  # left, but within the period


@pytest.fixture(autouse=True)
def the_real_clock_at_now():
    """The purges here happen at NOW; the run log is kept against the real clock as well."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(tmp_path: Path):
    """A school with three families: one whose only child left long ago, one whose child left
    recently, and one whose older child left long ago while a sibling still attends."""
    database = tmp_path / "connector.db"
    upgrade_to_head(str(database))
    store = Store(database)
    settings = load_settings(str(settings_copy(tmp_path, database)))
    with store.write() as s:
        school = School(brin="12AB00", name="De Test")
        s.add(school)
        s.flush()
        year = SchoolYear(
            school_id=school.id, pas_id="2026-2027", start_date=date(2026, 8, 31), end_date=date(2027, 7, 16)
        )
        s.add(year)
        s.flush()
        group = Group(school_id=school.id, school_year_id=year.id, pas_id="71001", name="5", leerjaren=[5])
        rnd = Round(
            school_id=school.id,
            school_year_id=year.id,
            round_key="start",
            kind="start",
            window_start=date(2026, 9, 7),
            window_end=date(2026, 9, 11),
        )
        s.add_all([group, rnd])
        s.flush()
        planner = Planner(
            external_ref="sync:12AB00:2026-2027:start:71001",
            school_id=school.id,
            round_id=rnd.id,
            group_id=group.id,
            opens_at=NOW - timedelta(days=370),
            closes_at=NOW - timedelta(days=365),
        )
        s.add(planner)
        s.flush()
        pupils = {}
        for key, archived in (("gone", LONG_AGO), ("recent", RECENTLY), ("gone-sibling", LONG_AGO), ("stays", None)):
            pupil = Pupil(
                school_id=school.id,
                pas_id=f"p-{key}",
                planner_id=f"chd_{key}",
                group_id=group.id,
                leerjaar=5,
                archived_at=archived,
                status="uitgeschreven" if archived else "ingeschreven",
            )
            s.add(pupil)
            s.flush()
            pupils[key] = pupil
        guardians = {}
        for key in ("gone", "recent", "family"):
            guardian = Guardian(
                school_id=school.id, pas_id=f"g-{key}", huishouden_id=f"hh-{key}", planner_id=f"gdn_{key}"
            )
            s.add(guardian)
            s.flush()
            guardians[key] = guardian
        s.add(Guardian(school_id=school.id, pas_id="g-orphan", huishouden_id="hh-orphan"))  # nobody links to this one
        links = (("gone", "gone"), ("recent", "recent"), ("gone-sibling", "family"), ("stays", "family"))
        for pupil_key, guardian_key in links:
            s.add(PupilGuardian(pupil_id=pupils[pupil_key].id, guardian_id=guardians[guardian_key].id))
            s.add(
                IdentityLink(
                    school_id=school.id,
                    kind="child",
                    pas_id=f"p-{pupil_key}",
                    planner_id=f"chd_{pupil_key}",
                    matched_by="external_id",
                )
            )
        for key in guardians:
            s.add(
                IdentityLink(
                    school_id=school.id,
                    kind="guardian",
                    pas_id=f"g-{key}",
                    planner_id=f"gdn_{key}",
                    matched_by="external_id",
                )
            )
        s.add(
            IdentityLink(
                school_id=school.id,
                kind="guardian",
                pas_id="g-orphan",
                planner_id="gdn_orphan",
                matched_by="external_id",
            )
        )
        for key, pupil in pupils.items():
            s.add(PlannerInvitee(planner_id=planner.id, pupil_id=pupil.id, child_planner_id=f"chd_{key}"))
            booking = Booking(
                vendor_id=f"bkg_{key}",
                planner_id=planner.id,
                slot_vendor_id="slt_1",
                child_planner_id=f"chd_{key}",
                pupil_id=pupil.id,
                guardian_id=guardians["family" if key in ("stays", "gone-sibling") else key].id,
            )
            s.add(booking)
            s.flush()
            conversation = Conversation(
                school_id=school.id,
                round_id=rnd.id,
                pupil_id=pupil.id,
                occasion=planner.external_ref,
                booking_id=booking.id,
                category="Oudergesprek",
                held_on=date(2026, 9, 8),
                verslag_due_on=date(2026, 9, 15),
            )
            s.add(conversation)
            s.flush()
            s.add(VerslagCheck(conversation_id=conversation.id, outcome="on_time", checked_at=LONG_AGO))
            s.add(
                Note(
                    school_id=school.id,
                    pas_id=f"n-{key}",
                    pupil_pas_id=f"p-{key}",
                    category="Oudergesprek",
                    author_pas_id="3101",
                    note_created_at=LONG_AGO,
                    visible=True,
                )
            )
        old_run = SyncRun(
            trigger="schedule", started_at=NOW - timedelta(days=200), ended_at=NOW - timedelta(days=200), outcome="ok"
        )
        new_run = SyncRun(
            trigger="schedule", started_at=NOW - timedelta(days=10), ended_at=NOW - timedelta(days=10), outcome="ok"
        )
        s.add_all([old_run, new_run])
        s.flush()
        s.add_all(
            [
                SyncEvent(run_id=old_run.id, at=old_run.started_at, action="not linked", vendor_ids=["p-gone"]),
                SyncEvent(run_id=old_run.id, at=old_run.started_at, action="planner opened"),
                SyncEvent(run_id=new_run.id, at=new_run.started_at, action="planner opened"),
            ]
        )
        s.add(JobMark(key="roster:12AB00:2027-02-19", job="roster", done_at=old_run.started_at, run_id=old_run.id))
        s.add(
            Intent(
                natural_key="open_planner:12AB00:x",
                kind="open_planner",
                payload_hash="0",
                state="confirmed",
                run_id=old_run.id,
            )
        )
    yield store, settings
    store.dispose()


def rows(store: Store, model) -> list:
    with store.read() as s:
        return list(s.exec(select(model)))


def test_a_pupil_who_left_long_ago_is_purged_with_all_that_hangs_off_it(world):
    store, loaded = world
    counts = purge(store, loaded.settings, NOW)
    assert sorted(p.pas_id for p in rows(store, Pupil)) == ["p-recent", "p-stays"]
    assert counts["pupils"] == 2
    assert counts["conversations"] == counts["verslag_checks"] == counts["planner_invitees"] == counts["bookings"] == 2
    assert counts["pupil_guardians"] == 2 and counts["notes"] == 2
    remaining = {p.id for p in rows(store, Pupil)}
    for model in (Conversation, PlannerInvitee, PupilGuardian):
        assert {r.pupil_id for r in rows(store, model)} == remaining, model
    assert len(rows(store, VerslagCheck)) == 2 and {n.pupil_pas_id for n in rows(store, Note)} == {
        "p-recent",
        "p-stays",
    }
    assert {b.vendor_id for b in rows(store, Booking)} == {"bkg_recent", "bkg_stays"}
    assert sorted(link.pas_id for link in rows(store, IdentityLink) if link.kind == "child") == ["p-recent", "p-stays"]


def test_guardians_nobody_links_to_are_purged_and_a_sibling_keeps_the_family(world):
    store, loaded = world
    counts = purge(store, loaded.settings, NOW)
    assert sorted(g.pas_id for g in rows(store, Guardian)) == ["g-family", "g-recent"]
    assert counts["guardians"] == 2  # the gone family's guardian and the one nobody linked to
    assert sorted(link.pas_id for link in rows(store, IdentityLink) if link.kind == "guardian") == [
        "g-family",
        "g-recent",
    ]


def test_the_sync_log_is_kept_for_sync_events_days_and_references_are_cleared(world):
    store, loaded = world
    counts = purge(store, loaded.settings, NOW)
    assert counts["sync_events"] == 2 and counts["sync_runs"] == 1
    assert [e.action for e in rows(store, SyncEvent) if e.action != "retention"] == ["planner opened"]
    assert rows(store, JobMark)[0].run_id is None and rows(store, Intent)[0].run_id is None


def test_a_purge_is_a_run_with_counts_and_no_pupil_ids(world):
    store, loaded = world
    purge(store, loaded.settings, NOW)
    [run] = [r for r in rows(store, SyncRun) if r.trigger == "retention"]
    assert run.outcome == "ok" and run.counts["purged pupils"] == 2 and run.counts["purged guardians"] == 2
    [event] = [e for e in rows(store, SyncEvent) if e.run_id == run.id]
    assert (
        event.action == "retention"
        and "2 pupils" in event.message
        and "p-gone" not in event.message
        and event.vendor_ids == []
    )


def test_a_dry_run_counts_the_same_and_changes_nothing(world):
    store, loaded = world
    before = {m.__name__: len(rows(store, m)) for m in (Pupil, Guardian, SyncEvent, SyncRun, Booking, Note)}
    planned = purge_counts(store, plan_purge(store, loaded.settings, NOW))
    assert {m.__name__: len(rows(store, m)) for m in (Pupil, Guardian, SyncEvent, SyncRun, Booking, Note)} == before
    assert planned == purge(store, loaded.settings, NOW)


def test_a_second_purge_finds_nothing_more(world):
    store, loaded = world
    purge(store, loaded.settings, NOW)
    again = purge(store, loaded.settings, NOW)
    assert {k: v for k, v in again.items() if k not in ("sync_events", "sync_runs")} == dict.fromkeys(
        [k for k in again if k not in ("sync_events", "sync_runs")], 0
    )


def test_the_periods_come_from_the_settings(tmp_path: Path, world):
    store, _ = world
    short = load_settings(
        str(
            settings_copy(
                tmp_path, tmp_path / "connector.db", extra="\n[retention]\nleft_pupils_days = 7\nsync_events_days = 1\n"
            )
        )
    )
    assert short.settings.retention.left_pupils_days == 7
    counts = purge(store, short.settings, NOW)
    assert counts["pupils"] == 3 and counts["sync_events"] == 3


@pytest.mark.parametrize("key", ["left_pupils_days", "sync_events_days"])
def test_a_period_below_one_day_is_refused(tmp_path: Path, key: str):
    path = settings_copy(tmp_path, tmp_path / "connector.db", extra=f"\n[retention]\n{key} = 0\n")
    with pytest.raises(SettingsError) as error:
        load_settings(str(path))
    assert key in str(error.value)


def test_connector_purge_reports_the_counts_and_its_run(world, tmp_path: Path):
    store, loaded = world
    settings = str(loaded.path)
    code, out, err = cli("purge", "--settings", settings, "--now", NOW.isoformat(), "--dry-run")
    assert code == 0, err
    assert out.startswith("dry run: would purge") and "  pupils: 2" in out and len(rows(store, Pupil)) == 4
    code, out, err = cli("purge", "--settings", settings, "--now", NOW.isoformat())
    assert code == 0, err
    assert "purged" in out and "  pupils: 2" in out and len(rows(store, Pupil)) == 2
    [run] = [r for r in rows(store, SyncRun) if r.trigger == "retention"]
    assert run.id in out
    code, _, err = cli("purge", "--settings", settings, "--now", "2027-09-01T08:00")
    assert code != 0 and "no UTC offset" in err


def test_a_purge_at_a_moment_ahead_of_the_real_clock_keeps_the_run_log_of_the_real_period(world):
    store, loaded = world
    recent = [e.id for e in rows(store, SyncEvent) if e.at >= NOW - timedelta(days=30)]
    assert recent
    purge(store, loaded.settings, NOW + timedelta(days=4 * 365))  # a clock or a --now years ahead
    assert set(recent) <= {e.id for e in rows(store, SyncEvent)}


REMIND = "remind:12AB00:2026-2027:{round}:{pupil}:20260905T0800"
START_REF = "sync:12AB00:2026-2027:start:71001"


def add_replay_records(store: Store) -> None:
    """Intents and reminders that name the pupils: of the round that is over (start) and of one
    still on (rapport-sep); settled and not."""
    with store.write() as s:
        school = s.exec(select(School)).one()
        year = s.exec(select(SchoolYear)).one()
        start = s.exec(select(Planner)).one()
        on = Round(
            school_id=school.id,
            school_year_id=year.id,
            round_key="rapport-sep",
            kind="rapport",
            window_start=date(2027, 9, 6),
            window_end=date(2027, 9, 10),
        )
        s.add(on)
        s.flush()
        running = Planner(
            external_ref="sync:12AB00:2026-2027:rapport-sep:71001",
            school_id=school.id,
            round_id=on.id,
            group_id=start.group_id,
            opens_at=NOW - timedelta(days=3),
            closes_at=NOW + timedelta(days=3),
        )
        s.add(running)
        s.flush()
        intents = {
            "gone's reminder": (REMIND.format(round="start", pupil="p-gone"), "confirmed", None),
            "stays' reminder": (REMIND.format(round="start", pupil="p-stays"), "confirmed", None),
            "recent's reminder": (REMIND.format(round="start", pupil="p-recent"), "confirmed", None),
            "pending reminder": (REMIND.format(round="start", pupil="p-gone-sibling"), "pending", None),
            "refused reminder": (REMIND.format(round="start", pupil="p-gone-sibling") + "x", "failed_permanent", None),
            "the planner": (
                f"create_planner:{START_REF}",
                "confirmed",
                {"invitee_child_ids": ["chd_gone", "chd_stays"]},
            ),
            "a late arrival's": (f"open_planner:{START_REF}:p-gone", "confirmed", None),
            "assignments in flight": (f"assign:{START_REF}", "in_flight", {"assignments": [{"child_id": "chd_gone"}]}),
            "round still on": (REMIND.format(round="rapport-sep", pupil="p-gone"), "confirmed", None),
            "the planner still on": (
                "create_planner:sync:12AB00:2026-2027:rapport-sep:71001",
                "confirmed",
                {"invitee_child_ids": ["chd_gone"]},
            ),
        }
        rows = {}
        for name, (key, state, payload) in intents.items():
            rows[name] = Intent(natural_key=key, kind="send_message", payload_hash="0", payload=payload, state=state)
            s.add(rows[name])
        s.flush()
        for planner, house, intent in (
            (start, "hh-gone", rows["gone's reminder"]),
            (start, "hh-family", rows["pending reminder"]),
            (start, "hh-recent", rows["recent's reminder"]),
            (running, "hh-gone", None),
        ):
            s.add(
                ReminderSent(
                    planner_id=planner.id,
                    huishouden_id=house,
                    moment="3",
                    intent_id=intent.id if intent else None,
                    sent_at=LONG_AGO,
                )
            )


def test_intents_and_reminders_of_pupils_purged_go_once_nothing_can_replay_them(world):
    store, loaded = world
    add_replay_records(store)
    counts = purge(store, loaded.settings, NOW)
    left = {i.natural_key for i in rows(store, Intent)}
    assert counts["intents"] == 4 and counts["reminders_sent"] == 1
    # Gone: a settled intent of a round that is over that names a pupil purged, by PAS id or child id.
    for key in (
        REMIND.format(round="start", pupil="p-gone"),
        f"create_planner:{START_REF}",
        f"open_planner:{START_REF}:p-gone",
        REMIND.format(round="start", pupil="p-gone-sibling") + "x",  # refused for good: nothing will retry it
    ):
        assert key not in left, key
    # Kept: pupils still kept (one who left recently too), what is pending or in flight, a round still on.
    assert {
        REMIND.format(round="start", pupil="p-stays"),
        REMIND.format(round="start", pupil="p-recent"),
        REMIND.format(round="start", pupil="p-gone-sibling"),  # pending: kept, whatever it names
        f"assign:{START_REF}",
        REMIND.format(round="rapport-sep", pupil="p-gone"),
        "create_planner:sync:12AB00:2026-2027:rapport-sep:71001",
        "open_planner:12AB00:x",
    } <= left
    assert sorted(r.huishouden_id for r in rows(store, ReminderSent)) == ["hh-family", "hh-gone", "hh-recent"]
    [kept_for_the_round_on] = [r for r in rows(store, ReminderSent) if r.huishouden_id == "hh-gone"]
    assert kept_for_the_round_on.intent_id is None  # it was sent under no intent in this test


def test_a_later_purge_takes_what_the_round_still_on_kept(world):
    store, loaded = world
    add_replay_records(store)
    purge(store, loaded.settings, NOW)
    later = NOW + timedelta(days=30)  # the rapport round is over by then
    with time_machine.travel(later, tick=False):
        counts = purge(store, loaded.settings, later)
    left = {i.natural_key for i in rows(store, Intent)}
    assert counts["intents"] == 2 and counts["reminders_sent"] == 1
    assert REMIND.format(round="rapport-sep", pupil="p-gone") not in left
    assert "create_planner:sync:12AB00:2026-2027:rapport-sep:71001" not in left
    assert REMIND.format(round="start", pupil="p-gone-sibling") in left and f"assign:{START_REF}" in left


def test_a_dry_run_counts_the_intents_and_reminders_too(world):
    store, loaded = world
    add_replay_records(store)
    planned = purge_counts(store, plan_purge(store, loaded.settings, NOW))
    assert (planned["intents"], planned["reminders_sent"]) == (4, 1)
    assert planned == purge(store, loaded.settings, NOW)


def test_a_purge_names_only_what_it_removes():
    plan = PurgePlan(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), [], [], [])
    limits = " (pupils who left before 2026-01-05, sync log before 2026-06-01)"
    assert describe(dict.fromkeys(COUNT_NAMES, 0), plan) == "nothing" + limits
    some = dict.fromkeys(COUNT_NAMES, 0) | {"pupils": 2, "sync_events": 40}
    assert describe(some, plan) == "2 pupils, 40 sync events" + limits
