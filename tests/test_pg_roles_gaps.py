"""PostgreSQL as each user's own role: persons outside one's scope, and offline checkouts.

* A caseworker types the personnummer of someone who belongs to another
  caseworker's case. Row-level security hides that person's row, so before
  ``fokus_person_brief``/``fokus_person_open_case`` the service saw nobody,
  inserted a second person and hit the unique key. Now: an open case elsewhere
  is named (unit and caseworker, never content) and refused as the domain
  rule says; a person whose cases are closed is added to the new case as the
  same row, which then becomes visible through it — and only through it.
* Offline checkouts (migration 0006): a caseworker records and syncs their own
  checkout of cases they may open, the arbetsledare of the unit sees and
  revokes it; nobody deletes a checkout, unlists a case or undoes a revocation.
  Shown by direct SQL as each role, as psql would do it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import text

from models.codes import MemberRole, Outcome, Protection, Role
from services import pg_roles
from services.access import OutsideScopeError
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import (
    CaseEditService,
    CaseInput,
    CaseService,
    MemberInput,
    OutcomeInput,
)
from services.db import Database
from services.errors import PermissionDeniedError, ValidationError
from services.offline import revoke_checkout
from services.personal_id import parse_personal_id
from services.persons import PersonInput
from tests import test_pg_roles
from tests.factories import BENGT, make_case
from tests.test_pg_roles import Server

pytestmark = pytest.mark.postgres

server = test_pg_roles.server  # the fixture: four users, a case each for anna and erik

SIV = PersonInput(
    first_name="Siv",
    last_name="Lund",
    personal_id="19710315-1580",
    protection=Protection.PROTECTED_REGISTRATION,
)


def _digits(p: PersonInput) -> str:
    assert p.personal_id is not None
    return parse_personal_id(p.personal_id).digits


def _me(db: Database, station: str) -> Actor:
    with db.begin() as s:
        return pg_roles.connected_user(s, station).actor  # type: ignore[no-any-return]


def _unit_id(server: Server) -> uuid.UUID:
    with server.owner.begin() as s:
        return s.scalar(text("SELECT id FROM unit WHERE name = 'Södertälje'"))  # type: ignore[no-any-return]


def _version(server: Server, case_id: uuid.UUID) -> int:
    with server.owner.begin() as s:
        return int(s.scalar(text("SELECT version FROM fs_case WHERE id = :c"), {"c": case_id}))


def _new_case(db: Database, me: Actor, unit_id: uuid.UUID, person: PersonInput) -> uuid.UUID:
    return (
        CaseService(db=db, actor=me)
        .create_case(
            CaseInput(
                unit_id=unit_id,
                opened_on=date(2025, 1, 7),
                caseworker_id=me.user_id,
                members=[MemberInput(role=MemberRole.APPLICANT, person=person)],
            )
        )
        .id
    )


def test_a_person_in_another_caseworkers_open_case_is_named_not_duplicated(
    server: Server,
) -> None:
    db = server.fokus("anna")
    try:
        me = _me(db, "ws-anna")
        # Bengt belongs to erik's open case: anna cannot read his row ...
        with server.psql("anna") as conn:
            found = conn.execute(
                "SELECT count(*) FROM person WHERE personal_id = %s", (_digits(BENGT),)
            ).fetchone()
            assert found == (0,)
        # ... but the new-case form learns who has him: unit and caseworker, not content.
        holder = CaseEditService(db=db, actor=me).open_case_holder(BENGT.personal_id or "")
        assert holder is not None and holder.outside_scope
        assert holder.case_id == server.cases["c_erik"]
        assert holder.unit_name == "Södertälje" and holder.caseworker_name == "Erik"
        with pytest.raises(OutsideScopeError):  # opening it follows the access rules
            CaseViewService(db=db, actor=me).load(holder.case_id)
        # Creating a case with him is refused by the rule, by name of the field, not by the
        # unique key; nothing is written.
        with pytest.raises(ValidationError) as err:
            _new_case(db, me, _unit_id(server), BENGT)
        assert err.value.errors[0].field == "personnummer"
        assert f"ingår redan i ett öppet ärende ({holder.case_number})" in err.value.message
        with server.owner.begin() as s:
            persons = s.scalar(
                text("SELECT count(*) FROM person WHERE personal_id = :d"), {"d": _digits(BENGT)}
            )
            cases = s.scalar(text("SELECT count(*) FROM fs_case"))
            looked_up = s.scalar(
                text(
                    "SELECT count(*) FROM audit_event WHERE action = 'open_case_holder_looked_up' "
                    "AND case_id = :c AND user_id = :u"
                ),
                {"c": server.cases["c_erik"], "u": me.user_id},
            )
        assert (persons, cases, looked_up) == (1, 2, 1)
    finally:
        db.dispose()


def test_a_person_whose_cases_are_closed_joins_the_new_case_as_the_same_row(
    server: Server,
) -> None:
    owner = CaseService(db=server.owner, actor=Actor.cli())
    erik_case = server.cases["c_erik"]
    owner.close(
        erik_case, _version(server, erik_case), date(2025, 1, 2), OutcomeInput(Outcome.WORK)
    )
    db = server.fokus("anna")
    try:
        me = _me(db, "ws-anna")
        assert CaseEditService(db=db, actor=me).open_case_holder(BENGT.personal_id or "") is None
        case_id = _new_case(db, me, _unit_id(server), BENGT)
        detail = CaseViewService(db=db, actor=me).load(case_id)
        assert [m.name for m in detail.members] == ["Bengt Åkesson"]
    finally:
        db.dispose()
    with server.owner.begin() as s:
        rows = s.execute(
            text("SELECT id FROM person WHERE personal_id = :d"), {"d": _digits(BENGT)}
        ).all()
        members = s.scalars(
            text("SELECT case_id FROM household_member WHERE person_id = :p"), {"p": rows[0][0]}
        ).all()
    assert len(rows) == 1  # one person, now in two households
    assert set(members) == {erik_case, case_id}
    with server.psql("anna") as conn:  # visible through anna's case; erik's case still not
        assert conn.execute(
            "SELECT count(*) FROM person WHERE personal_id = %s", (_digits(BENGT),)
        ).fetchone() == (1,)
        cases = {r[0] for r in conn.execute("SELECT id FROM fs_case")}
        assert erik_case not in cases and case_id in cases


def test_a_protected_person_from_a_closed_case_keeps_the_adding_caseworker_on_the_case(
    server: Server,
) -> None:
    owner = CaseService(db=server.owner, actor=Actor.cli())
    old = make_case(
        owner, _unit_id(server), (MemberRole.APPLICANT, SIV),
        caseworker_id=server.staff["erik"].user_id,
    )  # fmt: skip
    owner.close(old.id, _version(server, old.id), date(2025, 1, 2), OutcomeInput(Outcome.WORK))
    db = server.fokus("anna")
    try:
        me = _me(db, "ws-anna")
        with server.psql("anna") as conn:  # the definer function: id, birth date, flag only
            rows = conn.execute(
                "SELECT * FROM fokus_person_brief(NULL, %s)", (_digits(SIV),)
            ).fetchall()
            assert len(rows) == 1 and len(rows[0]) == 3
            assert rows[0][1] == date(1971, 3, 15) and rows[0][2] is True
        mine = server.cases["c_anna"]
        CaseService(db=db, actor=me).add_member(
            mine, _version(server, mine), MemberInput(role=MemberRole.OTHER_ADULT, person=SIV)
        )
        detail = CaseViewService(db=db, actor=me).load(mine)  # still hers: she is named
        assert {m.name for m in detail.members} == {"Karin Nyström", "Siv Lund"}
    finally:
        db.dispose()
    with server.owner.begin() as s:
        named = s.scalars(
            text("SELECT user_id FROM case_named_staff WHERE case_id = :c"), {"c": mine}
        ).all()
    assert server.staff["anna"].user_id in named
    with server.psql("erik") as conn:  # erik is not named on anna's case: he sees nothing new
        assert conn.execute("SELECT count(*) FROM fs_case WHERE id = %s", (mine,)).fetchone() == (
            0,
        )
    with server.psql("adam") as conn:  # the administrator learns nothing from the function
        assert conn.execute(
            "SELECT count(*) FROM fokus_person_brief(NULL, %s)", (_digits(SIV),)
        ).fetchone() == (0,)


# --- offline checkouts ---------------------------------------------------------------------------

INSERT_CHECKOUT = (
    "INSERT INTO offline_checkout (id, laptop_id, laptop_code, user_id, username, workstation,"
    " checked_out_at, expires_at) VALUES (%s, %s, 'AB12', %s, %s, 'laptop', now(), %s)"
)


def _checkout(conn: psycopg.Connection[tuple[object, ...]], server: Server, who: str) -> uuid.UUID:
    ident = uuid.uuid4()
    s = server.staff[who]
    expires = datetime.now(UTC) + timedelta(days=14)
    conn.execute(INSERT_CHECKOUT, (ident, uuid.uuid4(), s.user_id, s.username, expires))
    return ident


def test_offline_checkouts_as_each_role_in_sql(server: Server) -> None:
    anna_case, erik_case = server.cases["c_anna"], server.cases["c_erik"]
    with server.psql("anna") as anna, server.psql("erik") as erik:
        mine = _checkout(anna, server, "anna")
        anna.execute(
            "INSERT INTO offline_checkout_case (checkout_id, case_id) VALUES (%s, %s)",
            (mine, anna_case),
        )
        # Not in someone else's name, not a case she may not open, not onto erik's checkout.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            _checkout(anna, server, "erik")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            anna.execute(
                "INSERT INTO offline_checkout_case (checkout_id, case_id) VALUES (%s, %s)",
                (mine, erik_case),
            )
        his = _checkout(erik, server, "erik")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            anna.execute(
                "INSERT INTO offline_checkout_case (checkout_id, case_id) VALUES (%s, %s)",
                (his, anna_case),
            )
        # Each sees only their own checkout and its cases.
        assert [r[0] for r in anna.execute("SELECT id FROM offline_checkout")] == [mine]
        assert [r[0] for r in erik.execute("SELECT id FROM offline_checkout")] == [his]
        assert anna.execute("SELECT case_id FROM offline_checkout_case").fetchall() == [
            (anna_case,)
        ]
        assert erik.execute("SELECT count(*) FROM offline_checkout_case").fetchone() == (0,)
        # The sync's bookkeeping on one's own checkout: yes. Anything else: no.
        done = anna.execute(
            "UPDATE offline_checkout SET last_synced_at = now() WHERE id IN (%s, %s)", (mine, his)
        )
        assert done.rowcount == 1
        for sql in (
            "UPDATE offline_checkout SET revoked_at = NULL",
            "UPDATE offline_checkout SET expires_at = expires_at + interval '30 days'",
            "UPDATE offline_checkout SET user_id = user_id",
            "DELETE FROM offline_checkout",
            "DELETE FROM offline_checkout_case",
            "UPDATE offline_checkout_case SET case_id = case_id",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                anna.execute(sql)  # type: ignore[arg-type]
        # Returned only when it is over (revoked or expired): no hiding an active checkout.
        with pytest.raises(psycopg.errors.CheckViolation, match="återkallad eller har gått ut"):
            anna.execute("UPDATE offline_checkout SET returned_at = now() WHERE id = %s", (mine,))
        # The laptop-only tables are nobody's business on the central server.
        for table in ("offline_local_state", "offline_local_base", "offline_local_conflict"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                anna.execute(f"SELECT count(*) FROM {table}")  # type: ignore[arg-type]

    with server.psql("lena") as lena:  # the unit's arbetsledare: sees both, revokes
        assert {r[0] for r in lena.execute("SELECT id FROM offline_checkout")} == {mine, his}
        assert lena.execute("SELECT count(*) FROM offline_checkout_case").fetchone() == (1,)
        revoked = lena.execute(
            "UPDATE offline_checkout SET revoked_at = now(), revoked_by = 'lena' WHERE id = %s",
            (mine,),
        )
        assert revoked.rowcount == 1
        with pytest.raises(psycopg.errors.CheckViolation, match="kan inte återställas"):
            lena.execute("UPDATE offline_checkout SET revoked_at = NULL WHERE id = %s", (mine,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            lena.execute("DELETE FROM offline_checkout")
    with server.psql("anna") as anna:  # the next sync finds it revoked and returns it
        back = anna.execute(
            "UPDATE offline_checkout SET returned_at = now() WHERE id = %s", (mine,)
        )
        assert back.rowcount == 1
    with server.psql("adam") as adam, pytest.raises(psycopg.errors.InsufficientPrivilege):
        adam.execute("SELECT count(*) FROM offline_checkout")


def test_revoking_through_fokus_on_the_users_own_connections(server: Server) -> None:
    with server.psql("anna") as anna:
        mine = _checkout(anna, server, "anna")
    anna_db, lena_db = server.fokus("anna"), server.fokus("lena")
    try:
        anna_me, lena_me = _me(anna_db, "ws-anna"), _me(lena_db, "ws-lena")
        assert anna_me.role is Role.CASEWORKER
        with pytest.raises(PermissionDeniedError), anna_db.begin() as s:
            revoke_checkout(s, anna_me, mine)
        # Without the service's check the database still refuses the caseworker.
        with pytest.raises(Exception, match="permission denied"), anna_db.begin() as s:
            revoke_checkout(s, Actor.cli(), mine)
        with lena_db.begin() as s:
            row = revoke_checkout(s, lena_me, mine)
            assert row.revoked_by == lena_me.username
    finally:
        anna_db.dispose()
        lena_db.dispose()
    with server.owner.begin() as s:
        assert s.scalar(
            text("SELECT revoked_at IS NOT NULL FROM offline_checkout WHERE id = :i"), {"i": mine}
        )
