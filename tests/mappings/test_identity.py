"""Records are linked by external_id (staff then by e-mail); what cannot be linked is reported."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.domain import Group, PlannerChild, PlannerGroup, PlannerStaff, Pupil, PupilStatus, StaffMember
from mappings.identity import match_children, match_groups, match_staff

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def pupil(pas_id: str, status=PupilStatus.ENROLLED, guardians=()) -> Pupil:
    return Pupil(pas_id, "g1", 3, status, None, 1, False, tuple(guardians), NOW)


def test_groups_link_by_external_id_and_the_rest_is_reported():
    result = match_groups(
        [Group("71003", "Groep 3/4", (3, 4), ()), Group("71005", "Groep 5", (5,), ())],
        [PlannerGroup("grp_a", "71003", ()), PlannerGroup("grp_b", None, ()), PlannerGroup("grp_c", "99999", ())],
    )
    assert result.by_pas_id() == {"71003": "grp_a"}
    reasons = {(u.system, u.record_id): u.reason for u in result.unmatched}
    assert "external_id is null" in reasons[("planner", "grp_b")]
    assert "99999 is not in the administration" in reasons[("planner", "grp_c")]
    assert ("pas", "71005") in reasons


def test_two_planner_children_claiming_one_pupil_link_neither():
    result = match_children(
        [pupil("1")], [PlannerChild("chd_a", "1", "grp", ()), PlannerChild("chd_b", "1", "grp", ())]
    )
    assert result.links == []
    assert {u.record_id for u in result.unmatched} == {"chd_a", "chd_b", "1"}


def test_a_pupil_who_left_needs_no_planner_child():
    result = match_children([pupil("1", PupilStatus.LEFT)], [])
    assert result.links == [] and result.unmatched == []


def test_staff_link_by_external_id_then_by_unique_e_mail():
    staff = [
        StaffMember("31", frozenset({"leerkracht"}), (), (), "a@x.nl"),
        StaffMember("32", frozenset({"leerkracht"}), (), (), "b@x.nl"),
        StaffMember("33", frozenset({"intern_begeleider"}), (), (), "c@x.nl"),
    ]
    planner = [
        PlannerStaff("stf_1", "31", "other@x.nl"),
        PlannerStaff("stf_2", None, "b@x.nl"),
        PlannerStaff("stf_3", None, None),
    ]
    result = match_staff(staff, planner)
    assert {(link.pas_id, link.planner_id, link.matched_by) for link in result.links} == {
        ("31", "stf_1", "external_id"),
        ("32", "stf_2", "email"),
    }
    assert {(u.system, u.record_id) for u in result.unmatched} == {("planner", "stf_3"), ("pas", "33")}
