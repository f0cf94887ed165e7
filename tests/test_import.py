"""``import-cases`` and ``import-months``: real files, real database, real command line.

Files are written to disk in the encodings and separators Swedish Excel and
old systems produce, and go through the real service on SQLite and
PostgreSQL (the ``db`` fixture). A few runs go through ``main.py`` in a
subprocess, because the exit code and the exact stderr lines are the
contract with the people fixing their files. After every rejected import
the tests count rows: "nothing was written" is checked, not assumed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum import luhn

import services.importer as importer
from models import AuditEvent, Case, HouseholdMember, Person, SupportMonth, Unit, User
from models.codes import CaseStatus, IdKind, MemberRole, Protection, Role
from services.audit import Actor
from services.db import Database, open_database
from services.errors import FieldError, NotFoundError, RowErrors, ValidationError
from services.importer import ImportResult, import_cases, import_months
from services.users import UserInput, create_user_in, get_or_create_unit

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "import"
TODAY = date.today()

HEADER = [
    "ärende",
    "roll",
    "personnummer",
    "förnamn",
    "efternamn",
    "adress",
    "postnummer",
    "ort",
    "handläggare",
    "öppnat",
    "studerar",
    "skyddad",
]


# --- helpers ---------------------------------------------------------------------------------


def pnr(born: date, serial: str = "123", *, coordination: bool = False, ten: bool = False) -> str:
    """A valid personnummer (or samordningsnummer) for ``born``: ``YYYYMMDD-NNNC``."""
    day = born.day + 60 if coordination else born.day
    nine = f"{born:%y%m}{day:02d}{serial}"
    check = luhn.calc_check_digit(nine)
    if ten:
        return f"{nine[:6]}-{nine[6:]}{check}"
    return f"{born:%Y}{nine[2:6]}-{nine[6:]}{check}"


def born_years_ago(years: int) -> date:
    """A birth date making the person exactly ``years`` old today (birthday a month ago)."""
    d = TODAY - timedelta(days=35)
    return d.replace(year=d.year - years, day=min(d.day, 28))


def person_row(
    key: str,
    role: str,
    pid: str,
    first: str,
    last: str = "Testsson",
    *,
    address: str = "",
    postcode: str = "",
    town: str = "",
    caseworker: str = "",
    opened: str = "",
    studying: str = "",
    protected: str = "",
) -> list[str]:
    return [
        key,
        role,
        pid,
        first,
        last,
        address,
        postcode,
        town,
        caseworker,
        opened,
        studying,
        protected,
    ]


def applicant(key: str, pid: str, first: str, **kw: str) -> list[str]:
    kw.setdefault("address", "Storgatan 1")
    kw.setdefault("postcode", "151 72")
    kw.setdefault("town", "Södertälje")
    return person_row(key, "sökande", pid, first, **kw)


def write_csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    *,
    header: Sequence[str] = HEADER,
    sep: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
) -> Path:
    """Write rows as Excel does: CRLF line ends, the given encoding, quoting when needed."""

    def cell(value: str) -> str:
        if sep in value or '"' in value or "\n" in value:
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "".join(sep.join(cell(v) for v in row) + "\r\n" for row in [header, *rows])
    data = text.encode(encoding)
    path.write_bytes(b"\xef\xbb\xbf" + data if bom else data)
    return path


def write_months(path: Path, rows: Sequence[Sequence[str]], **kw: object) -> Path:
    return write_csv(path, rows, header=["ärende", "månad", "belopp"], **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Counts:
    cases: int
    persons: int
    members: int
    months: int
    imports: int  # audit events "import"


def counts(db: Database) -> Counts:
    with db.begin() as s:

        def n(model: type[object]) -> int:
            return s.scalar(select(func.count()).select_from(model)) or 0

        imports = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import")
        )
        return Counts(n(Case), n(Person), n(HouseholdMember), n(SupportMonth), imports or 0)


NOTHING = Counts(0, 0, 0, 0, 0)


def errors_of(excinfo: pytest.ExceptionInfo[RowErrors]) -> list[str]:
    return excinfo.value.lines


def case_by_key(db: Database, key: str) -> Case:
    with db.begin() as s:
        case = s.scalars(select(Case).where(Case.import_key == key)).one()
        s.expunge(case)
        return case


def persons_of(db: Database, key: str) -> dict[str, tuple[str, Person]]:
    """first name → (role, person) for the household imported under ``key``."""
    with db.begin() as s:
        rows = s.execute(
            select(HouseholdMember.role, Person)
            .join(Person, Person.id == HouseholdMember.person_id)
            .join(Case, Case.id == HouseholdMember.case_id)
            .where(Case.import_key == key)
        ).all()
        for _, p in rows:
            s.expunge(p)
        return {p.first_name: (role, p) for role, p in rows}


def months_of(db: Database, key: str) -> dict[str, int]:
    with db.begin() as s:
        rows = s.execute(
            select(SupportMonth.month, SupportMonth.amount_ore)
            .join(Case, Case.id == SupportMonth.case_id)
            .where(Case.import_key == key)
        ).all()
        return {f"{m:%Y-%m}": amount for m, amount in rows}


def add_user(db: Database, actor: Actor, username: str, unit: str) -> User:
    with db.begin() as s:
        user = create_user_in(
            s, actor, UserInput(username, "Test Handläggare", Role.CASEWORKER, unit)
        )
        s.flush()
        s.expunge(user)
        return user


@pytest.fixture
def samples(tmp_path: Path) -> tuple[Path, Path]:
    """The sample files shipped with the issue, copied as given (UTF-8, ``;``)."""
    cases = shutil.copy(DATA / "import-exempel.csv", tmp_path / "import-exempel.csv")
    months = shutil.copy(DATA / "manader-exempel.csv", tmp_path / "manader-exempel.csv")
    return Path(cases), Path(months)


# Three households of the kind the samples have, as rows to vary per test.
KARIN = pnr(date(1978, 2, 14), "352")
OSKAR = pnr(date(2012, 6, 30), "284")
BENGT = pnr(date(1965, 9, 9), "571")
MARIE = pnr(date(1968, 11, 22), "402")
ALI = pnr(date(2001, 4, 17), "813")


def three_households() -> list[list[str]]:
    return [
        applicant("1", KARIN, "Karin", opened="2024-05-02"),
        person_row("1", "barn", OSKAR, "Oskar"),
        applicant("2", BENGT, "Bengt", opened="2020-02-17"),
        person_row("2", "medsökande", MARIE, "Marie"),
        applicant("3", ALI, "Ali", opened="2025-09-01"),
    ]


# --- the sample files and re-runs ------------------------------------------------------------


def test_sample_files_import_cleanly(
    db: Database, actor: Actor, samples: tuple[Path, Path]
) -> None:
    cases, months = samples
    result = import_cases(db, actor, cases, months_path=months)

    assert result.summary() == "3 nya, 0 fanns redan, 16 månader"
    assert (result.new_cases, result.existing_cases, result.new_months) == (3, 0, 16)
    assert len(result.case_ids) == 3
    assert counts(db) == Counts(cases=3, persons=5, members=5, months=16, imports=3)

    karin = case_by_key(db, "1")
    assert karin.status == CaseStatus.ONGOING.value
    assert karin.opened_on == date(2024, 5, 2)
    assert (karin.address, karin.postcode, karin.town) == ("Järnagatan 18", "151 73", "Södertälje")
    assert karin.caseworker_id is None
    household = persons_of(db, "1")
    assert household["Karin"][0] == MemberRole.APPLICANT.value
    assert household["Karin"][1].personal_id == "197802143524"
    assert household["Oskar"][0] == MemberRole.CHILD.value
    assert persons_of(db, "2")["Bengt"][1].last_name == "Åkesson"
    assert persons_of(db, "2")["Marie"][0] == MemberRole.CO_APPLICANT.value

    # The support months are for months before öppnat too (history), in öre.
    assert months_of(db, "1") == {f"2025-{m:02d}": 1_124_000 for m in range(1, 13)}
    assert months_of(db, "2") == {"2025-03": 698_000, "2025-04": 698_000, "2025-05": 698_000}
    assert months_of(db, "3") == {"2025-10": 431_050}

    with db.begin() as s:
        # No unit existed: the cases went to a new "Försörjningsstöd".
        assert s.scalars(select(Unit.name)).all() == ["Försörjningsstöd"]
        assert {c.unit_id for c in s.scalars(select(Case))} == set(s.scalars(select(Unit.id)))


def test_audit_events_carry_counts_and_nothing_personal(
    db: Database, actor: Actor, samples: tuple[Path, Path]
) -> None:
    cases, months = samples
    import_cases(db, actor, cases, months_path=months)
    with db.begin() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
        created = s.scalars(
            select(AuditEvent.case_id).where(AuditEvent.action == "case_created")
        ).all()
        karin_id = s.scalars(select(Case.id).where(Case.import_key == "1")).one()
        details = {e.case_id: json.loads(e.detail) for e in events}
    assert set(details) == set(created)
    assert details[karin_id] == {
        "command": "import-cases",
        "case_created": True,
        "members": 2,
        "months_added": 12,
        "months_existing": 0,
    }
    text = " ".join(e.detail for e in events)
    for personal in ("Karin", "Nyström", "19780214", "780214", "Järnagatan"):
        assert personal not in text


def test_rerun_of_the_same_files_is_recognised(
    db: Database, actor: Actor, samples: tuple[Path, Path]
) -> None:
    cases, months = samples
    import_cases(db, actor, cases, months_path=months)
    before = counts(db)

    again = import_cases(db, actor, cases, months_path=months)

    assert again.summary() == "0 nya, 3 fanns redan, 0 månader (16 fanns redan)"
    assert again.summary().startswith("0 nya, 3 fanns redan")
    assert again.case_ids == frozenset()
    assert counts(db) == before


def test_rerun_with_new_months_adds_only_those(db: Database, actor: Actor, tmp_path: Path) -> None:
    cases = write_csv(tmp_path / "arenden.csv", three_households())
    first = write_months(tmp_path / "manader.csv", [["1", "2025-01", "100"]])
    import_cases(db, actor, cases, months_path=first)
    more = write_months(
        tmp_path / "manader.csv", [["1", "2025-01", "100"], ["1", "2025-02", "200"]]
    )

    result = import_cases(db, actor, cases, months_path=more)

    assert result.summary() == "0 nya, 3 fanns redan, 1 månader (1 fanns redan)"
    assert months_of(db, "1") == {"2025-01": 10_000, "2025-02": 20_000}
    assert result.case_ids == frozenset({case_by_key(db, "1").id})


def test_same_key_with_another_applicant_is_an_error_on_that_row(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    import_cases(db, actor, write_csv(tmp_path / "a.csv", three_households()))
    number = case_by_key(db, "2").case_number
    other = pnr(date(1990, 1, 1), "111")
    rows = three_households()
    rows[2] = applicant("2", other, "Sven", opened="2020-02-17")
    before = counts(db)

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "b.csv", rows))

    assert errors_of(exc) == [
        f"rad 4: ärende: nyckeln '2' är redan importerad ({number}) med en annan sökande",
        # Marie, unchanged on line 5, is indeed a member of that open case.
        f"rad 5: personnummer: personen ingår redan i ett öppet ärende ({number})",
    ]
    assert counts(db) == before


# --- encodings, separators, identity numbers -------------------------------------------------


def test_windows_1252_with_commas_and_ten_digit_numbers(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    old = pnr(date(1920, 1, 15), "228", ten=True).replace("-", "+")  # 100 or older
    rows = [
        applicant(
            "A-1",
            pnr(date(1965, 9, 9), "571", ten=True),
            "Bengt",
            address="Hjälmshultsgatan 3, lgh 1102 – uppg. B",  # separator in a quoted field
            postcode="25452",
            town="Helsingborg",
        ),
        person_row("A-1", "Medsökande", pnr(date(1968, 11, 22), "402", ten=True), "Märta"),
        person_row("A-1", "annan vuxen", old, "Åke", "Öberg"),
        person_row("A-1", "barn", pnr(date(2015, 3, 3), "123", ten=True).replace("-", ""), "Ör"),
    ]
    path = write_csv(tmp_path / "excel.csv", rows, sep=",", encoding="cp1252")
    assert b"\xe4" in path.read_bytes()  # really Windows-1252, not UTF-8
    assert b"\x96" in path.read_bytes()  # "–": where Windows-1252 and Latin-1 differ

    result = import_cases(db, actor, path)

    assert result.summary() == "1 nya, 0 fanns redan"
    case = case_by_key(db, "A-1")
    assert (case.address, case.postcode, case.town) == (
        "Hjälmshultsgatan 3, lgh 1102 – uppg. B",
        "254 52",
        "Helsingborg",
    )
    household = persons_of(db, "A-1")
    assert household["Bengt"][1].personal_id == "196509095714"
    assert household["Märta"][0] == MemberRole.CO_APPLICANT.value
    assert household["Åke"][1].last_name == "Öberg"
    assert household["Åke"][1].birth_date == date(1920, 1, 15)
    assert household["Åke"][0] == MemberRole.OTHER_ADULT.value
    assert household["Ör"][1].personal_id is not None
    assert household["Ör"][1].personal_id.startswith("2015")


def test_utf8_with_bom_and_samordningsnummer(db: Database, actor: Actor, tmp_path: Path) -> None:
    samordning = pnr(date(1992, 2, 14), "321", coordination=True)
    assert samordning[6:8] == "74"
    rows = [applicant("7", samordning, "Ioana", last="Popescu")]
    path = write_csv(tmp_path / "bom.csv", rows, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    assert import_cases(db, actor, path).summary() == "1 nya, 0 fanns redan"

    person = persons_of(db, "7")["Ioana"][1]
    assert person.id_kind == IdKind.SAMORDNINGSNUMMER.value
    assert person.birth_date == date(1992, 2, 14)
    assert person.personal_id == samordning.replace("-", "")


def test_a_file_in_neither_encoding_is_rejected_with_its_line(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    cases = write_csv(tmp_path / "a.csv", three_households())
    months = tmp_path / "m.csv"
    # 0x81 is undefined in Windows-1252, and "ä" as 0xE4 is not UTF-8.
    months.write_bytes("ärende;månad;belopp\r\n1;2025-01;100\r\n".encode("cp1252") + b"1;\x81\r\n")
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, cases, months_path=months)
    assert errors_of(exc) == [
        "m.csv rad 3: fil: teckenkodningen är varken UTF-8 eller Windows-1252"
    ]
    assert counts(db) == NOTHING


def test_headers_are_case_insensitive_trimmed_and_in_any_order(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    header = [" ORT ", "Efternamn", "Förnamn ", "PERSONNUMMER", "Roll", "Ärende", "Adress"]
    header += ["Postnummer", "E-post", "Telefon", "Skyddad", "Okänd kolumn"]
    row = ["Södertälje", "Lind", "Eva", f" {KARIN} ", " Sökande ", "9", "Storgatan 2"]
    row += ["15172", "eva@example.se", "070-123 45 67", "ja", "ignoreras"]
    path = write_csv(tmp_path / "h.csv", [row], header=header)

    assert import_cases(db, actor, path).new_cases == 1

    eva = persons_of(db, "9")["Eva"][1]
    assert (eva.email, eva.phone) == ("eva@example.se", "070-123 45 67")
    assert eva.protection == Protection.CONFIDENTIALITY_MARKING.value
    assert case_by_key(db, "9").opened_on == TODAY


def test_missing_required_columns_are_named_on_row_1(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    header = [h for h in HEADER if h not in ("postnummer", "efternamn")]
    path = write_csv(tmp_path / "x.csv", [["1"] * len(header)], header=header)

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, path)

    assert errors_of(exc) == ["rad 1: kolumn: efternamn saknas", "rad 1: kolumn: postnummer saknas"]
    assert counts(db) == NOTHING


def test_missing_file_is_not_found(db: Database, actor: Actor, tmp_path: Path) -> None:
    missing = tmp_path / "finns-inte.csv"
    with pytest.raises(NotFoundError, match="finns-inte.csv finns inte"):
        import_cases(db, actor, missing)
    cases = write_csv(tmp_path / "a.csv", three_households())
    with pytest.raises(NotFoundError, match="finns-inte.csv finns inte"):
        import_cases(db, actor, cases, months_path=missing)
    with pytest.raises(NotFoundError):
        import_months(db, actor, missing)
    assert counts(db) == NOTHING


# --- row and household errors ----------------------------------------------------------------


def test_every_problem_is_one_line_and_nothing_is_written(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    bad_check = KARIN[:-1] + str((int(KARIN[-1]) + 1) % 10)
    rows = [
        applicant("1", pnr(date(1980, 1, 1), "111"), "Anna", opened="2024-13-01"),
        person_row("1", "barn", bad_check, "Bo"),
        applicant("2", pnr(date(1981, 1, 1), "111"), "", postcode="1517", opened="2999-01-01"),
        person_row("2", "kusin", pnr(date(1982, 1, 1), "111"), "Ceci", studying="kanske"),
        applicant("3", "", "Dan", last=""),
        applicant("4", "19800101-111", "Eve"),
    ]
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "fel.csv", rows))

    assert errors_of(exc) == [
        "rad 2: öppnat: ogiltigt datum '2024-13-01', ange ÅÅÅÅ-MM-DD",
        "rad 3: personnummer: kontrollsiffran stämmer inte",
        "rad 4: förnamn: måste fyllas i",
        "rad 4: öppnat: kan inte ligga i framtiden",
        "rad 4: postnummer: ska vara fem siffror, t.ex. 151 72 (fick '1517')",
        "rad 5: roll: okänd roll 'kusin'; välj sökande, medsökande, barn eller annan vuxen",
        "rad 5: studerar: ange ja eller nej (fick 'kanske')",
        "rad 6: personnummer: måste fyllas i",
        "rad 6: efternamn: måste fyllas i",
        "rad 7: personnummer: ange 10 eller 12 siffror, t.ex. ÅÅÅÅMMDD-NNNN",
    ]
    assert counts(db) == NOTHING


def test_two_applicants_error_on_the_second_row_only(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    rows = three_households()
    rows.insert(3, applicant("2", pnr(date(1990, 5, 5), "222"), "Bea"))  # line 5

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))

    assert errors_of(exc) == ["rad 5: roll: hushållet har redan en sökande"]
    assert counts(db) == NOTHING


def test_two_co_applicants_error_on_the_second(db: Database, actor: Actor, tmp_path: Path) -> None:
    rows = three_households()
    rows.append(person_row("2", "medsökande", pnr(date(1970, 3, 3), "333"), "Maja"))  # line 7
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))
    assert errors_of(exc) == ["rad 7: roll: hushållet har redan en medsökande"]


def test_household_without_applicant_errors_on_every_row(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    rows = three_households()
    rows[2][1] = "medsökande"  # household 2: Bengt and Marie, neither of them sökande
    rows[3][1] = "annan vuxen"

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))

    assert errors_of(exc) == [
        "rad 4: roll: hushållet saknar sökande (exakt en ska anges)",
        "rad 5: roll: hushållet saknar sökande (exakt en ska anges)",
    ]
    assert counts(db) == NOTHING


def test_household_values_belong_on_the_applicant_row(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    rows = three_households()
    rows[1][5:8] = ["Järnagatan 18", "151 72", "Södertälje"]  # same postnummer: fine
    rows[1][5] = "Annan gata 2"
    rows[3][9] = "2020-02-17"  # same öppnat as the sökande: fine

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))

    assert errors_of(exc) == [
        "rad 3: adress: gäller hela hushållet och anges på sökanderaden; här står ett annat värde"
    ]


def test_children_under_18_or_studying_until_20(db: Database, actor: Actor, tmp_path: Path) -> None:
    rows = [
        applicant("1", pnr(date(1975, 1, 1), "111"), "Mamma"),
        person_row("1", "barn", pnr(born_years_ago(17), "222"), "Sjuttonåring"),
        person_row("1", "barn", pnr(born_years_ago(19), "333"), "Gymnasist", studying="ja"),
        person_row("1", "barn", pnr(born_years_ago(19), "444"), "Arbetar", studying="nej"),
        person_row("1", "barn", pnr(born_years_ago(22), "555"), "Vuxen", studying="ja"),
    ]
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))
    assert errors_of(exc) == [
        "rad 5: studerar: ett barn som är 19 år ingår bara i hushållet vid studier",
        "rad 6: roll: ett barn måste vara under 21 år (är 22)",
    ]
    assert counts(db) == NOTHING

    ok = write_csv(tmp_path / "b.csv", rows[:3])
    assert import_cases(db, actor, ok).new_cases == 1
    household = persons_of(db, "1")
    assert set(household) == {"Mamma", "Sjuttonåring", "Gymnasist"}
    with db.begin() as s:
        studying = s.scalars(
            select(HouseholdMember.studying)
            .join(Person, Person.id == HouseholdMember.person_id)
            .where(Person.first_name == "Gymnasist")
        ).one()
    assert studying is True


def test_child_born_after_the_case_opened_joins_at_birth(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    baby = date(2023, 4, 4)
    rows = [
        applicant("1", pnr(date(1990, 1, 1), "111"), "Mamma", opened="2020-01-15"),
        person_row("1", "barn", pnr(baby, "222"), "Bebis"),
    ]
    import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))
    with db.begin() as s:
        starts = dict(
            s.execute(
                select(Person.first_name, HouseholdMember.valid_from).join(
                    Person, Person.id == HouseholdMember.person_id
                )
            ).all()
        )
    assert starts == {"Mamma": date(2020, 1, 15), "Bebis": baby}


def test_person_in_two_households_of_the_file(db: Database, actor: Actor, tmp_path: Path) -> None:
    rows = three_households()
    rows.append(person_row("3", "annan vuxen", OSKAR, "Oskar"))  # line 7; Oskar is in "1"
    rows.append(person_row("3", "barn", OSKAR, "Oskar"))  # line 8, twice in "3" as well

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))

    assert errors_of(exc) == [
        "rad 7: personnummer: personen finns redan i ett annat hushåll i filen (ärende '1')",
        "rad 8: personnummer: personen finns redan med i hushållet",
        "rad 8: personnummer: personen finns redan i ett annat hushåll i filen (ärende '1')",
    ]


def test_person_with_an_open_case_in_the_database(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    import_cases(db, actor, write_csv(tmp_path / "a.csv", three_households()))
    number = case_by_key(db, "2").case_number
    before = counts(db)
    rows = [
        applicant("10", pnr(date(1985, 8, 8), "888"), "Ny"),
        person_row("10", "medsökande", MARIE, "Marie"),  # already in household "2"
    ]
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "b.csv", rows))
    assert errors_of(exc) == [
        f"rad 3: personnummer: personen ingår redan i ett öppet ärende ({number})"
    ]
    assert counts(db) == before


# --- handläggare and units -------------------------------------------------------------------


def test_caseworker_gives_the_unit_and_unknown_usernames_are_row_errors(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    anna = add_user(db, actor, "anna.l", "Försörjningsstöd Syd")
    add_user(db, actor, "bo", "Försörjningsstöd Norr")
    rows = three_households()
    rows[0][8] = "Anna.L"
    rows[2][8] = "nisse"
    rows[4][8] = "bo"

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "a.csv", rows))
    assert errors_of(exc) == ["rad 4: handläggare: användaren 'nisse' finns inte"]
    assert counts(db) == NOTHING

    # Each case with a handläggare goes to that user's unit; one without, to --unit.
    rows[2][8] = "anna.l"
    rows[4][8] = ""
    path = write_csv(tmp_path / "b.csv", rows)
    assert import_cases(db, actor, path, unit_name="Försörjningsstöd Norr").new_cases == 3
    with db.begin() as s:
        norr = s.scalars(select(Unit.id).where(Unit.name == "Försörjningsstöd Norr")).one()
    for key in ("1", "2"):
        assert (case_by_key(db, key).caseworker_id, case_by_key(db, key).unit_id) == (
            anna.id,
            anna.unit_id,
        )
    assert (case_by_key(db, "3").caseworker_id, case_by_key(db, "3").unit_id) == (None, norr)


def test_several_units_need_unit_name(db: Database, actor: Actor, tmp_path: Path) -> None:
    with db.begin() as s:
        get_or_create_unit(s, actor, "Enhet A")
        get_or_create_unit(s, actor, "Enhet B")
    path = write_csv(tmp_path / "a.csv", three_households())

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, path)
    assert len(errors_of(exc)) == 1
    assert errors_of(exc)[0].startswith("rad 1: enhet: ange --unit")
    assert counts(db) == NOTHING

    import_cases(db, actor, path, unit_name="Enhet B")
    with db.begin() as s:
        unit_b = s.scalars(select(Unit.id).where(Unit.name == "Enhet B")).one()
        assert set(s.scalars(select(Case.unit_id))) == {unit_b}


def test_unit_name_is_created_when_missing(db: Database, actor: Actor, tmp_path: Path) -> None:
    with db.begin() as s:
        get_or_create_unit(s, actor, "Enhet A")
    import_cases(db, actor, write_csv(tmp_path / "a.csv", three_households()), unit_name="Ny")
    with db.begin() as s:
        assert sorted(s.scalars(select(Unit.name))) == ["Enhet A", "Ny"]
        new = s.scalars(select(Unit.id).where(Unit.name == "Ny")).one()
        assert set(s.scalars(select(Case.unit_id))) == {new}


def test_the_only_unit_is_used(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    import_cases(db, actor, write_csv(tmp_path / "a.csv", three_households()))
    with db.begin() as s:
        assert set(s.scalars(select(Case.unit_id))) == {unit_id}
        assert s.scalar(select(func.count()).select_from(Unit)) == 1


# --- months ----------------------------------------------------------------------------------


def test_month_file_errors(db: Database, actor: Actor, tmp_path: Path) -> None:
    cases = write_csv(tmp_path / "arenden.csv", three_households())
    months = write_months(
        tmp_path / "manader.csv",
        [
            ["1", "2025-01", "8 450,50"],  # line 2
            ["1", "2025-02", "-100"],
            ["2", "2025-1", "100"],
            ["1", "2025-01", "8 450,50"],  # line 5: the same (ärende, månad) again
            ["9", "2025-01", "abc"],
            ["", "2025-03", "1"],
        ],
    )
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, cases, months_path=months)

    assert errors_of(exc) == [
        "manader.csv rad 3: belopp: får inte vara negativt",
        "manader.csv rad 4: månad: ogiltig månad '2025-1', ange ÅÅÅÅ-MM",
        "manader.csv rad 5: månad: 2025-01 finns redan för ärende '1' tidigare i filen",
        "manader.csv rad 6: belopp: ogiltigt belopp 'abc', ange t.ex. 8 450,50",
        "manader.csv rad 6: ärende: '9' finns varken i arenden.csv eller bland importerade ärenden",
        "manader.csv rad 7: ärende: måste fyllas i",
    ]
    assert counts(db) == NOTHING


def test_errors_in_both_files_come_together_cases_file_first(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    rows = three_households()
    rows[4][3] = ""
    cases = write_csv(tmp_path / "arenden.csv", rows)
    months = write_months(tmp_path / "m.csv", [["1", "2025-01", "x"]])
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, cases, months_path=months)
    assert errors_of(exc) == [
        "rad 6: förnamn: måste fyllas i",
        "m.csv rad 2: belopp: ogiltigt belopp 'x', ange t.ex. 8 450,50",
    ]


def test_amount_formats(db: Database, actor: Actor, tmp_path: Path) -> None:
    cases = write_csv(tmp_path / "arenden.csv", three_households())
    months = write_months(
        tmp_path / "manader.csv",
        [
            ["1", "2025-01", "8\u00a0450,50"],  # non-breaking space, as Excel writes
            ["1", "2025-02", "7210"],
            ["1", "2025-03", " 12 345,5 "],
            ["2", "2019-11", "0"],  # before öppnat: history
        ],
        sep=",",
        encoding="cp1252",
    )
    assert "\u00a0" in months.read_bytes().decode("cp1252")

    result = import_cases(db, actor, cases, months_path=months)

    assert result.summary() == "3 nya, 0 fanns redan, 4 månader"
    assert months_of(db, "1") == {"2025-01": 845_050, "2025-02": 721_000, "2025-03": 1_234_550}
    assert months_of(db, "2") == {"2019-11": 0}


def test_months_for_a_case_imported_earlier(db: Database, actor: Actor, tmp_path: Path) -> None:
    import_cases(db, actor, write_csv(tmp_path / "forsta.csv", three_households()[:2]))
    cases = write_csv(tmp_path / "andra.csv", three_households()[2:])
    months = write_months(tmp_path / "m.csv", [["1", "2025-05", "100"], ["3", "2025-10", "5"]])

    result = import_cases(db, actor, cases, months_path=months)

    assert result.summary() == "2 nya, 0 fanns redan, 2 månader"
    assert months_of(db, "1") == {"2025-05": 10_000}


def test_dry_run_checks_everything_and_writes_nothing(
    db: Database, actor: Actor, samples: tuple[Path, Path], tmp_path: Path
) -> None:
    cases, months = samples

    result = import_cases(db, actor, cases, months_path=months, dry_run=True)

    assert result.summary() == "3 nya, 0 fanns redan, 16 månader (provkörning, inget sparat)"
    assert counts(db) == NOTHING
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0

    # Database checks run in a dry run too: an open case elsewhere is found.
    import_cases(db, actor, cases)
    number = case_by_key(db, "1").case_number
    rows = [applicant("99", KARIN, "Karin")]
    before = counts(db)
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, write_csv(tmp_path / "b.csv", rows), dry_run=True)
    assert errors_of(exc) == [
        f"rad 2: personnummer: personen ingår redan i ett öppet ärende ({number})"
    ]
    assert counts(db) == before


def test_late_error_rolls_everything_back(
    db: Database, actor: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule the pre-check missed (e.g. a concurrent change) still leaves nothing behind."""
    real = importer.create_case_in
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object) -> Case:
        calls.append(1)
        if len(calls) == 2:
            raise ValidationError(FieldError("postnummer", "upptäckt sent"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importer, "create_case_in", flaky)
    cases = write_csv(tmp_path / "a.csv", three_households())
    months = write_months(tmp_path / "m.csv", [["1", "2025-01", "100"]])

    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, cases, months_path=months)

    assert errors_of(exc) == ["rad 4: postnummer: upptäckt sent"]  # the sökande of household 2
    assert len(calls) == 2
    assert counts(db) == NOTHING


