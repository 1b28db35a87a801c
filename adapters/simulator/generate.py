"""Deterministic generation of a realistic school world (both systems) from the seed.

Every school draws from its own `random.Random(f"{seed}:{brin}")`, never the global random.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from . import names as N
from .config import AMS, SimConfig, SimSchool
from .world import PasNote, PasPupil, PChild, PGuardian, School, World

_WEEK = ["ma", "di", "wo", "do", "vr"]
_COMBOS = [("Groep 3/4", [3, 4]), ("Groep 5/6", [5, 6]), ("Groep 6/7", [6, 7])]


def build_world(config: SimConfig) -> World:
    """Generate every school of the board and wrap them in a World."""
    return World(config, [_School(config, s, i).build() for i, s in enumerate(config.schools)])


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=AMS)


class _School:
    """Builder for one school; kept as a class so the steps share the rng and indexes."""

    def __init__(self, config: SimConfig, cfg: SimSchool, index: int) -> None:
        self.c, self.cfg, self.i = config, cfg, index
        self.rng = random.Random(f"{config.seed}:{cfg.brin}")
        self.idrng = random.Random(f"{config.seed}:{cfg.brin}:ids")
        self.school = School(cfg)
        self.sy = config.school_year_start
        self.slug = N.email_local("x", None, cfg.name.split()[-1])[2:] or "school"
        self.n_guardian = 0
        self.n_pupil = 0
        self.guardians: dict[str, dict[str, Any]] = {}

    def pid(self, prefix: str) -> str:
        return prefix + "".join(self.idrng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(12))

    def build(self) -> School:
        self._groups_and_staff()
        end = min(self.c.start_time.astimezone(AMS) - timedelta(hours=1), _at(self.sy, 12) + timedelta(days=25))
        while self.n_pupil < self.c.pupils_per_school - 1:
            k = min(self.rng.choice([1] * 65 + [2] * 28 + [3] * 7), self.c.pupils_per_school - 1 - self.n_pupil)
            self._family(k, end - timedelta(seconds=self.rng.randint(0, 60 * 86400)))
        self._ensure_support()
        self._timeline_events()
        self._planner_side()
        self._notes(end)
        return self.school

    # --- PAS: groups and staff -------------------------------------------------------------
    def _groups_and_staff(self) -> None:
        layout = [("Groep 1/2A", [1, 2]), ("Groep 1/2B", [1, 2])] + [(f"Groep {n}", [n]) for n in range(3, 9)]
        combo = _COMBOS[0] if self.i == 0 else self.rng.choice(_COMBOS)
        layout.insert(next(k for k, (_, years) in enumerate(layout) if years[0] == combo[1][1]), combo)
        s = self.school
        staff_no = 0

        def person(roles: list[str], days: list[str], groups: list[str], email: bool = True) -> str:
            nonlocal staff_no
            staff_no += 1
            first = self.rng.choice(N.ADULT_F + N.ADULT_M)
            tv, last = self.rng.choice(N.SURNAMES)
            sid = str(3100 + self.i * 100 + staff_no)
            s.staff.append(
                {
                    "id": sid,
                    "roepnaam": first,
                    "tussenvoegsel": tv,
                    "achternaam": last,
                    "email": f"{N.email_local(first[0], tv, last)}@{self.slug}.example" if email else None,
                    "roles": roles,
                    "group_ids": groups,
                    "werkdagen": days,
                }
            )
            return sid

        duo_done = False
        for n, (name, years) in enumerate(layout, start=1):
            gid = str(71000 + self.i * 1000 + n)
            prev = str(61000 + self.i * 1000 + n)
            if self.rng.random() < 0.35 or (n == 4 and not duo_done):
                duo_done = True
                a, b = self.rng.choice([(["ma", "di"], ["wo", "do", "vr"]), (["ma", "di", "wo"], ["do", "vr"])])
                teachers = [person(["leerkracht"], a, [gid]), person(["leerkracht"], b, [gid])]
            else:
                teachers = [person(["leerkracht"], self.rng.choice([_WEEK, ["ma", "di", "do", "vr"]]), [gid])]
            s.groups.append({"id": gid, "name": name, "leerjaren": years, "teacher_ids": teachers})
            s.prev_groups.append({"id": prev, "name": name, "leerjaren": years, "teacher_ids": teachers})
        s.facts["ib_staff_id"] = person(["intern_begeleider"], ["di", "do"], [])
        s.facts["directeur_staff_id"] = person(["directeur"], ["ma", "di", "do", "vr"], [])
        person(["onderwijsassistent"], ["ma", "wo", "vr"], [], email=False)
        s.facts["duo_group_ids"] = [g["id"] for g in s.groups if len(g["teacher_ids"]) > 1]
        s.facts["combination_group_ids"] = [g["id"] for g in s.groups if len(g["leerjaren"]) > 1]

    # --- PAS: families and pupils ----------------------------------------------------------
    def _guardian(
        self, first: str, tv: str | None, last: str, relatie: str, hh: str, gezag: bool = True, info: bool = True
    ) -> dict[str, Any]:
        self.n_guardian += 1
        r = self.rng.random()
        phone = (
            None
            if r < 0.05
            else f"06-{self.rng.randint(10000000, 99999999)}"
            if r < 0.6
            else f"+31 6 {self.rng.randint(10000000, 99999999)}"
        )
        g: dict[str, Any] = {
            "id": str(900000 + self.i * 10000 + self.n_guardian),
            "roepnaam": first,
            "tussenvoegsel": tv,
            "achternaam": last,
            "email": None if self.rng.random() < 0.12 else f"{N.email_local(first, tv, last)}@mail.example",
            "telefoon": phone,
            "relatie": relatie,
            "gezag": gezag,
            "ontvangt_informatie": info,
            "huishouden_id": hh,
        }
        self.guardians[g["id"]] = g
        return g

    def _family(self, k: int, when: datetime) -> list[PasPupil]:
        rng = self.rng
        tv, last = rng.choice(N.SURNAMES)
        hh = [f"HH-{self.i + 1}{self.n_guardian + 1:04d}", f"HH-{self.i + 1}{self.n_guardian + 2:04d}"]
        mother_name = rng.choice(N.SURNAMES) if rng.random() < 0.5 else (tv, last)
        r = rng.random()
        if r < 0.66:  # two parents, one household
            rel = ("ouder", "ouder") if rng.random() < 0.05 else ("moeder", "vader")
            gs = [
                self._guardian(rng.choice(N.ADULT_F), *mother_name, rel[0], hh[0]),
                self._guardian(rng.choice(N.ADULT_M), tv, last, rel[1], hh[0]),
            ]
        elif r < 0.82:  # parents living apart: two households, both informed
            gs = [
                self._guardian(rng.choice(N.ADULT_F), *mother_name, "moeder", hh[0]),
                self._guardian(rng.choice(N.ADULT_M), tv, last, "vader", hh[1]),
            ]
            if rng.random() < 0.3:
                stv, slast = rng.choice(N.SURNAMES)
                gs.append(self._guardian(rng.choice(N.ADULT_M), stv, slast, "stiefouder", hh[0], False, False))
        elif r < 0.96:
            gs = [self._guardian(rng.choice(N.ADULT_F), *mother_name, "moeder", hh[0])]
        else:
            gtv, glast = rng.choice(N.SURNAMES)
            gs = [
                self._guardian(
                    rng.choice(N.ADULT_F + N.ADULT_M),
                    gtv,
                    glast,
                    rng.choice(["pleegouder", "voogd", "grootouder"]),
                    hh[0],
                )
            ]
        pupils = []
        for leerjaar in sorted(rng.sample(range(1, 9), k)):
            group = rng.choice([g for g in self.school.groups if leerjaar in g["leerjaren"]])
            niveau = rng.choice([1] * 70 + [2] * 18 + [3] * 8 + [4] * 3 + [5])
            self.n_pupil += 1
            born = date(self.sy.year - 5 - (leerjaar - 1), 10, 1) + timedelta(days=rng.randint(0, 364))
            rec = {
                "id": str(580000 + self.i * 10000 + self.n_pupil),
                "leerlingnummer": 1000 + self.n_pupil,
                "roepnaam": rng.choice(N.GIRLS if rng.random() < 0.5 else N.BOYS),
                "tussenvoegsel": tv,
                "achternaam": last,
                "geboortedatum": born.isoformat(),
                "group_id": group["id"],
                "leerjaar": leerjaar,
                "status": "ingeschreven",
                "uitschrijfdatum": None,
                "ondersteuningsniveau": niveau,
                "handelingsplan": niveau >= 3 or (niveau == 2 and rng.random() < 0.3),
                "ontwikkelingsperspectief": niveau >= 4 or (niveau == 3 and rng.random() < 0.3),
                "guardians": [dict(g) for g in gs],
            }
            pupil = PasPupil(rec["id"], [(when, rec)])
            self.school.pupils[pupil.id] = pupil
            pupils.append(pupil)
        return pupils

    def _ensure_support(self) -> None:
        """Guarantee the interesting cases exist in every school, whatever the draw."""
        recs = [p.latest() for p in self.school.pupils.values()]
        for n, rec in enumerate(recs[5:9]):
            if rec["ondersteuningsniveau"] < 3:
                rec.update(ondersteuningsniveau=3 + n % 2, handelingsplan=True, ontwikkelingsperspectief=n % 2 == 1)
        self.school.facts["opp_pupil_ids"] = [r["id"] for r in recs if r["ontwikkelingsperspectief"]]
        self.school.facts["niveau3plus_pupil_ids"] = [r["id"] for r in recs if r["ondersteuningsniveau"] >= 3]

    def _new_version(self, pupil: PasPupil, when: datetime, **changes: Any) -> dict[str, Any]:
        rec = {**pupil.latest(), **changes}
        rec["guardians"] = [dict(g) for g in rec["guardians"]]
        pupil.versions.append((when, rec))
        return rec

    def _timeline_events(self) -> None:
        """A guardian update, a pupil who leaves and one who arrives during the year."""
        s, rng = self.school, self.rng
        singles = [
            p
            for p in s.pupils.values()
            if sum(
                p.latest()["guardians"][0]["id"] == g["id"] for q in s.pupils.values() for g in q.latest()["guardians"]
            )
            == 1
        ]
        # A school with fewer than three pupils gets fewer of these changes: zip stops at the shorter.
        for days, pupil in zip((45, 75, 105), rng.sample(list(s.pupils.values()), min(3, len(s.pupils))), strict=False):
            gid = pupil.latest()["guardians"][0]["id"]
            when = _at(self.sy + timedelta(days=days), 10, rng.randint(0, 59))
            for p in s.pupils.values():  # same person => every child's record changes
                if any(g["id"] == gid for g in p.latest()["guardians"]):
                    rec = self._new_version(p, when)
                    for g in rec["guardians"]:
                        if g["id"] == gid:
                            g["telefoon"] = f"06-{rng.randint(10000000, 99999999)}"
        leaver = rng.choice(singles or list(s.pupils.values()))
        left = self.sy + timedelta(days=97)
        self._new_version(leaver, _at(left, 15, 40), status="uitgeschreven", uitschrijfdatum=left.isoformat())
        s.facts["leaver_pupil_id"] = leaver.id
        s.facts["leaver_deregistered_at"] = _at(left, 15, 40)
        arrival = self._family(1, _at(self.sy + timedelta(days=72), 10, 15))[0]
        s.facts["arrival_pupil_id"] = arrival.id
        s.facts["arrival_registered_at"] = arrival.versions[0][0]

    # --- planner side ----------------------------------------------------------------------
    def _planner_side(self) -> None:
        s, rng, c = self.school, self.rng, self.c
        stf = {}
        for m in s.staff:
            sid = self.pid("stf_")
            stf[m["id"]] = sid
            s.p_staff[sid] = {
                "id": sid,
                "name": f"{m['roepnaam']} {N.full_surname(m['tussenvoegsel'], m['achternaam'])}",
                "email": m["email"],
                "external_id": m["id"],
            }
        admin = self.pid("stf_")
        s.p_staff[admin] = {
            "id": admin,
            "name": "Administratie",
            "email": f"administratie@{self.slug}.example",
            "external_id": None,
        }
        grp = {}
        for g in s.groups:
            grp[g["id"]] = self.pid("grp_")
            s.p_groups[grp[g["id"]]] = {
                "id": grp[g["id"]],
                "name": g["name"],
                "external_id": g["id"],
                "teacher_ids": [stf[t] for t in g["teacher_ids"]],
            }
        whole = self.pid("grp_")
        s.p_groups[whole] = {"id": whole, "name": "Hele school", "external_id": None, "teacher_ids": []}
        gdn = {}
        for pas_id, g in self.guardians.items():
            gdn[pas_id] = self.pid("gdn_")
            s.p_guardians[gdn[pas_id]] = PGuardian(
                gdn[pas_id],
                f"{g['roepnaam']} {N.full_surname(g['tussenvoegsel'], g['achternaam'])}",
                g["email"],
                rng.random() >= 0.1,
                pas_id,
            )
        pupils = list(s.pupils.values())
        unlinked = {p.id for p in rng.sample(pupils[:-1], 2)}
        accented = [p.id for p in pupils if N.ascii_fold(p.latest()["roepnaam"]) != p.latest()["roepnaam"]]
        renamed = set(rng.sample(accented, min(2, len(accented))))
        # Who each child is, as the school's own staff know it (also a child the planner cannot link).
        child_pupil = s.facts.setdefault("child_pupil", {})
        for p in pupils:
            first_t, rec = p.versions[0]
            if p.id == s.facts["arrival_pupil_id"]:
                first_t += timedelta(hours=c.planner_delay_hours)
            until = None
            if p.id == s.facts["leaver_pupil_id"]:
                until = s.facts["leaver_deregistered_at"] + timedelta(hours=c.deregister_delay_hours)
            first = N.ascii_fold(rec["roepnaam"]) if p.id in renamed else rec["roepnaam"]
            child_id = self.pid("chd_")
            child_pupil[child_id] = p.id
            s.p_children[child_id] = PChild(
                "",
                first,
                N.full_surname(rec["tussenvoegsel"], rec["achternaam"]),
                None if p.id in unlinked else p.id,
                grp[rec["group_id"]],
                [gdn[g["id"]] for g in rec["guardians"] if g["ontvangt_informatie"]],
                first_t,
                until,
            )
        for cid, child in s.p_children.items():
            child.id = cid
        # a family that cannot book at all, and a split family where only one parent has the app
        by_ext = {ch.external_id: ch for ch in s.p_children.values() if ch.external_id}
        special = (s.facts["arrival_pupil_id"], s.facts["leaver_pupil_id"])
        single = next((ch for ch in by_ext.values() if ch.external_id not in special), None)
        single = next(
            (ch for ch in by_ext.values() if len(ch.guardian_ids) == 1 and ch.external_id not in special), single
        )
        for gid in single.guardian_ids if single else ():
            s.p_guardians[gid].app_active = False
        split = next(
            (
                p
                for p in pupils
                if len({g["huishouden_id"] for g in p.latest()["guardians"]}) > 1
                and p.id in by_ext
                and by_ext[p.id] is not single
                and len(by_ext[p.id].guardian_ids) > 1
            ),
            None,
        )
        if split is not None:
            s.p_guardians[by_ext[split.id].guardian_ids[1]].app_active = False
            s.p_guardians[by_ext[split.id].guardian_ids[0]].app_active = True
        s.facts.update(
            unlinked_pupil_ids=sorted(unlinked),
            unlinked_child_ids=sorted(ch.id for ch in s.p_children.values() if ch.external_id is None),
            renamed_pupil_ids=sorted(renamed),
            split_household_pupil_id=split.id if split else None,
            no_app_child_id=single.id if single else None,
            unlinked_staff_id=admin,
            whole_school_group_id=whole,
            app_inactive_guardian_ids=sorted(g.id for g in s.p_guardians.values() if not g.app_active),
            no_email_guardian_ids=sorted(gdn[k] for k, g in self.guardians.items() if g["email"] is None),
        )

    def _notes(self, end: datetime) -> None:
        s, rng = self.school, self.rng
        teacher = {g["id"]: g["teacher_ids"][0] for g in s.groups}
        n = 0
        for p in list(s.pupils.values())[::3]:
            rec = p.latest()
            n += 1
            cat = rng.choice(["Oudergesprek", "Kindgesprek"] + N.CATEGORIES_OTHER)
            created = end - timedelta(days=rng.randint(1, 200), minutes=rng.randint(0, 600))
            talk = (
                (created - timedelta(days=rng.randint(0, 6))).date() if cat in ("Oudergesprek", "Kindgesprek") else None
            )
            nid = f"N-{20000 + self.i * 5000 + n}"
            s.notes[nid] = PasNote(
                nid,
                p.id,
                cat,
                f"{cat} (vorig schooljaar)",
                teacher[rec["group_id"]],
                created,
                talk,
                rng.random() < 0.7,
                created,
                "Gesimuleerd verslag; geen echte gegevens.",
            )
        s.facts["next_note_no"] = 20000 + self.i * 5000 + n + 1
