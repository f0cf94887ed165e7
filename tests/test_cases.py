"""Case, household, journal and support-month services on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from models import AuditEvent, Case, ContactEntry, HouseholdMember, Person, SupportMonth
from models.codes import CaseStatus, MemberRole, Outcome, SicknessGrade
from services.audit import Actor
from services.cases import CaseChanges, CaseService, MemberInput, OutcomeInput
from services.db import Database
from services.errors import ConflictError, PermissionDeniedError, ValidationError
from services.journal import ConsentInput, JournalService, NoteInput
from services.personal_id import parse_personal_id
from services.persons import PersonInput, change_personal_id
from services.search import RegisterFilter, search_cases
from services.support import SupportService, format_amount, parse_amount_ore
from tests.factories import ALI, BENGT, KARIN, MARIE, OSKAR, SAMORD, make_case

A, C, B = MemberRole.APPLICANT, MemberRole.CO_APPLICANT, MemberRole.CHILD


@pytest.fixture
def cases(db: Database, actor: Actor) -> CaseService:
    return CaseService(db=db, actor=actor)


def _count(db: Database, model: type) -> int:
    with db.begin() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _events(db: Database, case_id: uuid.UUID) -> list[str]:
    with db.begin() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == case_id)
                .order_by(AuditEvent.id)
            )
        )


def test_create_case_numbers_members_and_audit(db: Database, cases: CaseService, unit_id):
    first = make_case(cases, unit_id, (A, KARIN), (B, OSKAR), postcode="15173")
    second = make_case(cases, unit_id, (A, BENGT), (C, MARIE))
    assert first.case_number == "FS-2024-00001"
    assert second.case_number == "FS-2024-00002"
    with db.begin() as s:
        case = s.get(Case, first.id)
        assert case.postcode == "151 73"
        roles = sorted(m.role for m in case.members)
        assert roles == ["applicant", "child"]
        karin = s.scalars(select(Person).where(Person.first_name == "Karin")).one()
        assert karin.personal_id == "197802143524"
        assert karin.search_last == "nyström"
        assert karin.identifiers[0].personal_id == "197802143524"
    assert _events(db, first.id) == ["case_created"]


def test_rejections_name_the_field_and_save_nothing(db: Database, cases: CaseService, unit_id):
    bad = PersonInput(first_name="", last_name="X" * 101, personal_id="19780214-3525")
    with pytest.raises(ValidationError) as err:
        make_case(cases, unit_id, (A, bad), postcode="1517", housing_cost_ore=-1)
    fields = {e.field for e in err.value.errors}
    assert fields == {"förnamn", "efternamn", "personnummer", "postnummer", "boendekostnad"}
    assert "kontrollsiffran stämmer inte" in str(err.value)
    assert _count(db, Case) == 0 and _count(db, Person) == 0


def test_household_rules(db: Database, cases: CaseService, unit_id):
    with pytest.raises(ValidationError, match="exakt en sökande"):
        make_case(cases, unit_id, (C, MARIE))
    with pytest.raises(ValidationError, match="exakt en sökande"):
        make_case(cases, unit_id, (A, BENGT), (A, MARIE))
    adult_child = PersonInput(first_name="Lisa", last_name="Berg", personal_id="20061010-1230")
    with pytest.raises(ValidationError, match="vid studier"):
        make_case(cases, unit_id, (A, KARIN), (B, adult_child), opened_on=date(2025, 1, 1))
    assert _count(db, Person) == 0
    ref = make_case(cases, unit_id, (A, KARIN), opened_on=date(2025, 1, 1))
    cases.add_member(ref.id, ref.version, MemberInput(role=B, person=adult_child, studying=True))
    with pytest.raises(ValidationError, match="redan en medsökande"):
        cases.add_member(ref.id, ref.version, MemberInput(role=C, person=BENGT))
        cases.add_member(ref.id, ref.version, MemberInput(role=C, person=MARIE))
    # The same person cannot be in two open households.
    with pytest.raises(ValidationError, match="öppet ärende"):
        make_case(cases, unit_id, (A, KARIN))


def test_optimistic_locking_reports_both_versions(db: Database, cases: CaseService, unit_id):
    ref = make_case(cases, unit_id, (A, ALI))
    mine = cases.update_case(ref.id, ref.version, CaseChanges(summary="Första"))
    assert mine.version == ref.version + 1
    with pytest.raises(ConflictError) as err:
        cases.update_case(ref.id, ref.version, CaseChanges(summary="Skriver över?"))
    assert (err.value.expected_version, err.value.current_version) == (1, 2)
    with db.begin() as s:
        assert s.get(Case, ref.id).summary == "Första"


def test_notes_draft_sign_lock_correct(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, KARIN), (B, OSKAR))
    journal = JournalService(db=db, actor=actor)
    when = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    note = NoteInput(when, "psychiatry", "phone", "Samtal om vårdplan – ”SIP” bokad")
    draft = journal.add_note(ref.id, note)
    other = JournalService(db=db, actor=Actor("anna", actor.role))
    assert other.notes(ref.id) == []  # drafts are private
    with pytest.raises(PermissionDeniedError):
        other.sign(draft.id, draft.version)
    signed = journal.sign(draft.id, draft.version)
    assert signed.signed_at is not None
    with pytest.raises(ValidationError, match="låst"):
        journal.update_draft(signed.id, signed.version, note)
    fix = journal.correct(signed.id, NoteInput(when, "psychiatry", "phone", "Rättelse: SIP"))
    assert fix.corrects_id == signed.id and fix.signed_at is not None
    assert [n.text for n in other.notes(ref.id)] == [note.text, "Rättelse: SIP"]
    # Adding notes never bumps the case's version.
    with db.begin() as s:
        assert s.get(Case, ref.id).version == ref.version
    # The database itself refuses to change or delete a signed note.
    for sql in ("UPDATE contact_entry SET text = 'x'", "DELETE FROM contact_entry"):
        with pytest.raises(DBAPIError, match="låst"), db.engine.begin() as conn:
            conn.execute(text(sql))
    assert _count(db, ContactEntry) == 2
    assert _events(db, ref.id) == ["case_created", "note_drafted", "note_signed", "note_signed"]


def test_note_validation(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, KARIN))
    journal = JournalService(db=db, actor=actor)
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ValidationError) as err:
        journal.add_note(ref.id, NoteInput(future, "nowhere", "phone", "  "))
    assert {e.field for e in err.value.errors} == {"text", "datum och tid", "myndighet/motpart"}
    assert _count(db, ContactEntry) == 0


def test_consents(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, KARIN))
    with db.begin() as s:
        karin = s.scalars(select(Person.id)).one()
    journal = JournalService(db=db, actor=actor)
    consent_id = journal.add_consent(
        ref.id,
        ConsentInput(karin, "fk", "Sjukpenning och SIP", date(2025, 1, 1), date(2025, 12, 31)),
    )
    assert journal.valid_consent(karin, "fk", date(2025, 6, 1))
    assert not journal.valid_consent(karin, "fk", date(2026, 1, 1))
    assert not journal.valid_consent(karin, "psychiatry", date(2025, 6, 1))
    journal.withdraw_consent(consent_id, 1)
    assert not journal.valid_consent(karin, "fk", date(2025, 6, 1))
    with pytest.raises(ValidationError, match="till"):
        journal.add_consent(
            ref.id, ConsentInput(karin, "fk", "x", date(2025, 2, 1), date(2025, 1, 1))
        )


def test_close_and_reopen(db: Database, cases: CaseService, unit_id):
    ref = make_case(cases, unit_id, (A, BENGT), (C, MARIE))
    with pytest.raises(ValidationError, match="omfattning"):
        cases.close(
            ref.id, ref.version, date(2025, 1, 31), OutcomeInput(Outcome.SICKNESS_COMPENSATION)
        )
    with pytest.raises(ValidationError, match="före öppnat"):
        cases.close(ref.id, ref.version, date(2020, 1, 1), OutcomeInput(Outcome.WORK))
    with db.begin() as s:
        marie = s.scalars(select(Person.id).where(Person.first_name == "Marie")).one()
    closed = cases.close(
        ref.id,
        ref.version,
        date(2025, 1, 31),
        OutcomeInput(Outcome.SICKNESS_COMPENSATION, SicknessGrade.FULL, permanent=True),
        {marie: OutcomeInput(Outcome.WORK)},
    )
    with db.begin() as s:
        case = s.get(Case, ref.id)
        assert (case.status, case.outcome, case.outcome_grade) == (
            "closed",
            "sickness_compensation",
            "1/1",
        )
    # A closed case frees its members for a new case (a returning client).
    again = make_case(cases, unit_id, (A, BENGT), opened_on=date(2025, 6, 1))
    with pytest.raises(ValidationError, match="annat öppet ärende"):
        cases.reopen(ref.id, closed.version)
    assert again.case_number == "FS-2025-00001"


def test_support_months_are_never_overwritten(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, ALI))
    support = SupportService(db=db, actor=actor)
    assert support.add_month(ref.id, date(2025, 1, 1), parse_amount_ore("8 450,50"))
    assert not support.add_month(ref.id, date(2025, 1, 1), 845050)  # same again: no-op
    with pytest.raises(ValidationError, match="annat belopp"):
        support.add_month(ref.id, date(2025, 1, 1), 100)
    with pytest.raises(ValidationError, match="negativt"):
        support.add_month(ref.id, date(2025, 2, 1), -1)
    assert [(m.month, m.amount_ore) for m in support.months(ref.id)] == [(date(2025, 1, 1), 845050)]
    assert _count(db, SupportMonth) == 1


def test_amounts() -> None:
    assert parse_amount_ore("7210") == 721000
    assert parse_amount_ore("7\u00a0210,5") == 721050
    assert parse_amount_ore("11 240,00") == 1124000
    assert format_amount(1234500) == "12 345 kr"
    assert format_amount(845050) == "8 450,50 kr"
    for bad in ("-5", "abc", "1,234", "12 34"):
        with pytest.raises(ValueError):
            parse_amount_ore(bad)


def test_identifier_history_keeps_the_person(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, SAMORD))
    with db.begin() as s:
        person = s.scalars(select(Person)).one()
        assert person.id_kind == "samordningsnummer"
        change_personal_id(s, actor, person, parse_personal_id("19920214-3211"))
    with db.begin() as s:
        hits = search_cases(s, RegisterFilter(text="19920274-3218"))  # the old number
        assert [h.case_number for h in hits] == [ref.case_number]
        hits = search_cases(s, RegisterFilter(text="920214-3211"))
        assert [h.case_number for h in hits] == [ref.case_number]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("öberg", {"Öberg"}),
        ("ÖBERG", {"Öberg"}),
        ("åke", {"Åkesson"}),
        ("nyst", {"Nyström"}),
        ("karin nys", {"Nyström"}),
        ("nyström kar", {"Nyström"}),
        ("osk", {"Nyström"}),  # a child's name finds the household
        ("yilmaz", {"Yilmaz"}),
        ("19780214-3524", {"Nyström"}),
        ("197802143524", {"Nyström"}),
        ("780214-3524", {"Nyström"}),
        ("7802143524", {"Nyström"}),
        ("780214", {"Nyström"}),
        ("FS-2024-00002", {"Åkesson"}),
        ("fs-2024-00002", {"Åkesson"}),
        ("2", {"Åkesson"}),
        ("00003", {"Yilmaz"}),
        ("202400003", {"Yilmaz"}),
        ("zz", set()),
    ],
)
def test_search_rules(db: Database, cases: CaseService, unit_id, query, expected):
    make_case(cases, unit_id, (A, KARIN), (B, OSKAR))
    make_case(cases, unit_id, (A, BENGT), (C, MARIE))
    make_case(cases, unit_id, (A, ALI))
    make_case(cases, unit_id, (A, SAMORD))
    with db.begin() as s:
        rows = search_cases(s, RegisterFilter(text=query))
    assert {r.applicant_name.split()[-1] for r in rows} == expected


def test_register_filters_and_order(db: Database, cases: CaseService, unit_id):
    make_case(cases, unit_id, (A, KARIN), is_focus=True, status=CaseStatus.ONGOING)
    make_case(cases, unit_id, (A, BENGT))
    with db.begin() as s:
        all_rows = search_cases(s, RegisterFilter())
        focus = search_cases(s, RegisterFilter(focus_only=True))
        ongoing = search_cases(s, RegisterFilter(status=CaseStatus.ONGOING))
    assert [r.case_number for r in all_rows] == ["FS-2024-00001", "FS-2024-00002"]
    assert [r.applicant_name for r in focus] == ["Karin Nyström"]
    assert [r.status_label for r in ongoing] == ["pågående"]


def test_audit_detail_carries_no_personal_data(db: Database, cases: CaseService, unit_id):
    make_case(cases, unit_id, (A, KARIN), (B, OSKAR))
    with db.begin() as s:
        details = list(s.scalars(select(AuditEvent.detail)))
    assert len(details) == 2  # unit created, case created
    parsed = [json.loads(d) for d in details]
    assert parsed[1] == {"members": 2}
    assert not any("Karin" in d or "19780214" in d for d in details)


def test_members_have_household_dates(db: Database, cases: CaseService, unit_id):
    ref = make_case(cases, unit_id, (A, BENGT), (C, MARIE))
    with db.begin() as s:
        marie = s.scalars(
            select(HouseholdMember).where(HouseholdMember.role == "co_applicant")
        ).one()
    cases.end_member(marie.id, marie.version, date(2025, 1, 31))
    with pytest.raises(ValidationError, match="sökande kan inte tas bort"):
        with db.begin() as s:
            bengt = s.scalars(
                select(HouseholdMember).where(HouseholdMember.role == "applicant")
            ).one()
        cases.end_member(bengt.id, bengt.version, date(2025, 1, 31))
    # Marie may now apply on her own.
    assert make_case(cases, unit_id, (A, MARIE), opened_on=date(2025, 2, 1)).case_number
    assert ref.case_number == "FS-2024-00001"


def test_update_person_keeps_history_and_checks_version(db: Database, cases: CaseService, unit_id):
    make_case(cases, unit_id, (A, SAMORD))
    with db.begin() as s:
        person = s.scalars(select(Person)).one()
    edited = PersonInput(
        first_name="Göran", last_name="Öberg", personal_id="19920214-3211", phone="070-301 07 26"
    )
    new_version = cases.update_person(person.id, person.version, edited)
    assert new_version == person.version + 1
    with pytest.raises(ConflictError):
        cases.update_person(person.id, person.version, edited)
    with pytest.raises(ValidationError, match="kontrollsiffran"):
        cases.update_person(person.id, new_version, PersonInput("G", "Ö", "19920214-3212"))
    with db.begin() as s:
        fresh = s.get(Person, person.id)
        assert (fresh.first_name, fresh.search_first, fresh.personal_id, fresh.id_kind) == (
            "Göran",
            "göran",
            "199202143211",
            "personnummer",
        )
        assert [i.personal_id for i in fresh.identifiers] == ["199202743218", "199202143211"]
        assert fresh.identifiers[0].replaced_at is not None


def test_reopen_then_close_again_updates_person_outcomes(db: Database, cases: CaseService, unit_id):
    from models import PersonOutcome

    ref = make_case(cases, unit_id, (A, BENGT))
    with db.begin() as s:
        bengt = s.scalars(select(Person.id)).one()
    closed = cases.close(
        ref.id,
        ref.version,
        date(2025, 1, 31),
        OutcomeInput(Outcome.WORK),
        {bengt: OutcomeInput(Outcome.WORK)},
    )
    reopened = cases.reopen(ref.id, closed.version)
    with db.begin() as s:
        assert s.get(Case, ref.id).status == "ongoing"
        assert s.scalars(select(PersonOutcome.outcome)).all() == ["work"]
    cases.close(
        ref.id,
        reopened.version,
        date(2025, 3, 31),
        OutcomeInput(Outcome.STUDIES),
        {bengt: OutcomeInput(Outcome.STUDIES)},
    )
    with db.begin() as s:
        rows = s.execute(select(PersonOutcome.outcome, PersonOutcome.recorded_on)).all()
    assert rows == [("studies", date(2025, 3, 31))]
