"""PDF case summaries, read back: sections, Swedish text, recipients, masking, fonts, export.

Cases are built through the real services on SQLite and PostgreSQL (the
``db`` fixture); the 2,000-note case is inserted in bulk for speed. Every
check reads the PDF the way a machine would (pdfplumber and pypdf).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pdfplumber
import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject
from sqlalchemy import insert, select

from models import AuditEvent, ContactEntry, HouseholdMember, PlanGoal
from models.codes import MemberRole, Outcome, Protection, SicknessGrade
from services import summary
from services.audit import Actor
from services.cases import CaseService, OutcomeInput
from services.db import Database, open_database
from services.errors import EXIT_NOT_FOUND, FokusError, NotFoundError, ValidationError
from services.journal import ConsentInput, JournalService, NoteInput
from services.settings import Settings
from services.summary import (
    NO_CONTACTS,
    SECRECY_LINE,
    Section,
    SummaryOptions,
    build_summary_pdf,
    export_summary,
    format_phone,
    mask_digit_runs,
    plan_summary,
    preview_summary,
    record_summary_printed,
)
from services.support import SupportService
from services.users import get_or_create_unit
from tests.factories import KARIN, MARIE, OSKAR, make_case

A, C, B = MemberRole.APPLICANT, MemberRole.CO_APPLICANT, MemberRole.CHILD
SETTINGS = Settings(municipality="Södertälje kommun")
SWEDISH = "Åsa Ängström och Östen Ödmark – ”skör” och orolig; Émile Müller deltog"
HEADINGS = ["Ärendeuppgifter", "Hushåll", "Kontaktlogg", "Barnperspektiv", "Planering och utfall"]
KARIN_PID = "19780214-3524"
MARIE_PID = "19681122-4028"
OSKAR_PID = "20120630-2844"
FK = SummaryOptions(recipient="fk")
NOTE_COLUMN_X = 308.0  # the contact log's text column starts at 20 mm + 58 + 102 + 92 pt


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[Database]:
    """SQLite only, for tests of drawing rather than of data access."""
    database = open_database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def lite_unit(lite: Database, actor: Actor) -> uuid.UUID:
    with lite.begin() as s:
        return get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id


@dataclass
class Household:
    case_id: uuid.UUID
    case_number: str
    version: int
    karin: uuid.UUID
    marie: uuid.UUID
    oskar: uuid.UUID


def _at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, 30, tzinfo=UTC)


def _household(db: Database, actor: Actor, unit_id: uuid.UUID, **kwargs: object) -> Household:
    """Karin (applicant), Marie (co-applicant) and Oskar (child), with notes of every kind."""
    cases = CaseService(db=db, actor=actor)
    karin = kwargs.pop("karin", replace(KARIN, phone="0703010726", mental_ill_health=True))
    marie = kwargs.pop("marie", MARIE)
    ref = make_case(
        cases,
        unit_id,
        (A, karin),
        (C, marie),
        (B, OSKAR),
        address="Storgatan 12 B",
        postcode="15172",
        town="Södertälje",
        housing_type="hyresrätt",
        housing_cost_ore=1_234_500,
        summary=f"HUSHALLSSAMMANFATTNING om hela familjen. {SWEDISH}.",
        **kwargs,
    )
    with db.begin() as s:
        ids = {
            m.person.first_name: m.person_id
            for m in s.scalars(select(HouseholdMember).where(HouseholdMember.case_id == ref.id))
        }
    support = SupportService(db=db, actor=actor)
    for month in range(1, 7):
        support.add_month(ref.id, date(2025, month, 1), 845_050)
    cases.add_support_reason(ref.id, ids["Karin"], "sick_with_benefit", date(2025, 1, 1))
    journal = JournalService(db=db, actor=actor)

    def note(when: datetime, text: str, *members: uuid.UUID, **extra: object) -> uuid.UUID:
        data = NoteInput(
            occurred_at=when,
            agency_code=str(extra.pop("agency", "fk")),
            method_code=str(extra.pop("method", "phone")),
            text=text,
            counterpart=str(extra.pop("counterpart", "")),
            member_ids=tuple(members),
            child_perspective=bool(extra.pop("child", False)),
        )
        return journal.add_note(ref.id, data, sign=bool(extra.pop("sign", True))).id

    first = note(_at(4), f"KARINNOT {SWEDISH}.", ids["Karin"], counterpart="Handläggare Lind")
    journal.correct(
        first,
        NoteInput(
            occurred_at=_at(6),
            agency_code="fk",
            method_code="phone",
            text="RATTELSENOT: mötet var den 5 mars.",
            member_ids=(ids["Karin"],),
        ),
    )
    note(_at(7), "MARIENOT om Maries sjukskrivning.", ids["Marie"])
    note(_at(8), "BARNNOT Oskar berättar om skolan.", ids["Oskar"], agency="school", child=True)
    note(_at(9), "HUSHALLSNOT om familjens ekonomi.", agency="client", method="meeting")
    note(_at(10), "UTKASTNOT ej signerad.", ids["Karin"], sign=False)
    note(
        _at(11),
        "SIFFERNOT Karin 780214-3524 (även 197802143524 och 780214 3524), "
        "ring 0703010726, OCR 12345678901234567890.",
        ids["Karin"],
        agency="akassa",
    )
    with db.begin() as s:
        s.add_all(
            [
                PlanGoal(
                    case_id=ref.id,
                    person_id=ids["Karin"],
                    text="KARINMAL arbetsträning på halvtid",
                    target_date=date(2025, 9, 30),
                    created_by=actor.username,
                    updated_by=actor.username,
                ),
                PlanGoal(
                    case_id=ref.id,
                    person_id=None,
                    text="HUSHALLSMAL budgetrådgivning för familjen",
                    created_by=actor.username,
                    updated_by=actor.username,
                ),
            ]
        )
    return Household(ref.id, ref.case_number, ref.version, ids["Karin"], ids["Marie"], ids["Oskar"])


def _consent(db: Database, actor: Actor, h: Household, person: uuid.UUID, **kw: object) -> None:
    JournalService(db=db, actor=actor).add_consent(
        h.case_id,
        ConsentInput(
            person_id=person,
            agency_code=str(kw.get("agency", "fk")),
            scope="Uppgifter om sjukskrivning och arbetsförmåga",
            valid_from=kw.get("valid_from", date(2025, 1, 1)),  # type: ignore[arg-type]
            valid_to=kw.get("valid_to"),  # type: ignore[arg-type]
        ),
    )


def _pdf(db: Database, actor: Actor, case_id: uuid.UUID, options: SummaryOptions) -> bytes:
    with db.begin() as s:
        return build_summary_pdf(
            s, actor, case_id, options, settings=SETTINGS, now=datetime.now(UTC)
        )


def _pages(pdf: bytes) -> list[str]:
    """Text of every page, as pdfplumber extracts it."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [page.extract_text() or "" for page in doc.pages]


