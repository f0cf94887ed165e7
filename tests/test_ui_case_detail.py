"""The case window's read model and its editing services, on SQLite and PostgreSQL.

No Qt here: these are the service parts the case window calls in the
background. The window itself is driven in ``test_ui_case_edit.py``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from models.codes import Direction, MemberRole, Outcome
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import (
    CaseEditService,
    CaseService,
    GoalInput,
    MemberPersonInput,
    OutcomeInput,
)
from services.db import Database
from services.errors import ConflictError, ValidationError
from services.journal import ConsentInput, JournalService, NoteInput
from services.targets import DirectionInput, TargetService
from tests.factories import KARIN, MARIE, OSKAR, make_case

TODAY = date(2026, 6, 15)
WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def _case(db: Database, actor: Actor, unit_id: uuid.UUID):  # type: ignore[no-untyped-def]
    cases = CaseService(db=db, actor=actor)
    return make_case(
        cases,
        unit_id,
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CO_APPLICANT, MARIE),
        (MemberRole.CHILD, OSKAR),
    )


def test_the_read_model_carries_what_editing_needs(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _case(db, actor, unit_id)
    view = CaseViewService(db=db, actor=actor, today=lambda: TODAY)
    d = view.load(ref.id)
    assert d.version == ref.version and d.status == "actualisation" and d.unit_id == unit_id
    karin, marie, oskar = d.members
    assert (karin.role, marie.role, oskar.role) == ("applicant", "co_applicant", "child")
    assert karin.first_name == "Karin" and karin.person_version == 1 and karin.version == 1
    assert oskar.is_child and not karin.is_child and d.children() == (oskar,)

    journal = JournalService(db=db, actor=actor)
    # Karin consented to psychiatry (from 2025-01-01); Oskar did not.
    journal.add_consent(
        ref.id, ConsentInput(karin.person_id, "psychiatry", "vårdplanering", date(2025, 1, 1))
    )
    note = journal.add_note(
        ref.id,
        NoteInput(
            WHEN,
            "psychiatry",
            "phone",
            "Samtal om Oskars skolgång",
            member_ids=(oskar.person_id, karin.person_id),
            follow_up_on=date(2025, 4, 1),
            child_perspective=True,
        ),
        sign=True,
    )
    client_note = journal.add_note(
        ref.id, NoteInput(WHEN, "client", "meeting", "Besök", member_ids=(oskar.person_id,))
    )
    fix = journal.correct(
        note.id,
        NoteInput(WHEN, "psychiatry", "phone", "Rättelse: samtalet gällde Karin", member_ids=()),
    )
    CaseService(db=db, actor=actor).add_support_reason(
        ref.id, karin.person_id, "unemployed_no_benefit", date(2024, 5, 2)
    )
    TargetService(db=db, actor=actor).set_direction(
        DirectionInput(ref.id, marie.person_id, Direction.SICKNESS_COMPENSATION, date(2025, 1, 1))
    )
    edits = CaseEditService(db=db, actor=actor)
    edits.add_goal(GoalInput(ref.id, "Praktik inom lager", karin.person_id, Direction.WORK_STUDIES))
    edits.add_goal(GoalInput(ref.id, "Stabil boendesituation"))
    TargetService(db=db, actor=actor).record_outcome(
        ref.id, karin.person_id, OutcomeInput(Outcome.WORK), date(2026, 1, 10)
    )

    d = view.refresh(ref.id)
    by_id = {n.id: n for n in d.notes}
    signed = by_id[note.id]
    assert signed.member_ids == (karin.person_id, oskar.person_id)  # household order
    assert signed.follow_up_on == date(2025, 4, 1) and signed.child_perspective
    assert [(c.name, c.valid) for c in signed.consents] == [
        ("Karin Nyström", True),
        ("Oskar Nyström", False),
    ]
    assert signed.missing_consent == ("Oskar Nyström",)
    assert signed.corrected_by == (fix.id,) and by_id[fix.id].corrects_id == note.id
    assert by_id[client_note.id].consents == ()  # the client themself needs no consent
    assert not by_id[client_note.id].signed and by_id[client_note.id].version == 1
    assert d.notes_about(oskar.person_id) == (signed, by_id[client_note.id])
    (consent,) = d.consents
    assert (consent.person_name, consent.agency_label, consent.scope) == (
        "Karin Nyström",
        "psykiatri",
        "vårdplanering",
    )
    (reason,) = d.reasons
    assert (reason.person_name, reason.label) == ("Karin Nyström", "arbetslös utan ersättning")
    (direction,) = d.directions
    assert direction.person_id == marie.person_id and direction.label.startswith("sjukersättning")
    assert [(g.person_name, g.text) for g in d.goals] == [
        ("Karin Nyström", "Praktik inom lager"),
        ("", "Stabil boendesituation"),
    ]
    assert [(o.person_name, o.label) for o in d.outcomes] == [("Karin Nyström", "arbete")]

    # A withdrawn consent no longer covers contacts after the withdrawal, but did before.
    journal.withdraw_consent(consent.id, consent.version)
    d = view.refresh(ref.id)
    assert d.consents[0].withdrawn_on is not None
    assert {n.id: n for n in d.notes}[note.id].missing_consent == ("Oskar Nyström",)
    later = journal.add_note(
        ref.id,
        NoteInput(
            datetime.now(UTC) - timedelta(minutes=1),
            "psychiatry",
            "phone",
            "Nytt samtal",
            member_ids=(karin.person_id,),
        ),
    )
    d = view.refresh(ref.id)
    assert {n.id: n for n in d.notes}[later.id].missing_consent == ("Karin Nyström",)


def test_refresh_is_not_a_new_opening(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _case(db, actor, unit_id)
    view = CaseViewService(db=db, actor=actor)
    view.load(ref.id)
    view.refresh(ref.id)
    d = view.refresh(ref.id)
    assert [h.action_label for h in d.history].count("ärende öppnat") == 1


def test_member_person_edit_keeps_what_the_form_does_not_show(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from models import Person
    from models.codes import Protection

    cases = CaseService(db=db, actor=actor)
    hidden = replace(KARIN, protection=Protection.PROTECTED_REGISTRATION, mental_ill_health=True)
    ref = make_case(cases, unit_id, (MemberRole.APPLICANT, hidden))
    view = CaseViewService(db=db, actor=actor)
    (karin,) = view.load(ref.id).members
    edits = CaseEditService(db=db, actor=actor)
    version = edits.update_member_person(
        karin.person_id,
        karin.person_version,
        MemberPersonInput("Karin", "Berg", "197802143524", phone="070-123 45 67"),
    )
    assert version == karin.person_version + 1
    with db.begin() as s:
        p = s.get(Person, karin.person_id)
        assert p is not None
        assert (p.last_name, p.phone, p.protection, p.mental_ill_health) == (
            "Berg",
            "070-123 45 67",
            "protected_registration",
            True,
        )
    with pytest.raises(ConflictError):  # the version it started from is stale now
        edits.update_member_person(
            karin.person_id, karin.person_version, MemberPersonInput("Karin", "Ek", None)
        )
    with pytest.raises(ValidationError) as err:
        edits.update_member_person(
            karin.person_id, version, MemberPersonInput("Karin", "Ek", "19780214-3525")
        )
    assert err.value.errors[0].field == "personnummer"
    assert "kontrollsiffran" in err.value.message


def test_goals_need_text_and_a_member(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _case(db, actor, unit_id)
    edits = CaseEditService(db=db, actor=actor)
    with pytest.raises(ValidationError) as err:
        edits.add_goal(GoalInput(ref.id, "  ", uuid.uuid4()))
    assert {e.field for e in err.value.errors} == {"mål", "person"}
    goal_id = edits.add_goal(GoalInput(ref.id, "Körkort", None, target_date=date(2026, 9, 1)))
    (goal,) = CaseViewService(db=db, actor=actor).refresh(ref.id).goals
    assert goal.id == goal_id
    edits.achieve_goal(goal_id, goal.version, date(2026, 1, 5))
    with pytest.raises(ConflictError):
        edits.achieve_goal(goal_id, goal.version, date(2026, 1, 6))
    (goal,) = CaseViewService(db=db, actor=actor).refresh(ref.id).goals
    assert goal.achieved_on == date(2026, 1, 5)


def test_open_case_holder_names_unit_and_caseworker_only(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _case(db, actor, unit_id)
    edits = CaseEditService(db=db, actor=actor)
    holder = edits.open_case_holder("7802143524")
    assert holder is not None
    assert (holder.case_id, holder.case_number, holder.unit_name, holder.caseworker_name) == (
        ref.id,
        ref.case_number,
        "Försörjningsstöd Södertälje",
        "",
    )
    assert edits.open_case_holder("19650909-5714") is None  # nobody has Bengt
    with pytest.raises(ValidationError) as err:
        edits.open_case_holder("19780214-3525")
    assert err.value.errors[0].field == "personnummer"


def _statements(db, fn):  # type: ignore[no-untyped-def]
    """Run ``fn`` and count the SQL statements it sends to the database."""
    from sqlalchemy import event

    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return result, len(seen)


def test_a_case_with_1000_notes_is_read_in_a_fixed_number_of_statements(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    """No statement per note: 1,000 notes cost what none do (their speed is the bench's)."""
    from sqlalchemy import insert

    from models import ContactEntry
    from models.contact import contact_entry_member

    ref = _case(db, actor, unit_id)
    view = CaseViewService(db=db, actor=actor)
    members = view.load(ref.id).members
    _, empty = _statements(db, lambda: view.refresh(ref.id))
    rows, links = [], []
    for i in range(1000):
        nid = uuid.uuid4()
        rows.append(
            {
                "id": nid,
                "case_id": ref.id,
                "occurred_at": WHEN - timedelta(hours=i),
                "agency_code": ("psychiatry", "fk", "client")[i % 3],
                "method_code": "phone",
                "counterpart": "",
                "text": f"Anteckning {i}",
                "child_perspective": False,
                "author_name": actor.username,
                "signed_at": WHEN,
                "version": 1,
            }
        )
        links.append({"entry_id": nid, "person_id": members[i % 3].person_id})
    with db.begin() as s:
        s.execute(insert(ContactEntry), rows)
        s.execute(insert(contact_entry_member), links)
    d, full = _statements(db, lambda: view.refresh(ref.id))
    assert len(d.notes) == 1000
    assert sum(1 for n in d.notes if n.missing_consent) == 667
    assert full <= empty + 2, f"{empty} statements without notes, {full} with 1,000"


def test_membership_edits_follow_the_household_rules(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _case(db, actor, unit_id)
    view = CaseViewService(db=db, actor=actor)
    karin, marie, oskar = view.load(ref.id).members
    edits = CaseEditService(db=db, actor=actor)
    same = MemberPersonInput("Oskar", "Nyström", "20120630-2844")
    edits.update_member(
        (oskar.id, oskar.version),
        MemberRole.CHILD,
        date(2024, 6, 1),
        False,
        (oskar.person_id, oskar.person_version),
        same,
    )
    oskar = view.refresh(ref.id).members[2]
    assert (oskar.valid_from, oskar.version, oskar.person_version) == (date(2024, 6, 1), 2, 1)
    with pytest.raises(ValidationError) as err:  # a second medsökande, and the sökande kept
        edits.update_member(
            (oskar.id, oskar.version),
            MemberRole.CO_APPLICANT,
            date(2024, 6, 1),
            False,
            (oskar.person_id, oskar.person_version),
            MemberPersonInput("Oskar", "Ek", None),
        )
    assert err.value.errors[0].message == "hushållet har redan en medsökande under samma period"
    with pytest.raises(ValidationError) as err:
        edits.update_member(
            (karin.id, karin.version),
            MemberRole.OTHER_ADULT,
            karin.valid_from,
            False,
            (karin.person_id, karin.person_version),
            MemberPersonInput("Karin", "Nyström", "19780214-3524"),
        )
    assert err.value.errors[0].field == "roll"
    # Nothing half-saved: the person's new name went with the refused membership change.
    assert view.refresh(ref.id).members[2].last_name == "Nyström"


def test_the_new_edits_keep_to_the_users_scope(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    from models.codes import Role
    from services.errors import PermissionDeniedError
    from services.users import UserInput, create_user_in

    ref = _case(db, actor, unit_id)  # no caseworker: not in anyone's own caseload
    with db.begin() as s:
        stranger = create_user_in(
            s, actor, UserInput("sven", "Sven Svensson", Role.CASEWORKER, "Försörjningsstöd Järna")
        )
        stranger_actor = Actor("sven", Role.CASEWORKER, user_id=stranger.id)
    karin = CaseViewService(db=db, actor=actor).load(ref.id).members[0]
    edits = CaseEditService(db=db, actor=stranger_actor)
    with pytest.raises(PermissionDeniedError):
        edits.update_member(
            (karin.id, karin.version),
            MemberRole.APPLICANT,
            karin.valid_from,
            False,
            (karin.person_id, karin.person_version),
            MemberPersonInput("Karin", "Berg", "19780214-3524"),
        )
    with pytest.raises(PermissionDeniedError):
        edits.add_goal(GoalInput(ref.id, "Körkort"))
    assert CaseViewService(db=db, actor=actor).refresh(ref.id).members[0].last_name == "Nyström"