# --- import-months ---------------------------------------------------------------------------


def test_import_months_is_idempotent(
    db: Database, actor: Actor, samples: tuple[Path, Path], tmp_path: Path
) -> None:
    cases, months = samples
    import_cases(db, actor, cases, months_path=months)
    later = write_months(
        tmp_path / "utbetalningar.csv",
        [
            ["2", "2025-05", "6 980"],  # already there
            ["2", "2025-06", "6 980"],
            ["3", "2025-11", "4 310,50"],
        ],
    )

    first = import_months(db, actor, later)
    assert first.summary() == "2 nya månader, 1 fanns redan"
    assert first.case_ids == frozenset({case_by_key(db, "2").id, case_by_key(db, "3").id})
    assert counts(db).months == 18
    assert counts(db).imports == 5

    again = import_months(db, actor, later)
    assert again.summary() == "0 nya månader, 3 fanns redan"
    assert again.case_ids == frozenset()
    assert counts(db).months == 18
    assert counts(db).imports == 5
    assert months_of(db, "3") == {"2025-10": 431_050, "2025-11": 431_050}


def test_import_months_errors(
    db: Database, actor: Actor, samples: tuple[Path, Path], tmp_path: Path
) -> None:
    cases, months = samples
    import_cases(db, actor, cases, months_path=months)
    before = counts(db)
    bad = write_months(
        tmp_path / "manader.csv",
        [
            ["3", "2025-12", "100"],  # fine, but not written: the file has errors
            ["1", "2025-03", "11 000"],  # stored as 11 240
            ["okänd", "2025-01", "5"],
            ["3", "2025-12", "100"],
        ],
    )
    with pytest.raises(RowErrors) as exc:
        import_months(db, actor, bad)
    assert errors_of(exc) == [
        "manader.csv rad 3: belopp: månaden 2025-03 finns redan med ett annat belopp (11 240 kr)",
        "manader.csv rad 4: ärende: inget importerat ärende har nyckeln 'okänd'",
        "manader.csv rad 5: månad: 2025-12 finns redan för ärende '3' tidigare i filen",
    ]
    assert counts(db) == before


