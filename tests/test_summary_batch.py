"""Summaries for the print dialog and in bulk: directions, what is left out, batch export.

On SQLite and PostgreSQL (the ``db`` fixture), through the real services,
with real users: a caseworker and an arbetsledare of the same unit.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pdfplumber
import pytest
from sqlalchemy import select

from models import AuditEvent
from models.codes import Direction, MemberRole, Role
from services.audit import Actor
from services.cases import CaseService
from services.db import Database
from services.errors import FokusError, NotFoundError, PermissionDeniedError, ValidationError
from services.journal import ConsentInput, JournalService
from services.search import RegisterFilter
from services.settings import Settings
from services.summary import (
    Section,
    SummaryOptions,
    SummaryService,
    batch_export_summaries,
    batch_file_name,
    build_summary_pdf,
    screen_preview,
)
from services.targets import DirectionInput, set_person_direction_in
from services.users import UserInput, create_user_in
from tests.factories import BENGT, KARIN, MARIE, OSKAR, make_case

A, C, B = MemberRole.APPLICANT, MemberRole.CO_APPLICANT, MemberRole.CHILD
SETTINGS = Settings(municipality="Södertälje kommun", batch_export_cap=5)
UNIT = "Försörjningsstöd Södertälje"
FK = SummaryOptions(recipient="fk")


@dataclass
class People:
    leader: Actor
    worker: Actor


@pytest.fixture
def people(db: Database, actor: Actor, unit_id: uuid.UUID) -> People:
    with db.begin() as s:
        lena = create_user_in(s, actor, UserInput("lena", "Lena Ledare", Role.TEAM_LEADER, UNIT))
        hans = create_user_in(
            s, actor, UserInput("hans", "Hans Handläggare", Role.CASEWORKER, UNIT)
        )
        return People(
            leader=Actor("lena", Role.TEAM_LEADER, lena.id, "test"),
            worker=Actor("hans", Role.CASEWORKER, hans.id, "test"),
        )


@dataclass
class Family:
    case_id: uuid.UUID
    case_number: str
    karin: uuid.UUID
    marie: uuid.UUID
    oskar: uuid.UUID


def _family(db: Database, actor: Actor, unit_id: uuid.UUID, **kw: object) -> Family:
    ref = make_case(
        CaseService(db=db, actor=actor),
        unit_id,
        (A, replace(KARIN, mental_ill_health=True)),
        (C, MARIE),
        (B, OSKAR),
        address="Storgatan 12 B",
        postcode="15172",
        town="Södertälje",
        **kw,
    )
    with db.begin() as s:
        from models import HouseholdMember

        ids = {
            m.person.first_name: m.person_id
            for m in s.scalars(select(HouseholdMember).where(HouseholdMember.case_id == ref.id))
        }
        for who, direction, goal in (
            ("Karin", Direction.SICKNESS_COMPENSATION, "KARINRIKTNING ansökan om sjukersättning"),
            ("Marie", Direction.WORK_STUDIES, "MARIERIKTNING arbete inom äldreomsorgen"),
        ):
            set_person_direction_in(
                s,
                actor,
                DirectionInput(
                    case_id=ref.id,
                    person_id=ids[who],
                    direction=direction,
                    started_on=date(2025, 2, 1),
                    goal=goal,
                    goal_date=date(2025, 12, 31),
                    note=f"INTERNANTECKNING om {who}",
                ),
            )
    CaseService(db=db, actor=actor).add_support_reason(
        ref.id, ids["Karin"], "sick_with_benefit", date(2025, 1, 1)
    )
    return Family(ref.id, ref.case_number, ids["Karin"], ids["Marie"], ids["Oskar"])


def _consent(db: Database, actor: Actor, f: Family, person: uuid.UUID) -> None:
    JournalService(db=db, actor=actor).add_consent(
        f.case_id,
        ConsentInput(
            person_id=person, agency_code="fk", scope="Sjukskrivning", valid_from=date(2025, 1, 1)
        ),
    )


def _text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "\n".join(page.extract_text() or "" for page in doc.pages)


def _pdf(db: Database, actor: Actor, case_id: uuid.UUID, options: SummaryOptions) -> str:
    with db.begin() as s:
        pdf = build_summary_pdf(
            s, actor, case_id, options, settings=SETTINGS, now=datetime.now(UTC)
        )
    return _text(pdf)


def _events(db: Database, action: str) -> list[dict[str, object]]:
    with db.begin() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        return [{"case_id": r.case_id, **json.loads(r.detail)} for r in rows]


# --------------------------------------------------------------------------- directions


def test_directions_per_person_in_plan_section(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    f = _family(db, actor, unit_id)
    text = _pdf(db, actor, f.case_id, SummaryOptions())
    plan_part = text[text.index("Planering och utfall") :]
    assert "Inriktning per person" in plan_part
    assert "KARINRIKTNING" in plan_part and "MARIERIKTNING" in plan_part
    assert "sjukersättning/" in plan_part and "arbete/studier" in plan_part
    assert "INTERNANTECKNING om Karin" in plan_part  # the internal file gets the notes
    assert plan_part.index("KARINRIKTNING") < plan_part.index("MARIERIKTNING")  # applicant first

    _consent(db, actor, f, f.karin)
    with db.begin() as s:
        from services.summary import plan_summary

        plan = plan_summary(s, f.case_id, FK, today=date.today())
    assert [d.person_name for d in plan.directions] == ["Karin Nyström"]
    assert plan.directions[0].note == ""
    assert "Planering: 1 inriktning för personer som inte ingår lämnas inte ut" in (
        plan.omission_texts
    )
    fk_text = _pdf(db, actor, f.case_id, FK)
    assert "KARINRIKTNING" in fk_text
    assert "MARIERIKTNING" not in fk_text and "INTERNANTECKNING" not in fk_text


def test_no_directions_says_so(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    ref = make_case(CaseService(db=db, actor=actor), unit_id, (A, BENGT))
    text = _pdf(db, actor, ref.id, SummaryOptions(sections=frozenset({Section.PLAN})))
    assert "Ingen inriktning registrerad för någon person." in text


# --------------------------------------------------------------------------- what is left out


def test_screen_lines_follow_the_recipient_and_the_choices(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    f = _family(db, actor, unit_id)
    service = SummaryService(db=db, actor=actor, settings=SETTINGS)
    internal = service.preview(f.case_id, SummaryOptions()).plan.screen_lines()
    assert "Psykisk ohälsa: markeringen skrivs inte ut (inte vald)" in internal
    assert "Försörjningshinder: skrivs inte ut (inte valt)" in internal
    assert not any("samtycke" in line for line in internal)
    chosen = service.preview(
        f.case_id, SummaryOptions(include_mental_health=True, include_support_reasons=True)
    ).plan.screen_lines()
    assert not any(line.startswith(("Psykisk ohälsa", "Försörjningshinder")) for line in chosen)

    # No consent at all: nothing to FK, said first; the dialog gets an empty PDF, not an error.
    blocked = service.preview(f.case_id, FK)
    assert blocked.pdf == b"" and blocked.pages == 0
    lines = blocked.plan.screen_lines()
    assert lines[0].startswith("Inget skrivs ut: inget kan lämnas ut till Försäkringskassan")
    assert any(line.startswith("Karin Nyström: inget giltigt samtycke") for line in lines)
    assert any(
        line.startswith(
            "Marie Åkesson: bara sökandens egna uppgifter lämnas ut till Försäkringskassan"
        )
        for line in lines
    )

    _consent(db, actor, f, f.karin)
    allowed = service.preview(f.case_id, FK)
    assert allowed.pdf.startswith(b"%PDF") and allowed.pages >= 1
    assert not allowed.plan.screen_lines()[0].startswith("Inget skrivs ut")
    # Marie chosen without her own consent: left out, and said so.
    both = service.preview(f.case_id, replace(FK, person_ids=frozenset({f.karin, f.marie})))
    assert "Marie Åkesson: inget giltigt samtycke till Försäkringskassan" in " ".join(
        both.plan.screen_lines()
    )
    previews = _events(db, "summary_previewed")
    assert len(previews) == 5 and previews[2]["pages"] == 0


def test_protected_address_is_listed_as_never_printed(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    from models.codes import Protection

    ref = make_case(
        CaseService(db=db, actor=actor),
        unit_id,
        (A, replace(KARIN, protection=Protection.PROTECTED_REGISTRATION)),
        address="Hemliga vägen 3",
        postcode="15172",
        town="Södertälje",
    )
    result = screen_preview(db, actor, ref.id, SummaryOptions(), settings=SETTINGS)
    assert (
        "Adress: skrivs aldrig ut: någon i hushållet har skyddade personuppgifter"
        in result.plan.screen_lines()
    )
    assert "Hemliga vägen" not in _text(result.pdf)


def test_choices_for_the_dialog(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    f = _family(db, actor, unit_id)
    choices = SummaryService(db=db, actor=actor, settings=SETTINGS).choices(f.case_id)
    assert choices.case_number == f.case_number
    assert choices.recipients[0] == ("internal", "intern akt")
    codes = [c for c, _ in choices.recipients]
    assert "fk" in codes and "client" not in codes
    assert "client" in [c for c, _ in choices.agencies]  # a note may still be with the client
    assert [(p.name, p.applicant) for p in choices.persons] == [
        ("Karin Nyström", True),
        ("Marie Åkesson", False),
        ("Oskar Nyström", False),
    ]
    with pytest.raises(NotFoundError):
        SummaryService(db=db, actor=actor, settings=SETTINGS).choices(uuid.uuid4())


# --------------------------------------------------------------------------- batch export


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder for the files (the database lives in ``tmp_path``)."""
    folder = tmp_path / "export"
    folder.mkdir()
    return folder


