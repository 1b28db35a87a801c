"""Unique keys that keep side effects from happening twice, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from connector.store import Store
from connector.store.models import (
    Group,
    IdentityLink,
    Intent,
    IntentState,
    Planner,
    ReminderSent,
    Round,
    School,
    SchoolYear,
    payload_hash,
)

NOW = datetime(2026, 10, 26, 7, 0, tzinfo=UTC)


def add_planner(session: Session, external_ref: str = "sync:12AB00:2026-2027:najaar:71003") -> Planner:
    school = School(brin="12AB00", name="De Regenboog")
    session.add(school)
    session.flush()
    year = SchoolYear(
        school_id=school.id, pas_id="2026-2027", start_date=date(2026, 8, 1), end_date=date(2027, 7, 31), current=True
    )
    session.add(year)
    session.flush()
    group = Group(school_id=school.id, school_year_id=year.id, pas_id="71003", name="Groep 3/4", leerjaren=[3, 4])
    rnd = Round(
        school_id=school.id,
        school_year_id=year.id,
        round_key="najaar",
        kind="voortgangsgesprek",
        window_start=date(2026, 11, 9),
        window_end=date(2026, 11, 13),
    )
    session.add_all([group, rnd])
    session.flush()
    planner = Planner(
        external_ref=external_ref,
        school_id=school.id,
        round_id=rnd.id,
        group_id=group.id,
        opens_at=NOW,
        closes_at=NOW + timedelta(days=7),
    )
    session.add(planner)
    session.flush()
    return planner


def test_the_same_intent_cannot_be_recorded_twice(any_store: Store) -> None:
    key = "open_planner:12AB00:najaar:71003"
    with any_store.write() as session:
        session.add(Intent(natural_key=key, kind="open_planner", payload_hash=payload_hash({"a": 1})))
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add(Intent(natural_key=key, kind="open_planner", payload_hash="other"))
    with any_store.read() as session:
        (intent,) = session.exec(select(Intent)).all()
        assert intent.state == IntentState.PENDING


def test_idempotency_keys_are_unique(any_store: Store) -> None:
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add_all(
            [
                Intent(natural_key="a", idempotency_key="k1", kind="x", payload_hash="h"),
                Intent(natural_key="b", idempotency_key="k1", kind="x", payload_hash="h"),
            ]
        )


def test_intent_state_is_checked(any_store: Store) -> None:
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add(Intent(natural_key="a", kind="x", payload_hash="h", state="done"))


def test_planner_external_ref_is_unique(any_store: Store) -> None:
    with any_store.write() as session:
        planner = add_planner(session)
        ids = (planner.school_id, planner.round_id, planner.group_id)
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add(
            Planner(
                external_ref=planner.external_ref,
                school_id=ids[0],
                round_id=ids[1],
                group_id=ids[2],
                opens_at=NOW,
                closes_at=NOW,
            )
        )


def test_one_reminder_per_planner_household_and_moment(any_store: Store) -> None:
    with any_store.write() as session:
        planner_id = add_planner(session).id
        session.add(ReminderSent(planner_id=planner_id, huishouden_id="HH-4411", moment="first"))
        session.add(ReminderSent(planner_id=planner_id, huishouden_id="HH-4411", moment="last_call"))
        session.add(ReminderSent(planner_id=planner_id, huishouden_id="HH-4412", moment="first"))
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add(ReminderSent(planner_id=planner_id, huishouden_id="HH-4411", moment="first"))


def test_an_id_maps_to_one_planner_id_per_kind(any_store: Store) -> None:
    with any_store.write() as session:
        school = School(brin="12AB00")
        session.add(school)
        session.flush()
        school_id = school.id
        session.add(
            IdentityLink(
                school_id=school_id,
                kind="child",
                pas_id="581207",
                planner_id="chd_7hk2m9q0x3za",
                matched_by="external_id",
            )
        )
        # The same PAS id as another kind is a different identity.
        session.add(
            IdentityLink(
                school_id=school_id, kind="guardian", pas_id="581207", planner_id="grd_1", matched_by="external_id"
            )
        )
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add(
            IdentityLink(
                school_id=school_id, kind="child", pas_id="581207", planner_id="chd_other", matched_by="manual"
            )
        )
    with pytest.raises(IntegrityError), any_store.write() as session:
        session.add(
            IdentityLink(
                school_id=school_id, kind="child", pas_id="999", planner_id="chd_7hk2m9q0x3za", matched_by="manual"
            )
        )


def test_a_failed_write_leaves_nothing_behind(any_store: Store) -> None:
    def fail_after_a_flush() -> None:
        with any_store.write() as session:
            session.add(School(brin="12AB00"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_after_a_flush()
    with any_store.read() as session:
        assert session.exec(select(School)).all() == []


def test_deleting_a_pupil_purges_its_links(any_store: Store) -> None:
    from connector.store.models import Guardian, Pupil, PupilGuardian

    with any_store.write() as session:
        school = School(brin="12AB00")
        session.add(school)
        session.flush()
        pupil = Pupil(school_id=school.id, pas_id="581207", leerjaar=4)
        guardian = Guardian(school_id=school.id, pas_id="900311", huishouden_id="HH-4411")
        session.add_all([pupil, guardian])
        session.flush()
        session.add(PupilGuardian(pupil_id=pupil.id, guardian_id=guardian.id))
    with any_store.write() as session:
        session.delete(session.get(Pupil, pupil.id))
    with any_store.read() as session:
        assert session.exec(select(PupilGuardian)).all() == []
