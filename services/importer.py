"""Importing cases and months of paid support from CSV files (``import-cases``, ``import-months``).

A municipality moving to Fokus brings its households from an old system or an
Excel sheet, and later the months the payment system paid out. Both arrive as
CSV the way Swedish Excel writes it: ``;`` or ``,``, UTF-8 with or without a
BOM, or Windows-1252. The encoding and the separator are therefore detected,
not asked for.

An import is one user action, so it is one transaction, and a file is taken
whole or not at all: a half-imported register is worse than none, because a
re-run would meet half its households as "already there". Everything is
validated first — the file's syntax, each row with the domain's own validators
(their Swedish messages), the rules about a whole household, then the
database — and every problem becomes one ``rad N: fält: orsak`` line, so the
user fixes the file in one pass. Only a clean input is written, inside the
same transaction that validated it; any late error rolls everything back.

Re-runs are recognised by the ``ärende`` key, stored in ``Case.import_key``,
together with the sökande's personnummer, and months are idempotent (the same
month and amount again is "already there"), so running the same files twice
changes nothing. Logs and audit events carry counts only: never names,
personnummer or the file's keys, which may themselves be personal data.
"""

from __future__ import annotations

import csv
import io
import logging
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Case, HouseholdMember, SupportMonth, Unit, User
from models.codes import MEMBER_ROLE_LABELS, CaseStatus, MemberRole, MonthSource, Protection
from services.audit import Actor, record
from services.cases import CaseInput, MemberInput, clean_postcode, create_case_in
from services.db import Database
from services.errors import FieldError, FokusError, NotFoundError, RowErrors, ValidationError
from services.household import Membership, child_error, open_case_elsewhere
from services.persons import CleanPerson, PersonInput, find_by_personal_id, validate_person
from services.support import format_amount, parse_amount_ore, parse_month, set_month_in
from services.users import get_or_create_unit
from services.validation import Checker, parse_iso_date

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_UNIT = "Försörjningsstöd"
KEY_MAX = 60  # Case.import_key is String(60)
_CHUNK = 500  # values per IN (...) list

CASE_REQUIRED = (
    "ärende",
    "roll",
    "personnummer",
    "förnamn",
    "efternamn",
    "adress",
    "postnummer",
    "ort",
)
# Optional columns: telefon, epost, handläggare, öppnat, studerar, skyddad. Others are ignored.
MONTH_REQUIRED = ("ärende", "månad", "belopp")
# Header spellings that mean the same column.
_HEADER_ALIASES = {"e-post": "epost", "e-mail": "epost", "email": "epost"}
# The domain validators' field names, as the file's columns call them.
_FIELD_TO_COLUMN = {"e-post": "epost"}
# Values the household shares; given on the sökande row, elsewhere empty or the same.
_HOUSEHOLD_COLUMNS = ("adress", "postnummer", "ort", "handläggare", "öppnat")
_ROLES = {label: role for role, label in MEMBER_ROLE_LABELS.items()}
_YES = {"ja": True, "nej": False, "": False}


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would do), for the one line the CLI prints."""

    new_cases: int = 0
    existing_cases: int = 0
    new_months: int = 0
    existing_months: int = 0
    dry_run: bool = False
    months_only: bool = False
    with_months: bool = False
    # Cases created or given new months, for views to refresh just those.
    case_ids: frozenset[uuid.UUID] = frozenset()

    def summary(self) -> str:
        if self.months_only:
            text = f"{self.new_months} nya månader, {self.existing_months} fanns redan"
        else:
            text = f"{self.new_cases} nya, {self.existing_cases} fanns redan"
            if self.with_months:
                text += f", {self.new_months} månader"
                if self.existing_months:
                    text += f" ({self.existing_months} fanns redan)"
        if self.dry_run:
            text += " (provkörning, inget sparat)"
        return text


# --- problems --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One input file: how its lines are prefixed, and where they sort among the files."""

    prefix: str  # "" for the cases file, "manader.csv " for a months file
    order: int


