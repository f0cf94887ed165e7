"""The hash-chained audit log on SQLite and PostgreSQL: verify, tamper, concurrency, review.

Tampering needs the insert-only guard out of the way, as an attacker with
the database owner's rights would: SQLite drops the trigger in the test's
connection, PostgreSQL disables the table's triggers as superuser.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.exc import IntegrityError

from models import AuditEvent
from models.audit import GENESIS_HASH, AuditChainHead
from models.codes import MemberRole, Role
from services.audit import (
    AUDIT_CASE_REVIEWED,
    AUDIT_EXPORTED,
    CSV_HEADER,
    LOCAL_TZ,
    Actor,
    case_log,
    export_period_csv,
    head,
    record,
    record_search,
    verify_chain,
)
from services.cases import CaseService
from services.db import Database, create_db_engine, downgrade, open_database, upgrade
from services.errors import PermissionDeniedError
from services.users import UserInput, create_user_in, get_or_create_unit
from tests.factories import BENGT, KARIN, MARIE, make_case
from tests.test_cli import fokus

A, C = MemberRole.APPLICANT, MemberRole.CO_APPLICANT
HEX64 = re.compile(r"[0-9a-f]{64}")
DIGIT_UUID = uuid.UUID("12345678-1234-4234-8234-123456789012")


def _record(db: Database, actor: Actor, n: int = 1, **detail: object) -> None:
    with db.begin() as s:
        for i in range(n):
            record(s, actor, "test_event", i=i, **detail)


def _chain(db: Database) -> list[tuple[int, int | None]]:
    """(id, chain_seq) of every event, in id order."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(AuditEvent.id, AuditEvent.chain_seq).order_by(AuditEvent.id))
        return [(r[0], r[1]) for r in rows]


def _verify(db: Database, expected_head: str | None = None):  # type: ignore[no-untyped-def]
    with db.begin() as s:
        return verify_chain(s, expected_head=expected_head)


@contextmanager
def _unguarded(db: Database) -> Iterator[Connection]:
    """A connection that may UPDATE and DELETE audit events (the attacker's)."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql("DROP TRIGGER trg_audit_event_no_update")
            conn.exec_driver_sql("DROP TRIGGER trg_audit_event_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER ALL")
        yield conn


def _rehash(conn: Connection, event_id: int) -> None:
    """Recompute one event's hash after changing it, as a careful attacker would."""
    from models.audit import event_hash

    r = conn.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id)).one()
    digest = event_hash(
        chain_seq=r.chain_seq,
        event_id=r.id,
        event_uuid=r.event_uuid,
        occurred_at=r.occurred_at,
        actor=r.actor,
        user_id=r.user_id,
        workstation=r.workstation,
        action=r.action,
        case_id=r.case_id,
        detail=r.detail,
        chain_prev=r.chain_prev,
    )
    conn.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(chain_hash=digest))


# --- the chain -----------------------------------------------------------------------------


def test_intact_chain_verifies_with_gap_free_positions(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    make_case(CaseService(db=db, actor=actor), unit_id, (A, KARIN), (C, BENGT))
    _record(db, actor, 3)
    chain = _chain(db)
    assert len(chain) >= 5  # unit, case, members and the three above
    assert [seq for _, seq in chain] == list(range(1, len(chain) + 1))
    result = _verify(db)
    assert result.ok, result.message
    assert result.checked == len(chain)
    assert result.message == f"loggen är hel: {len(chain)} händelser"


def test_a_large_transaction_is_chained_in_one_piece(db: Database, actor: Actor) -> None:
    _record(db, actor)
    _record(db, actor, 1203)  # more than one multi-row INSERT on PostgreSQL
    _record(db, actor)
    chain = _chain(db)
    assert [seq for _, seq in chain] == list(range(1, 1206))
    assert _verify(db).checked == 1205


def test_head_changes_with_each_event_and_old_heads_stay_in_the_chain(
    db: Database, actor: Actor
) -> None:
    with db.begin() as s:
        assert head(s) == GENESIS_HASH
    _record(db, actor)
    with db.begin() as s:
        first = head(s)
    _record(db, actor)
    with db.begin() as s:
        second = head(s)
    assert HEX64.fullmatch(first) and HEX64.fullmatch(second) and first != second
    assert _verify(db, first).ok
    assert _verify(db, second).ok
    bogus = _verify(db, "f" * 64)
    assert not bogus.ok and "skrivits om" in bogus.message


def test_altered_event_is_named(db: Database, actor: Actor) -> None:
    _record(db, actor, 5)
    victim = _chain(db)[2][0]
    with _unguarded(db) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == victim).values(actor="någon-annan"))
    result = _verify(db)
    assert not result.ok
    assert result.message == f"händelse {victim} har ändrats"
    assert result.event_id == victim
    assert result.checked == 2


