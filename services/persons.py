"""Persons: validation, identity numbers and their history, search columns.

Functions here take the caller's session; the service classes in
:mod:`services.cases` open the one transaction per user action.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models import Person, PersonIdentifier, utcnow
from models.codes import Protection
from services.audit import Actor, record
from services.errors import ValidationError
from services.personal_id import PersonalId, PersonalIdError, parse_personal_id
from services.text import search_fold, sort_key
from services.validation import Checker

NAME_MAX = 100


@dataclass(frozen=True)
class PersonInput:
    """What a form or an import row says about a person."""

    first_name: str
    last_name: str
    personal_id: str | None = None
    birth_date: date | None = None
    reserve_number: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    needs_interpreter: bool = False
    protection: Protection | None = None
    mental_ill_health: bool = False


@dataclass(frozen=True)
class CleanPerson:
    """A validated :class:`PersonInput`."""

    first_name: str
    last_name: str
    pid: PersonalId | None
    birth_date: date
    reserve_number: str | None
    phone: str | None
    email: str | None
    language: str | None
    needs_interpreter: bool
    protection: Protection | None
    mental_ill_health: bool


def validate_person(data: PersonInput, *, today: date | None = None) -> CleanPerson:
    """Check every field; raise one :class:`ValidationError` listing all problems."""
    today = today or date.today()
    c = Checker()
    first = c.text("förnamn", data.first_name, max_len=NAME_MAX, required=True)
    last = c.text("efternamn", data.last_name, max_len=NAME_MAX, required=True)
    pid: PersonalId | None = None
    raw_pid = (data.personal_id or "").strip()
    if raw_pid:
        try:
            pid = parse_personal_id(raw_pid, today=today)
        except PersonalIdError as exc:
            c.fail("personnummer", str(exc))
    birth = pid.birth_date if pid else data.birth_date
    if pid is None and not raw_pid and data.birth_date is None:
        c.fail("födelsedatum", "måste anges när personnummer saknas")
    if data.birth_date is not None and data.birth_date > today:
        c.fail("födelsedatum", "ligger i framtiden")
    reserve = c.text("reservnummer", data.reserve_number, max_len=40)
    phone = c.text("telefon", data.phone, max_len=40)
    email = c.text("e-post", data.email, max_len=254)
    if email and ("@" not in email or " " in email):
        c.fail("e-post", f"ogiltig adress {email!r}")
    language = c.text("språk", data.language, max_len=60)
    c.done()
    assert first is not None and last is not None and birth is not None
    return CleanPerson(
        first_name=first,
        last_name=last,
        pid=pid,
        birth_date=birth,
        reserve_number=reserve,
        phone=phone,
        email=email,
        language=language,
        needs_interpreter=data.needs_interpreter,
        protection=data.protection,
        mental_ill_health=data.mental_ill_health,
    )


def set_names(person: Person, first: str, last: str) -> None:
    """Set the names and their folded search and sort columns together."""
    person.first_name = first
    person.last_name = last
    person.search_first = search_fold(first)
    person.search_last = search_fold(last)
    person.search_full = search_fold(f"{first} {last}")
    person.search_full_rev = search_fold(f"{last} {first}")
    person.sort_key = sort_key(last, first)


def find_by_personal_id(session: Session, digits: str) -> Person | None:
    """The person holding ``digits`` now, or who held it earlier."""
    person = session.scalars(select(Person).where(Person.personal_id == digits)).first()
    if person is not None:
        return person
    return session.scalars(
        select(Person)
        .join(PersonIdentifier, PersonIdentifier.person_id == Person.id)
        .where(PersonIdentifier.personal_id == digits)
    ).first()


@dataclass(frozen=True)
class PersonBrief:
    """What adding a person to a case needs: never names, address or case content."""

    id: uuid.UUID
    birth_date: date
    is_protected: bool
    visible: bool  # False: the row is outside the user's scope (PostgreSQL RLS hid it)

    @classmethod
    def of(cls, person: Person) -> PersonBrief:
        return cls(person.id, person.birth_date, person.is_protected, True)


def _hidden_brief(
    session: Session, person_id: uuid.UUID | None, digits: str | None
) -> PersonBrief | None:
    """On PostgreSQL, a person whose row row-level security hides from this user (they
    belong to a case outside the user's scope): the definer function ``fokus_person_brief``
    (services/pg_roles.py) gives only the id, birth date and protection flag."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    row = session.execute(
        text("SELECT person_id, birth_date, protected FROM fokus_person_brief(:p, :d)"),
        {"p": person_id, "d": digits},
    ).first()
    return PersonBrief(row[0], row[1], bool(row[2]), False) if row is not None else None


