"""``python main.py bench``: Fokus measured against its limits, on a database it made itself.

The bench creates (or reuses) its own database: with no URL a fresh SQLite
file in a temporary directory; with ``--url`` an empty SQLite path or an
empty PostgreSQL database, which it migrates and marks with a
``fokus_bench`` table. Any other database is refused, so the bench can never
seed made-up cases into, or time queries against, a database with real
cases. A marked database holding the requested number of cases is reused
(seeding 100,000 cases takes a minute or two).

Every figure is the median of several runs of the real code path (the
register service, the case window, the summary export, the statistics),
next to a reference measured in the same run on the same data: Qt's C++
``QSqlQueryModel`` given the register's own SQL, the bare DB-API driver, a
bare reportlab table. The Qt figures are measured by :mod:`ui.bench` in an
offscreen subprocess, which is also the GUI process whose peak memory is
reported. This module never imports Qt.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from models import Agency, Case, ContactEntry, ContactMethod, HouseholdMember, Person
from models.codes import CaseStatus, MemberRole
from services.audit import Actor
from services.db import Database, create_db_engine, migrate, open_database, sqlite_path
from services.errors import DatabaseUnavailableError, FokusError, ValidationError
from services.register import WINDOW, RegisterService, through_sqlalchemy
from services.search import RegisterFilter

ROOT = Path(__file__).resolve().parent.parent
MARKER_TABLE = "fokus_bench"
DEFAULT_CASES = 100_000
SEED = 1
SEARCHES = 200
OPEN_CASE_NOTES = 1000
PDF_NOTES = 200
PDF_BATCH = 100
FULL_SIZE = 100_000

Progress = Callable[[str], None]
Figures = dict[str, Any]


# --------------------------------------------------------------------------- what is measured


@dataclass(frozen=True)
class Target:
    """A key of the result, its unit and the issue's target on two cores (None: information)."""

    key: str
    label: str
    unit: str
    limit: float | None = None
    inclusive: bool = False  # "≤" rather than "<"
    reference: str = ""  # the key in ``references`` measured beside it, if any

    def met(self, value: float | None, *, cases: int) -> bool | None:
        if value is None or self.limit is None:
            return None
        if self.key == "seed_s" and cases < FULL_SIZE:
            return None  # the target is for 100,000 cases
        return value <= self.limit if self.inclusive else value < self.limit

    @property
    def target_text(self) -> str:
        if self.limit is None:
            return "—"
        op = "≤" if self.inclusive else "<"
        unit = f" {self.unit}" if self.unit and self.unit != "×" else ""
        suffix = " vid 100 000" if self.key == "seed_s" else ""
        return f"{op} {_num(self.limit)}{unit}{suffix}"


TARGETS: tuple[Target, ...] = (
    Target("start_s", "kallstart till inloggningsrutan", "s", 1.5),
    Target("cli_help_s", "python main.py --help", "s", 0.3),
    Target("register_first_rows_ms", "registret öppnat, första raderna visade", "ms", None, False,
           "qsqlquerymodel_first_rows_ms"),
    Target("register_ratio_vs_qsqlquerymodel", "  mot QSqlQueryModel, samma SQL", "×", 1.5, True),
    Target("window_fetch_p95_ms", "nästa fönster vid rullning, p95", "ms", 16),
    Target("jump_to_end_ms", "Ctrl+End till sista raden", "ms", None, False,
           "qsqlquerymodel_jump_to_end_ms"),
    Target("jump_end_ratio_vs_qsqlquerymodel", "  mot QSqlQueryModel (hämtar allt)", "×", 1, True),
    Target("search_p50_ms", "sökning till första raderna, p50", "ms", None, False,
           "qsqlquerymodel_search_p50_ms"),
    Target("search_p95_ms", "sökning till första raderna, p95", "ms", 30),
    Target("search_ratio_vs_qsqlquerymodel", "  p50 mot QSqlQueryModel (information)", "×"),
    Target("search_raw_driver_p50_ms", "samma SQL direkt i drivrutinen, p50 (golv)", "ms"),
    Target("open_case_ms", "öppna ärende med 1 000 anteckningar", "ms", 200),
    Target("pdf_200_ms", "sammanfattning, 200 anteckningar", "ms", 500, False,
           "bare_reportlab_200_ms"),
    Target("pdf_ratio_vs_bare_reportlab", "  mot en bar reportlab-tabell", "×", 3, True),
    Target("pdf_batch_100_s", "100 sammanfattningar i en körning", "s", 30),
    Target("dashboard_ms", "alla översikts- och stats-siffror", "ms", 1000),
    Target("sync_1000_s", "synk av 1 000 ändrade ärenden (PostgreSQL)", "s", 10),
    Target("seed_cases", "ärenden i databasen", ""),
    Target("seed_s", "skapa demodata", "s", 120),
    Target("peak_rss_mb", "högsta minne, GUI-processen", "MB", 300),
)  # fmt: skip
KEYS: tuple[str, ...] = tuple(t.key for t in TARGETS)
GUI_KEYS = (
    "start_s",
    "register_first_rows_ms",
    "register_ratio_vs_qsqlquerymodel",
    "window_fetch_p95_ms",
    "jump_to_end_ms",
    "jump_end_ratio_vs_qsqlquerymodel",
    "search_p50_ms",
    "search_p95_ms",
    "search_ratio_vs_qsqlquerymodel",
    "open_case_ms",
    "peak_rss_mb",
)