class _Problems:
    """Every problem found, printed in file and line order, each once."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, str]] = []

    def add(self, src: _Source, line: int, field_name: str, message: str) -> None:
        text = f"{src.prefix}rad {line}: {field_name}: {message}"
        self._items.append((src.order, line, len(self._items), text))

    def add_field_errors(self, src: _Source, line: int, errors: Iterable[FieldError]) -> None:
        for err in errors:
            self.add(src, line, _FIELD_TO_COLUMN.get(err.field, err.field), err.message)

    def lines(self) -> list[str]:
        seen: set[str] = set()
        out: list[str] = []
        for *_, text in sorted(self._items):
            if text not in seen:
                seen.add(text)
                out.append(text)
        return out

    def raise_if_any(self) -> None:
        if self._items:
            raise RowErrors(self.lines())


# --- reading CSV -----------------------------------------------------------------------------


def _read_text(path: Path, src: _Source) -> str:
    """The file's text: UTF-8 (a BOM is dropped) if it decodes strictly, else Windows-1252."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"filen {path} finns inte") from exc
    except IsADirectoryError as exc:
        raise NotFoundError(f"{path} är en mapp, inte en fil") from exc
    except OSError as exc:
        raise FokusError(f"filen {path} kan inte läsas: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise RowErrors(
                [f"{src.prefix}rad {line}: fil: teckenkodningen är varken UTF-8 eller Windows-1252"]
            ) from exc
    # A file saved on a Mac may spell "ä" as "a" + a combining diaeresis.
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class _Row:
    """One data row: its physical line (the header is line 1) and its values by column."""

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "")


def _header_name(text: str) -> str:
    name = " ".join(text.replace("\ufeff", "").split()).casefold()
    return _HEADER_ALIASES.get(name, name)


def _sniff_separator(header_line: str) -> str:
    """``;`` (Swedish Excel) unless the header line holds more commas than semicolons."""
    return "," if header_line.count(",") > header_line.count(";") else ";"


def _parse_table(
    text: str, required: Sequence[str], src: _Source, problems: _Problems
) -> list[_Row] | None:
    """Rows keyed by the normalised header names, or None when the header is unusable."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        problems.add(
            src, 1, "kolumn", "rubrikraden saknas (filen är tom eller börjar med en tom rad)"
        )
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_separator(lines[0]))
    try:
        header = [_header_name(h) for h in next(reader)]
    except csv.Error as exc:
        problems.add(src, 1, "kolumn", f"rubrikraden kan inte läsas ({exc})")
        return None
    index: dict[str, int] = {}
    ok = True
    for i, name in enumerate(header):
        if not name:
            continue
        if name in index:
            problems.add(src, 1, "kolumn", f"{name} finns två gånger")
            ok = False
        index.setdefault(name, i)
    for name in required:
        if name not in index:
            problems.add(src, 1, "kolumn", f"{name} saknas")
            ok = False
    if not ok:
        return None
    rows: list[_Row] = []
    end = reader.line_num
    try:
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            extra = [f for f in fields[len(header) :] if f.strip()]
            if extra:
                problems.add(
                    src,
                    start,
                    "kolumn",
                    f"raden har {len(fields)} fält men rubrikraden bara {len(header)}",
                )
            values = {
                name: (fields[i].strip() if i < len(fields) else "") for name, i in index.items()
            }
            rows.append(_Row(start, values))
    except csv.Error as exc:
        problems.add(src, end + 1, "fil", f"raden kan inte läsas som CSV ({exc})")
    return rows


# --- the cases file --------------------------------------------------------------------------


@dataclass
class _Member:
    """One row of the cases file, checked on its own."""

    line: int
    key: str
    role: MemberRole | None
    person: PersonInput
    clean: CleanPerson | None
    studying: bool
    raw: dict[str, str]  # the household columns as written
    opened_on: date | None  # parsed öppnat; None when empty or invalid
    opened_ok: bool


@dataclass
class _Household:
    """The rows sharing one ``ärende`` key, and what the checks decided about them."""

    key: str
    members: list[_Member] = field(default_factory=list)
    existing_case_id: uuid.UUID | None = None
    caseworker: User | None = None

    @property
    def applicant(self) -> _Member | None:
        return next((m for m in self.members if m.role is MemberRole.APPLICANT), None)

    @property
    def first_line(self) -> int:
        return (self.applicant or self.members[0]).line

    def opened_on(self, today: date) -> date | None:
        """The sökande's öppnat, today when empty, None when it is invalid."""
        a = self.applicant
        if a is None or not a.opened_ok:
            return None
        return a.opened_on or today