def test_altered_and_rehashed_event_is_still_named(db: Database, actor: Actor) -> None:
    _record(db, actor, 5)
    ids = [i for i, _ in _chain(db)]
    with _unguarded(db) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(detail='{"i":9}'))
        _rehash(conn, ids[1])
        conn.execute(update(AuditEvent).where(AuditEvent.id == ids[4]).values(workstation="x"))
        _rehash(conn, ids[4])
    assert _verify(db).message == f"händelse {ids[1]} har ändrats"


def test_rehashed_last_event_is_caught_by_the_head_row(db: Database, actor: Actor) -> None:
    _record(db, actor, 3)
    last = _chain(db)[-1][0]
    with _unguarded(db) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == last).values(action="login_success"))
        _rehash(conn, last)
    assert _verify(db).message == f"händelse {last} har ändrats"


@pytest.mark.parametrize("where", ["middle", "first", "last"])
def test_removed_event_names_the_gap(db: Database, actor: Actor, where: str) -> None:
    _record(db, actor, 5)
    ids = [i for i, _ in _chain(db)]
    victim = {"middle": ids[2], "first": ids[0], "last": ids[-1]}[where]
    with _unguarded(db) as conn:
        conn.execute(AuditEvent.__table__.delete().where(AuditEvent.id == victim))
    result = _verify(db)
    assert not result.ok
    expected = {
        "middle": f"händelse efter {ids[1]} saknas",
        "first": "den första händelsen saknas",
        "last": f"händelse efter {ids[-2]} saknas",
    }[where]
    assert result.message == expected


def test_row_inserted_behind_fokus_is_reported(db: Database, actor: Actor) -> None:
    _record(db, actor, 2)
    with db.engine.begin() as conn:  # INSERT is allowed: the guard only stops UPDATE/DELETE
        conn.execute(
            AuditEvent.__table__.insert().values(
                event_uuid=uuid.uuid4(),
                occurred_at=datetime.now(UTC),
                actor="smygare",
                workstation="w",
                action="case_opened",
                detail="{}",
            )
        )
    loose = _chain(db)[-1][0]
    result = _verify(db)
    assert result.message == f"händelse {loose} saknar plats i kedjan (skrevs inte av Fokus)"
    _record(db, actor)  # Fokus keeps chaining around it
    assert _verify(db).event_id == loose


def test_rolled_back_work_leaves_no_hole_in_the_chain(db: Database, actor: Actor) -> None:
    _record(db, actor)
    with pytest.raises(RuntimeError), db.begin() as s:
        record(s, actor, "never_written")
        raise RuntimeError("the user action failed")
    # A commit that fails after taking ids and chain positions (duplicate event_uuid):
    with db.begin() as s:
        existing = s.scalars(select(AuditEvent.event_uuid)).first()
    with pytest.raises(IntegrityError), db.begin() as s:
        record(s, actor, "never_written").event_uuid = existing
    if not db.is_sqlite:  # a sequence number burnt by a rolled-back INSERT
        with db.engine.connect() as conn:
            conn.execute(text("SELECT nextval(pg_get_serial_sequence('audit_event', 'id'))"))
            conn.rollback()
    _record(db, actor, 2)
    chain = _chain(db)
    assert [seq for _, seq in chain] == [1, 2, 3]
    if not db.is_sqlite:
        assert chain[1][0] - chain[0][0] > 1  # the ids have a gap, the chain has none
    with db.begin() as s:
        actions = s.scalars(select(AuditEvent.action)).all()
    assert "never_written" not in actions
    assert _verify(db).ok


def test_savepoints_keep_or_drop_their_events(db: Database, actor: Actor) -> None:
    with db.begin() as s:
        record(s, actor, "outer")
        with s.begin_nested():
            record(s, actor, "kept")
        try:
            with s.begin_nested():
                record(s, actor, "dropped")
                raise ValueError
        except ValueError:
            pass
    with db.begin() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.chain_seq)))
    assert actions == ["outer", "kept"]
    assert _verify(db).ok