def find_person_brief(session: Session, digits: str) -> PersonBrief | None:
    """Who holds ``digits`` (now or earlier), even when their row is hidden from the user."""
    person = find_by_personal_id(session, digits)
    if person is not None:
        return PersonBrief.of(person)
    return _hidden_brief(session, None, digits)


def person_brief(session: Session, person_id: uuid.UUID) -> PersonBrief | None:
    """A person by id, even when their row is hidden from the user."""
    person = session.get(Person, person_id)
    if person is not None:
        return PersonBrief.of(person)
    return _hidden_brief(session, person_id, None)


def new_person(session: Session, actor: Actor, clean: CleanPerson) -> Person:
    """Insert a person (and their first identifier) into the caller's session."""
    if clean.pid is not None and find_person_brief(session, clean.pid.digits) is not None:
        raise ValidationError.single("personnummer", "finns redan registrerat på en annan person")
    person = Person(
        id=uuid.uuid4(),
        personal_id=clean.pid.digits if clean.pid else None,
        personal_id_short=clean.pid.short if clean.pid else None,
        id_kind=clean.pid.kind.value if clean.pid else None,
        birth_date=clean.birth_date,
        reserve_number=clean.reserve_number,
        phone=clean.phone,
        email=clean.email,
        language=clean.language,
        needs_interpreter=clean.needs_interpreter,
        protection=clean.protection.value if clean.protection else None,
        mental_ill_health=clean.mental_ill_health,
        created_by=actor.username,
        updated_by=actor.username,
    )
    set_names(person, clean.first_name, clean.last_name)
    session.add(person)
    if clean.pid is not None:
        session.add(
            PersonIdentifier(
                person_id=person.id,
                personal_id=clean.pid.digits,
                id_kind=clean.pid.kind.value,
                recorded_by=actor.username,
            )
        )
    return person


def change_personal_id(session: Session, actor: Actor, person: Person, new: PersonalId) -> None:
    """Give a person a new number (e.g. samordningsnummer → personnummer); history is kept."""
    if person.personal_id == new.digits:
        return
    holder = find_person_brief(session, new.digits)
    if holder is not None and holder.id != person.id:
        raise ValidationError.single("personnummer", "finns redan registrerat på en annan person")
    now = utcnow()
    for ident in person.identifiers:
        if ident.replaced_at is None:
            ident.replaced_at = now
    session.add(
        PersonIdentifier(
            person_id=person.id,
            personal_id=new.digits,
            id_kind=new.kind.value,
            recorded_by=actor.username,
        )
    )
    old_kind = person.id_kind
    person.personal_id = new.digits
    person.personal_id_short = new.short
    person.id_kind = new.kind.value
    person.birth_date = new.birth_date
    person.updated_by = actor.username
    record(
        session,
        actor,
        "person_id_changed",
        person_id=str(person.id),
        old_kind=old_kind,
        new_kind=new.kind.value,
    )


def update_person_in(
    session: Session,
    actor: Actor,
    person: Person,
    data: PersonInput,
    *,
    today: date | None = None,
) -> list[str]:
    """Apply a validated edit to a person already loaded (and version-checked) by the caller.

    A new identity number goes through :func:`change_personal_id`, so the old one
    stays in the history. Returns the names of the changed fields (for the audit).
    """
    clean = validate_person(data, today=today)
    with session.no_autoflush:  # one UPDATE, one version step, per user action
        changed: list[str] = []
        if (clean.first_name, clean.last_name) != (person.first_name, person.last_name):
            set_names(person, clean.first_name, clean.last_name)
            changed.append("namn")
        if clean.pid is not None and clean.pid.digits != person.personal_id:
            change_personal_id(session, actor, person, clean.pid)
            changed.append("personnummer")
        elif clean.pid is None and person.personal_id is not None:
            raise ValidationError.single(
                "personnummer", "ett registrerat nummer kan bara bytas, inte tas bort"
            )
        elif clean.pid is None and clean.birth_date != person.birth_date:
            person.birth_date = clean.birth_date
            changed.append("födelsedatum")
        simple = {
            "reserve_number": clean.reserve_number,
            "phone": clean.phone,
            "email": clean.email,
            "language": clean.language,
            "needs_interpreter": clean.needs_interpreter,
            "protection": clean.protection.value if clean.protection else None,
            "mental_ill_health": clean.mental_ill_health,
        }
        for key, value in simple.items():
            if getattr(person, key) != value:
                setattr(person, key, value)
                changed.append(key)
        person.updated_by = actor.username
        return changed