def _yes_no(row: _Row, column: str, src: _Source, problems: _Problems) -> bool:
    """``ja`` / ``nej``; empty is ``nej``."""
    value = row.get(column).casefold()
    if value in _YES:
        return _YES[value]
    problems.add(src, row.line, column, f"ange ja eller nej (fick {row.get(column)!r})")
    return False


def _parse_member(row: _Row, src: _Source, problems: _Problems, today: date) -> _Member:
    line = row.line
    key = row.get("ärende")
    if not key:
        problems.add(src, line, "ärende", "måste fyllas i")
    elif len(key) > KEY_MAX:
        problems.add(src, line, "ärende", f"får vara högst {KEY_MAX} tecken (är {len(key)})")

    role_text = " ".join(row.get("roll").split()).casefold()
    role = _ROLES.get(role_text)
    if role is None:
        choices = "sökande, medsökande, barn eller annan vuxen"
        if role_text:
            problems.add(src, line, "roll", f"okänd roll {row.get('roll')!r}; välj {choices}")
        else:
            problems.add(src, line, "roll", f"måste fyllas i ({choices})")

    protected = _yes_no(row, "skyddad", src, problems)
    studying = _yes_no(row, "studerar", src, problems)
    person = PersonInput(
        first_name=row.get("förnamn"),
        last_name=row.get("efternamn"),
        personal_id=row.get("personnummer") or None,
        phone=row.get("telefon") or None,
        email=row.get("epost") or None,
        protection=Protection.CONFIDENTIALITY_MARKING if protected else None,
    )
    clean: CleanPerson | None = None
    try:
        clean = validate_person(person, today=today)
    except ValidationError as exc:
        errors = exc.errors
        if not row.get("personnummer"):
            # The file has no födelsedatum column: the number itself is what is missing.
            errors = [e for e in errors if e.field != "födelsedatum"]
            problems.add(src, line, "personnummer", "måste fyllas i")
        problems.add_field_errors(src, line, errors)

    opened_on: date | None = None
    opened_ok = True
    if row.get("öppnat"):
        try:
            opened_on = parse_iso_date("öppnat", row.get("öppnat"))
        except ValidationError as exc:
            problems.add_field_errors(src, line, exc.errors)
            opened_ok = False
        else:
            if opened_on > today:
                problems.add(src, line, "öppnat", "kan inte ligga i framtiden")
                opened_ok = False
    return _Member(
        line=line,
        key=key,
        role=role,
        person=person,
        clean=clean,
        studying=studying,
        raw={c: row.get(c) for c in _HOUSEHOLD_COLUMNS},
        opened_on=opened_on,
        opened_ok=opened_ok,
    )


def _same(a: str, b: str) -> bool:
    """Equal but for spacing and case ("151 73" is "15173", "Södertälje" is "SÖDERTÄLJE")."""
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def _check_household(hh: _Household, src: _Source, problems: _Problems) -> None:
    """Rules about the whole household, each reported on the row that breaks it."""
    applicants = [m for m in hh.members if m.role is MemberRole.APPLICANT]
    if not applicants:
        for m in hh.members:
            problems.add(src, m.line, "roll", "hushållet saknar sökande (exakt en ska anges)")
    for m in applicants[1:]:
        problems.add(src, m.line, "roll", "hushållet har redan en sökande")
    for m in [m for m in hh.members if m.role is MemberRole.CO_APPLICANT][1:]:
        problems.add(src, m.line, "roll", "hushållet har redan en medsökande")

    if applicants:
        a = applicants[0]
        c = Checker()
        c.text("adress", a.raw["adress"], max_len=200)
        clean_postcode(c, a.raw["postnummer"])
        c.text("ort", a.raw["ort"], max_len=100)
        problems.add_field_errors(src, a.line, c.errors)
        for m in hh.members:
            if m is a:
                continue
            for column in _HOUSEHOLD_COLUMNS:
                value = m.raw[column]
                if value and not _same(value, a.raw[column]):
                    problems.add(
                        src,
                        m.line,
                        column,
                        "gäller hela hushållet och anges på sökanderaden; här står ett annat värde",
                    )

    seen: set[str] = set()
    for m in hh.members:
        if m.clean is None or m.clean.pid is None:
            continue
        if m.clean.pid.digits in seen:
            problems.add(src, m.line, "personnummer", "personen finns redan med i hushållet")
        seen.add(m.clean.pid.digits)