def test_summary_texts() -> None:
    assert ImportResult(3, 0, 16, 0, with_months=True).summary() == (
        "3 nya, 0 fanns redan, 16 månader"
    )
    assert ImportResult(0, 3).summary() == "0 nya, 3 fanns redan"
    assert ImportResult(new_months=12, existing_months=4, months_only=True).summary() == (
        "12 nya månader, 4 fanns redan"
    )


def test_physical_line_numbers_with_a_multiline_field_and_blank_lines(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    rows = three_households()
    rows[0][5] = "c/o Larsson\nJärnagatan 18"  # one cell over lines 2–3
    path = write_csv(tmp_path / "a.csv", rows)
    text = path.read_bytes().decode("utf-8").replace("\r\n2;", "\r\n;;;;\r\n\r\n2;", 1)
    path.write_text(text, encoding="utf-8", newline="")
    bad = text.replace(BENGT, BENGT[:-1] + "0").replace(KARIN, KARIN[:-1] + "0")
    path.write_text(bad, encoding="utf-8", newline="")
    # header 1, Karin 2–3, Oskar 4, empty-cells 5, blank 6, Bengt 7: a row's first line counts
    with pytest.raises(RowErrors) as exc:
        import_cases(db, actor, path)
    assert errors_of(exc) == [
        "rad 2: personnummer: kontrollsiffran stämmer inte",
        "rad 7: personnummer: kontrollsiffran stämmer inte",
    ]

    path.write_text(text, encoding="utf-8", newline="")
    import_cases(db, actor, path)
    assert case_by_key(db, "1").address == "c/o Larsson\nJärnagatan 18"


# --- the command line ------------------------------------------------------------------------


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture
def cli_db(sqlite_url: str) -> Iterator[Database]:
    """The SQLite file the command line writes to, opened for counting (migrated once here)."""
    database = open_database(sqlite_url)
    yield database
    database.dispose()


def test_cli_imports_samples_and_recognises_the_rerun(
    sqlite_url: str, cli_db: Database, samples: tuple[Path, Path]
) -> None:
    cases, months = samples
    dry = run_cli("import-cases", cases, "--months", months, "--dry-run", "--url", sqlite_url)
    assert (dry.returncode, dry.stderr) == (0, "")
    assert dry.stdout == "3 nya, 0 fanns redan, 16 månader (provkörning, inget sparat)\n"
    assert counts(cli_db) == NOTHING

    first = run_cli("import-cases", cases, "--months", months, "--url", sqlite_url)
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == "3 nya, 0 fanns redan, 16 månader\n"

    again = run_cli("import-cases", cases, "--months", months, "--url", sqlite_url)
    assert again.returncode == 0
    assert again.stdout.startswith("0 nya, 3 fanns redan")
    assert counts(cli_db) == Counts(3, 5, 5, 16, 3)

    more = run_cli("import-months", months, "--url", sqlite_url)
    assert (more.returncode, more.stdout) == (0, "0 nya månader, 16 fanns redan\n")


def test_cli_rejects_a_bad_file_with_exact_lines_and_writes_nothing(
    sqlite_url: str, cli_db: Database, tmp_path: Path
) -> None:
    rows = three_households()
    rows[1][2] = OSKAR[:-1] + str((int(OSKAR[-1]) + 1) % 10)
    rows.insert(3, applicant("2", pnr(date(1990, 5, 5), "222"), "Bea"))
    rows[4][1] = "sökande"  # Marie too: a third sökande in household 2
    cases = write_csv(tmp_path / "arenden.csv", rows, sep=",", encoding="cp1252")
    months = write_months(
        tmp_path / "manader.csv",
        [["1", "2025-01", "100"], ["1", "2025-02", "100"], ["2", "2025-01", "5"]]
        + [["1", "2025-01", "100"]],
    )

    result = run_cli("import-cases", cases, "--months", months, "--url", sqlite_url)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "rad 3: personnummer: kontrollsiffran stämmer inte",
        "rad 5: roll: hushållet har redan en sökande",
        "rad 6: roll: hushållet har redan en sökande",
        "manader.csv rad 5: månad: 2025-01 finns redan för ärende '1' tidigare i filen",
    ]
    assert counts(cli_db) == NOTHING


def test_cli_missing_file_exits_2(sqlite_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "saknas.csv"
    result = run_cli("import-cases", missing, "--url", sqlite_url)
    assert result.returncode == 2
    assert result.stderr == f"fokus: filen {missing} finns inte\n"

    result = run_cli("import-months", missing, "--url", sqlite_url)
    assert result.returncode == 2