def _num(x: float) -> str:
    """Swedish number: "12 345", "1,25", "14,2" (thousands space, decimal comma)."""
    if float(x).is_integer() and abs(x) >= 1:
        return f"{int(x):,}".replace(",", " ")
    if abs(x) >= 100:
        return f"{x:,.0f}".replace(",", " ")
    return (f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}").replace(".", ",")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    out: list[float] = []
    start = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - start)


# --------------------------------------------------------------------------- the bench database


@dataclass
class BenchDatabase:
    """The database the bench made (or made earlier and marked), and what it holds."""

    url: str
    db: Database
    cases: int
    seed_s: float
    reused: bool
    as_of: date
    open_case_id: uuid.UUID  # 1,000 contact notes
    pdf_case_number: str  # 200 contact notes
    temp_dir: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.db.is_sqlite

    def close(self) -> None:
        self.db.dispose()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def _refuse(url: str) -> FokusError:
    from services.db import describe_url

    return ValidationError.single(
        "--url",
        f"{describe_url(url)} är ingen databas som bench har skapat; bench kör bara på en "
        "tom SQLite-fil, en tom PostgreSQL-databas eller en egen tidigare bench-databas",
    )


def _read_marker(engine: Engine) -> dict[str, str] | None:
    """The bench marker's key/value rows; None when the database is not empty and unmarked.

    An empty database (no tables) gives ``{}``.
    """
    try:
        tables = set(inspect(engine).get_table_names())
    except Exception as exc:  # noqa: BLE001 - a connection problem, said in Swedish
        from services.db import explain_db_error

        raise DatabaseUnavailableError(explain_db_error(exc, str(engine.url))) from exc
    if not tables:
        return {}
    if MARKER_TABLE not in tables:
        return None
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT key, value FROM {MARKER_TABLE}")).all()
    return {str(k): str(v) for k, v in rows}


def _write_marker(engine: Engine, values: dict[str, str]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} "
                "(key VARCHAR(40) PRIMARY KEY, value VARCHAR(200) NOT NULL)"
            )
        )
        for key, value in values.items():
            conn.execute(text(f"DELETE FROM {MARKER_TABLE} WHERE key = :k"), {"k": key})
            conn.execute(
                text(f"INSERT INTO {MARKER_TABLE} (key, value) VALUES (:k, :v)"),
                {"k": key, "v": value},
            )


def _empty_sqlite_target(url: str) -> bool:
    path = sqlite_path(url)
    if path is None or str(path) in ("", ":memory:"):
        raise ValidationError.single("--url", "bench behöver en SQLite-fil, inte en minnesdatabas")
    return not path.exists() or path.stat().st_size == 0


def prepare_database(
    url: str | None, *, cases: int, progress: Progress, as_of: date | None = None
) -> BenchDatabase:
    """Create, migrate, mark and seed the bench database (or reuse a marked one of that size)."""
    temp_dir: Path | None = None
    if url is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="fokus-bench-"))
        url = f"sqlite:///{temp_dir / 'bench.db'}"
    try:
        return _prepare(url, cases=cases, progress=progress, as_of=as_of, temp_dir=temp_dir)
    except BaseException:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise


def _prepare(
    url: str, *, cases: int, progress: Progress, as_of: date | None, temp_dir: Path | None
) -> BenchDatabase:
    if make_url(url).get_backend_name() == "sqlite" and _empty_sqlite_target(url):
        marker: dict[str, str] | None = {}
    else:
        engine = create_db_engine(url)
        try:
            marker = _read_marker(engine)
        finally:
            engine.dispose()
    if marker is None:
        raise _refuse(url)
    if marker.get("state") == "ready":
        held = int(marker["cases"])
        if held != cases:
            raise ValidationError.single(
                "--cases",
                f"bench-databasen har {held} ärenden, inte {cases}; ange --cases {held} "
                "eller en ny, tom databas",
            )
        progress(f"återanvänder bench-databasen med {held} ärenden")
        db = open_database(url)
        return BenchDatabase(
            url=url,
            db=db,
            cases=held,
            seed_s=float(marker["seed_s"]),
            reused=True,
            as_of=date.fromisoformat(marker["as_of"]),
            open_case_id=uuid.UUID(marker["open_case_id"]),
            pdf_case_number=marker["pdf_case_number"],
            temp_dir=temp_dir,
        )
    engine = create_db_engine(url)
    try:
        if not marker:  # empty: ours now
            progress("migrerar den tomma databasen")
            migrate(engine)
            _write_marker(engine, {"state": "seeding", "created": datetime.now(UTC).isoformat()})
        elif marker.get("state") != "seeding":
            raise _refuse(url)
    finally:
        engine.dispose()
    db = open_database(url)
    try:
        return _seed(db, url, cases=cases, progress=progress, as_of=as_of, temp_dir=temp_dir)
    except BaseException:
        db.dispose()
        raise