def _households(members: list[_Member], src: _Source, problems: _Problems) -> dict[str, _Household]:
    households: dict[str, _Household] = {}
    for m in members:
        if m.key:
            households.setdefault(m.key, _Household(m.key)).members.append(m)
    for hh in households.values():
        _check_household(hh, src, problems)
    # A person is in at most one open case: two households in one file is one too many.
    first_key: dict[str, str] = {}
    for hh in households.values():
        for m in hh.members:
            if m.clean is None or m.clean.pid is None:
                continue
            other = first_key.setdefault(m.clean.pid.digits, hh.key)
            if other != hh.key:
                problems.add(
                    src,
                    m.line,
                    "personnummer",
                    f"personen finns redan i ett annat hushåll i filen (ärende {other!r})",
                )
    return households


def _member_start(m: _Member, opened_on: date) -> date:
    """A member's membership starts when the case opened, or at birth if later (history)."""
    if m.clean is not None and m.clean.birth_date > opened_on:
        return m.clean.birth_date
    return opened_on


# --- the months file -------------------------------------------------------------------------


@dataclass(frozen=True)
class _MonthRow:
    """One row of a months file; ``month`` or ``amount_ore`` is None when it was invalid."""

    line: int
    key: str
    month: date | None
    amount_ore: int | None


def _parse_months(rows: list[_Row], src: _Source, problems: _Problems) -> list[_MonthRow]:
    """Every row, each field checked; the same (ärende, månad) twice is an error on the second."""
    out: list[_MonthRow] = []
    seen: set[tuple[str, date]] = set()
    for row in rows:
        key = row.get("ärende")
        if not key:
            problems.add(src, row.line, "ärende", "måste fyllas i")
        month: date | None = None
        try:
            month = parse_month(row.get("månad"))
        except ValueError as exc:
            problems.add(src, row.line, "månad", str(exc))
        amount: int | None = None
        try:
            amount = parse_amount_ore(row.get("belopp"))
        except ValueError as exc:
            problems.add(src, row.line, "belopp", str(exc))
        if month is not None and key:
            if (key, month) in seen:
                problems.add(
                    src,
                    row.line,
                    "månad",
                    f"{month:%Y-%m} finns redan för ärende {key!r} tidigare i filen",
                )
                month = None  # reported; not compared with the database as well
            else:
                seen.add((key, month))
        out.append(_MonthRow(row.line, key, month, amount))
    return out


# --- database checks -------------------------------------------------------------------------


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


@dataclass(frozen=True)
class _KnownCase:
    id: uuid.UUID
    case_number: str
    applicant_ids: frozenset[uuid.UUID]


def _cases_by_key(session: Session, keys: Iterable[str]) -> dict[str, list[_KnownCase]]:
    """Cases already imported under these keys, with every person who has been their sökande."""
    wanted = sorted(set(keys))
    found: dict[str, list[tuple[uuid.UUID, str]]] = {}
    for key_part in _chunks(wanted):
        for case_id, key, number in session.execute(
            select(Case.id, Case.import_key, Case.case_number).where(Case.import_key.in_(key_part))
        ):
            assert key is not None
            found.setdefault(key, []).append((case_id, number))
    ids = [cid for cases in found.values() for cid, _ in cases]
    applicants: dict[uuid.UUID, set[uuid.UUID]] = {}
    for part in _chunks(ids):
        for case_id, person_id in session.execute(
            select(HouseholdMember.case_id, HouseholdMember.person_id).where(
                HouseholdMember.case_id.in_(part),
                HouseholdMember.role == MemberRole.APPLICANT.value,
            )
        ):
            applicants.setdefault(case_id, set()).add(person_id)
    return {
        key: [_KnownCase(cid, num, frozenset(applicants.get(cid, ()))) for cid, num in cases]
        for key, cases in found.items()
    }


def _existing_months(
    session: Session, case_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, date], int]:
    out: dict[tuple[uuid.UUID, date], int] = {}
    for part in _chunks(sorted(set(case_ids))):
        for case_id, month, amount in session.execute(
            select(SupportMonth.case_id, SupportMonth.month, SupportMonth.amount_ore).where(
                SupportMonth.case_id.in_(part)
            )
        ):
            out[(case_id, month)] = amount
    return out


