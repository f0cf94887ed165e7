"""The laptop copy: an SQLCipher file keyed from the user's password, and taking cases along.

The key is never the password itself: argon2id turns the password and a
random per-file salt (kept in ``<file>.salt`` beside the database, with the
cost parameters) into 32 bytes, handed to SQLCipher as a raw key with
``PRAGMA key = "x'…'"`` on every new connection (a ``connect`` event, not a
URL, so neither password nor key ends up in an engine URL or a log). Plain
``sqlite3``, or the wrong password, sees "file is not a database".

:func:`checkout` authenticates the user against the central database,
records the checkout there (:class:`models.OfflineCheckout`), copies the
chosen cases with everything that hangs off them and the reference data,
and keeps each copied row's values as the base of the later three-way merge
(:mod:`services.sync`). Cases with a protected person are never copied.
``docs/offline.md`` has the whole design.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import sqlite3
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlcipher3  # type: ignore[import-untyped]
from argon2.low_level import Type, hash_secret_raw
from sqlalchemy import (
    Column,
    Date,
    Engine,
    MetaData,
    Table,
    Text,
    Uuid,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from models import (
    Agency,
    Case,
    Consent,
    ContactEntry,
    ContactMethod,
    HouseholdMember,
    OfflineCheckout,
    OfflineCheckoutCase,
    OfflineLocalBase,
    OfflineLocalChange,
    OfflineLocalState,
    Person,
    PersonDirection,
    PersonIdentifier,
    PersonOutcome,
    PlanGoal,
    SupportMonth,
    SupportReason,
    SupportReasonKind,
    Unit,
    User,
    contact_entry_member,
    utcnow,
)
from models.base import UTCDateTime
from models.codes import CaseStatus, Role
from services.audit import Actor, record
from services.cases import (
    case_by_number,
    is_provisional_case_number,
    provisional_case_number,
)
from services.db import Database, current_revision, head_revision, upgrade
from services.errors import (
    EXIT_DATABASE,
    DatabaseUnavailableError,
    FokusError,
    NotFoundError,
    PermissionDeniedError,
    SchemaMismatchError,
    ValidationError,
)
from services.role_login import connected_role, login_central
from services.users import hash_password

#: Days a checkout is valid unless the caller says otherwise.
DEFAULT_CHECKOUT_DAYS = 14
MAX_CHECKOUT_DAYS = 60
SALT_SUFFIX = ".salt"
KEY_FORMAT = "fokus-offline-key-1"
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits

Progress = Callable[[str], None]


# --- key derivation and the encrypted file -------------------------------------------------------


@dataclass(frozen=True)
class KdfParams:
    """argon2id cost: 3 passes over 64 MiB take about a quarter second on a laptop."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 2


DEFAULT_KDF = KdfParams()


class LocalKeyError(DatabaseUnavailableError):
    """Wrong password for the laptop file (or not a Fokus laptop file): exit code 3."""

    exit_code = EXIT_DATABASE


class CheckoutExpiredError(PermissionDeniedError):
    """The laptop copy's checkout has expired or was revoked: its cases may not be opened."""


def salt_path(path: Path) -> Path:
    return path.with_name(path.name + SALT_SUFFIX)


