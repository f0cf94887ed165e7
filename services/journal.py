"""The contact log and consents.

A note is a draft, visible only to its author, until signed; once signed it
is locked (here, and by a database trigger). A correction is a new signed
note that points at the note it corrects. Adding a note never bumps the
case's version: two caseworkers can log contacts while a third edits the case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Agency,
    Case,
    Consent,
    ContactEntry,
    ContactMethod,
    HouseholdMember,
    Person,
    utcnow,
)
from services.access import Purpose, require_case_access, require_person_access
from services.audit import Actor, record
from services.cases import load_checked
from services.db import Database
from services.errors import NotFoundError, PermissionDeniedError, ValidationError
from services.validation import Checker

TEXT_MAX = 20_000


@dataclass(frozen=True)
class NoteInput:
    """A contact log note as a form gives it."""

    occurred_at: datetime
    agency_code: str
    method_code: str
    text: str
    counterpart: str = ""
    member_ids: tuple[uuid.UUID, ...] = ()
    follow_up_on: date | None = None
    child_perspective: bool = False


@dataclass(frozen=True)
class NoteView:
    """One note as lists and printouts show it."""

    id: uuid.UUID
    case_id: uuid.UUID
    occurred_at: datetime
    agency_code: str
    method_code: str
    counterpart: str
    text: str
    follow_up_on: date | None
    child_perspective: bool
    author_name: str
    signed_at: datetime | None
    corrects_id: uuid.UUID | None
    member_ids: tuple[uuid.UUID, ...]
    version: int


@dataclass(frozen=True)
class ConsentInput:
    person_id: uuid.UUID
    agency_code: str
    scope: str
    valid_from: date
    valid_to: date | None = None


def _validate_note(session: Session, case_id: uuid.UUID, data: NoteInput) -> tuple[str, str]:
    c = Checker()
    text = c.text("text", data.text, max_len=TEXT_MAX, required=True)
    counterpart = c.text("motpart", data.counterpart, max_len=200) or ""
    if data.occurred_at.tzinfo is None:
        c.fail("datum och tid", "saknar tidszon")
    elif data.occurred_at > utcnow():
        c.fail("datum och tid", "kan inte ligga i framtiden")
    agency = session.get(Agency, data.agency_code)
    if agency is None or not agency.active:
        c.fail("myndighet/motpart", f"okänd kod {data.agency_code!r}")
    method = session.get(ContactMethod, data.method_code)
    if method is None or not method.active:
        c.fail("kontaktsätt", f"okänd kod {data.method_code!r}")
    if data.member_ids:
        found = set(
            session.scalars(
                select(HouseholdMember.person_id).where(
                    HouseholdMember.case_id == case_id,
                    HouseholdMember.person_id.in_(data.member_ids),
                )
            )
        )
        if found != set(data.member_ids):
            c.fail("berörda personer", "någon av personerna ingår inte i hushållet")
    c.done()
    assert text is not None
    return text, counterpart


def _view(e: ContactEntry) -> NoteView:
    return NoteView(
        id=e.id,
        case_id=e.case_id,
        occurred_at=e.occurred_at,
        agency_code=e.agency_code,
        method_code=e.method_code,
        counterpart=e.counterpart,
        text=e.text,
        follow_up_on=e.follow_up_on,
        child_perspective=e.child_perspective,
        author_name=e.author_name,
        signed_at=e.signed_at,
        corrects_id=e.corrects_id,
        member_ids=tuple(p.id for p in e.members),
        version=e.version,
    )


def add_note_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    data: NoteInput,
    *,
    sign: bool = False,
    corrects_id: uuid.UUID | None = None,
) -> ContactEntry:
    require_case_access(session, actor, case_id, Purpose.WRITE)
    if session.get(Case, case_id) is None:
        raise NotFoundError("ärendet finns inte")
    text, counterpart = _validate_note(session, case_id, data)
    now = utcnow()
    entry = ContactEntry(
        id=uuid.uuid4(),
        case_id=case_id,
        occurred_at=data.occurred_at,
        agency_code=data.agency_code,
        method_code=data.method_code,
        counterpart=counterpart,
        text=text,
        follow_up_on=data.follow_up_on,
        child_perspective=data.child_perspective,
        author_id=actor.user_id,
        author_name=actor.username,
        corrects_id=corrects_id,
        signed_at=now if sign else None,
    )
    if data.member_ids:
        entry.members = list(session.scalars(select(Person).where(Person.id.in_(data.member_ids))))
    session.add(entry)
    record(
        session,
        actor,
        "note_signed" if sign else "note_drafted",
        case_id=case_id,
        note_id=entry.id,
        corrects=corrects_id,
    )
    return entry


def _own_draft(session: Session, actor: Actor, note_id: uuid.UUID, version: int) -> ContactEntry:
    entry = load_checked(session, ContactEntry, note_id, version, "anteckningen")
    require_case_access(session, actor, entry.case_id, Purpose.WRITE)
    if entry.signed_at is not None:
        raise ValidationError.single("anteckning", "är signerad och låst; skriv en rättelse")
    if entry.author_name != actor.username:
        raise PermissionDeniedError("bara den som skrev utkastet kan ändra eller signera det")
    return entry


class JournalService:
    """One transaction per user action on the contact log and consents."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def add_note(self, case_id: uuid.UUID, data: NoteInput, *, sign: bool = False) -> NoteView:
        """Save a draft (or a note signed at once)."""
        with self._db.action("anteckningen") as s:
            entry = add_note_in(s, self._actor, case_id, data, sign=sign)
            s.flush()
            return _view(entry)

    def update_draft(self, note_id: uuid.UUID, version: int, data: NoteInput) -> NoteView:
        with self._db.action("anteckningen") as s:
            entry = _own_draft(s, self._actor, note_id, version)
            text, counterpart = _validate_note(s, entry.case_id, data)
            entry.occurred_at = data.occurred_at
            entry.agency_code = data.agency_code
            entry.method_code = data.method_code
            entry.text = text
            entry.counterpart = counterpart
            entry.follow_up_on = data.follow_up_on
            entry.child_perspective = data.child_perspective
            entry.members = list(s.scalars(select(Person).where(Person.id.in_(data.member_ids))))
            record(s, self._actor, "note_edited", case_id=entry.case_id, note_id=entry.id)
            s.flush()
            return _view(entry)

    def sign(self, note_id: uuid.UUID, version: int) -> NoteView:
        with self._db.action("anteckningen") as s:
            entry = _own_draft(s, self._actor, note_id, version)
            entry.signed_at = utcnow()
            record(s, self._actor, "note_signed", case_id=entry.case_id, note_id=entry.id)
            s.flush()
            return _view(entry)

    def correct(self, note_id: uuid.UUID, data: NoteInput) -> NoteView:
        """Write a signed correction of a signed note; the original stays as it was."""
        with self._db.action("anteckningen") as s:
            original = s.get(ContactEntry, note_id)
            if original is None:
                raise NotFoundError("anteckningen finns inte")
            if original.signed_at is None:
                raise ValidationError.single("anteckning", "ett utkast ändras direkt, inte rättas")
            entry = add_note_in(
                s, self._actor, original.case_id, data, sign=True, corrects_id=original.id
            )
            s.flush()
            return _view(entry)

    def notes(self, case_id: uuid.UUID) -> list[NoteView]:
        """Signed notes, and the actor's own drafts, in time order."""
        with self._db.begin() as s:
            require_case_access(s, self._actor, case_id, Purpose.READ)
            stmt = (
                select(ContactEntry)
                .where(
                    ContactEntry.case_id == case_id,
                    or_(
                        ContactEntry.signed_at.is_not(None),
                        ContactEntry.author_name == self._actor.username,
                    ),
                )
                .options(selectinload(ContactEntry.members))
                .order_by(ContactEntry.occurred_at, ContactEntry.created_at)
            )
            return [_view(e) for e in s.scalars(stmt)]

    def add_consent(self, case_id: uuid.UUID | None, data: ConsentInput) -> uuid.UUID:
        with self._db.action("anteckningen") as s:
            if case_id is not None:
                require_case_access(s, self._actor, case_id, Purpose.WRITE)
            else:
                require_person_access(s, self._actor, data.person_id)
            c = Checker()
            scope = c.text("omfattning", data.scope, max_len=2000, required=True)
            c.period("till", data.valid_from, data.valid_to)
            if s.get(Agency, data.agency_code) is None:
                c.fail("till vem", f"okänd kod {data.agency_code!r}")
            if s.get(Person, data.person_id) is None:
                c.fail("person", "finns inte")
            c.done()
            consent = Consent(
                person_id=data.person_id,
                case_id=case_id,
                agency_code=data.agency_code,
                scope=scope or "",
                valid_from=data.valid_from,
                valid_to=data.valid_to,
                created_by=self._actor.username,
            )
            s.add(consent)
            s.flush()
            record(s, self._actor, "consent_added", case_id=case_id, consent_id=consent.id)
            return consent.id

    def withdraw_consent(self, consent_id: uuid.UUID, version: int) -> None:
        with self._db.action("anteckningen") as s:
            consent = load_checked(s, Consent, consent_id, version, "samtycket")
            if consent.case_id is not None:
                require_case_access(s, self._actor, consent.case_id, Purpose.WRITE)
            else:
                require_person_access(s, self._actor, consent.person_id)
            if consent.withdrawn_at is not None:
                raise ValidationError.single("samtycke", "är redan återkallat")
            consent.withdrawn_at = utcnow()
            record(
                s, self._actor, "consent_withdrawn", case_id=consent.case_id, consent_id=consent.id
            )

    def valid_consent(self, person_id: uuid.UUID, agency_code: str, on: date) -> bool:
        with self._db.begin() as s:
            return has_valid_consent(s, person_id, agency_code, on)


def has_valid_consent(session: Session, person_id: uuid.UUID, agency_code: str, on: date) -> bool:
    """A consent to ``agency_code`` covering ``on`` and not withdrawn."""
    stmt = select(Consent.id).where(
        Consent.person_id == person_id,
        Consent.agency_code == agency_code,
        Consent.valid_from <= on,
        or_(Consent.valid_to.is_(None), Consent.valid_to >= on),
        Consent.withdrawn_at.is_(None),
    )
    return session.scalars(stmt.limit(1)).first() is not None