def _month_conflict(month: date, stored_ore: int) -> str:
    """The message :func:`services.support.set_month_in` gives for a changed amount."""
    return f"månaden {month:%Y-%m} finns redan med ett annat belopp ({format_amount(stored_ore)})"


def _check_against_database(
    session: Session,
    households: dict[str, _Household],
    src: _Source,
    problems: _Problems,
    today: date,
) -> None:
    """Re-runs, handläggare, and people already in an open case; child ages of new cases."""
    known = _cases_by_key(session, households)
    users: dict[str, User | None] = {}
    for hh in households.values():
        applicant = hh.applicant
        if hh.key in known and applicant is not None and applicant.clean is not None:
            pid = applicant.clean.pid
            person = find_by_personal_id(session, pid.digits) if pid else None
            match = next(
                (c for c in known[hh.key] if person is not None and person.id in c.applicant_ids),
                None,
            )
            if match is not None:
                hh.existing_case_id = match.id
            else:
                problems.add(
                    src,
                    applicant.line,
                    "ärende",
                    f"nyckeln {hh.key!r} är redan importerad ({known[hh.key][0].case_number}) "
                    "med en annan sökande",
                )

        if applicant is not None and applicant.raw["handläggare"]:
            username = applicant.raw["handläggare"].lower()
            if username not in users:
                users[username] = session.scalars(
                    select(User).where(User.username == username)
                ).first()
            user = users[username]
            if user is None:
                problems.add(
                    src,
                    applicant.line,
                    "handläggare",
                    f"användaren {applicant.raw['handläggare']!r} finns inte",
                )
            elif not user.active:
                problems.add(
                    src,
                    applicant.line,
                    "handläggare",
                    f"användaren {applicant.raw['handläggare']!r} är inaktiverad",
                )
            else:
                hh.caseworker = user

        opened_on = hh.opened_on(today)
        if hh.existing_case_id is not None or opened_on is None:
            continue  # an imported household is Fokus's now; the file no longer rules it
        for m in hh.members:
            if m.clean is None:
                continue
            start = _member_start(m, opened_on)
            if m.role is not None:
                err = child_error(Membership(m.role, m.clean.birth_date, start, None, m.studying))
                if err is not None:
                    problems.add_field_errors(src, m.line, [err])
            if m.clean.pid is None:
                continue
            person = find_by_personal_id(session, m.clean.pid.digits)
            if person is None:
                continue
            elsewhere = open_case_elsewhere(session, person.id, on=start, exclude_case=None)
            if elsewhere is not None:
                problems.add(
                    src,
                    m.line,
                    "personnummer",
                    f"personen ingår redan i ett öppet ärende ({elsewhere})",
                )


@dataclass
class _UnitPlan:
    """Where cases without a handläggare go: an existing unit, or one to create."""

    unit_id: uuid.UUID | None = None
    create_name: str | None = None

    def resolve(self, session: Session, actor: Actor) -> uuid.UUID:
        if self.unit_id is None:
            assert self.create_name is not None
            self.unit_id = get_or_create_unit(session, actor, self.create_name).id
        return self.unit_id


def _plan_unit(
    session: Session, unit_name: str | None, src: _Source, problems: _Problems
) -> _UnitPlan | None:
    if unit_name is not None:
        c = Checker()
        name = c.text("enhet", unit_name, max_len=120, required=True)
        if c.errors or name is None:
            problems.add_field_errors(src, 1, c.errors)
            return None
        unit_id = session.scalars(select(Unit.id).where(Unit.name == name)).first()
        return _UnitPlan(unit_id=unit_id, create_name=name)
    units = list(session.scalars(select(Unit.id).limit(2)))
    if not units:
        return _UnitPlan(create_name=DEFAULT_UNIT)
    if len(units) == 1:
        return _UnitPlan(unit_id=units[0])
    problems.add(
        src,
        1,
        "enhet",
        "ange --unit ENHET: databasen har flera enheter och filen har ärenden utan handläggare",
    )
    return None


@dataclass(frozen=True)
class _MonthTarget:
    """A valid month row and the case it belongs to (None: a case this import creates)."""

    line: int
    key: str
    month: date
    amount_ore: int
    case_id: uuid.UUID | None
    already_there: bool