def derive_key(password: str, salt: bytes, params: KdfParams) -> bytes:
    """32 key bytes from the password with argon2id (RFC 9106)."""
    return hash_secret_raw(
        secret=password.encode("utf-8"),
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _pending_salt_path(path: Path) -> Path:
    """Where :func:`rekey_local` writes the new salt until the file has the new key."""
    return path.with_name(path.name + SALT_SUFFIX + ".new")


def _write_salt(path: Path, params: KdfParams, target: Path | None = None) -> bytes:
    salt = secrets.token_bytes(16)
    data = {
        "format": KEY_FORMAT,
        "kdf": "argon2id",
        "salt": salt.hex(),
        "time_cost": params.time_cost,
        "memory_kib": params.memory_kib,
        "parallelism": params.parallelism,
    }
    target = target or salt_path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return salt


def _read_salt(path: Path, target: Path | None = None) -> tuple[bytes, KdfParams]:
    target = target or salt_path(path)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        if data.get("format") != KEY_FORMAT or data.get("kdf") != "argon2id":
            raise ValueError("unknown format")
        params = KdfParams(
            int(data["time_cost"]), int(data["memory_kib"]), int(data["parallelism"])
        )
        return bytes.fromhex(data["salt"]), params
    except FileNotFoundError:
        raise LocalKeyError(
            f"nyckelfilen {target} saknas; den lokala databasen kan inte öppnas utan den"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LocalKeyError(f"nyckelfilen {target} är skadad: {exc}") from exc


#: The key each laptop engine keys its connections with (replaced by :func:`rekey_local`).
_ENGINE_KEYS: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()


def _pragma_key(key: bytes, verb: str = "key") -> str:
    return f"PRAGMA {verb} = \"x'{key.hex()}'\""


def _encrypted_engine(path: Path, key: bytes) -> Engine:
    """An engine on ``path`` whose every connection is keyed before its first read."""
    engine = create_engine(
        URL.create("sqlite", database=str(path)), module=sqlcipher3, hide_parameters=True
    )
    _ENGINE_KEYS[engine] = key

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA cipher_log_level = NONE")  # no "hmac check failed" on stderr
        cur.execute(_pragma_key(_ENGINE_KEYS[engine]))
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        # One self-contained file (no -wal/-shm beside it) for a laptop that travels.
        cur.execute("PRAGMA journal_mode=DELETE")
        cur.close()

    event.listen(engine, "connect", on_connect, insert=True)
    return engine


def _wrong_key(path: Path) -> LocalKeyError:
    return LocalKeyError(
        f"fel lösenord för den lokala databasen {path} (eller ingen Fokus-fil); efter ett "
        "lösenordsbyte centralt låser det gamla lösenordet upp filen tills nästa synkronisering"
    )


def _provisional_numbers(session: Session, _ctx: Any, _instances: Any) -> None:
    """Give cases created on a laptop a provisional number (numbered for real at sync).

    Listens on the laptop file's session factory only. ``number_seq`` gets the
    negated provisional number, so it never collides with a real one pulled later.
    """
    new_cases = [
        o
        for o in session.new
        if isinstance(o, Case) and not is_provisional_case_number(o.case_number)
    ]
    if not new_cases:
        return
    state = session.get(OfflineLocalState, 1)
    if state is None:
        return
    for case in new_cases:
        state.last_provisional += 1
        case.case_number = provisional_case_number(
            state.laptop_code, case.number_year, state.last_provisional
        )
        case.number_seq = -state.last_provisional


def _opens(path: Path, key: bytes) -> bool:
    """Does ``key`` open ``path``? (A throwaway connection; nothing is written.)"""
    conn = sqlcipher3.connect(str(path))
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(_pragma_key(key))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except sqlcipher3.DatabaseError:
        return False
    finally:
        conn.close()


def _open_engine(path: Path, password: str, *, create: bool, kdf: KdfParams) -> Database:
    if create:
        salt = _write_salt(path, kdf)
        params = kdf
    else:
        salt, params = _read_salt(path)
    key = derive_key(password, salt, params)
    pending = _pending_salt_path(path)
    if not create and pending.exists() and not _opens(path, key):
        # A rekey was interrupted after the file took the new key: finish it.
        new_salt, new_params = _read_salt(path, pending)
        new_key = derive_key(password, new_salt, new_params)
        if _opens(path, new_key):
            os.replace(pending, salt_path(path))
            key = new_key
    engine = _encrypted_engine(path, key)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
        current = current_revision(engine)
        head = head_revision()
        if current != head:
            if current is not None and not create:
                # An encrypted copy, before migrating (sqlite3's backup API cannot read it).
                shutil.copy2(path, path.with_name(f"{path.name}.backup-{current}"))
            try:
                upgrade(engine)
            except Exception as exc:
                raise SchemaMismatchError(
                    f"den lokala databasen kunde inte migreras ({current} → {head}): {exc}"
                ) from exc
        with engine.begin() as conn:
            install_change_log(conn)
    except DatabaseUnavailableError as exc:
        engine.dispose()
        if "file is not a database" in exc.message or "krypterad" in exc.message:
            raise _wrong_key(path) from exc
        raise
    except (OperationalError, DBAPIError, sqlite3.DatabaseError, sqlcipher3.DatabaseError) as exc:
        engine.dispose()
        if "not a database" in str(exc):
            raise _wrong_key(path) from exc
        raise DatabaseUnavailableError(
            f"den lokala databasen {path} kan inte öppnas: {exc}"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    sessions = sessionmaker(engine, expire_on_commit=False)
    event.listen(sessions, "before_flush", _provisional_numbers)
    return Database(engine=engine, sessions=sessions, url=f"sqlcipher:///{path}")


# --- the change log: which rows the laptop wrote since the last sync ------------------------------


def _trigger_key(prefix: str, spec: SyncTable) -> str:
    return " || '|' || ".join(f"{prefix}.{k}" for k in spec.key)


def change_log_triggers() -> list[str]:
    """``CREATE TRIGGER`` statements recording every insert, update and delete of a
    synchronised row in ``offline_local_change`` (laptop files only; SQLite)."""
    out: list[str] = []
    log = "INSERT INTO offline_local_change (table_name, row_key)"
    for spec in CASE_TABLES:
        t, new, old = spec.name, _trigger_key("NEW", spec), _trigger_key("OLD", spec)
        name = f"offline_change_{t}"
        out += [
            f"CREATE TRIGGER IF NOT EXISTS {name}_ai AFTER INSERT ON {t} "
            f"BEGIN {log} VALUES ('{t}', {new}); END",
            f"CREATE TRIGGER IF NOT EXISTS {name}_au AFTER UPDATE ON {t} "
            f"BEGIN {log} VALUES ('{t}', {new}); "
            f"{log} SELECT '{t}', {old} WHERE {old} IS NOT {new}; END",
            f"CREATE TRIGGER IF NOT EXISTS {name}_ad AFTER DELETE ON {t} "
            f"BEGIN {log} VALUES ('{t}', {old}); END",
        ]
    return out


def install_change_log(conn: Any) -> None:
    """Give a laptop file its change-log triggers (idempotent; run at every opening, so a
    migration that rebuilds a table cannot leave it without them)."""
    for sql in change_log_triggers():
        conn.execute(text(sql))


def canonical_key(stored: str) -> str:
    """A change-log key (hex UUIDs as SQLite stores them) as :func:`row_key` writes it."""
    return "|".join(str(uuid.UUID(part)) for part in stored.split("|"))


def stored_key(key: str) -> str:
    """:func:`row_key`'s form as the laptop stores it (for entries written by hand)."""
    return "|".join(uuid.UUID(part).hex for part in key.split("|"))


FULL_COMPARE = "*"


def log_change(session: Session, table_name: str, key: str) -> None:
    """Add a row to the change log by hand (a choice that must reach the next sync)."""
    session.execute(
        insert(_t(OfflineLocalChange)).values(table_name=table_name, row_key=stored_key(key))
    )


def change_mark(session: Session) -> int:
    """The newest change-log entry (0 when empty)."""
    return int(session.scalar(select(func.coalesce(func.max(OfflineLocalChange.seq), 0))) or 0)


def logged_changes(
    session: Session, through: int, *, after: int = 0
) -> tuple[dict[str, set[str]], bool]:
    """Rows written on the laptop in entries ``after`` < seq <= ``through``: per table
    the keys, and whether every row must be compared (a file made before the log)."""
    out: dict[str, set[str]] = {spec.name: set() for spec in CASE_TABLES}
    full = False
    rows = session.execute(
        select(OfflineLocalChange.table_name, OfflineLocalChange.row_key)
        .where(OfflineLocalChange.seq > after, OfflineLocalChange.seq <= through)
        .distinct()
    )
    for name, key in rows:
        if name == FULL_COMPARE:
            full = True
        elif name in out:
            out[name].add(canonical_key(key))
    return out, full


def create_local(path: Path, password: str, *, kdf: KdfParams | None = None) -> Database:
    """Create a new encrypted laptop file (and its salt file) at the current schema."""
    path = Path(path).resolve()
    if path.exists() or salt_path(path).exists():
        raise ValidationError.single(
            "--local", f"filen {path} finns redan; synkronisera och ta bort den först"
        )
    if not password:
        raise ValidationError.single("lösenord", "måste fyllas i")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from the start (the content is encrypted; the name need not be public).
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise ValidationError.single(
            "--local", f"filen {path} kan inte skapas: {exc.strerror}"
        ) from exc
    try:
        return _open_engine(path, password, create=True, kdf=kdf or DEFAULT_KDF)
    except BaseException:
        remove_local_files(path)
        raise


def open_local(path: Path, password: str, *, allow_expired: bool = True) -> Database:
    """Open an existing laptop file; wrong password → :class:`LocalKeyError` (exit 3).

    With ``allow_expired=False`` a copy whose checkout has expired or was
    revoked is refused (:class:`CheckoutExpiredError`): the app opens it so;
    synchronising opens it anyway, to hand changes back and delete the cases.
    """
    path = Path(path).resolve()
    if not path.exists():
        raise NotFoundError(f"den lokala databasen {path} finns inte")
    db = _open_engine(path, password, create=False, kdf=DEFAULT_KDF)
    if not allow_expired:
        try:
            status = local_status(db, changes=False)
            if status.blocked:
                raise CheckoutExpiredError(status.message)
        except BaseException:
            db.dispose()
            raise
    return db


def remove_local_files(path: Path) -> None:
    """Delete a laptop file, its salt file and any journal beside it."""
    path = Path(path)
    for p in (
        path,
        salt_path(path),
        _pending_salt_path(path),
        path.with_name(path.name + "-journal"),
    ):
        p.unlink(missing_ok=True)


def local_path(db: Database) -> Path:
    return Path(db.url.removeprefix("sqlcipher:///"))


def check_local_password(db: Database, password: str) -> None:
    """Does ``password`` open this (already open) laptop file? :class:`LocalKeyError` if not.

    The app keeps the file open after its login; before a sync that may rekey the file
    (Arkiv → Synkronisera), the password typed for the file is checked against its key.
    """
    path = local_path(db)
    salt, params = _read_salt(path)
    current = _ENGINE_KEYS.get(db.engine)
    if current is None or not hmac.compare_digest(derive_key(password, salt, params), current):
        raise _wrong_key(path)


def rekey_local(db: Database, new_password: str, *, kdf: KdfParams | None = None) -> None:
    """Lock the laptop file with a new password (after it was changed centrally).

    SQLCipher re-encrypts every page with the key derived from the new
    password and a new salt (``PRAGMA rekey``), and the owner's offline login
    takes the new password too, so the old one opens nothing any more. The
    new salt is written beside the file first (``FILE.salt.new``) and moved
    into place once the file has the new key; an interrupted rekey is
    finished the next time the file is opened with the new password (or was
    never done, and the old password still opens it).
    """

    if not new_password:
        raise ValidationError.single("nytt lösenord", "måste fyllas i")
    path = local_path(db)
    params = kdf or DEFAULT_KDF
    pending = _pending_salt_path(path)
    pending.unlink(missing_ok=True)
    salt = _write_salt(path, params, pending)
    new_key = derive_key(new_password, salt, params)
    with db.begin() as s:
        state = _state(s)
        s.execute(
            _t(User)
            .update()
            .where(_t(User).c.id == state.user_id)
            .values(password_hash=hash_password(new_password))
        )
        # Same transaction: if the rekey fails, the old password still logs in.
        s.connection().exec_driver_sql(_pragma_key(new_key, "rekey"))
    _ENGINE_KEYS[db.engine] = new_key
    db.engine.dispose()  # pooled connections hold the old key
    os.replace(pending, salt_path(path))


# --- the local copy's state ----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalStatus:
    """What the status bar and ``sync`` need to know about a laptop copy."""

    username: str
    laptop_code: str
    checked_out_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_sync_at: datetime | None
    cases: int
    unsynced_changes: bool

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()

    @property
    def blocked(self) -> bool:
        return self.expired or self.revoked_at is not None

    @property
    def message(self) -> str:
        if self.revoked_at is not None:
            return (
                f"utcheckningen återkallades {self.revoked_at:%Y-%m-%d}; ärendena kan inte "
                "öppnas och tas bort vid nästa synkronisering"
            )
        if self.expired:
            return (
                f"utcheckningen gick ut {self.expires_at:%Y-%m-%d %H:%M} (UTC); ärendena kan "
                "inte öppnas; synkronisera för att lämna tillbaka ändringarna"
            )
        return f"offline till {self.expires_at:%Y-%m-%d %H:%M} (UTC)"


def _state(session: Session) -> OfflineLocalState:
    state = session.get(OfflineLocalState, 1)
    if state is None:
        raise ValidationError.single("--local", "filen är ingen utcheckad offlinekopia")
    return state


def local_status(db: Database, *, changes: bool = True) -> LocalStatus:
    """The copy's state; ``changes=False`` skips comparing every row with its base."""
    from services.sync import has_unsynced_changes  # sync builds on this module

    with db.begin() as s:
        state = _state(s)
        cases = len(list(s.scalars(select(Case.id))))
        return LocalStatus(
            username=state.username,
            laptop_code=state.laptop_code,
            checked_out_at=state.checked_out_at,
            expires_at=state.expires_at,
            revoked_at=state.revoked_at,
            last_sync_at=state.last_sync_at,
            cases=cases,
            unsynced_changes=has_unsynced_changes(s) if changes else False,
        )


def require_case_usable(db: Database, case_id: uuid.UUID) -> None:
    """Refuse to open a case of an expired or revoked laptop copy."""
    status = local_status(db, changes=False)
    if status.blocked:
        raise CheckoutExpiredError(status.message)
    with db.begin() as s:
        if s.get(Case, case_id) is None:
            raise NotFoundError("ärendet finns inte i den lokala kopian")


# --- what is copied: tables, scope and row values ------------------------------------------------


@dataclass(frozen=True)
class SyncTable:
    """A table that follows its cases to the laptop and back.

    ``key`` are the primary-key columns; ``ignore`` are bookkeeping columns
    that are never compared (the merge sets them); ``quiet`` are columns
    derived from others (search forms of a name), merged but never reported
    as conflicts of their own; ``natural`` is a unique key other than the
    primary key (two sides adding "the same" row with different ids).
    """

    table: Table
    key: tuple[str, ...] = ("id",)
    ignore: frozenset[str] = frozenset({"version", "updated_at", "updated_by"})
    quiet: frozenset[str] = frozenset()
    natural: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def versioned(self) -> bool:
        return "version" in self.table.c


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


# In foreign-key order: inserts go top-down, deletes bottom-up.
CASE_TABLES: tuple[SyncTable, ...] = (
    SyncTable(
        _t(Person),
        quiet=frozenset(
            {
                "search_first",
                "search_last",
                "search_full",
                "search_full_rev",
                "sort_key",
                "personal_id_short",
            }
        ),
    ),  # fmt: skip
    SyncTable(_t(PersonIdentifier)),
    SyncTable(_t(Case)),
    SyncTable(_t(HouseholdMember)),
    SyncTable(_t(SupportReason)),
    SyncTable(_t(SupportMonth), natural=("case_id", "month")),
    SyncTable(_t(Consent)),
    SyncTable(_t(PlanGoal)),
    SyncTable(_t(PersonOutcome), natural=("case_id", "person_id")),
    SyncTable(_t(PersonDirection)),
    SyncTable(_t(ContactEntry)),
    SyncTable(contact_entry_member, key=("entry_id", "person_id")),
)
TABLES_BY_NAME = {t.name: t for t in CASE_TABLES}
REFERENCE_TABLES: tuple[Table, ...] = (_t(Agency), _t(ContactMethod), _t(SupportReasonKind))

Row = dict[str, Any]


def row_key(spec: SyncTable, row: Row) -> str:
    return "|".join(str(row[k]) for k in spec.key)


def to_json(value: Any) -> Any:
    """A column value as a JSON-able value that compares equal across backends."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(column: Column[Any], value: Any) -> Any:
    """Back from :func:`to_json` to what the column takes."""
    if value is None:
        return None
    if isinstance(column.type, Uuid):
        return uuid.UUID(value)
    if isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def snapshot(row: Row) -> str:
    return json.dumps({k: to_json(v) for k, v in row.items()}, sort_keys=True, ensure_ascii=False)


def chunks(ids: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


#: Key of a row's central change stamp in the row dicts read with ``stamp=True``.
STAMP = "__stamp"


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def stamp_sql(table: Table) -> Any:
    """PostgreSQL: the row's change stamp, ``xmin`` (the transaction that last wrote it).

    Every INSERT or UPDATE of a row, by Fokus or anyone else, writes a new
    row version with a new ``xmin``; freezing keeps the value (PostgreSQL
    9.4 and later). A dump and restore changes every stamp, which only makes
    the next sync compare every row. Costs nothing to read (a system column).
    """
    return literal_column(f'CAST("{table.name}".xmin AS text)')


def python_stamp(row: Row) -> str:
    """The stamp where the database has none (an SQLite central): md5 of the row's values."""
    return hashlib.md5(  # noqa: S324 - a change detector, not a security measure
        snapshot({k: v for k, v in row.items() if k != STAMP}).encode("utf-8")
    ).hexdigest()


def _select_in(
    session: Session,
    table: Table,
    column: str,
    ids: Iterable[Any],
    *extra: Any,
    stamp: bool = False,
) -> list[Row]:
    """Rows of ``table`` whose ``column`` is in ``ids``, as dicts (``stamp``: with
    central's stamp of each row under :data:`STAMP`)."""
    return _select_where(
        session,
        table,
        [table.c[column].in_(part) for part in chunks(sorted(set(ids), key=str))],
        *extra,
        stamp=stamp,
    )


select_in = _select_in  # for services.sync


def _select_where(
    session: Session, table: Table, conditions: Iterable[Any], *extra: Any, stamp: bool = False
) -> list[Row]:
    """Rows of ``table`` matching any one of ``conditions`` (one statement each)."""
    in_sql = stamp and is_postgres(session)
    names = [c.name for c in table.columns] + ([STAMP] if in_sql else [])
    selected = [*table.columns, stamp_sql(table)] if in_sql else list(table.columns)
    conn = session.connection()  # Core rows as tuples: the sync reads tens of thousands
    rows: list[Row] = []
    for cond in conditions:
        result = conn.execute(select(*selected).where(cond, *extra)).all()
        rows.extend(dict(zip(names, r, strict=True)) for r in result)
    if stamp and not in_sql:
        for r in rows:
            r[STAMP] = python_stamp(r)
    return rows


_MEMBER_TABLES = (SupportReason, SupportMonth, PlanGoal, PersonOutcome, PersonDirection)


def _scope_conditions(cases: Select[Any], user_id: uuid.UUID) -> dict[str, Any]:
    """Per table, the condition for the rows of the cases ``cases`` selects (subqueries:
    the server finds them all, no id lists go back and forth)."""
    ce, cem = _t(ContactEntry), contact_entry_member
    visible = or_(ce.c.signed_at.is_not(None), ce.c.author_id == user_id)
    entries = select(ce.c.id).where(ce.c.case_id.in_(cases), visible)
    person_sources = [
        select(_t(m).c.person_id).where(_t(m).c.case_id.in_(cases))
        for m in (HouseholdMember, *_MEMBER_TABLES)
        if "person_id" in _t(m).c
    ]
    person_sources.append(select(cem.c.person_id).where(cem.c.entry_id.in_(entries)))
    persons = select(union(*person_sources).subquery().c.person_id)
    consent = _t(Consent)
    where: dict[str, Any] = {
        "fs_case": _t(Case).c.id.in_(cases),
        "contact_entry": and_(ce.c.case_id.in_(cases), visible),
        "contact_entry_member": cem.c.entry_id.in_(entries),
        "consent": or_(
            consent.c.case_id.in_(cases),
            and_(consent.c.case_id.is_(None), consent.c.person_id.in_(persons)),
        ),
        "person": _t(Person).c.id.in_(persons),
        "person_identifier": _t(PersonIdentifier).c.person_id.in_(persons),
    }
    for m in (HouseholdMember, *_MEMBER_TABLES):
        where[_t(m).name] = _t(m).c.case_id.in_(cases)
    return where


def case_rows(
    session: Session,
    case_ids: Iterable[uuid.UUID] | Select[Any],
    user_id: uuid.UUID,
    *,
    stamp: bool = False,
) -> dict[str, dict[str, Row]]:
    """Every synchronised row of ``case_ids``, per table, keyed by :func:`row_key`.

    ``case_ids`` is a list, or a SELECT of case ids (the server then finds
    every row with subqueries). Other users' drafts are left out (a draft is
    its author's alone). With ``stamp`` each row carries central's
    stamp (:data:`STAMP`).
    """
    if isinstance(case_ids, Select):
        where = _scope_conditions(case_ids, user_id)
        return {
            spec.name: {
                row_key(spec, r): r
                for r in _select_where(session, spec.table, [where[spec.name]], stamp=stamp)
            }
            for spec in CASE_TABLES
        }

    def sel(table: Table, column: str, ids: Iterable[Any], *extra: Any) -> list[Row]:
        return _select_in(session, table, column, ids, *extra, stamp=stamp)

    ids = sorted(set(case_ids), key=str)
    out: dict[str, list[Row]] = {}
    out["fs_case"] = sel(_t(Case), "id", ids)
    out["household_member"] = sel(_t(HouseholdMember), "case_id", ids)
    person_ids = {r["person_id"] for r in out["household_member"]}
    for model in _MEMBER_TABLES:
        out[_t(model).name] = rows = sel(_t(model), "case_id", ids)
        person_ids |= {r["person_id"] for r in rows if r.get("person_id")}
    ce = _t(ContactEntry)
    out["contact_entry"] = sel(
        ce, "case_id", ids, or_(ce.c.signed_at.is_not(None), ce.c.author_id == user_id)
    )
    out["contact_entry_member"] = sel(
        contact_entry_member, "entry_id", [r["id"] for r in out["contact_entry"]]
    )
    person_ids |= {r["person_id"] for r in out["contact_entry_member"]}
    consent = _t(Consent)
    out["consent"] = sel(consent, "case_id", ids) + sel(
        consent, "person_id", person_ids, consent.c.case_id.is_(None)
    )
    out["person"] = sel(_t(Person), "id", person_ids)
    out["person_identifier"] = sel(_t(PersonIdentifier), "person_id", person_ids)
    return {spec.name: {row_key(spec, r): r for r in out[spec.name]} for spec in CASE_TABLES}


def central_index(
    session: Session, cases: Select[Any], user_id: uuid.UUID
) -> dict[str, dict[str, str | None]]:
    """Per table, the :func:`row_key` and change stamp of every central row of ``cases``.

    On PostgreSQL only these two short strings per row travel; elsewhere the
    rows are read and stamped here.
    """
    if not is_postgres(session):
        return split_stamps(case_rows(session, cases, user_id, stamp=True))
    where = _scope_conditions(cases, user_id)
    conn = session.connection()
    out: dict[str, dict[str, str | None]] = {}
    for spec in CASE_TABLES:
        parts = [cast_(spec.table.c[k], Text) for k in spec.key]
        key = parts[0] if len(parts) == 1 else parts[0].concat("|").concat(parts[1])
        stmt = select(key, stamp_sql(spec.table)).where(where[spec.name])
        out[spec.name] = {k: d for k, d in conn.execute(stmt).all()}
    return out


def rows_by_keys(
    session: Session, spec: SyncTable, keys: Iterable[str], *, stamp: bool = False
) -> dict[str, Row]:
    """The rows of ``spec`` with these :func:`row_key` keys that exist (with stamps)."""
    wanted = set(keys)
    if not wanted:
        return {}
    if spec.key == ("id",):
        found = _select_in(session, spec.table, "id", [uuid.UUID(k) for k in wanted], stamp=stamp)
    else:
        firsts = {uuid.UUID(k.split("|")[0]) for k in wanted}
        found = _select_in(session, spec.table, spec.key[0], firsts, stamp=stamp)
    out: dict[str, Row] = {}
    for r in found:
        k = row_key(spec, r)
        if k in wanted:
            out[k] = r
    return out


def split_stamps(rows: dict[str, dict[str, Row]]) -> dict[str, dict[str, str | None]]:
    """Take the stamps out of rows read with ``stamp=True``: per table, key -> stamp."""
    return {
        name: {k: r.pop(STAMP, None) for k, r in table_rows.items()}
        for name, table_rows in rows.items()
    }


def referenced_users(rows: dict[str, dict[str, Row]]) -> set[uuid.UUID]:
    users = {r["caseworker_id"] for r in rows["fs_case"].values() if r["caseworker_id"]}
    users |= {r["author_id"] for r in rows["contact_entry"].values() if r["author_id"]}
    return users


def _user_columns_but_the_hash() -> Table:
    """``app_user`` without ``password_hash``, which a user's own role may not read."""
    full = _t(User)
    return Table(
        full.name,
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in full.columns
            if c.name != "password_hash"
        ),
    )


_USER_COPY = _user_columns_but_the_hash()


def ensure_people_and_units(
    source: Session, target: Session, user_ids: Iterable[uuid.UUID], unit_ids: Iterable[uuid.UUID]
) -> None:
    """Copy users (never their password hash) and units the target lacks."""
    users = _select_in(source, _USER_COPY, "id", user_ids)
    units_needed = set(unit_ids) | {u["unit_id"] for u in users}
    have_units = {r["id"] for r in _select_in(target, _t(Unit), "id", units_needed)}
    missing_units = [
        u for u in _select_in(source, _t(Unit), "id", units_needed) if u["id"] not in have_units
    ]
    if missing_units:
        target.execute(insert(_t(Unit)), missing_units)
    have_users = {r["id"] for r in _select_in(target, _USER_COPY, "id", [u["id"] for u in users])}
    missing = [
        {**u, "password_hash": None, "failed_logins": 0, "locked_until": None}
        for u in users
        if u["id"] not in have_users
    ]
    if missing:
        target.execute(insert(_t(User)), missing)


def copy_reference_data(source: Session, target: Session) -> None:
    """Agencies, contact methods and support reasons: central is the master.

    Rows are updated or added, never deleted (old notes point at them).
    """
    for table in REFERENCE_TABLES:
        have = {r.code: dict(r._mapping) for r in target.execute(select(table))}
        for r in source.execute(select(table)):
            row = dict(r._mapping)
            if row["code"] not in have:
                target.execute(insert(table).values(row))
            elif have[row["code"]] != row:
                target.execute(table.update().where(table.c.code == row["code"]).values(row))


def parents_first(spec: SyncTable, rows: Sequence[Row]) -> list[Row]:
    """``rows`` ordered so a row another one points at within the table comes first.

    Only notes point at notes (a correction at what it corrects); foreign keys
    are checked row by row, and the server returns rows in any order.
    """
    refs = [fk.parent.name for fk in spec.table.foreign_keys if fk.column.table is spec.table]
    if not refs or len(rows) < 2:
        return list(rows)
    by_key = {r["id"]: r for r in rows}
    placed: set[Any] = set()
    out: list[Row] = []

    def place(row: Row, depth: int = 0) -> None:
        if row["id"] in placed:
            return
        placed.add(row["id"])
        for col in refs:
            parent = by_key.get(row.get(col))
            if parent is not None and depth < len(rows):
                place(parent, depth + 1)
        out.append(row)

    for r in rows:
        place(r)
    return out


def insert_rows(session: Session, rows: dict[str, dict[str, Row]]) -> None:
    for spec in CASE_TABLES:
        values = parents_first(spec, list(rows[spec.name].values()))
        if values:
            session.execute(insert(spec.table), values)


def write_base(
    session: Session,
    rows: dict[str, dict[str, Row]],
    stamps: dict[str, dict[str, str | None]],
) -> None:
    base = _t(OfflineLocalBase)
    values = [
        {
            "table_name": spec.name,
            "row_key": key,
            "data": snapshot(row),
            "stamp": stamps.get(spec.name, {}).get(key),
        }
        for spec in CASE_TABLES
        for key, row in rows[spec.name].items()
    ]
    for part in chunks(values, 2000):
        session.execute(insert(base), list(part))


# --- checkout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutResult:
    path: Path
    checkout_id: uuid.UUID
    laptop_code: str
    case_numbers: list[str]
    skipped_protected: list[str] = field(default_factory=list)
    expires_at: datetime | None = None

    def summary(self) -> str:
        lines = [
            f"{len(self.case_numbers)} ärenden utcheckade till {self.path} "
            f"(dator L{self.laptop_code}, giltig till {self.expires_at:%Y-%m-%d %H:%M} UTC)"
        ]
        if self.skipped_protected:
            lines.append(
                "hoppade över (skyddade personuppgifter): " + ", ".join(self.skipped_protected)
            )
        return "\n".join(lines)


def _chosen_cases(
    session: Session, actor: Actor, user: User, case_numbers: Sequence[str] | None
) -> list[Case]:
    if case_numbers is not None:  # an explicit list, possibly empty (zero cases)
        from services.access import Purpose, require_case_access

        chosen: list[Case] = []
        for number in dict.fromkeys(n.strip() for n in case_numbers):
            case = case_by_number(session, number)
            require_case_access(session, actor, case.id, Purpose.WRITE)
            chosen.append(case)
        return chosen
    return list(
        session.scalars(
            select(Case)
            .where(Case.caseworker_id == user.id, Case.status != CaseStatus.CLOSED.value)
            .order_by(Case.case_number)
        )
    )


def _protected_case_ids(session: Session, case_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for part in chunks(list(case_ids)):
        found |= set(
            session.scalars(
                select(HouseholdMember.case_id)
                .join(Person, Person.id == HouseholdMember.person_id)
                .where(HouseholdMember.case_id.in_(part), Person.protection.is_not(None))
            )
        )
    return found


def checkout(
    central: Database,
    local_path: Path,
    username: str,
    password: str,
    case_numbers: Sequence[str] | None = None,
    *,
    days: int = DEFAULT_CHECKOUT_DAYS,
    workstation: str | None = None,
    progress: Progress | None = None,
    kdf: KdfParams | None = None,
) -> CheckoutResult:
    """Take cases along: record the checkout centrally and write the encrypted laptop file.

    All or nothing: the central record is committed only after the laptop
    file is complete, and a failure removes the half-written file.
    """
    say = progress or (lambda _m: None)
    if not 1 <= days <= MAX_CHECKOUT_DAYS:
        raise ValidationError.single("--days", f"ska vara 1–{MAX_CHECKOUT_DAYS} dagar")
    local_path = Path(local_path).resolve()
    if local_path.exists() or salt_path(local_path).exists():
        raise ValidationError.single(
            "--local", f"filen {local_path} finns redan; synkronisera och ta bort den först"
        )
    host = workstation or socket.gethostname()
    say("loggar in mot den centrala databasen")
    # As the user's own role (per-user server): the server checked the password when the
    # connection was made, and RLS and grants limit everything below to what they may do.
    as_role = connected_role(central) is not None
    session_user = login_central(central, username, password, host)
    if session_user.role is Role.ADMIN:
        raise PermissionDeniedError("en administratör arbetar inte med ärenden och checkar inte ut")
    actor = session_user.actor
    laptop_id = uuid.uuid4()
    laptop_code = laptop_id.hex[:4].upper()
    now = utcnow()
    expires = now + timedelta(days=days)
    local: Database | None = None
    try:
        with central.begin() as cs:
            user = cs.get(User, session_user.user_id)
            assert user is not None
            chosen = _chosen_cases(cs, actor, user, case_numbers)
            protected = _protected_case_ids(cs, [c.id for c in chosen])
            skipped = sorted(c.case_number for c in chosen if c.id in protected)
            taken = [c for c in chosen if c.id not in protected]
            checkout_row = OfflineCheckout(
                id=uuid.uuid4(),
                laptop_id=laptop_id,
                laptop_code=laptop_code,
                user_id=user.id,
                username=user.username,
                workstation=host[:120],
                checked_out_at=now,
                expires_at=expires,
            )
            cs.add(checkout_row)
            cs.flush()
            # Multi-row INSERTs: on a role connection each statement's policy check
            # evaluates the visible-case set once, so not one statement per case.
            for part in chunks([{"checkout_id": checkout_row.id, "case_id": c.id} for c in taken]):
                cs.execute(insert(_t(OfflineCheckoutCase)).values(list(part)))
            say(f"läser {len(taken)} ärenden")
            this_checkout = select(_t(OfflineCheckoutCase).c.case_id).where(
                _t(OfflineCheckoutCase).c.checkout_id == checkout_row.id
            )
            rows = case_rows(cs, this_checkout, user.id, stamp=True)
            stamps = split_stamps(rows)
            for c in taken:
                record(cs, actor, "offline_case_checked_out", case_id=c.id, laptop=laptop_code)
            record(
                cs,
                actor,
                "offline_checkout",
                checkout_id=checkout_row.id,
                laptop=laptop_code,
                cases=len(taken),
                skipped_protected=len(skipped),
                expires_at=expires.isoformat(),
            )
            say("skapar den krypterade filen")
            local = create_local(local_path, password, kdf=kdf)
            with local.begin() as ls:
                copy_reference_data(cs, ls)
                units = {user.unit_id} | {r["unit_id"] for r in rows["fs_case"].values()}
                ensure_people_and_units(cs, ls, referenced_users(rows) | {user.id}, units)
                # The owner's password hash lets the app log them in offline too. A user's
                # own role may not read hashes: the password the server just accepted is
                # hashed here instead (it is the one the file's key is derived from).
                ls.execute(
                    _t(User)
                    .update()
                    .where(_t(User).c.id == user.id)
                    .values(
                        password_hash=hash_password(password) if as_role else user.password_hash
                    )
                )
                say(f"kopierar {len(taken)} ärenden")
                insert_rows(ls, rows)
                write_base(ls, rows, stamps)
                # The copy itself is no change to synchronise.
                ls.execute(delete(_t(OfflineLocalChange)))
                ls.add(
                    OfflineLocalState(
                        id=1,
                        laptop_id=laptop_id,
                        laptop_code=laptop_code,
                        checkout_id=checkout_row.id,
                        user_id=user.id,
                        username=user.username,
                        checked_out_at=now,
                        expires_at=expires,
                        last_provisional=0,
                    )
                )
            result = CheckoutResult(
                path=local_path,
                checkout_id=checkout_row.id,
                laptop_code=laptop_code,
                case_numbers=sorted(c.case_number for c in taken),
                skipped_protected=skipped,
                expires_at=expires,
            )
    except BaseException:
        if local is not None:
            local.dispose()
        remove_local_files(local_path)
        raise
    assert local is not None
    local.dispose()
    return result


# --- revocation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutRow:
    id: uuid.UUID
    laptop_code: str
    username: str
    checked_out_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_synced_at: datetime | None
    returned_at: datetime | None
    cases: int


def list_checkouts(session: Session, *, active_only: bool = True) -> list[CheckoutRow]:
    stmt = select(OfflineCheckout).order_by(OfflineCheckout.checked_out_at)
    if active_only:
        stmt = stmt.where(OfflineCheckout.returned_at.is_(None))
    return [
        CheckoutRow(
            c.id,
            c.laptop_code,
            c.username,
            c.checked_out_at,
            c.expires_at,
            c.revoked_at,
            c.last_synced_at,
            c.returned_at,
            len(c.cases),
        )
        for c in session.scalars(stmt)
    ]


def find_checkout(session: Session, ident: str) -> OfflineCheckout:
    """A checkout by its id (or an unambiguous start of it) or by its laptop code (``L3F9A``)."""
    wanted = ident.strip()
    code = wanted[1:] if wanted[:1] in ("L", "l") and len(wanted) <= 17 else wanted
    rows = [
        c
        for c in session.scalars(
            select(OfflineCheckout).where(OfflineCheckout.returned_at.is_(None))
        )
        if str(c.id).startswith(wanted.lower()) or c.laptop_code == code.upper()
    ]
    if not rows:
        raise NotFoundError(f"ingen aktiv utcheckning {wanted!r}")
    if len(rows) > 1:
        raise ValidationError.single("utcheckning", f"{wanted!r} är inte entydig; ange hela id:t")
    return rows[0]


def revoke_checkout(session: Session, actor: Actor, checkout_id: uuid.UUID) -> OfflineCheckout:
    """An arbetsledare (of the user's unit) or the command line revokes a checkout.

    The laptop copy then refuses those cases and deletes them at its next sync.
    """
    row = session.get(OfflineCheckout, checkout_id, with_for_update=True)
    if row is None:
        raise NotFoundError("utcheckningen finns inte")
    if not actor.is_cli:
        owner = session.get(User, row.user_id)
        if actor.role != Role.TEAM_LEADER or actor.user_id is None or owner is None:
            raise PermissionDeniedError("bara en arbetsledare får återkalla en utcheckning")
        leader_unit = session.scalar(select(User.unit_id).where(User.id == actor.user_id))
        if leader_unit != owner.unit_id:
            raise PermissionDeniedError("utcheckningen hör till en annan enhet")
    if row.revoked_at is not None:
        raise ValidationError.single("utcheckning", "är redan återkallad")
    row.revoked_at = utcnow()
    row.revoked_by = actor.username
    record(session, actor, "offline_checkout_revoked", checkout_id=row.id, laptop=row.laptop_code)
    return row


def local_actor(state: OfflineLocalState, role: Role) -> Actor:
    return Actor(
        username=state.username,
        role=role,
        user_id=state.user_id,
        workstation=f"{socket.gethostname()} (L{state.laptop_code})"[:120],
    )


__all__ = [
    "DEFAULT_CHECKOUT_DAYS",
    "CheckoutExpiredError",
    "CheckoutResult",
    "FokusError",
    "KdfParams",
    "LocalKeyError",
    "LocalStatus",
    "checkout",
    "create_local",
    "derive_key",
    "local_status",
    "open_local",
    "revoke_checkout",
]