def _cases(db: Database, actor: Actor, unit_id: uuid.UUID, n: int) -> list[tuple[uuid.UUID, str]]:
    cases = CaseService(db=db, actor=actor)
    out = []
    for i in range(n):
        person = replace(
            BENGT, personal_id=None, birth_date=date(1965, 9, 9), first_name=f"Bengt{chr(65 + i)}"
        )
        ref = make_case(cases, unit_id, (A, person))
        out.append((ref.id, ref.case_number))
    return out


def test_batch_export_writes_one_audited_file_per_case(
    db: Database, people: People, actor: Actor, unit_id: uuid.UUID, out: Path
) -> None:
    made = _cases(db, actor, unit_id, 3)
    seen: list[tuple[int, int]] = []
    result = batch_export_summaries(
        db,
        people.leader,
        [cid for cid, _ in made],
        out,
        settings=SETTINGS,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert not result.cancelled and result.count == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.pdf" for _, n in made)
    for _cid, number in made:
        text = _text((out / f"{number}.pdf").read_bytes())
        assert f"Sammanfattning av ärende {number}" in text
    assert seen == [(1, 3), (2, 3), (3, 3)]
    exported = _events(db, "summary_exported")
    assert {e["case_id"] for e in exported} == {cid for cid, _ in made}
    assert {e["destination"] for e in exported} == {f"{n}.pdf" for _, n in made}
    (batch,) = _events(db, "summary_batch_exported")
    assert batch["written"] == 3 and batch["cancelled"] is False


def test_batch_export_stops_when_cancelled(
    db: Database, people: People, actor: Actor, unit_id: uuid.UUID, out: Path
) -> None:
    made = _cases(db, actor, unit_id, 4)
    written: list[int] = []
    result = batch_export_summaries(
        db,
        people.leader,
        [cid for cid, _ in made],
        out,
        settings=SETTINGS,
        progress=lambda done, _total: written.append(done),
        cancelled=lambda: len(written) >= 2,
    )
    assert result.cancelled and result.count == 2 and result.total == 4
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.pdf" for _, n in made[:2])
    assert len(_events(db, "summary_exported")) == 2
    (batch,) = _events(db, "summary_batch_exported")
    assert batch["written"] == 2 and batch["cancelled"] is True


def test_batch_export_is_for_an_arbetsledare_within_the_cap(
    db: Database, people: People, actor: Actor, unit_id: uuid.UUID, out: Path
) -> None:
    made = _cases(db, actor, unit_id, 6)
    ids = [cid for cid, _ in made]
    with pytest.raises(PermissionDeniedError, match="bara arbetsledare"):
        batch_export_summaries(db, people.worker, ids[:2], out, settings=SETTINGS)
    worker = SummaryService(db=db, actor=people.worker, settings=SETTINGS)
    assert not worker.may_batch_export
    with pytest.raises(PermissionDeniedError):
        worker.plan_batch(RegisterFilter())
    with pytest.raises(ValidationError, match="högst 5"):
        batch_export_summaries(db, people.leader, ids, out, settings=SETTINGS)
    assert list(out.iterdir()) == []
    assert _events(db, "summary_exported") == []

    leader = SummaryService(db=db, actor=people.leader, settings=SETTINGS)
    assert leader.may_batch_export
    over = leader.plan_batch(RegisterFilter())
    assert over.count == 6 and over.over_cap and over.case_ids == ()
    within = SummaryService(
        db=db, actor=people.leader, settings=replace(SETTINGS, batch_export_cap=200)
    )
    plan = within.plan_batch(RegisterFilter())
    assert not plan.over_cap and list(plan.case_ids) == ids  # in case-number order

    with pytest.raises(FokusError, match="batch_export_cap"):
        _ = SummaryService(
            db=db, actor=people.leader, settings=replace(SETTINGS, batch_export_cap=0)
        ).cap


def test_batch_export_never_overwrites(
    db: Database, people: People, actor: Actor, unit_id: uuid.UUID, out: Path
) -> None:
    made = _cases(db, actor, unit_id, 2)
    (out / f"{made[1][1]}.pdf").write_bytes(b"an earlier export")
    with pytest.raises(ValidationError, match="redan 1 av filerna"):
        batch_export_summaries(db, people.leader, [c for c, _ in made], out, settings=SETTINGS)
    assert sorted(p.name for p in out.iterdir()) == [f"{made[1][1]}.pdf"]
    assert (out / f"{made[1][1]}.pdf").read_bytes() == b"an earlier export"
    with pytest.raises(ValidationError, match="mapp"):
        batch_export_summaries(db, people.leader, [made[0][0]], out / "saknas", settings=SETTINGS)
    with pytest.raises(NotFoundError):
        batch_export_summaries(db, people.leader, [uuid.uuid4()], out, settings=SETTINGS)


def test_batch_file_names_hold_the_case_number_only() -> None:
    assert batch_file_name("FS-2024-00001") == "FS-2024-00001.pdf"
    assert batch_file_name("../FS 1/2") == "FS_1_2.pdf"
    assert batch_file_name("") == "arende.pdf"


def test_the_dialog_needs_access_to_the_case(
    db: Database, people: People, actor: Actor, unit_id: uuid.UUID
) -> None:
    from services.access import OutsideScopeError

    f = _family(db, actor, unit_id)  # assigned to nobody: the arbetsledare's, not Hans's
    outsider = SummaryService(db=db, actor=people.worker, settings=SETTINGS)
    with pytest.raises(OutsideScopeError):
        outsider.choices(f.case_id)
    with pytest.raises(OutsideScopeError):
        outsider.preview(f.case_id, SummaryOptions())
    assert _events(db, "summary_previewed") == []
    leader = SummaryService(db=db, actor=people.leader, settings=SETTINGS)
    assert leader.choices(f.case_id).case_number == f.case_number
    assert leader.preview(f.case_id, SummaryOptions()).pages >= 1
