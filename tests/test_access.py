"""The access matrix through the services, as each role, on SQLite and PostgreSQL.

One fixture builds two units: Södertälje (arbetsledare lena; handläggare
anna, erik, bo) and Nykvarn (arbetsledare berit, handläggare olle), an
administrator adam, and five cases:

* ``c_anna`` (anna), ``c_erik`` (erik), ``c_free`` (no caseworker) in Södertälje;
* ``c_olle`` (olle) in Nykvarn;
* ``c_prot`` (anna) in Södertälje, with a member who has skyddad folkbokföring.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, CaseNamedStaff, EmergencyAccess, User
from models.codes import MemberRole, Protection, Role
from services import access
from services.access import AccessService, OutsideScopeError, Purpose
from services.audit import LOCAL_TZ, Actor
from services.case_view import CaseViewService
from services.cases import CaseInput, CaseService, MemberInput
from services.db import Database
from services.errors import NotFoundError, PermissionDeniedError, ValidationError
from services.journal import JournalService, NoteInput
from services.register import RegisterService
from services.search import RegisterFilter, search_cases
from services.users import UserInput, create_user_in
from tests.factories import ALI, BENGT, KARIN, MARIE, SAMORD, make_case

# The Swedish date, as the services use it: the machine's own date differs in the hour(s)
# around midnight (23:00-24:00 UTC in winter), where these tests used to fail.
TODAY = datetime.now(LOCAL_TZ).date()
REASON = "Klienten är på plats i receptionen och hennes handläggare är sjuk"


@dataclass
class World:
    db: Database
    users: dict[str, Actor]
    cases: dict[str, uuid.UUID]
    units: dict[str, uuid.UUID]

    def open(self, who: str, case: str) -> None:
        CaseViewService(db=self.db, actor=self.users[who]).load(self.cases[case])

    def listed(self, who: str) -> set[str]:
        by_id = {v: k for k, v in self.cases.items()}
        with self.db.begin() as s:
            rows = search_cases(s, RegisterFilter(), actor=self.users[who])
        return {by_id[r.id] for r in rows}

    def svc(self, who: str) -> AccessService:
        return AccessService(db=self.db, actor=self.users[who])


def _user(db: Database, cli: Actor, name: str, role: Role, unit: str) -> Actor:
    with db.begin() as s:
        user = create_user_in(
            s, cli, UserInput(username=name, full_name=name.title(), role=role, unit_name=unit)
        )
        return Actor(username=name, role=role, user_id=user.id, workstation="ws-1")


@pytest.fixture
def world(db: Database, actor: Actor) -> World:
    users = {
        "lena": _user(db, actor, "lena", Role.TEAM_LEADER, "Södertälje"),
        "anna": _user(db, actor, "anna", Role.CASEWORKER, "Södertälje"),
        "erik": _user(db, actor, "erik", Role.CASEWORKER, "Södertälje"),
        "bo": _user(db, actor, "bo", Role.CASEWORKER, "Södertälje"),
        "berit": _user(db, actor, "berit", Role.TEAM_LEADER, "Nykvarn"),
        "olle": _user(db, actor, "olle", Role.CASEWORKER, "Nykvarn"),
        "adam": _user(db, actor, "adam", Role.ADMIN, "Södertälje"),
    }
    with db.begin() as s:
        units = {
            "sodertalje": s.scalar(select(User.unit_id).where(User.username == "lena")),
            "nykvarn": s.scalar(select(User.unit_id).where(User.username == "berit")),
        }
    cli = CaseService(db=db, actor=actor)
    a = MemberRole.APPLICANT
    soder, nyk = units["sodertalje"], units["nykvarn"]
    protected = MemberInput(
        role=a,
        person=SAMORD.__class__(
            **{**SAMORD.__dict__, "protection": Protection.PROTECTED_REGISTRATION}
        ),
    )
    cases = {
        "c_anna": make_case(cli, soder, (a, KARIN), caseworker_id=users["anna"].user_id).id,
        "c_erik": make_case(cli, soder, (a, BENGT), caseworker_id=users["erik"].user_id).id,
        "c_free": make_case(cli, soder, (a, MARIE)).id,
        "c_olle": make_case(cli, nyk, (a, ALI), caseworker_id=users["olle"].user_id).id,
        "c_prot": cli.create_case(
            CaseInput(
                unit_id=soder,
                opened_on=date(2024, 5, 2),
                members=[protected],
                caseworker_id=users["anna"].user_id,
            )
        ).id,
    }
    return World(db, users, cases, units)  # type: ignore[arg-type]


def test_caseworker_sees_and_opens_only_their_own_cases(world: World) -> None:
    assert world.listed("anna") == {"c_anna", "c_prot"}  # named automatically as caseworker
    world.open("anna", "c_anna")
    world.open("anna", "c_prot")
    with pytest.raises(OutsideScopeError, match="inte behörighet till ärendet FS-") as info:
        world.open("anna", "c_erik")
    assert info.value.emergency_possible and not info.value.protected
    with pytest.raises(OutsideScopeError):
        world.open("anna", "c_olle")
    assert world.listed("bo") == set()
    assert world.listed("olle") == {"c_olle"}


def test_refused_writes_change_nothing(world: World) -> None:
    note = NoteInput(
        occurred_at=datetime(2024, 6, 1, 10, tzinfo=UTC),
        agency_code="psychiatry",
        method_code="phone",
        text="Ringde om sjukpenningen",
    )
    with pytest.raises(OutsideScopeError):
        JournalService(db=world.db, actor=world.users["anna"]).add_note(world.cases["c_erik"], note)
    assert JournalService(db=world.db, actor=world.users["erik"]).notes(world.cases["c_erik"]) == []
    JournalService(db=world.db, actor=world.users["anna"]).add_note(world.cases["c_anna"], note)
    with pytest.raises(OutsideScopeError):
        JournalService(db=world.db, actor=world.users["anna"]).notes(world.cases["c_erik"])


def test_team_leader_sees_the_whole_unit_but_protected_only_when_named(world: World) -> None:
    assert world.listed("lena") == {"c_anna", "c_erik", "c_free"}
    with pytest.raises(OutsideScopeError, match="skyddade personuppgifter") as info:
        world.open("lena", "c_prot")
    assert info.value.protected
    world.svc("lena").name_staff(world.cases["c_prot"], world.users["lena"].user_id)  # type: ignore[arg-type]
    world.open("lena", "c_prot")
    assert "c_prot" in world.listed("lena")
    assert world.svc("lena").named_staff(world.cases["c_prot"]) == ["anna", "lena"]
    assert world.listed("berit") == {"c_olle"}


def test_only_the_units_team_leader_assigns(world: World) -> None:
    cases_as = {
        n: CaseService(db=world.db, actor=world.users[n]) for n in ("lena", "anna", "berit")
    }
    bo = world.users["bo"].user_id
    with pytest.raises(PermissionDeniedError, match="bara arbetsledaren"):
        cases_as["anna"].assign(world.cases["c_free"], 1, bo)
    with pytest.raises(PermissionDeniedError, match="bara arbetsledaren"):
        cases_as["berit"].assign(world.cases["c_free"], 1, bo)
    cases_as["lena"].assign(world.cases["c_free"], 1, bo)
    assert world.listed("bo") == {"c_free"}


def test_administrator_has_no_case_content(world: World) -> None:
    assert world.listed("adam") == set()
    with pytest.raises(PermissionDeniedError, match="administratör har ingen åtkomst"):
        world.open("adam", "c_anna")
    with pytest.raises(PermissionDeniedError, match="administratör"):
        world.svc("adam").request_emergency_access(world.cases["c_anna"], REASON)


def test_stand_in_for_a_period_and_revoked(world: World) -> None:
    lena = world.svc("lena")
    erik, anna = world.users["erik"].user_id, world.users["anna"].user_id
    assert erik is not None and anna is not None
    with pytest.raises(PermissionDeniedError, match="arbetsledare"):
        world.svc("anna").grant_stand_in(erik, anna, TODAY, TODAY)
    with pytest.raises(ValidationError, match="till"):
        lena.grant_stand_in(erik, anna, TODAY, TODAY - timedelta(days=1))
    with pytest.raises(ValidationError, match="annan enhet"):
        lena.grant_stand_in(erik, world.users["olle"].user_id, TODAY, TODAY)  # type: ignore[arg-type]
    future = lena.grant_stand_in(erik, anna, TODAY + timedelta(days=1), TODAY + timedelta(days=5))
    assert "c_erik" not in world.listed("anna")
    grant = lena.grant_stand_in(erik, anna, TODAY - timedelta(days=2), TODAY + timedelta(days=5))
    assert world.listed("anna") == {"c_anna", "c_prot", "c_erik"}
    world.open("anna", "c_erik")
    assert access.CaseAccess(True, "ersättare", False) == world.svc("anna").case_access(
        world.cases["c_erik"]
    )
    kinds = {(g.kind, g.user, g.for_user) for g in lena.unit_grants(world.units["sodertalje"])}
    assert kinds == {("ersättare", "anna", "erik")}
    lena.revoke_stand_in(grant)
    lena.revoke_stand_in(future)
    assert "c_erik" not in world.listed("anna")
    with pytest.raises(OutsideScopeError):
        world.open("anna", "c_erik")


def test_case_share_for_a_period(world: World) -> None:
    lena = world.svc("lena")
    bo = world.users["bo"].user_id
    assert bo is not None
    expired = lena.share_case(
        world.cases["c_free"], bo, TODAY - timedelta(days=9), TODAY - timedelta(days=1)
    )
    assert expired and world.listed("bo") == set()
    share = lena.share_case(world.cases["c_free"], bo, TODAY, TODAY + timedelta(days=30))
    assert world.listed("bo") == {"c_free"}
    world.open("bo", "c_free")
    with pytest.raises(PermissionDeniedError, match="bara arbetsledaren"):
        world.svc("berit").share_case(world.cases["c_free"], bo, TODAY, TODAY)
    with pytest.raises(ValidationError, match="högst"):
        lena.share_case(world.cases["c_free"], bo, TODAY, TODAY + timedelta(days=400))
    lena.revoke_share(share)
    assert world.listed("bo") == set()


def test_protected_case_needs_naming_even_for_a_stand_in(world: World) -> None:
    lena = world.svc("lena")
    anna, erik = world.users["anna"].user_id, world.users["erik"].user_id
    assert anna is not None and erik is not None
    lena.grant_stand_in(anna, erik, TODAY, TODAY + timedelta(days=3))
    assert world.listed("erik") == {"c_erik", "c_anna"}
    with pytest.raises(OutsideScopeError, match="skyddade personuppgifter"):
        world.open("erik", "c_prot")
    lena.name_staff(world.cases["c_prot"], erik)
    world.open("erik", "c_prot")
    lena.unname_staff(world.cases["c_prot"], erik)
    with pytest.raises(OutsideScopeError):
        world.open("erik", "c_prot")


def test_a_protected_member_added_later_names_the_people_working_the_case(
    world: World, actor: Actor
) -> None:
    from services.persons import PersonInput

    cases = CaseService(db=world.db, actor=world.users["anna"])
    hidden = PersonInput(
        first_name="Sara",
        last_name="Lind",
        personal_id="19900101-0017",
        protection=Protection.CONFIDENTIALITY_MARKING,
    )
    cases.add_member(
        world.cases["c_anna"], 1, MemberInput(role=MemberRole.CO_APPLICANT, person=hidden)
    )
    world.open("anna", "c_anna")  # anna still works it: she was named
    assert "c_anna" not in world.listed("lena")
    with world.db.begin() as s:
        named = s.scalars(
            select(CaseNamedStaff.user_id).where(CaseNamedStaff.case_id == world.cases["c_anna"])
        ).all()
    assert named == [world.users["anna"].user_id]


def test_caseworker_creates_cases_only_for_themself_in_their_unit(world: World) -> None:
    from services.persons import PersonInput

    anna = world.users["anna"]
    cases = CaseService(db=world.db, actor=anna)
    person = PersonInput(first_name="Nils", last_name="Berg", personal_id="19850505-0016")
    with pytest.raises(PermissionDeniedError, match="på sig själv"):
        make_case(cases, world.units["sodertalje"], (MemberRole.APPLICANT, person))
    with pytest.raises(PermissionDeniedError, match="egen enhet"):
        make_case(
            cases,
            world.units["nykvarn"],
            (MemberRole.APPLICANT, person),
            caseworker_id=anna.user_id,
        )
    ref = make_case(
        cases, world.units["sodertalje"], (MemberRole.APPLICANT, person), caseworker_id=anna.user_id
    )
    CaseViewService(db=world.db, actor=anna).load(ref.id)


def test_emergency_access_needs_a_reason_is_audited_and_listed(world: World) -> None:
    erik = world.svc("erik")
    with pytest.raises(ValidationError, match="skäl"):
        erik.request_emergency_access(world.cases["c_olle"], "   akut  ")
    with pytest.raises(ValidationError, match="redan åtkomst"):
        erik.request_emergency_access(world.cases["c_erik"], REASON)
    grant = erik.request_emergency_access(world.cases["c_olle"], REASON)
    assert not grant.protected and grant.case_number.startswith("FS-")
    assert grant.expires_at > datetime.now(UTC)
    world.open("erik", "c_olle")
    assert world.listed("erik") == {"c_erik", "c_olle"}
    assert erik.case_access(world.cases["c_olle"]).via == "nödåtkomst"
    prot = erik.request_emergency_access(world.cases["c_prot"], REASON)
    assert prot.protected
    world.open("erik", "c_prot")
    with world.db.begin() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == access.EMERGENCY_ACCESS)
        ).all()
    assert len(events) == 2
    assert all("Klienten" not in e.detail for e in events)  # the reason stays out of the log
    assert {'"protected": true' in e.detail for e in events} == {True, False}
    for leader in ("berit", "lena"):
        rows = world.svc(leader).emergency_log(TODAY - timedelta(days=1), TODAY)
        numbers = {r.case_number for r in rows}
        assert {r.username for r in rows} == {"erik"} and all(r.reason == REASON for r in rows)
        assert len(numbers) == (1 if leader == "berit" else 2)  # berit: her unit's case only
    with pytest.raises(PermissionDeniedError, match="arbetsledare"):
        world.svc("anna").emergency_log(TODAY, TODAY)


def test_emergency_access_ends_at_the_end_of_the_day(world: World) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with world.db.begin() as s:
        grant = access.request_emergency_access(
            s, world.users["erik"], world.cases["c_olle"], REASON, now=yesterday
        )
    assert grant.expires_at <= datetime.now(UTC)
    with pytest.raises(OutsideScopeError):
        world.open("erik", "c_olle")
    noon = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Stockholm (summer time)
    assert access.emergency_expiry(noon) == datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
    assert access.emergency_expiry(noon, hours=2) == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    with world.db.begin() as s:
        assert s.scalar(select(EmergencyAccess.reason)) == REASON


def test_deactivated_user_is_refused(world: World, actor: Actor) -> None:
    with world.db.begin() as s:
        s.get(User, world.users["anna"].user_id).active = False  # type: ignore[union-attr]
    assert world.listed("anna") == set()
    with pytest.raises(PermissionDeniedError, match="inte aktivt"):
        world.open("anna", "c_anna")


def test_command_line_keeps_full_access(world: World, actor: Actor) -> None:
    with world.db.begin() as s:
        assert len(search_cases(s, RegisterFilter(), actor=actor)) == 5
        assert len(search_cases(s, RegisterFilter())) == 5
    for case in world.cases.values():
        CaseViewService(db=world.db, actor=actor).load(case)


def test_register_service_counts_and_windows_the_scope(world: World) -> None:
    service = RegisterService(db=world.db, actor=world.users["anna"])
    assert service.count(RegisterFilter()) == 2
    assert {r.id for r in service.window(RegisterFilter())} == {
        world.cases["c_anna"],
        world.cases["c_prot"],
    }
    assert RegisterService(db=world.db).count(RegisterFilter()) == 5


def test_unknown_case_is_not_found_not_denied(world: World) -> None:
    with pytest.raises(NotFoundError):
        CaseViewService(db=world.db, actor=world.users["anna"]).load(uuid.uuid4())


@pytest.mark.parametrize("who", ["lena", "anna", "erik", "bo", "berit", "olle", "adam"])
def test_the_list_and_the_check_agree(world: World, who: str) -> None:
    """One predicate: a case is listed exactly when the per-case check lets it through."""
    world.svc("lena").grant_stand_in(
        world.users["erik"].user_id,  # type: ignore[arg-type]
        world.users["bo"].user_id,  # type: ignore[arg-type]
        TODAY,
        TODAY,
    )
    world.svc("erik").request_emergency_access(world.cases["c_olle"], REASON)
    listed = world.listed(who)
    actor = world.users[who]
    with world.db.begin() as s:
        for name, case_id in world.cases.items():
            for purpose in (Purpose.READ, Purpose.WRITE):
                try:
                    access.require_case_access(s, actor, case_id, purpose)
                    allowed = True
                except PermissionDeniedError:
                    allowed = False
                assert allowed == (name in listed), (who, name, purpose)


def test_summaries_follow_the_scope(world: World) -> None:
    from services.settings import Settings
    from services.summary import SummaryOptions, plan_batch_in, preview_summary

    anna = world.users["anna"]
    preview = preview_summary(
        world.db, anna, world.cases["c_anna"], SummaryOptions(), settings=Settings()
    )
    assert preview is not None
    with pytest.raises(OutsideScopeError):
        preview_summary(
            world.db, anna, world.cases["c_erik"], SummaryOptions(), settings=Settings()
        )
    with world.db.begin() as s:
        batch = plan_batch_in(s, world.users["lena"], RegisterFilter(), cap=50, today=TODAY)
    assert set(batch.case_ids) == {world.cases[n] for n in ("c_anna", "c_erik", "c_free")}


def test_a_refused_attempt_is_audited_in_its_own_transaction(world: World) -> None:
    with pytest.raises(OutsideScopeError):
        world.open("anna", "c_erik")
    with pytest.raises(OutsideScopeError):
        world.open("lena", "c_prot")
    with world.db.begin() as s:
        events = s.execute(
            select(AuditEvent.user_id, AuditEvent.case_id, AuditEvent.detail).where(
                AuditEvent.action == access.ACCESS_DENIED
            )
        ).all()
    assert [(e.user_id, e.case_id) for e in events] == [
        (world.users["anna"].user_id, world.cases["c_erik"]),
        (world.users["lena"].user_id, world.cases["c_prot"]),
    ]
    assert '"protected": true' in events[1].detail and '"purpose": "read"' in events[0].detail
    with world.db.begin() as s:
        from services.audit import verify_chain

        assert verify_chain(s).ok


def test_a_reused_register_statement_sees_a_grant_expire(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The register builds its window statement once and binds the moment at each window:
    a nödåtkomst that ends between two windows is gone from the second, though the same
    statement object runs again."""
    from services import register

    start = datetime.combine(TODAY, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
    granted = start + timedelta(hours=9)
    with world.db.begin() as s:
        access.request_emergency_access(
            s, world.users["erik"], world.cases["c_olle"], REASON, now=granted, hours=1
        )
    service = RegisterService(db=world.db, actor=world.users["erik"])
    moments = iter([granted + timedelta(minutes=30), granted + timedelta(minutes=90)])
    monkeypatch.setattr(register, "utcnow", lambda: next(moments))
    hits = register._window_statement.cache_info().hits
    during = {r.id for r in service.window(RegisterFilter())}
    after = {r.id for r in service.window(RegisterFilter())}
    assert register._window_statement.cache_info().hits == hits + 1  # the same statement
    assert world.cases["c_olle"] in during
    assert after == during - {world.cases["c_olle"]} and world.cases["c_erik"] in after
