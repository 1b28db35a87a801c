"""Which note is which conversation's verslag, and what the verdict is (pure: no store, no vendor).

One note is the verslag of one conversation at most. A note with a `gespreksdatum` belongs to a
conversation held on that day (a kindgesprek: any day of its window); a note without one to the
conversation it follows: the earliest unmatched note of the pupil's category created after it.
Conversations are served in the order they were held, so the earlier of two conversations on one
day gets the earlier note. A dated note that no conversation claims, for a pupil the teacher had
to plan by hand, is how such a conversation becomes known (`hand_planned`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from connector.store.models import VerslagOutcome


@dataclass(frozen=True)
class NoteView:
    """What matching and judging need of a note, stored or just read (never its text)."""

    pas_id: str
    pupil_pas_id: str
    category: str
    note_created_at: datetime
    visible: bool
    gespreksdatum: date | None
    author_pas_id: str


@dataclass(frozen=True)
class Held:
    """A conversation as matching sees it: `key` is the caller's handle for it."""

    key: object
    pupil_pas_id: str
    category: str
    first_day: date  # the day it was held; a kindgesprek: its window's first day
    last_day: date
    held_at: datetime  # a note without gespreksdatum must be created after this


@dataclass(frozen=True)
class Rules:
    """A round's verslag rules (settings `verslag`)."""

    deadline: date
    visible_required: bool = True


def match(conversations: Iterable[Held], notes: Iterable[NoteView], claimed: set[str]) -> dict[object, NoteView]:
    """Each conversation's note, if any; notes in `claimed` (another conversation's for good) are skipped.
    Adds the notes it hands out to `claimed`."""
    by_pupil: dict[tuple[str, str], list[NoteView]] = {}
    for note in sorted(notes, key=lambda n: (n.note_created_at, n.pas_id)):
        by_pupil.setdefault((note.pupil_pas_id, note.category), []).append(note)
    found: dict[object, NoteView] = {}
    for held in sorted(conversations, key=lambda h: (h.held_at, h.first_day, str(h.key))):
        mine = [n for n in by_pupil.get((held.pupil_pas_id, held.category), []) if n.pas_id not in claimed]
        dated = [n for n in mine if n.gespreksdatum is not None and held.first_day <= n.gespreksdatum <= held.last_day]
        after = [n for n in mine if n.gespreksdatum is None and n.note_created_at >= held.held_at]
        options = dated or after
        if options:
            found[held.key] = options[0]
            claimed.add(options[0].pas_id)
    return found


@dataclass(frozen=True)
class Unbooked:
    """A mandatory invitation without a conversation: the teacher may have planned it by hand."""

    key: object
    pupil_pas_id: str
    category: str
    first_day: date  # a hand-planned conversation's note is dated from the round's first day
    last_day: date  # to its window's end plus the verslag deadline


def hand_planned(
    invitations: Iterable[Unbooked], notes: Iterable[NoteView], claimed: set[str]
) -> dict[object, NoteView]:
    """The dated, unclaimed note that shows an invitation was met by a conversation planned by hand
    (the earliest dated one per invitation, invitations in the order given). Adds them to `claimed`."""
    dated = sorted(
        (n for n in notes if n.gespreksdatum is not None),
        key=lambda n: (n.gespreksdatum, n.note_created_at, n.pas_id),
    )
    found: dict[object, NoteView] = {}
    for invitation in invitations:
        for note in dated:
            assert note.gespreksdatum is not None  # filtered above
            if (
                note.pas_id not in claimed
                and note.pupil_pas_id == invitation.pupil_pas_id
                and note.category == invitation.category
                and invitation.first_day <= note.gespreksdatum <= invitation.last_day
            ):
                found[invitation.key] = note
                claimed.add(note.pas_id)
                break
    return found


def verdict(note: NoteView | None, rules: Rules, today: date, zone: ZoneInfo) -> str | None:
    """The verslag outcome of a conversation with this note; None while it is still pending."""
    if note is not None and (note.visible or not rules.visible_required):
        on_time = note.note_created_at.astimezone(zone).date() <= rules.deadline
        return VerslagOutcome.ON_TIME.value if on_time else VerslagOutcome.LATE.value
    if today <= rules.deadline:
        return None
    return VerslagOutcome.NOT_VISIBLE.value if note is not None else VerslagOutcome.MISSING.value