def _check_months(
    session: Session,
    rows: list[_MonthRow],
    households: dict[str, _Household] | None,
    cases_file: str | None,
    src: _Source,
    problems: _Problems,
) -> list[_MonthTarget]:
    """Resolve each month's ``ärende`` and compare with the months already stored."""
    in_file = households or {}
    rows = [r for r in rows if r.key]
    known = _cases_by_key(session, {r.key for r in rows if r.key not in in_file})
    case_of: dict[str, uuid.UUID | None] = {}
    for r in rows:
        if r.key in case_of:
            continue
        if r.key in in_file:
            case_of[r.key] = in_file[r.key].existing_case_id
        elif len(known.get(r.key, ())) == 1:
            case_of[r.key] = known[r.key][0].id
    stored = _existing_months(session, {cid for cid in case_of.values() if cid is not None})
    out: list[_MonthTarget] = []
    for r in rows:
        if r.key not in case_of:
            if len(known.get(r.key, ())) > 1:
                message = f"flera ärenden har nyckeln {r.key!r}; kan inte välja"
            elif cases_file is None:
                message = f"inget importerat ärende har nyckeln {r.key!r}"
            else:
                message = f"{r.key!r} finns varken i {cases_file} eller bland importerade ärenden"
            problems.add(src, r.line, "ärende", message)
            continue
        if r.month is None or r.amount_ore is None:
            continue
        case_id = case_of[r.key]
        previous = stored.get((case_id, r.month)) if case_id is not None else None
        if previous is not None and previous != r.amount_ore:
            problems.add(src, r.line, "belopp", _month_conflict(r.month, previous))
            continue
        out.append(
            _MonthTarget(r.line, r.key, r.month, r.amount_ore, case_id, previous is not None)
        )
    return out


# --- writing ---------------------------------------------------------------------------------


def _late_error_line(hh: _Household, err: FieldError, today: date) -> int:
    """The row a :class:`ValidationError` raised while writing concerns (the sökande's if unsure).

    Everything the write checks was checked before, so this runs only when the
    database changed in between (e.g. another import at the same time).
    """
    opened_on = hh.opened_on(today)
    if opened_on is not None:
        for m in hh.members:
            if m.clean is None or m.role is None:
                continue
            start = _member_start(m, opened_on)
            if child_error(Membership(m.role, m.clean.birth_date, start, None, m.studying)) == err:
                return m.line
    return hh.first_line


def _create_case(
    session: Session,
    actor: Actor,
    hh: _Household,
    unit_plan: _UnitPlan | None,
    src: _Source,
    problems: _Problems,
    today: date,
) -> Case:
    applicant = hh.applicant
    opened_on = hh.opened_on(today)
    assert applicant is not None and opened_on is not None
    if hh.caseworker is not None:
        unit_id = hh.caseworker.unit_id
    else:
        assert unit_plan is not None
        unit_id = unit_plan.resolve(session, actor)
    data = CaseInput(
        unit_id=unit_id,
        opened_on=opened_on,
        members=[
            MemberInput(
                role=m.role,
                person=m.person,
                valid_from=_member_start(m, opened_on),
                studying=m.studying and m.role is MemberRole.CHILD,
            )
            for m in hh.members
            if m.role is not None
        ],
        status=CaseStatus.ONGOING,
        caseworker_id=hh.caseworker.id if hh.caseworker else None,
        address=applicant.raw["adress"] or None,
        postcode=applicant.raw["postnummer"] or None,
        town=applicant.raw["ort"] or None,
        import_key=hh.key,
    )
    try:
        return create_case_in(session, actor, data, today=today)
    except ValidationError as exc:
        for err in exc.errors:
            problems.add_field_errors(src, _late_error_line(hh, err, today), [err])
        raise RowErrors(problems.lines()) from exc


@dataclass
class _Tally:
    members: int = 0
    created: bool = False
    months_added: int = 0
    months_existing: int = 0


def _write_months(
    session: Session,
    actor: Actor,
    targets: list[_MonthTarget],
    created: dict[str, uuid.UUID],
    tallies: dict[uuid.UUID, _Tally],
    src: _Source,
    problems: _Problems,
) -> None:
    for t in targets:
        case_id = t.case_id if t.case_id is not None else created[t.key]
        tally = tallies.setdefault(case_id, _Tally())
        try:
            added = set_month_in(
                session,
                actor,
                case_id,
                t.month,
                t.amount_ore,
                MonthSource.IMPORT,
                audit=False,
            )
        except ValidationError as exc:
            problems.add_field_errors(src, t.line, exc.errors)
            continue
        if added:
            tally.months_added += 1
        else:
            tally.months_existing += 1
    problems.raise_if_any()


