"""A connection lost in the middle of a save (issue 6, item 8), on real PostgreSQL.

The backend serving the save is terminated with ``pg_terminate_backend`` from a
second (admin) connection while the save's transaction is open, after some of
its rows were already sent. The server rolls the transaction back; Fokus must
say so with one :class:`ConnectionLostError` (not a driver exception), leave
no row of it behind, and save the same thing when asked again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from models import AuditEvent, Case, ContactEntry
from models.codes import MemberRole
from services.audit import Actor, verify_chain
from services.cases import CaseChanges, CaseService
from services.db import Database, create_db_engine, is_connection_error, open_database
from services.errors import ConnectionLostError, DatabaseUnavailableError, FokusError
from services.journal import JournalService, NoteInput
from services.register import RegisterService
from services.search import RegisterFilter
from tests.factories import KARIN, make_case

pytestmark = pytest.mark.postgres

NOTE = NoteInput(datetime(2025, 3, 4, 9, tzinfo=UTC), "fk", "phone", "Ansökan skickad")


class Killer:
    """Terminates the backend of the connection that runs a matching statement.

    ``arm(after)``: once a statement matching ``after`` has run in this engine,
    the next statement's backend is terminated (from an admin connection) just
    before that statement is sent: the transaction is open and has written rows.
    """

    def __init__(self, db: Database, admin_url: str) -> None:
        self._admin = admin_url
        self._after: re.Pattern[str] | None = None
        self._seen = False
        self.killed: list[int] = []
        self.statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._before)

    def arm(self, after: str) -> None:
        self._after = re.compile(after, re.IGNORECASE)
        self._seen = False

    def _before(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)
        if self._after is None:
            return
        if not self._seen:
            self._seen = bool(self._after.match(statement.strip()))
            return
        self._after = None
        pid = conn.connection.driver_connection.info.backend_pid
        with psycopg.connect(self._admin, autocommit=True) as admin:
            row = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
        assert row == (True,), "the backend was not terminated"
        self.killed.append(pid)


def _admin(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = open_database(pg_url)
    yield database
    database.dispose()


def _unit(db: Database) -> uuid.UUID:
    from services.users import get_or_create_unit

    with db.begin() as s:
        return get_or_create_unit(s, Actor.cli(), "Försörjningsstöd Södertälje").id


def _count(db: Database, what: Any, *where: Any) -> int:
    with db.begin() as s:
        return int(s.scalar(select(func.count()).select_from(what).where(*where)) or 0)


def test_a_note_save_killed_mid_transaction_writes_nothing_and_can_be_saved_again(
    db: Database, pg_url: str
) -> None:
    actor = Actor.cli()
    ref = make_case(CaseService(db=db, actor=actor), _unit(db), (MemberRole.APPLICANT, KARIN))
    journal = JournalService(db=db, actor=actor)
    killer = Killer(db, _admin(pg_url))
    events_before = _count(db, AuditEvent)

    killer.arm(after=r"INSERT INTO contact_entry")  # the note row is sent; then the line drops
    with pytest.raises(ConnectionLostError) as err:
        journal.add_note(ref.id, NOTE)
    assert killer.killed, "the save never reached the point where the backend is killed"
    assert isinstance(err.value, DatabaseUnavailableError) and isinstance(err.value, FokusError)
    assert err.value.message.startswith("anslutningen till databasservern bröts; inget sparades")
    assert "\n" not in err.value.message
    assert is_connection_error(err.value.__cause__)  # type: ignore[arg-type]
    # Nothing of the transaction is left: no note, no audit event, the chain intact.
    assert _count(db, ContactEntry, ContactEntry.case_id == ref.id) == 0
    assert _count(db, AuditEvent) == events_before
    with db.begin() as s:
        assert verify_chain(s).ok

    # The server is back (it never left: only that backend died): the same save works,
    # on a fresh connection (the dead one was discarded from the pool).
    saved = journal.add_note(ref.id, NOTE)
    assert _count(db, ContactEntry, ContactEntry.case_id == ref.id) == 1
    assert saved.text == "Ansökan skickad"
    with db.begin() as s:
        assert verify_chain(s).ok


def test_a_case_edit_killed_after_its_update_keeps_the_old_version(
    db: Database, pg_url: str
) -> None:
    actor = Actor.cli()
    service = CaseService(db=db, actor=actor)
    ref = make_case(service, _unit(db), (MemberRole.APPLICANT, KARIN), address="Storgatan 1")
    killer = Killer(db, _admin(pg_url))

    killer.arm(after=r"UPDATE fs_case")  # the new version is written, the audit event not yet
    with pytest.raises(ConnectionLostError):
        service.update_case(ref.id, ref.version, CaseChanges(address="Kvarngatan 3"))
    assert killer.killed
    with db.begin() as s:
        case = s.get(Case, ref.id)
        assert case is not None and (case.address, case.version) == ("Storgatan 1", ref.version)

    # The form still holds the edit and its base version: saving again succeeds.
    again = service.update_case(ref.id, ref.version, CaseChanges(address="Kvarngatan 3"))
    assert again.version == ref.version + 1
    with db.begin() as s:
        assert s.get(Case, ref.id).address == "Kvarngatan 3"  # type: ignore[union-attr]


def test_an_unreachable_server_is_a_connection_error_not_a_driver_exception(pg_url: str) -> None:
    # Nothing listens on port 1: the same as a server that is down or a cable pulled out.
    url = make_url(pg_url).set(port=1).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    db = Database(engine=engine, sessions=sessionmaker(engine), url=url)
    try:
        with pytest.raises(ConnectionLostError, match="inget sparades"):
            CaseService(db=db, actor=Actor.cli()).count()
        with pytest.raises(ConnectionLostError, match=r"databasen kan inte nås \(postgresql"):
            db.ping()
        with pytest.raises(ConnectionLostError):  # the register's reads (Database.read) too
            RegisterService(db=db, actor=Actor.cli()).window(RegisterFilter())
    finally:
        db.dispose()


def test_statement_errors_are_not_taken_for_connection_errors(db: Database) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    with pytest.raises(ProgrammingError) as err, db.begin() as s:
        s.execute(text("SELECT * FROM no_such_table"))
    assert not is_connection_error(err.value)
    db.ping()  # and the server is there


def test_a_refused_reconnect_is_one_line_too(pg_url: str) -> None:
    # The account's role is gone (or its login disabled) while the app runs: the next
    # connection is refused by the server, not lost. One line, not a driver exception.
    url = make_url(pg_url).set(username=f"fokus_u_gone{uuid.uuid4().hex[:6]}")
    engine = create_db_engine(url.render_as_string(hide_password=False))
    db = Database(engine=engine, sessions=sessionmaker(engine), url=str(url))
    try:
        with pytest.raises(DatabaseUnavailableError) as err:
            CaseService(db=db, actor=Actor.cli()).count()
        assert not isinstance(err.value, ConnectionLostError)
        assert err.value.message.startswith("inloggningen till databasen misslyckades")
        with pytest.raises(DatabaseUnavailableError) as err:
            RegisterService(db=db, actor=Actor.cli()).window(RegisterFilter())
        assert not isinstance(err.value, ConnectionLostError)
    finally:
        db.dispose()


def test_fokus_connections_set_their_planner_options(pg_url: str) -> None:
    """Every Fokus connection, whichever role it logs in as and whatever the server's
    defaults: no JIT, a custom plan for each statement's values, no parallel workers
    (each measured at 100,000 cases, docs/performance.md)."""
    from sqlalchemy import text

    db = open_database(pg_url)
    try:
        with db.begin() as s:
            rows = s.execute(
                text(
                    "SELECT name, setting, source FROM pg_settings WHERE name IN "
                    "('jit', 'plan_cache_mode', 'max_parallel_workers_per_gather')"
                )
            )
            assert {tuple(r) for r in rows} == {
                ("jit", "off", "client"),
                ("plan_cache_mode", "force_custom_plan", "client"),
                ("max_parallel_workers_per_gather", "0", "client"),
            }
            assert s.execute(text("SHOW application_name")).scalar() == "fokus"
    finally:
        db.dispose()