def _column_text(pdf: bytes, x0: float) -> str:
    """Text right of ``x0`` on every page: one table column, its wrapped lines in order."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "\n".join(p.crop((x0, 0, p.width, p.height)).extract_text() or "" for p in doc.pages)


def _pypdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def _text(pdf: bytes) -> str:
    return "\n".join(_pages(pdf))


_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212+"


def longest_digit_run(text: str) -> int:
    """Most digits in one run of digits and dashes.

    Strict: whitespace (including line breaks) next to a dash is removed
    first, so "780214 -\\n3524" counts as ten digits. Plain spaces between
    digits separate runs, as in a grouped phone number "070-301 07 26".
    """
    joined = re.sub(rf"\s*([{re.escape(_DASHES)}])\s*", r"\1", text)
    runs = re.findall(rf"[\d{re.escape(_DASHES)}]+", joined)
    return max((sum(c.isdecimal() for c in r) for r in runs), default=0)


def _spaced_personnummer(text: str) -> list[str]:
    """A personnummer written with a space instead of a dash: "780214 3524"."""
    return re.findall(r"(?<!\d)(?:\d{8}|\d{6})\s+\d{4}(?!\d)", text)


# --------------------------------------------------------------------------- pure rules


def test_checker_is_strict() -> None:
    assert longest_digit_run("19780214-3524") == 12
    assert longest_digit_run("780214 -\n3524") == 10
    assert longest_digit_run("7802143524") == 10
    assert longest_digit_run("070-301 07 26") == 6
    assert longest_digit_run("2024-05 t.o.m. 2025-04") == 6
    assert longest_digit_run("19780214-XXXX") == 8
    assert _spaced_personnummer("Karin 780214 3524 ringde") == ["780214 3524"]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("19780214-3524", "19780214-XXXX"),
        ("780214-3524", "780214-XXXX"),
        ("780214+3524", "780214+XXXX"),
        ("7802143524", "780214XXXX"),
        ("197802143524", "19780214XXXX"),
        ("780214 3524", "780214 XXXX"),
        ("19780214 - 3524", "19780214 - XXXX"),
        ("0703010726", "070301XXXX"),
        ("OCR 12345678901234567890", "OCR 12345678XXXXXXXXXXXX"),
        ("1-2-3-4-5-6-7-8-9-0", "1-2-3-4-5-6-X-X-X-X"),
        ("070-301 07 26", "070-301 07 26"),
        ("2025-03-04 10:30", "2025-03-04 10:30"),
        ("12 345 kr", "12 345 kr"),
        ("FS-2024-00001", "FS-2024-00001"),
    ],
)
def test_mask_digit_runs(raw: str, masked: str) -> None:
    assert mask_digit_runs(raw) == masked
    assert longest_digit_run(mask_digit_runs(raw)) < 10


@pytest.mark.parametrize(
    ("raw", "grouped"),
    [
        ("0703010726", "070-301 07 26"),
        ("070-301 07 26", "070-301 07 26"),
        ("+46703010726", "070-301 07 26"),
        ("08-12345678", "08-123 456 78"),
        ("0812345678", "08-123 456 78"),
        ("031123456", "031-12 34 56"),
        ("0920123456", "0920-12 34 56"),
    ],
)
def test_format_phone(raw: str, grouped: str) -> None:
    assert format_phone(raw) == grouped


# --------------------------------------------------------------------------- content


def test_internal_summary_contents(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    h = _household(db, actor, unit_id)
    pdf = _pdf(db, actor, h.case_id, SummaryOptions())
    pages = _pages(pdf)
    text = "\n".join(pages)
    for heading in HEADINGS:
        assert heading in text
    # åäöÅÄÖ, é, ü, – and ” extract exactly: in a paragraph, and in a note's table cell.
    assert f"HUSHALLSSAMMANFATTNING om hela familjen. {SWEDISH}." in " ".join(text.split())
    assert f"KARINNOT {SWEDISH}." in " ".join(_column_text(pdf, NOTE_COLUMN_X).split())
    assert "Södertälje kommun" in text and "Försörjningsstöd Södertälje" in text
    assert h.case_number in text
    for i, page in enumerate(pages, start=1):
        assert SECRECY_LINE in page, f"page {i}"
        assert f"Sida {i} av {len(pages)}" in page
    # Household: address, amounts, members with unbroken personnummer, age and role.
    assert "Storgatan 12 B, 151 72 Södertälje" in text
    assert "12 345 kr" in text
    assert "070-301 07 26" in text
    for pid in (KARIN_PID, MARIE_PID, OSKAR_PID):
        assert pid in text
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        words = {w["text"] for p in doc.pages for w in p.extract_words()}
    assert {KARIN_PID, MARIE_PID, OSKAR_PID} <= words
    assert "sökande" in text and "medsökande" in text and "barn" in text
    assert re.search(r"Karin Nyström 19780214-3524 \d+ år sökande", text)
    # Case facts: six months, 2025-01 to 2025-06.
    assert "6 månader, 2025-01 t.o.m. 2025-06" in text
    assert "HUSHALLSSAMMANFATTNING" in text
    # Contact log: only signed notes, in time order, a correction with what it corrects.
    order = [text.index(m) for m in ("KARINNOT", "RATTELSENOT", "MARIENOT", "BARNNOT")]
    assert order == sorted(order)
    assert "UTKASTNOT" not in text
    assert "Rättelse av anteckning 2025-03-04 10:30:" in text
    assert "Rättad genom anteckning 2025-03-06 10:30" in text
    # Barnperspektiv: per child, with the child-perspective note.
    child_part = text[text.index("Barnperspektiv") :]
    assert "Oskar Nyström, 20120630-2844" in child_part
    assert "BARNNOT" in child_part
    # Planning.
    assert "KARINMAL" in text and "HUSHALLSMAL" in text
    # Health data and support reasons only when chosen.
    assert "psykisk ohälsa" not in text.lower()
    assert "Försörjningshinder" not in text


def test_flags_and_reasons_only_when_chosen(
    lite: Database, actor: Actor, lite_unit: uuid.UUID
) -> None:
    db, unit_id = lite, lite_unit
    h = _household(db, actor, unit_id)
    options = SummaryOptions(include_mental_health=True, include_support_reasons=True)
    text = _text(_pdf(db, actor, h.case_id, options))
    assert "Psykisk ohälsa (markering) Karin Nyström" in text
    assert "Försörjningshinder" in text
    assert "sjukskriven med sjukpenning" in text


def test_nothing_runs_off_the_page(lite: Database, actor: Actor, lite_unit: uuid.UUID) -> None:
    db, unit_id = lite, lite_unit
    h = _household(db, actor, unit_id)
    long_word = "Ö" * 40 + "/" + "x" * 300
    JournalService(db=db, actor=actor).add_note(
        h.case_id,
        NoteInput(
            occurred_at=_at(12),
            agency_code="coordination_union",
            method_code="secure_message",
            counterpart="En mycket lång kontaktpersonsbeteckning " * 4,
            text=f"LANGORD {long_word} slut.",
            member_ids=(h.karin,),
        ),
        sign=True,
    )
    pdf = _pdf(db, actor, h.case_id, SummaryOptions())
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            for ch in page.chars:
                assert ch["x0"] >= 56.0 and ch["x1"] <= page.width - 56.0, ch["text"]
    joined = "".join(_column_text(pdf, NOTE_COLUMN_X).split())
    assert f"LANGORD{long_word}slut." in joined


def test_empty_contact_log_keeps_its_heading(
    lite: Database, actor: Actor, lite_unit: uuid.UUID
) -> None:
    db, unit_id = lite, lite_unit
    ref = make_case(CaseService(db=db, actor=actor), unit_id, (A, KARIN))
    text = _text(_pdf(db, actor, ref.id, SummaryOptions()))
    assert "Kontaktlogg" in text
    assert NO_CONTACTS in text
    assert "Inga mål registrerade" in text


def test_sections_and_filters(lite: Database, actor: Actor, lite_unit: uuid.UUID) -> None:
    db, unit_id = lite, lite_unit
    h = _household(db, actor, unit_id)
    options = SummaryOptions(
        sections=frozenset({Section.CONTACT_LOG}),
        contact_from=date(2025, 3, 6),
        contact_to=date(2025, 3, 8),
        contact_agencies=frozenset({"fk"}),
    )
    text = _text(_pdf(db, actor, h.case_id, options))
    assert "Kontaktlogg" in text and "Hushåll" not in text and "Ärendeuppgifter" not in text
    assert "RATTELSENOT" in text and "MARIENOT" in text
    assert "KARINNOT" not in text  # before the period
    assert "BARNNOT" not in text  # another agency
    with db.begin() as s:
        plan = plan_summary(s, h.case_id, options, today=date.today())
    reasons = " | ".join(plan.omission_texts)
    assert "utanför vald period" in reasons and "andra myndigheter" in reasons
    with db.begin() as s, pytest.raises(ValidationError, match="före från-datumet"):
        plan_summary(
            s,
            h.case_id,
            SummaryOptions(contact_from=date(2025, 3, 8), contact_to=date(2025, 3, 1)),
            today=date.today(),
        )


def test_outcomes(lite: Database, actor: Actor, lite_unit: uuid.UUID) -> None:
    db, unit_id = lite, lite_unit
    h = _household(db, actor, unit_id)
    CaseService(db=db, actor=actor).close(
        h.case_id,
        h.version,
        date(2025, 6, 30),
        OutcomeInput(Outcome.WORK),
        {h.karin: OutcomeInput(Outcome.SICKNESS_COMPENSATION, SicknessGrade.FULL, permanent=True)},
    )
    text = _text(_pdf(db, actor, h.case_id, SummaryOptions()))
    assert "avslutad" in text and "2025-06-30" in text
    assert "sjukersättning (hel, varaktig)" in text


# --------------------------------------------------------------------------- recipients


def test_agency_without_consent_gets_nothing(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    h = _household(db, actor, unit_id)
    _consent(db, actor, h, h.karin, valid_from=date(2024, 1, 1), valid_to=date(2024, 12, 31))
    _consent(db, actor, h, h.karin, agency="psychiatry")
    with db.begin() as s:
        plan = plan_summary(s, h.case_id, FK, today=date.today())
    assert not plan.allowed
    assert any(
        t.startswith("Karin Nyström: inget giltigt samtycke till Försäkringskassan")
        for t in plan.omission_texts
    )
    with pytest.raises(ValidationError, match="inget kan lämnas ut"):
        _pdf(db, actor, h.case_id, FK)
    out = tmp_path / "fk.pdf"
    with pytest.raises(ValidationError):
        export_summary(db, actor, h.case_number, out, FK, settings=SETTINGS)
    assert not out.exists()
    with db.begin() as s:
        assert not s.scalars(
            select(AuditEvent).where(AuditEvent.action == "summary_exported")
        ).all()


def test_agency_with_consent_gets_only_the_applicant(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    h = _household(db, actor, unit_id)
    _consent(db, actor, h, h.karin)
    with db.begin() as s:
        plan = plan_summary(s, h.case_id, FK, today=date.today())
    assert plan.allowed
    assert [p.name for p in plan.persons] == ["Karin Nyström"]
    shown = " | ".join(plan.omission_texts)
    assert "Marie Åkesson:" in shown and "Oskar Nyström:" in shown
    assert "Ärendets sammanfattning" in shown
    text = _text(_pdf(db, actor, h.case_id, FK))
    assert "Mottagare Försäkringskassan" in text
    assert KARIN_PID in text and "KARINNOT" in text and "KARINMAL" in text
    assert "Uppgifter om sjukskrivning och arbetsförmåga" in text
    for absent in (
        "Marie",
        "Oskar",
        MARIE_PID,
        OSKAR_PID,
        "MARIENOT",
        "BARNNOT",
        "HUSHALLSNOT",
        "HUSHALLSMAL",
        "HUSHALLSSAMMANFATTNING",
        "UTKASTNOT",
    ):
        assert absent not in text, absent
    assert "psykisk ohälsa" not in text.lower()


def test_agency_other_members_need_their_own_consent(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    h = _household(db, actor, unit_id)
    _consent(db, actor, h, h.karin)
    both = replace(FK, person_ids=frozenset({h.karin, h.marie}))
    with db.begin() as s:
        plan = plan_summary(s, h.case_id, both, today=date.today())
    assert [p.name for p in plan.persons] == ["Karin Nyström"]
    assert any(
        t.startswith("Marie Åkesson: inget giltigt samtycke till Försäkringskassan")
        for t in plan.omission_texts
    )
    assert "MARIENOT" not in _text(_pdf(db, actor, h.case_id, both))
    _consent(db, actor, h, h.marie)
    text = _text(_pdf(db, actor, h.case_id, both))
    assert "MARIENOT" in text and MARIE_PID in text
    assert "BARNNOT" not in text and "HUSHALLSNOT" not in text


def test_protected_address_is_never_printed(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    h = _household(
        db,
        actor,
        unit_id,
        marie=replace(MARIE, protection=Protection.PROTECTED_REGISTRATION, phone="0701234567"),
    )
    _consent(db, actor, h, h.karin)
    JournalService(db=db, actor=actor).add_note(
        h.case_id,
        NoteInput(
            occurred_at=_at(12),
            agency_code="client",
            method_code="home_visit",
            text="Hembesök på STORGATAN 12 B tillsammans med Karin.",
            member_ids=(h.karin,),
        ),
        sign=True,
    )
    for options in (SummaryOptions(), SummaryOptions(mask_personnummer=True), FK):
        text = _text(_pdf(db, actor, h.case_id, options))
        assert "storgatan" not in text.lower() and "151 72" not in text
        assert "Hembesök på [skyddad adress]" in " ".join(text.split())
        assert "Adress skyddad" in text
        assert "070-123 45 67" not in text
    with db.begin() as s:
        plan = plan_summary(s, h.case_id, SummaryOptions(), today=date.today())
    assert any(t.startswith("Adress: skrivs aldrig ut") for t in plan.omission_texts)


# --------------------------------------------------------------------------- masking


def test_masked_file_has_no_full_personnummer_or_long_digit_run(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    h = _household(db, actor, unit_id)
    pdf = _pdf(db, actor, h.case_id, SummaryOptions(mask_personnummer=True))
    for pages in (_pages(pdf), _pypdf_pages(pdf)):
        for i, page in enumerate(pages, start=1):
            assert longest_digit_run(page) < 10, f"page {i}"
            assert not _spaced_personnummer(page), f"page {i}"
            squeezed = "".join(page.split())
            for pid in (KARIN_PID, MARIE_PID, OSKAR_PID):
                digits = pid.replace("-", "")
                for form in (pid, digits, digits[2:], pid[2:]):
                    assert form not in squeezed, form
    # The document information too; its dates are PDF syntax ("D:20261123041100+00'00'"),
    # as are the byte offsets of the cross-reference table, never text a reader sees.
    metadata = dict(PdfReader(io.BytesIO(pdf)).metadata or {})
    for key, value in metadata.items():
        if key in ("/CreationDate", "/ModDate"):
            assert re.fullmatch(r"D:\d{14}.*", str(value))
        else:
            assert longest_digit_run(str(value)) < 10, key
    text = _text(pdf)
    assert "19780214-XXXX" in text and "20120630-XXXX" in text
    assert "070-301 07 26" in text  # grouped, so no run of ten
    assert "SIFFERNOT Karin 780214-XXXX" in " ".join(text.split())


# --------------------------------------------------------------------------- fonts


def _fonts(pdf: bytes) -> list[DictionaryObject]:
    fonts = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page.get("/Resources")
        font_dict = resources.get_object().get("/Font") if resources else None
        if font_dict is None:
            continue
        for ref in font_dict.get_object().values():
            fonts.append(ref.get_object())
    return fonts


def test_every_font_is_embedded(lite: Database, actor: Actor, lite_unit: uuid.UUID) -> None:
    db, unit_id = lite, lite_unit
    h = _household(db, actor, unit_id)
    pdf = _pdf(db, actor, h.case_id, SummaryOptions())
    fonts = _fonts(pdf)
    assert fonts
    for font in fonts:
        if font["/Subtype"] == "/Type0":
            font = font["/DescendantFonts"][0].get_object()
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        assert "Helvetica" not in str(font["/BaseFont"])
    if shutil.which("pdffonts"):
        listing = subprocess.run(
            ["pdffonts", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        rows = listing.splitlines()[2:]
        assert rows and all(" yes " in row for row in rows), listing


# --------------------------------------------------------------------------- export


def _events(db: Database, action: str) -> list[AuditEvent]:
    with db.begin() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_export_to_agency_writes_file_audit_and_disclosure_note(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    h = _household(db, actor, unit_id)
    _consent(db, actor, h, h.karin)
    out_dir = tmp_path / "ut"
    out_dir.mkdir()
    out = out_dir / f"{h.case_number}.pdf"
    result = export_summary(
        db, actor, h.case_number, out, replace(FK, mask_personnummer=True), settings=SETTINGS
    )
    assert out.read_bytes().startswith(b"%PDF")
    assert [p.name for p in out_dir.iterdir()] == [out.name]  # no temp file left
    assert result.pages >= 1 and result.masked and result.recipient == "fk"
    assert result.disclosure_note_id is not None and "journal" in result.changes.parts
    (event,) = _events(db, "summary_exported")
    detail = json.loads(event.detail)
    assert event.case_id == h.case_id
    assert detail["recipient"] == "fk" and detail["masked"] is True
    assert detail["destination"] == out.name
    assert detail["note_id"] == str(result.disclosure_note_id)
    assert "Karin" not in event.detail and "19780214" not in event.detail
    with db.begin() as s:
        note = s.get(ContactEntry, result.disclosure_note_id)
        assert note is not None and note.signed_at is not None
        assert (note.agency_code, note.method_code) == ("fk", "internal")
        assert {p.id for p in note.members} == {h.karin}
        assert "Försäkringskassan" in note.text and "Karin Nyström" in note.text
        assert "maskerade" in note.text
    # The disclosure note is itself in the next summary to the same agency.
    log = " ".join(_column_text(_pdf(db, actor, h.case_id, FK), NOTE_COLUMN_X).split())
    assert "Sammanfattning av ärendet lämnad till Försäkringskassan" in log


def test_export_internal_audits_without_a_note(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    h = _household(db, actor, unit_id)
    out = tmp_path / "akt.pdf"
    out.write_bytes(b"old")
    result = export_summary(db, actor, f" {h.case_number} ", out, SummaryOptions())
    assert out.read_bytes().startswith(b"%PDF")
    assert result.disclosure_note_id is None
    (event,) = _events(db, "summary_exported")
    assert json.loads(event.detail)["recipient"] == "internal"
    with db.begin() as s:
        assert not s.scalars(
            select(ContactEntry).where(ContactEntry.method_code == "internal")
        ).all()


def test_export_unknown_case_and_unwritable_file(
    db: Database, actor: Actor, unit_id: uuid.UUID, tmp_path: Path
) -> None:
    out_dir = tmp_path / "ut"
    out_dir.mkdir()
    with pytest.raises(NotFoundError, match="ärendet FS-2099-99999 finns inte") as info:
        export_summary(db, actor, "FS-2099-99999", out_dir / "x.pdf", SummaryOptions())
    assert info.value.exit_code == EXIT_NOT_FOUND
    h = _household(db, actor, unit_id)
    with pytest.raises(FokusError, match="kan inte skrivas"):
        export_summary(db, actor, h.case_number, out_dir / "saknas" / "x.pdf", SummaryOptions())
    assert list(out_dir.iterdir()) == []
    assert _events(db, "summary_exported") == []


# --------------------------------------------------------------------------- size


def test_two_thousand_notes(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    ref = make_case(CaseService(db=db, actor=actor), unit_id, (A, KARIN), (B, OSKAR))
    base = datetime(2020, 1, 1, 8, 0, tzinfo=UTC)
    sentences = [
        f"S{k:03d}S Lång anteckning om kontakten med Försäkringskassan." for k in range(400)
    ]
    long_text = " ".join(["LANGSTART", *sentences, "LANGSLUT"])
    rows = []
    for i in range(2000):
        at = base + timedelta(hours=13 * i)
        rows.append(
            {
                "id": uuid.uuid4(),
                "case_id": ref.id,
                "occurred_at": at,
                "agency_code": ("fk", "af", "psychiatry", "school")[i % 4],
                "method_code": ("phone", "meeting", "email")[i % 3],
                "counterpart": "Åsa Öberg" if i % 2 else "",
                "text": long_text
                if i == 1000
                else f"M{i:04d}X samtal nr {i} om planen. " * (1 + i % 3),
                "child_perspective": False,
                "author_name": actor.username,
                "created_at": at,
                "updated_at": at,
                "signed_at": at,
                "version": 1,
            }
        )
    with db.begin() as s:
        s.execute(insert(ContactEntry), rows)
    pdf = _pdf(db, actor, ref.id, SummaryOptions())
    pages = _pypdf_pages(pdf)
    assert len(pages) > 50
    joined = "".join("".join(pages).split())
    missing = [i for i in range(2000) if i != 1000 and f"M{i:04d}X" not in joined]
    assert missing == []
    assert "LANGSTART" in joined and "LANGSLUT" in joined
    # The long note is split across pages and nothing of it is lost.
    assert [k for k in range(400) if f"S{k:03d}S" not in joined] == []
    assert f"Sida{len(pages)}av{len(pages)}" in "".join(pages[-1].split())
    assert all(SECRECY_LINE.replace(" ", "") in "".join(p.split()) for p in pages)
    assert "(forts.)" in "".join(pages)


def test_preview_and_print_are_audited(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    h = _household(db, actor, unit_id)
    _consent(db, actor, h, h.karin)
    preview = preview_summary(db, actor, h.case_id, FK, settings=SETTINGS)
    assert preview.pdf.startswith(b"%PDF") and preview.pages >= 1
    assert [p.name for p in preview.plan.persons] == ["Karin Nyström"]
    (event,) = _events(db, "summary_previewed")
    assert json.loads(event.detail)["recipient"] == "fk"
    note_id = record_summary_printed(
        db, actor, h.case_id, FK, printer="Skrivare plan 3", settings=SETTINGS
    )
    (printed,) = _events(db, "summary_printed")
    assert json.loads(printed.detail)["destination"] == "skrivare Skrivare plan 3"
    with db.begin() as s:
        note = s.get(ContactEntry, note_id)
        assert note is not None and "(utskrift)" in note.text
    assert (
        record_summary_printed(
            db, actor, h.case_id, SummaryOptions(), printer="p", settings=SETTINGS
        )
        is None
    )


def test_bad_options_and_unknown_case(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    h = _household(db, actor, unit_id)
    with db.begin() as s:
        with pytest.raises(NotFoundError):
            plan_summary(s, uuid.uuid4(), SummaryOptions(), today=date.today())
        with pytest.raises(ValidationError, match="okänd mottagare"):
            plan_summary(s, h.case_id, SummaryOptions(recipient="nasa"), today=date.today())
        with pytest.raises(ValidationError, match="minst ett avsnitt"):
            plan_summary(s, h.case_id, SummaryOptions(sections=frozenset()), today=date.today())
        with pytest.raises(ValidationError, match="ingår inte i hushållet"):
            plan_summary(
                s,
                h.case_id,
                SummaryOptions(person_ids=frozenset({uuid.uuid4()})),
                today=date.today(),
            )


def test_fonts_are_bundled_with_their_licence_and_fall_back_to_vera(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundled = summary.summary_fonts()
    assert bundled.source == summary.FONT_DIR and bundled.regular == "FokusDejaVuSans"
    licence = (summary.FONT_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Bitstream Vera" in licence and "Arev" in licence
    monkeypatch.setattr(summary, "FONT_DIR", tmp_path)
    summary.summary_fonts.cache_clear()
    try:
        fallback = summary.summary_fonts()
        assert fallback.regular == "FokusVera"
        assert (fallback.source / "bitstream-vera-license.txt").is_file()
    finally:
        monkeypatch.undo()
        summary.summary_fonts.cache_clear()
    assert summary.summary_fonts() == bundled