def _audit(session: Session, actor: Actor, command: str, tallies: dict[uuid.UUID, _Tally]) -> None:
    """One ``import`` event per case the import changed: counts only, nothing personal."""
    for case_id, t in tallies.items():
        if not t.created and not t.months_added:
            continue
        record(
            session,
            actor,
            "import",
            case_id=case_id,
            command=command,
            case_created=t.created,
            members=t.members,
            months_added=t.months_added,
            months_existing=t.months_existing,
        )


# --- the two commands ------------------------------------------------------------------------


def import_cases(
    db: Database,
    actor: Actor,
    path: Path,
    *,
    months_path: Path | None = None,
    dry_run: bool = False,
    unit_name: str | None = None,
) -> ImportResult:
    """Import households (and optionally their months) from ``path``; all or nothing.

    Raises :class:`RowErrors` with one line per problem, and writes nothing then.
    """
    today = date.today()
    cases_src = _Source("", 0)
    months_src = _Source(f"{months_path.name} " if months_path else "", 1)
    text = _read_text(path, cases_src)
    months_text = _read_text(months_path, months_src) if months_path is not None else None
    problems = _Problems()

    table = _parse_table(text, CASE_REQUIRED, cases_src, problems)
    members = [_parse_member(r, cases_src, problems, today) for r in table or []]
    households = _households(members, cases_src, problems)
    month_rows: list[_MonthRow] = []
    if months_text is not None:
        month_table = _parse_table(months_text, MONTH_REQUIRED, months_src, problems)
        month_rows = _parse_months(month_table or [], months_src, problems)

    with db.begin() as s:
        _check_against_database(s, households, cases_src, problems, today)
        new = [hh for hh in households.values() if hh.existing_case_id is None]
        unit_plan: _UnitPlan | None = None
        if any(hh.applicant and not hh.applicant.raw["handläggare"] for hh in new):
            unit_plan = _plan_unit(s, unit_name, cases_src, problems)
        targets: list[_MonthTarget] = []
        if table is not None:  # else every key would look unknown: only noise
            targets = _check_months(s, month_rows, households, path.name, months_src, problems)
        problems.raise_if_any()

        result = ImportResult(
            new_cases=len(new),
            existing_cases=len(households) - len(new),
            new_months=sum(1 for t in targets if not t.already_there),
            existing_months=sum(1 for t in targets if t.already_there),
            dry_run=dry_run,
            with_months=months_path is not None,
        )
        if dry_run:
            s.rollback()
            log.info("import-cases dry run: %s", result.summary())
            return result

        created: dict[str, uuid.UUID] = {}
        tallies: dict[uuid.UUID, _Tally] = {}
        for hh in new:
            case = _create_case(s, actor, hh, unit_plan, cases_src, problems, today)
            created[hh.key] = case.id
            tallies[case.id] = _Tally(members=len(hh.members), created=True)
        _write_months(s, actor, targets, created, tallies, months_src, problems)
        _audit(s, actor, "import-cases", tallies)
        result.case_ids = frozenset(
            cid for cid, t in tallies.items() if t.created or t.months_added
        )
    log.info("import-cases: %s", result.summary())
    return result


def import_months(db: Database, actor: Actor, path: Path) -> ImportResult:
    """Import further months for cases imported earlier (found by their key); idempotent."""
    src = _Source(f"{path.name} ", 1)
    text = _read_text(path, src)
    problems = _Problems()
    table = _parse_table(text, MONTH_REQUIRED, src, problems)
    rows = _parse_months(table or [], src, problems)
    with db.begin() as s:
        targets = _check_months(s, rows, None, None, src, problems)
        problems.raise_if_any()
        tallies: dict[uuid.UUID, _Tally] = {}
        _write_months(s, actor, targets, {}, tallies, src, problems)
        _audit(s, actor, "import-months", tallies)
        result = ImportResult(
            new_months=sum(t.months_added for t in tallies.values()),
            existing_months=sum(t.months_existing for t in tallies.values()),
            months_only=True,
            case_ids=frozenset(cid for cid, t in tallies.items() if t.months_added),
        )
    log.info("import-months: %s", result.summary())
    return result