@pytest.mark.postgres
def test_concurrent_writers_leave_a_valid_gap_free_chain(pg_url: str, actor: Actor) -> None:
    db = open_database(pg_url)
    threads, per_thread = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                try:
                    with db.begin() as s:
                        record(s, actor, "opened", worker=n, i=i)
                        if i % 2:
                            record(s, actor, "edited", worker=n, i=i)
                        if i % 5 == 4:
                            raise KeyError("rolled back")
                except KeyError:
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    try:
        assert errors == []
        chain = _chain(db)
        kept_per_thread = sum(1 + (i % 2) for i in range(per_thread) if i % 5 != 4)
        assert len(chain) == threads * kept_per_thread
        by_seq = sorted(chain, key=lambda r: r[1] or 0)
        assert [seq for _, seq in by_seq] == list(range(1, len(chain) + 1))
        assert [i for i, _ in by_seq] == sorted(i for i, _ in chain)  # ids follow the chain
        result = _verify(db)
        assert result.ok, result.message
        assert result.checked == len(chain)
        with db.begin() as s:
            assert s.get(AuditChainHead, 1).chain_seq == len(chain)  # type: ignore[union-attr]
    finally:
        db.dispose()


# --- the migration ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return str(request.getfixturevalue("pg_empty_url"))


def test_migration_chains_existing_events_and_keeps_the_guard(empty_url: str) -> None:
    engine = create_db_engine(empty_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            for i in range(5):
                conn.execute(
                    text(
                        "INSERT INTO audit_event (event_uuid, occurred_at, actor, workstation,"
                        " action, detail) VALUES (:u, :t, 'cli:x', 'ws', 'old', :d)"
                    ),
                    {
                        "u": uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4(),
                        "t": datetime(2026, 1, 1, 12, 0, i, 123456),
                        "d": json.dumps({"i": i}),
                    },
                )
        upgrade(engine)
    finally:
        engine.dispose()
    db = open_database(empty_url)
    try:
        result = _verify(db)
        assert result.ok and result.checked == 5, result.message
        _record(db, Actor.cli())
        assert _verify(db).checked == 6
        for sql in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(Exception, match="skrivskyddad"), db.engine.begin() as conn:
                conn.execute(text(sql))
    finally:
        db.dispose()
    engine = create_db_engine(empty_url)
    try:
        downgrade(engine, "0002")  # SQLite rebuilds the table here: the guard must come back
        with pytest.raises(Exception, match="skrivskyddad"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_event"))
    finally:
        engine.dispose()


# --- review, export and permissions ----------------------------------------------------------


def _user(db: Database, username: str, role: Role, unit: str) -> Actor:
    with db.begin() as s:
        user = create_user_in(
            s,
            Actor.cli(),
            UserInput(username=username, full_name="Lena Lindqvist", role=role, unit_name=unit),
        )
        return Actor(username=user.username, role=role, user_id=user.id, workstation="ws-7")


def test_case_log_for_the_units_arbetsledare_only(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    unit = "Försörjningsstöd Södertälje"
    ref = make_case(CaseService(db=db, actor=actor), unit_id, (A, KARIN))
    leader = _user(db, "lena", Role.TEAM_LEADER, unit)
    with db.begin() as s:
        rows = case_log(s, leader, ref.id)
    assert [r.action for r in rows][:1] == ["case_created"]
    assert {r.case_number for r in rows} == {ref.case_number}
    assert all(r.action_label != r.action for r in rows)
    with db.begin() as s:
        reviewed = s.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_CASE_REVIEWED))
        event = reviewed.one()
    assert (event.actor, event.case_id, json.loads(event.detail)) == (
        "lena",
        ref.id,
        {"rows": len(rows)},
    )
    with db.begin() as s:
        assert len(case_log(s, Actor.cli(), ref.id)) == len(rows) + 1

    refused = [
        _user(db, "kalle", Role.CASEWORKER, unit),
        _user(db, "admin2", Role.ADMIN, unit),  # administratörer see no case content
        _user(db, "olle", Role.TEAM_LEADER, "Försörjningsstöd Norr"),
    ]
    for who in refused:
        with pytest.raises(PermissionDeniedError), db.begin() as s:
            case_log(s, who, ref.id)
    for who in refused[:2]:
        with pytest.raises(PermissionDeniedError), db.begin() as s:
            export_period_csv(s, who, date(2020, 1, 1), date(2030, 1, 1), Path("x.csv"))
    assert not Path("x.csv").exists()
    with db.begin() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == AUDIT_CASE_REVIEWED)) == 2