def _seed(
    db: Database,
    url: str,
    *,
    cases: int,
    progress: Progress,
    as_of: date | None,
    temp_dir: Path | None,
) -> BenchDatabase:
    from services.auth import demo_login
    from services.demo import seed_demo

    as_of = as_of or date.today()
    progress(f"skapar {cases} demoärenden (seed-demo)")
    last = [0.0]

    def seed_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 5 or done == total:
            last[0] = now
            progress(f"  {done}/{total} ärenden")

    def seed_phase(name: str, wall: float, cpu: float) -> None:
        progress(f"  {name}: {wall:.1f} s ({cpu:.1f} s CPU)")

    result = seed_demo(
        db,
        Actor.cli(),
        cases=cases,
        seed=SEED,
        as_of=as_of,
        progress=seed_progress,
        phase=seed_phase,
    )
    progress(f"  klart på {result.seconds:.1f} s")
    user = demo_login(db, "bench")
    open_case, pdf_case = _fixture_cases(db, user.user_id)
    progress(f"lägger {OPEN_CASE_NOTES} och {PDF_NOTES} anteckningar i två ärenden")
    _fill_notes(db, user.actor, open_case, OPEN_CASE_NOTES, as_of)
    _fill_notes(db, user.actor, pdf_case, PDF_NOTES, as_of)
    with db.begin() as s:
        pdf_number = s.scalar(select(Case.case_number).where(Case.id == pdf_case))
    assert pdf_number is not None
    _write_marker(
        db.engine,
        {
            "state": "ready",
            "cases": str(result.cases),
            "seed_s": f"{result.seconds:.3f}",
            "as_of": as_of.isoformat(),
            "open_case_id": str(open_case),
            "pdf_case_number": pdf_number,
        },
    )
    return BenchDatabase(
        url=url,
        db=db,
        cases=result.cases,
        seed_s=result.seconds,
        reused=False,
        as_of=as_of,
        open_case_id=open_case,
        pdf_case_number=pdf_number,
        temp_dir=temp_dir,
    )


def bench_user(db: Database) -> Any:
    """The user the GUI figures are measured as: the unit's team leader (arbetsledare).

    A caseworker's register lists only their own few cases; the team leader's
    lists the whole unit, which is the 100,000-case register the targets are
    about. Built from the account directly (no password, no login event).
    """
    from models import Unit, User
    from models.codes import Role
    from services.auth import SessionUser

    with db.begin() as s:
        leader = s.scalars(
            select(User)
            .where(User.role == Role.TEAM_LEADER.value, User.active.is_(True))
            .order_by(User.username)
        ).first()
        if leader is None:
            raise ValidationError.single("databas", "bench-databasen saknar arbetsledare")
        unit = s.get(Unit, leader.unit_id)
        assert unit is not None
        return SessionUser(
            actor=Actor(
                username=leader.username,
                role=Role.TEAM_LEADER,
                user_id=leader.id,
                workstation="bench",
            ),
            full_name=leader.full_name,
            role=Role.TEAM_LEADER,
            unit_id=unit.id,
            unit_name=unit.name,
        )


def _unprotected() -> Any:
    """No one in the household has skyddade personuppgifter (those cases need named access)."""
    return ~(
        select(HouseholdMember.id)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.case_id == Case.id, Person.protection.is_not(None))
        .exists()
    )