def test_period_export_is_swedish_csv_without_personal_data(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    cases = CaseService(db=db, actor=actor)
    ref = make_case(cases, unit_id, (A, KARIN), (C, BENGT))
    with db.begin() as s:
        record(s, actor, "case_search", text="Nyström 197802143524", rows=1)  # a careless caller
        record_search(s, actor, rows=1, filters=["text", "status"])
        record(s, actor, "note_signed", case_id=ref.id, note_id=DIGIT_UUID, note="19780214-3524")
    today = datetime.now(LOCAL_TZ).date()
    out = tmp_path / "logg.csv"
    with db.begin() as s:
        count = export_period_csv(s, actor, today, today, out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    content = raw.decode("utf-8-sig")
    lines = content.splitlines()
    assert lines[0] == ";".join(CSV_HEADER)
    assert lines[0] == "löpnummer;tid;användare;arbetsstation;åtgärd;ärende;detaljer"
    assert len(lines) == count + 1 and count >= 4
    first = lines[1].split(";")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first[1])
    assert any(ref.case_number in line and "ärende skapat" in line for line in lines)
    for secret in ("Karin", "Nyström", "Bengt", "Åkesson", "19780214", "3524", "5714"):
        assert secret not in content, secret
    assert content.count("[dolt]") == 1  # the personnummer-shaped value; the text key is dropped
    assert str(DIGIT_UUID) in content  # a UUID made of digits is not mistaken for one
    assert '"filters"' in content or "filters" in content
    with db.begin() as s:
        exported = s.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_EXPORTED)).one()
    assert json.loads(exported.detail) == {
        "period_from": today.isoformat(),
        "period_to": today.isoformat(),
        "rows": count,
    }
    yesterday = today - timedelta(days=1)
    with db.begin() as s:
        assert export_period_csv(s, actor, yesterday, yesterday, tmp_path / "tom.csv") == 0
    assert (tmp_path / "tom.csv").read_text(encoding="utf-8-sig").count("\n") == 1


def test_leader_export_covers_only_the_unit(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    cases = CaseService(db=db, actor=actor)
    ours = make_case(cases, unit_id, (A, KARIN))
    with db.begin() as s:
        north = get_or_create_unit(s, actor, "Försörjningsstöd Norr").id
    theirs = make_case(cases, north, (A, MARIE))
    leader = _user(db, "lena", Role.TEAM_LEADER, "Försörjningsstöd Södertälje")
    today = datetime.now(LOCAL_TZ).date()
    with db.begin() as s:
        export_period_csv(s, leader, today, today, tmp_path / "enhet.csv")
    content = (tmp_path / "enhet.csv").read_text(encoding="utf-8-sig")
    assert ours.case_number in content
    assert theirs.case_number not in content


# --- the command line ------------------------------------------------------------------------


def test_cli_verify_head_and_export(sqlite_url: str, tmp_path: Path) -> None:
    db = open_database(sqlite_url)
    _record(db, Actor.cli(), 3)
    db.dispose()

    ok = fokus("audit", "verify", "--url", sqlite_url)
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout.startswith("loggen är hel: 3 händelser")
    shown = fokus("audit", "head", "--url", sqlite_url)
    assert shown.returncode == 0 and HEX64.fullmatch(shown.stdout.strip())
    assert (
        fokus("audit", "verify", "--head", shown.stdout.strip(), "--url", sqlite_url).returncode
        == 0
    )

    out = tmp_path / "granskning.csv"
    today = datetime.now(LOCAL_TZ).date().isoformat()
    exp = fokus(
        "audit", "export", "--from", today, "--to", today, "--out", str(out), "--url", sqlite_url
    )
    assert exp.returncode == 0, exp.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "3 händelser" in exp.stdout
    after = fokus("audit", "head", "--url", sqlite_url).stdout.strip()
    assert after != shown.stdout.strip()  # the export was itself logged

    db = open_database(sqlite_url)
    victim = _chain(db)[1][0]
    with _unguarded(db) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == victim).values(detail="{}"))
    db.dispose()
    bad = fokus("audit", "verify", "--url", sqlite_url)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr == f"fokus: händelse {victim} har ändrats\n"

    backwards = fokus(
        "audit",
        "export",
        "--from",
        today,
        "--to",
        "2000-01-01",
        "--out",
        str(out),
        "--url",
        sqlite_url,
    )
    assert backwards.returncode == 1 and "Traceback" not in backwards.stderr


@pytest.mark.postgres
def test_cli_verify_on_postgres_names_a_removed_event(pg_url: str) -> None:
    db = open_database(pg_url)
    _record(db, Actor.cli(), 4)
    ids = [i for i, _ in _chain(db)]
    assert fokus("audit", "verify", "--url", pg_url).returncode == 0
    with _unguarded(db) as conn:
        conn.execute(AuditEvent.__table__.delete().where(AuditEvent.id == ids[2]))
    db.dispose()
    bad = fokus("audit", "verify", "--url", pg_url)
    assert (bad.returncode, bad.stderr) == (1, f"fokus: händelse efter {ids[1]} saknas\n")


def test_cli_unreachable_database_exits_3() -> None:
    down = fokus("audit", "verify", "--url", "postgresql://postgres@127.0.0.1:1/fokus")
    assert down.returncode == 3
    assert down.stderr.startswith("fokus: ") and down.stderr.count("\n") == 1
    assert "Traceback" not in down.stderr