def _fixture_cases(db: Database, user_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """Two open cases of the bench caseworker (the demo login), so every access rule allows them."""
    with db.begin() as s:
        ids = list(
            s.scalars(
                select(Case.id)
                .where(
                    Case.caseworker_id == user_id,
                    Case.status == CaseStatus.ONGOING.value,
                    _unprotected(),
                )
                .order_by(Case.number_year, Case.number_seq)
                .limit(2)
            )
        )
        if len(ids) < 2:
            ids += list(
                s.scalars(
                    select(Case.id)
                    .where(Case.id.not_in(ids) if ids else Case.id.is_not(None), _unprotected())
                    .order_by(Case.number_year, Case.number_seq)
                    .limit(2 - len(ids))
                )
            )
    if len(ids) < 2:
        raise ValidationError.single("--cases", "bench behöver minst 2 ärenden")
    return ids[0], ids[1]


_NOTE_TEXTS = (
    "Telefonsamtal med {who} om planeringen framåt. Klienten berättar att sömnen är bättre "
    "och att hen har börjat gå till öppenvården varje vecka. Vi kom överens om att följa "
    "upp vid nästa besök och att klienten tar med intyget från vårdcentralen.",
    "Möte på kontoret tillsammans med {who}. Genomgång av ansökan för månaden, hyra och "
    "elräkning styrkta. Barnen går i skolan och fritidshemmet fungerar. Klienten önskar "
    "stöd med att söka arbete inom vård och omsorg; remiss till arbetsmarknadsenheten.",
    "Hembesök. Lägenheten är i gott skick, men klienten oroar sig för skulder hos "
    "Kronofogden. Vi bokar tid hos budget- och skuldrådgivningen. Samtycke till kontakt "
    "med {who} finns och gäller året ut.",
    "Kort avstämning via e-post med {who}: insatsen fortsätter enligt plan, nästa "
    "trepartsmöte den första i månaden. Inget nytt om läkarintyget.",
)


def _fill_notes(db: Database, actor: Actor, case_id: uuid.UUID, total: int, as_of: date) -> None:
    """Add signed notes until the case has ``total``, each audited as a signed note.

    Rows as :func:`services.journal.add_note_in` writes them (valid by
    construction, so its per-note checks are skipped: 1,200 notes in a
    second instead of ten), with the same ``note_signed`` audit event each,
    so the case's history is as long as a real case's.
    """
    from services.audit import record

    rng = random.Random(f"{case_id}")
    with db.begin() as s:
        have = int(s.scalar(select(func.count()).where(ContactEntry.case_id == case_id)) or 0)
        agencies = list(s.scalars(select(Agency.code).where(Agency.active.is_(True))))
        methods = list(s.scalars(select(ContactMethod.code).where(ContactMethod.active.is_(True))))
        end = datetime.combine(as_of, datetime.min.time(), UTC) - timedelta(days=1)
        now = datetime.now(UTC)
        entries = []
        for i in range(max(0, total - have)):
            agency = rng.choice(agencies)
            entries.append(
                ContactEntry(
                    id=uuid.uuid4(),
                    case_id=case_id,
                    occurred_at=end - timedelta(hours=37 * (total - i)),
                    agency_code=agency,
                    method_code=rng.choice(methods),
                    counterpart="Handläggare " + rng.choice(["Eva", "Ali", "Åsa", "Jörgen"]),
                    text=rng.choice(_NOTE_TEXTS).format(who=agency),
                    author_id=actor.user_id,
                    author_name=actor.username,
                    signed_at=now,
                )
            )
        s.add_all(entries)
        for entry in entries:
            record(s, actor, "note_signed", case_id=case_id, note_id=entry.id, corrects=None)


# --------------------------------------------------------------------------- register SQL


def connection_parts(url: str) -> dict[str, str]:
    """What Qt's own SQL drivers need to open the bench database (ui/ parses no URLs)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"backend": "sqlite", "database": str(sqlite_path(url))}
    return {
        "backend": "postgresql",
        "host": parsed.host or "localhost",
        "port": str(parsed.port or 5432),
        "database": parsed.database or "",
        "username": parsed.username or "",
        "password": parsed.password or "",
    }


class _Captured(Exception):
    """Stops a register call once its first statement has been captured."""


def register_sql(
    db: Database,
    flt: RegisterFilter,
    *,
    actor: Actor | None = None,
    descending: bool = True,
    whole: bool = False,
) -> str:
    """The SQL the register runs for its first window of ``flt``, with literal values.

    Captured from a real :meth:`RegisterService.window` call (the first
    statement it would execute; the call stops there), so the references run
    exactly what Fokus runs.
    ``actor`` scopes it as the desktop app does (the logged-in user's access);
    ``whole`` drops the window's LIMIT: every matching case, in the same order.
    """
    captured: list[Any] = []

    def listen(_conn: Any, clause: Any, *args: Any) -> None:
        if not isinstance(clause, Select):
            return  # a setting for the statement (the plan's, on PostgreSQL): let it run
        captured.append(_bound(clause, args))
        raise _Captured  # compiled and about to run: enough, it need not run here

    event.listen(db.engine, "before_execute", listen)
    try:
        with through_sqlalchemy():  # the statement as SQLAlchemy runs it: the same SQL
            RegisterService(db=db, actor=actor).window(flt, None, WINDOW, descending=descending)
    except _Captured:
        pass
    finally:
        event.remove(db.engine, "before_execute", listen)
    clause = captured[0].limit(None) if whole else captured[0]
    compiled = clause.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


def _bound(clause: Any, args: tuple[Any, ...]) -> Any:
    """``clause`` with the parameter values it was executed with (``before_execute``'s
    ``multiparams`` and ``params``): the register runs statements built once, with the
    window's key and the moment as bound parameters, which a literal rendering needs."""
    values: dict[str, Any] = {}
    for part in args[:2]:
        for item in part if isinstance(part, list | tuple) else [part]:
            if isinstance(item, dict):
                values.update(item)
    return clause.params(values) if values else clause


def search_statements(
    db: Database, flt: RegisterFilter, *, actor: Actor | None = None, descending: bool = True
) -> list[str]:
    """Every statement the register runs for the first window of a search, in order.

    A search runs several (services.search: the plan's capped count, the
    window's ids, then the rows and their details for those ids), each
    depending on the one before, so the window is fetched for real and each
    statement captured with literal values; the references run the same list.
    """
    captured: list[Any] = []

    def listen(_conn: Any, clause: Any, *args: Any) -> None:
        if not isinstance(clause, Select):
            return  # a setting for the statement (the plan's, on PostgreSQL): let it run
        captured.append(_bound(clause, args))

    event.listen(db.engine, "before_execute", listen)
    try:
        with through_sqlalchemy():  # the statements as SQLAlchemy runs them: the same SQL
            RegisterService(db=db, actor=actor).window(flt, None, WINDOW, descending=descending)
    finally:
        event.remove(db.engine, "before_execute", listen)
    literal = {"literal_binds": True}
    return [str(c.compile(dialect=db.engine.dialect, compile_kwargs=literal)) for c in captured]


def search_queries(db: Database, count: int = SEARCHES) -> list[str]:
    """``count`` search texts drawn from the data, in a fixed mix of kinds.

    Name prefixes with and without å/ä/ö (first name, last name, "förnamn
    efternamn"), personnummer with century and without, with dash and without,
    and case numbers whole and by their digits.
    """
    rng = random.Random(SEED)
    with db.begin() as s:
        people = s.execute(
            select(Person.first_name, Person.last_name, Person.personal_id)
            .join(HouseholdMember, HouseholdMember.person_id == Person.id)
            .where(HouseholdMember.role == MemberRole.APPLICANT.value)
            .order_by(Person.id)
            .limit(5000)
        ).all()
        numbers = list(
            s.execute(
                select(Case.case_number, Case.number_year, Case.number_seq)
                .order_by(Case.id)
                .limit(5000)
            ).all()
        )
    swedish = [p for p in people if any(ch in "åäöÅÄÖ" for ch in p[0] + p[1])]
    plain = [p for p in people if p not in swedish] or people
    with_id = [p for p in people if p[2]]
    out: list[str] = []

    def name_prefix(person: Any, want_swedish: bool) -> str:
        first, last = str(person[0]), str(person[1])
        kind = rng.randrange(3)
        name = first if kind == 0 else last if kind == 1 else f"{first} {last[:1]}"
        if want_swedish:
            for source in (last, first):
                pos = min((source.lower().find(c) for c in "åäö" if c in source.lower()),
                          default=-1)  # fmt: skip
                if pos >= 0:
                    return source[: max(pos + 1, 3)].lower()
        return name[: rng.randint(3, 5)].lower()

    kinds = ("name", "name_aao", "pid12", "pid12dash", "pid10", "pid10dash", "case", "case_digits")
    seen: set[str] = set()
    for i in range(count * 20):  # distinct texts: a repeated one would not search again
        if len(out) == count:
            break
        kind = kinds[len(out) % len(kinds)] if i < count * 10 else "name"
        if kind == "name":
            q = name_prefix(rng.choice(plain), False)
        elif kind == "name_aao":
            q = name_prefix(rng.choice(swedish or plain), bool(swedish))
        elif kind.startswith("pid") and with_id:
            pid = str(rng.choice(with_id)[2])
            short = pid[2:] if kind.startswith("pid10") else pid
            q = f"{short[:-4]}-{short[-4:]}" if kind.endswith("dash") else short
        elif numbers:
            number, year, seq = rng.choice(numbers)
            q = str(number) if kind == "case" else f"{year}{seq:05d}"
        else:
            q = name_prefix(rng.choice(plain), False)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


RAW_BUDGET_S = 120.0


def raw_driver_search_ms(db: Database, sqls: Sequence[Sequence[str]]) -> list[float]:
    """Each search's statements straight through the DB-API driver (execute + fetch all,
    in order, timed together): the floor.

    Each search runs twice, the second run timed (the first warms the
    caches, as the other figures get); within :data:`RAW_BUDGET_S`, so a slow
    query plan cannot stall the bench.
    """
    raw: Any = db.engine.raw_connection()
    deadline = time.monotonic() + RAW_BUDGET_S
    try:
        times = []
        for statements in sqls:
            if time.monotonic() > deadline:
                break
            for timed in (False, True):  # the first run warms the caches
                cur = raw.cursor()
                start = time.perf_counter()
                for sql in statements:
                    cur.execute(sql)
                    cur.fetchall()
                elapsed = time.perf_counter() - start
                cur.close()
                if timed:
                    times.append(elapsed * 1000)
        raw.rollback()
        return times
    finally:
        raw.close()


# --------------------------------------------------------------------------- other figures


def cli_help_s(runs: int) -> float:
    """``python main.py --help`` in a fresh interpreter (median wall time)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "--help"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        times.append(time.perf_counter() - start)
    return median(times)


def pdf_figures(bench: BenchDatabase, runs: int) -> tuple[float, float]:
    """(summary of the 200-note case, bare reportlab table of the same notes), ms medians.

    The summary is :func:`services.summary.build_summary_pdf` (plan and render,
    to bytes, in one read transaction); the reference draws the same notes'
    text as one reportlab table with the same embedded font.
    """
    from services.cases import case_by_number
    from services.settings import load_settings
    from services.summary import SummaryOptions, build_summary_pdf, plan_summary

    settings = load_settings()
    actor = Actor.cli()
    now = datetime.now(UTC)
    fokus, bare = [], []
    with bench.db.begin() as s:
        case_id = case_by_number(s, bench.pdf_case_number).id
        plan = plan_summary(s, case_id, SummaryOptions(), today=now.date())
        notes = [(f"{n.occurred_at:%Y-%m-%d %H:%M}", n.text) for n in plan.notes]
    for _ in range(runs + 1):
        with bench.db.begin() as s, stopwatch() as t:
            build_summary_pdf(s, actor, case_id, SummaryOptions(), settings=settings, now=now)
        fokus.append(t[0] * 1000)
        with stopwatch() as t:
            bare_reportlab_table(notes)
        bare.append(t[0] * 1000)
    return median(fokus[1:]), median(bare[1:])


def bare_reportlab_table(notes: Sequence[tuple[str, str]]) -> bytes:
    """The reference: a plain reportlab ``Table`` of (time, text) rows on A4.

    The cheapest way reportlab draws the same text: plain string cells, the
    text pre-wrapped with ``simpleSplit`` to the column width, the same
    embedded font, a grid, rows split over pages by the table itself.
    """
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle  # type: ignore[import-untyped]

    from services.summary import summary_fonts

    fonts = summary_fonts()
    text_width = 134 * mm
    rows = [
        [when, "\n".join(simpleSplit(body, fonts.regular, 9, text_width))] for when, body in notes
    ]
    table = Table(rows, colWidths=[32 * mm, 138 * mm], repeatRows=0)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), fonts.regular, 9, 11),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build([table])
    return out.getvalue()


def pdf_batch_s(bench: BenchDatabase) -> float:
    """100 summaries exported one after another, each the real user action (audited, fsynced)."""
    from services.summary import SummaryOptions, export_summary

    with bench.db.begin() as s:
        numbers = list(
            s.scalars(
                select(Case.case_number)
                .where(_unprotected())
                .order_by(Case.number_year.desc(), Case.number_seq.desc())
                .limit(PDF_BATCH)
            )
        )
    out_dir = Path(tempfile.mkdtemp(prefix="fokus-bench-pdf-"))
    try:
        actor = Actor.cli()
        batch = _batch_export_function()
        with stopwatch() as t:
            if batch is not None:
                batch(bench.db, actor, numbers, out_dir)
            else:
                for number in numbers:
                    export_summary(
                        bench.db, actor, number, out_dir / f"{number}.pdf", SummaryOptions()
                    )
        return t[0]
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _batch_export_function() -> Callable[..., Any] | None:
    """A batch export service, when one exists (none yet: the loop above is the batch)."""
    return None


def dashboard_ms(bench: BenchDatabase, runs: int) -> float:
    """``python main.py stats`` and the unit's dashboard (Översikt), median ms.

    Every figure of ``stats`` (:func:`services.longterm.stats`) in one read
    transaction, then :meth:`services.dashboard.DashboardService.load` as the
    unit's team leader (its own transaction, audited as the window does).
    The warm-up run also fills the support-year aggregate the dashboard reads.
    """
    from models import User
    from models.codes import Role
    from services.longterm import stats
    from services.settings import load_settings

    settings = load_settings()
    with bench.db.begin() as s:
        unit_id = s.scalar(select(Case.unit_id).where(Case.id == bench.open_case_id))
        leader = s.execute(
            select(User.id, User.username).where(
                User.unit_id == unit_id, User.role == Role.TEAM_LEADER.value
            )
        ).first()
    load = _dashboard_loader(bench.db, leader, settings)
    times = []
    for _ in range(runs + 1):
        with stopwatch() as t:
            with bench.db.begin() as s:
                stats(s, settings=settings)
            if unit_id is not None:
                load(unit_id)
        times.append(t[0] * 1000)
    return median(times[1:])


def _dashboard_loader(db: Database, leader: Any, settings: Any) -> Callable[[uuid.UUID], Any]:
    """The dashboard window's load, or (before it existed) the figures it shows."""
    from models.codes import Role

    if leader is not None and importlib.util.find_spec("services.dashboard") is not None:
        from services.dashboard import DashboardService

        actor = Actor(username=leader.username, role=Role.TEAM_LEADER, user_id=leader.id)
        return DashboardService(db=db, actor=actor, settings=settings).load

    def figures(unit_id: uuid.UUID) -> None:
        from services.caseload import caseload
        from services.targets import targets_for_unit

        with db.begin() as s:
            caseload(s, unit_id)
            targets_for_unit(s, unit_id)

    return figures


SYNC_CASES = 1000


def sync_case_ids(s: Session, bench: BenchDatabase) -> list[uuid.UUID]:
    """The open cases a sync measurement checks out: the newest :data:`SYNC_CASES`
    without protected persons, leaving out the two fixture cases the other figures use."""
    fixture_ids = [bench.open_case_id]
    fixture_ids += list(s.scalars(select(Case.id).where(Case.case_number == bench.pdf_case_number)))
    return list(
        s.scalars(
            select(Case.id)
            .where(
                Case.status != CaseStatus.CLOSED.value,
                Case.id.not_in(fixture_ids),
                _unprotected(),
            )
            .order_by(Case.number_year.desc(), Case.number_seq.desc())
            .limit(SYNC_CASES)
        )
    )


def sync_1000_s(bench: BenchDatabase, progress: Progress) -> tuple[float | None, str]:
    """Sync of 1,000 changed cases from a laptop copy (PostgreSQL only), or (None, why).

    A new bench caseworker is given 1,000 open cases (not the fixtures, no
    protected persons) and checks them out to an encrypted laptop file
    (:func:`services.offline.checkout`); on the laptop every case gets a
    signed note and a new town; central changes a tenth of them meanwhile.
    Timed: :func:`services.sync.sync`, which pushes, pulls and reports the
    conflicts. Each run uses a new caseworker, so a reused database works too.
    """
    if bench.is_sqlite:
        return None, "gäller bara PostgreSQL"
    try:
        from services import offline
        from services.sync import sync
    except ImportError as exc:
        return None, f"synktjänsten saknas ({exc})"
    from sqlalchemy import update

    from models import Unit
    from models.codes import Role
    from services.journal import NoteInput, add_note_in
    from services.users import UserInput, create_user_in

    password = "bench-synk-" + uuid.uuid4().hex[:8]
    username = "bench-synk-" + uuid.uuid4().hex[:6]
    with bench.db.begin() as s:
        ids = sync_case_ids(s, bench)
        if len(ids) < SYNC_CASES:
            return None, f"bara {len(ids)} öppna ärenden att checka ut; mäts från {SYNC_CASES}"
        unit = s.get(Unit, s.scalar(select(Case.unit_id).where(Case.id == ids[0])))
        assert unit is not None
        user = create_user_in(
            s,
            Actor.cli(),
            UserInput(
                username=username,
                full_name="Bench Synk",
                role=Role.CASEWORKER,
                unit_name=unit.name,
                password=password,
            ),
        )
        s.flush()
        user_id = user.id
        s.execute(update(Case).where(Case.id.in_(ids)).values(caseworker_id=user_id))
    work = Path(tempfile.mkdtemp(prefix="fokus-bench-sync-"))
    try:
        path = work / "laptop.fokus"
        progress(f"  checkar ut {SYNC_CASES} ärenden till en krypterad laptopfil")
        offline.checkout(bench.db, path, username, password)
        local = offline.open_local(path, password)
        try:
            progress(f"  ändrar {SYNC_CASES} ärenden på laptopen och en tiondel centralt")
            actor = Actor(username=username, role=Role.CASEWORKER, user_id=user_id)
            when = datetime.now(UTC) - timedelta(hours=1)
            with local.begin() as ls:
                local_ids = list(ls.scalars(select(Case.id)))
                for case_id in local_ids:
                    add_note_in(
                        ls,
                        actor,
                        case_id,
                        NoteInput(
                            occurred_at=when,
                            agency_code=_first_code(ls, Agency),
                            method_code=_first_code(ls, ContactMethod),
                            text="Hembesök. Avstämning av planen; nästa besök om två veckor.",
                        ),
                        sign=True,
                    )
                # Values new to this run, so a reused database has as much to sync.
                ls.execute(
                    update(Case).where(Case.id.in_(local_ids)).values(town=f"Järna {username[-6:]}")
                )
            with bench.db.begin() as s:
                s.execute(
                    update(Case)
                    .where(Case.id.in_(local_ids[: len(local_ids) // 10]))
                    .values(
                        summary=f"Ändrad centralt under bench {username[-6:]}.",
                        version=Case.version + 1,
                    )
                )
            progress("  synkroniserar")
            with stopwatch() as t:
                sync(bench.db, local)
            return t[0], ""
        finally:
            local.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _first_code(session: Any, model: Any) -> str:
    return str(
        session.scalar(select(model.code).where(model.active.is_(True)).order_by(model.code))
    )


# --------------------------------------------------------------------------- the GUI figures


def gui_figures(
    bench: BenchDatabase,
    queries: Sequence[str],
    sqls: Sequence[Sequence[str]],
    *,
    runs: int,
    progress: Progress,
) -> tuple[Figures, Figures]:
    """Run :mod:`ui.bench` offscreen in a subprocess; (figures, references)."""
    work = Path(tempfile.mkdtemp(prefix="fokus-bench-gui-"))
    try:
        plan = {
            "url": bench.url,
            "queries": list(queries),
            "sqls": list(sqls),
            "open_case_id": str(bench.open_case_id),
            "runs": runs,
            "work_dir": str(work),
        }
        plan_path, out_path = work / "plan.json", work / "result.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["FOKUS_CONFIG_DIR"] = str(work / "config")
        env["FOKUS_DATA_DIR"] = str(work / "data")
        env.pop("FOKUS_DATABASE_URL", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.bench", str(plan_path), str(out_path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        tail: list[str] = []
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.startswith("bench: "):
                progress(line[len("bench: ") :])
            elif line.strip():
                tail = (tail + [line])[-20:]
        code = proc.wait()
        if code != 0 or not out_path.exists():
            raise FokusError(f"GUI-mätningen misslyckades (kod {code}): {' | '.join(tail[-5:])}")
        data = json.loads(out_path.read_text(encoding="utf-8"))
        return dict(data["figures"]), dict(data["references"])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def start_s(url: str, runs: int) -> float:
    """Cold start of ``python main.py`` to the login dialog shown (offscreen), median seconds.

    The process exits as the dialog shows (``FOKUS_BENCH_EXIT_AT=login``) and
    prints ``time.monotonic()`` then, the same clock as here.
    """
    times = []
    with tempfile.TemporaryDirectory(prefix="fokus-bench-start-") as work:
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["FOKUS_BENCH_EXIT_AT"] = "login"
        env["FOKUS_CONFIG_DIR"] = str(Path(work) / "config")
        env["FOKUS_DATA_DIR"] = str(Path(work) / "data")
        env.pop("FOKUS_DATABASE_URL", None)
        for _ in range(runs):
            start = time.monotonic()
            proc = subprocess.run(
                [sys.executable, str(ROOT / "main.py"), "gui", "--url", url],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            stamp = [ln for ln in proc.stdout.splitlines() if ln.startswith("FOKUS_BENCH login ")]
            if not stamp:
                raise FokusError(
                    "starttiden kunde inte mätas: inloggningsrutan visades inte "
                    f"(kod {proc.returncode}) {proc.stderr.strip()[-300:]}"
                )
            times.append(float(stamp[-1].split()[-1]) - start)
    return median(times)


# --------------------------------------------------------------------------- the whole run


@dataclass
class BenchResult:
    figures: Figures
    references: Figures = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: self.figures.get(key) for key in KEYS}
        out["references"] = self.references
        out["notes"] = self.notes
        out["meta"] = self.meta
        return out


def run_bench(
    url: str | None,
    *,
    cases: int = DEFAULT_CASES,
    runs: int = 5,
    progress: Progress,
    as_of: date | None = None,
) -> BenchResult:
    """Prepare the bench database, measure every figure, return them (nothing printed)."""
    if cases < 2:
        raise ValidationError.single("--cases", "minst 2 ärenden")
    if runs < 1:
        raise ValidationError.single("--runs", "minst 1 körning")
    started = time.monotonic()

    def timed(line: str) -> None:
        progress(f"[{time.monotonic() - started:6.1f} s] {line}")

    bench = prepare_database(url, cases=cases, progress=timed, as_of=as_of)
    try:
        return _measure(bench, runs=runs, progress=timed)
    finally:
        bench.close()


def _measure(bench: BenchDatabase, *, runs: int, progress: Progress) -> BenchResult:
    result = BenchResult(figures=dict.fromkeys(KEYS))
    f, ref, notes = result.figures, result.references, result.notes
    f["seed_cases"] = bench.cases
    f["seed_s"] = round(bench.seed_s, 2)
    if bench.reused:
        notes["seed_s"] = "från när bench-databasen skapades (återanvänd)"
    result.meta = {
        "backend": "SQLite" if bench.is_sqlite else "PostgreSQL",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} kärnor, "
        f"Python {platform.python_version()}, {platform.platform(terse=True)}",
        "load_average": _load_average(),
        "runs": runs,
        "reused_database": bench.reused,
    }

    progress("mäter python main.py --help")
    f["cli_help_s"] = round(cli_help_s(runs), 3)

    progress(f"tar fram {SEARCHES} sökningar och deras SQL")
    queries = search_queries(bench.db)
    actor = bench_user(bench.db).actor
    sqls = [search_statements(bench.db, RegisterFilter(text=q), actor=actor) for q in queries]
    progress("kör samma SQL direkt i drivrutinen")
    raw = raw_driver_search_ms(bench.db, sqls)
    if raw:
        f["search_raw_driver_p50_ms"] = round(median(raw), 3)
    if len(raw) < len(sqls):
        notes["search_raw_driver_p50_ms"] = (
            f"{len(raw)} av {len(sqls)} sökningar hann köras inom {RAW_BUDGET_S:.0f} s"
        )

    progress("mäter sammanfattningar (PDF)")
    pdf, bare = pdf_figures(bench, runs)
    f["pdf_200_ms"], ref["bare_reportlab_200_ms"] = round(pdf, 1), round(bare, 1)
    f["pdf_ratio_vs_bare_reportlab"] = round(pdf / bare, 2) if bare > 0 else None
    progress(f"exporterar {PDF_BATCH} sammanfattningar")
    f["pdf_batch_100_s"] = round(pdf_batch_s(bench), 2)

    progress("mäter översikt och statistik")
    f["dashboard_ms"] = round(dashboard_ms(bench, runs), 1)

    progress("mäter kallstart till inloggningsrutan")
    try:
        f["start_s"] = round(start_s(bench.url, min(runs, 3)), 3)
    except FokusError as exc:
        notes["start_s"] = exc.message

    progress("startar GUI-mätningarna (offscreen)")
    gui, gui_refs = gui_figures(bench, queries, sqls, runs=runs, progress=progress)
    for key in GUI_KEYS:
        if key in gui:
            f[key] = gui[key]
    ref.update(gui_refs)
    for key, why in gui.get("notes", {}).items():
        notes[key] = why
    if not bench.is_sqlite:
        progress(f"mäter synk av {SYNC_CASES} ändrade ärenden")
    sync, why = sync_1000_s(bench, progress)
    f["sync_1000_s"] = None if sync is None else round(sync, 2)
    if sync is None:
        notes["sync_1000_s"] = why

    result.meta["load_average_after"] = _load_average()
    return result


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- output


def format_table(result: BenchResult) -> str:
    """The figures as a readable table: value, reference, target and whether it was met."""
    cases = int(result.figures.get("seed_cases") or 0)
    rows = [("mått", "nyckel", "värde", "referens", "mål", "uppfyllt")]
    for t in TARGETS:
        value = result.figures.get(t.key)
        ref = result.references.get(t.reference) if t.reference else None
        met = t.met(value, cases=cases)
        unit = f" {t.unit}" if t.unit and t.unit != "×" else ""
        shown = "–" if value is None else (f"{_num(value)}×" if t.unit == "×" else _num(value))
        rows.append(
            (
                t.label,
                t.key,
                shown + (unit if value is not None else ""),
                "" if ref is None else f"{_num(ref)}{unit}",
                t.target_text,
                "—" if met is None else ("ja" if met else "NEJ"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    meta = result.meta
    lines.append("")
    lines.append(f"{meta.get('backend')}, {meta.get('date')}, {meta.get('machine')}")
    for key, why in result.notes.items():
        lines.append(f"{key}: {why}")
    return "\n".join(lines)


def write_json(result: BenchResult, path: Path) -> None:
    path.write_text(
        json.dumps(result.as_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
