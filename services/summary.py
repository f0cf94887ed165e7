"""Case summaries as PDF: what a recipient may receive, and a document that prints cleanly.

Caseworkers hand summaries to the file, to meetings, to Försäkringskassan and
to healthcare. Social-services data is secret (26 kap. 1 § OSL) and each
household member's secrecy is their own, so deciding *what goes in* is kept
apart from *drawing it*: :func:`plan_summary` applies the recipient, consent,
person and filter rules and says what it left out and why (the UI shows that
before anything is printed), and :func:`build_summary_pdf` only renders a plan.
:func:`export_summary` is the user action: one transaction that builds the
file, writes it atomically, and leaves an audit event and, for an agency, a
signed note in the contact log recording the disclosure.

Tables are drawn by :class:`_GridTable`, a small flowable that wraps text with
cached glyph widths and splits itself page by page. reportlab's own ``Table``
re-measures every remaining row at each page break, which made a 2,000-note
contact log quadratic; this one is linear, repeats its header on every page,
splits a long note across pages, and its column widths always add up to the
frame width, so nothing runs off the page.

No Qt here: the same code serves the preview, printing, the CLI and batches.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reportlab  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_LEFT  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    Agency,
    Case,
    Consent,
    ContactEntry,
    ContactMethod,
    HouseholdMember,
    Person,
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
from models.codes import (
    DIRECTION_LABELS,
    GRADE_LABELS,
    MEMBER_ROLE_LABELS,
    OTHER_BENEFIT_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    CaseStatus,
    Direction,
    MemberRole,
    OtherBenefit,
    Outcome,
    Role,
    SicknessGrade,
)
from services.access import Purpose, require_case_access
from services.audit import Actor, record
from services.cases import Changes, case_by_number
from services.db import Database
from services.errors import (
    FieldError,
    FokusError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from services.journal import NoteInput, add_note_in, has_valid_consent
from services.personal_id import format_personal_id
from services.register import count_in
from services.search import RegisterFilter, register_conditions
from services.settings import Settings, load_settings, settings_path
from services.support import format_amount
from services.targets import person_directions

# --------------------------------------------------------------------------- options

RECIPIENT_INTERNAL = "internal"
INTERNAL_LABEL = "intern akt"
SECRECY_LINE = "Sekretess enligt 26 kap. 1 § offentlighets- och sekretesslagen (2009:400)"
NO_CONTACTS = "Inga kontakter registrerade"
DISCLOSURE_METHOD = "internal"


class Section(StrEnum):
    """The parts of a summary a caseworker can leave out (a meeting may need only the log)."""

    CASE = "case"
    HOUSEHOLD = "household"
    CONTACT_LOG = "contact_log"
    CHILD_PERSPECTIVE = "child_perspective"
    PLAN = "plan"


SECTION_LABELS: dict[Section, str] = {
    Section.CASE: "Ärendeuppgifter",
    Section.HOUSEHOLD: "Hushåll",
    Section.CONTACT_LOG: "Kontaktlogg",
    Section.CHILD_PERSPECTIVE: "Barnperspektiv",
    Section.PLAN: "Planering och utfall",
}

ALL_SECTIONS: frozenset[Section] = frozenset(Section)


@dataclass(frozen=True)
class SummaryOptions:
    """What the caseworker chose in the print dialog.

    ``person_ids`` ``None`` means the recipient's default: every household
    member for the internal file, only the applicant for an agency. For an
    agency every included person also needs a valid consent to that agency.
    """

    recipient: str = RECIPIENT_INTERNAL
    person_ids: frozenset[uuid.UUID] | None = None
    sections: frozenset[Section] = ALL_SECTIONS
    contact_from: date | None = None
    contact_to: date | None = None
    contact_agencies: frozenset[str] | None = None
    mask_personnummer: bool = False
    include_mental_health: bool = False
    include_support_reasons: bool = False

    @property
    def is_internal(self) -> bool:
        return self.recipient == RECIPIENT_INTERNAL


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Omission:
    """Something left out of the summary, with the reason, for the screen (never printed)."""

    subject: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


@dataclass(frozen=True)
class PersonLine:
    """A household member as printed; one line even if the person left and came back."""

    id: uuid.UUID
    name: str
    personal_id: str | None  # 12 digits
    birth_date: date
    reserve_number: str | None
    role: MemberRole
    valid_from: date
    valid_to: date | None
    phone: str | None
    protected: bool
    mental_ill_health: bool


@dataclass(frozen=True)
class NoteLine:
    """A signed note as printed, with the dates that link a correction and its original."""

    id: uuid.UUID
    occurred_at: datetime
    agency: str
    method: str
    counterpart: str
    text: str
    author: str
    signed_at: datetime
    corrects_at: datetime | None  # when the note this one corrects took place
    corrected_at: tuple[datetime, ...]  # when the notes correcting this one took place
    member_ids: frozenset[uuid.UUID]
    child_perspective: bool


@dataclass(frozen=True)
class CaseFacts:
    """Case-level facts; the address fields are already empty when it may not be printed."""

    status: str
    opened_on: date
    closed_on: date | None
    caseworker: str | None
    direction: str
    is_focus: bool
    months: int
    first_month: date | None
    last_month: date | None
    total_ore: int
    summary: str | None  # None: left out for this recipient
    address: str | None
    postcode: str | None
    town: str | None
    address_protected: bool
    housing_type: str | None
    housing_cost_ore: int | None


@dataclass(frozen=True)
class ConsentLine:
    """The consent a disclosure to an agency rests on, printed so the recipient sees it."""

    person_name: str
    scope: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class GoalLine:
    """A plan goal, with whom it concerns (a person or the household)."""

    text: str
    concerns: str
    direction: str
    target_date: date | None
    achieved_on: date | None


@dataclass(frozen=True)
class DirectionLine:
    """One person's direction for a period (arbete/studier, sjukersättning, ...) with its goal."""

    person_name: str
    direction: str
    started_on: date
    ended_on: date | None
    goal: str
    goal_date: date | None
    note: str  # empty unless the summary goes to the internal file


@dataclass(frozen=True)
class OutcomeLine:
    """An outcome of the case or of one person, as a Swedish phrase."""

    concerns: str
    outcome: str
    recorded_on: date | None


@dataclass(frozen=True)
class ReasonLine:
    """A försörjningshinder, printed only when the caseworker chose to include them."""

    person_name: str
    reason: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class SummaryPlan:
    """Everything a summary will contain, already filtered for the recipient."""

    case_id: uuid.UUID
    case_number: str
    unit_name: str
    options: SummaryOptions
    recipient_label: str
    today: date
    facts: CaseFacts
    persons: tuple[PersonLine, ...]
    consents: tuple[ConsentLine, ...]
    notes: tuple[NoteLine, ...]
    child_notes: tuple[tuple[PersonLine, tuple[NoteLine, ...]], ...]
    goals: tuple[GoalLine, ...]
    outcomes: tuple[OutcomeLine, ...]
    reasons: tuple[ReasonLine, ...]
    mental_health: tuple[str, ...]
    omissions: tuple[Omission, ...]
    blocked_reason: str | None = None
    directions: tuple[DirectionLine, ...] = ()
    # Never printed: a protected household's street address, also cut out of free texts.
    redact: tuple[str, ...] = field(default=(), repr=False)

    @property
    def allowed(self) -> bool:
        """False when nothing may be disclosed to this recipient (no consent at all)."""
        return self.blocked_reason is None

    @property
    def omission_texts(self) -> tuple[str, ...]:
        return tuple(str(o) for o in self.omissions)

    def screen_lines(self) -> tuple[str, ...]:
        """What the print dialog shows beside the options: the block first, then each omission.

        Never printed; it names household members, so it stays on the screen.
        """
        head = (f"Inget skrivs ut: {self.blocked_reason}",) if self.blocked_reason else ()
        return head + self.omission_texts

    @property
    def sections(self) -> frozenset[Section]:
        return self.options.sections


def _local_tz() -> tzinfo:
    try:
        return ZoneInfo("Europe/Stockholm")
    except ZoneInfoNotFoundError:  # Windows without the tzdata package
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC


LOCAL_TZ = _local_tz()


def _local(dt: datetime) -> datetime:
    return dt.astimezone(LOCAL_TZ)


def local_today(now: datetime) -> date:
    """The Swedish calendar date of an aware timestamp (consents are judged on it)."""
    return _local(now).date()


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


_ROLE_ORDER = {
    MemberRole.APPLICANT: 0,
    MemberRole.CO_APPLICANT: 1,
    MemberRole.OTHER_ADULT: 2,
    MemberRole.CHILD: 3,
}


def _labels(session: Session, model: type[Agency] | type[ContactMethod]) -> dict[str, str]:
    return {code: label for code, label in session.execute(select(model.code, model.label))}


def _outcome_text(outcome: str, grade: str | None, permanent: bool | None, benefit: str) -> str:
    text = OUTCOME_LABELS.get(Outcome(outcome), outcome)
    extra = []
    if grade:
        extra.append(GRADE_LABELS.get(SicknessGrade(grade), grade))
    if permanent:
        extra.append("varaktig")
    if benefit:
        extra.append(OTHER_BENEFIT_LABELS.get(OtherBenefit(benefit), benefit))
    return f"{text} ({', '.join(extra)})" if extra else text


def _check_options(session: Session, options: SummaryOptions) -> str:
    """Validate the options; returns the recipient's label."""
    errors = []
    label = INTERNAL_LABEL
    if not options.is_internal:
        agency = session.get(Agency, options.recipient)
        if agency is None or not agency.active:
            errors.append(("mottagare", f"okänd mottagare {options.recipient!r}"))
        else:
            label = agency.label
    if not options.sections:
        errors.append(("avsnitt", "välj minst ett avsnitt"))
    if options.contact_from and options.contact_to and options.contact_from > options.contact_to:
        errors.append(("kontaktlogg till", "ligger före från-datumet"))
    if options.contact_agencies is not None:
        known = set(_labels(session, Agency))
        unknown = sorted(set(options.contact_agencies) - known)
        if unknown:
            errors.append(("kontaktlogg myndighet", f"okänd kod {unknown[0]!r}"))
    if errors:
        raise ValidationError([FieldError(f, m) for f, m in errors])
    return label


def _members(session: Session, case_id: uuid.UUID) -> list[PersonLine]:
    """One line per person of the household (a person who left and came back: once)."""
    rows = session.execute(
        select(HouseholdMember, Person)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.case_id == case_id)
        .order_by(HouseholdMember.valid_from)
    ).all()
    by_person: dict[uuid.UUID, PersonLine] = {}
    for m, p in rows:
        earlier = by_person.get(p.id)
        valid_to = m.valid_to
        valid_from = m.valid_from
        if earlier is not None:
            valid_from = earlier.valid_from
            valid_to = None if (earlier.valid_to is None or m.valid_to is None) else m.valid_to
        by_person[p.id] = PersonLine(
            id=p.id,
            name=p.full_name,
            personal_id=p.personal_id,
            birth_date=p.birth_date,
            reserve_number=p.reserve_number,
            role=MemberRole(m.role),
            valid_from=valid_from,
            valid_to=valid_to,
            phone=p.phone,
            protected=p.is_protected,
            mental_ill_health=p.mental_ill_health,
        )
    return sorted(by_person.values(), key=lambda x: (_ROLE_ORDER[x.role], x.birth_date, x.name))


def _applicant(members: Sequence[PersonLine], today: date) -> PersonLine | None:
    applicants = [m for m in members if m.role is MemberRole.APPLICANT]
    current = [
        m
        for m in applicants
        if m.valid_from <= today and (m.valid_to is None or m.valid_to >= today)
    ]
    pool = current or applicants
    return max(pool, key=lambda m: m.valid_from) if pool else None


def _choose_persons(
    session: Session,
    options: SummaryOptions,
    members: list[PersonLine],
    recipient_label: str,
    today: date,
    omissions: list[Omission],
) -> list[PersonLine]:
    """Who the summary is about: chosen, and for an agency, covered by a valid consent."""
    by_id = {m.id: m for m in members}
    if options.person_ids is not None:
        stray = set(options.person_ids) - set(by_id)
        if stray:
            raise ValidationError.single("personer", "någon av personerna ingår inte i hushållet")
        chosen = [m for m in members if m.id in options.person_ids]
        for m in members:
            if m.id not in options.person_ids:
                omissions.append(Omission(m.name, "inte vald"))
    elif options.is_internal:
        chosen = list(members)
    else:
        applicant = _applicant(members, today)
        chosen = [applicant] if applicant is not None else []
        for m in members:
            if applicant is None or m.id != applicant.id:
                omissions.append(
                    Omission(
                        m.name,
                        f"bara sökandens egna uppgifter lämnas ut till {recipient_label} "
                        "om inget annat väljs",
                    )
                )
    if options.is_internal:
        return chosen
    consented = []
    for m in chosen:
        if has_valid_consent(session, m.id, options.recipient, today):
            consented.append(m)
        else:
            omissions.append(
                Omission(m.name, f"inget giltigt samtycke till {recipient_label} {today:%Y-%m-%d}")
            )
    return consented


def _consents(
    session: Session, persons: Sequence[PersonLine], agency: str, today: date
) -> list[ConsentLine]:
    names = {p.id: p.name for p in persons}
    if not names:
        return []
    rows = session.scalars(
        select(Consent)
        .where(
            Consent.person_id.in_(names),
            Consent.agency_code == agency,
            Consent.valid_from <= today,
            (Consent.valid_to.is_(None)) | (Consent.valid_to >= today),
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.valid_from)
    )
    return [ConsentLine(names[c.person_id], c.scope, c.valid_from, c.valid_to) for c in rows]


def _facts(
    session: Session,
    case: Case,
    options: SummaryOptions,
    recipient_label: str,
    members: Sequence[PersonLine],
    omissions: list[Omission],
) -> CaseFacts:
    months = session.execute(
        select(
            func.count(SupportMonth.id),
            func.min(SupportMonth.month),
            func.max(SupportMonth.month),
            func.coalesce(func.sum(SupportMonth.amount_ore), 0),
        ).where(SupportMonth.case_id == case.id)
    ).one()
    caseworker = session.get(User, case.caseworker_id) if case.caseworker_id else None
    protected = any(m.protected for m in members)
    summary: str | None = case.summary or None
    if summary and not options.is_internal and Section.CASE in options.sections:
        omissions.append(
            Omission(
                "Ärendets sammanfattning",
                f"fritext om hela hushållet lämnas inte ut till {recipient_label}",
            )
        )
        summary = None
    if (
        protected
        and Section.HOUSEHOLD in options.sections
        and (case.address or case.postcode or case.town)
    ):
        omissions.append(
            Omission("Adress", "skrivs aldrig ut: någon i hushållet har skyddade personuppgifter")
        )
    return CaseFacts(
        status=STATUS_LABELS.get(CaseStatus(case.status), case.status),
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        caseworker=caseworker.full_name if caseworker else None,
        direction=DIRECTION_LABELS.get(Direction(case.direction), case.direction),
        is_focus=case.is_focus,
        months=int(months[0] or 0),
        first_month=months[1],
        last_month=months[2],
        total_ore=int(months[3] or 0),
        summary=summary,
        address=None if protected else case.address,
        postcode=None if protected else case.postcode,
        town=None if protected else case.town,
        address_protected=protected,
        housing_type=case.housing_type,
        housing_cost_ore=case.housing_cost_ore,
    )


def _count(n: int, one: str, many: str) -> str:
    """ "1 anteckning", "3 anteckningar": the omission lines are read on screen."""
    return f"{n} {one if n == 1 else many}"


def _notes_n(n: int) -> str:
    return _count(n, "anteckning", "anteckningar")


def _covers(
    concerns: frozenset[uuid.UUID], included: frozenset[uuid.UUID], household_only: bool
) -> bool:
    """Whether data about ``concerns`` may go out when ``included`` are the persons covered.

    Data linked to no person concerns the whole household: it goes out only
    when every member of the household is included.
    """
    if concerns:
        return concerns <= included
    return household_only


def _notes(
    session: Session,
    case_id: uuid.UUID,
    options: SummaryOptions,
    included: frozenset[uuid.UUID],
    household_only: bool,
    omissions: list[Omission],
) -> list[NoteLine]:
    agencies = _labels(session, Agency)
    methods = _labels(session, ContactMethod)
    links: dict[uuid.UUID, set[uuid.UUID]] = {}
    for entry_id, person_id in session.execute(
        select(contact_entry_member.c.entry_id, contact_entry_member.c.person_id)
        .join(ContactEntry, ContactEntry.id == contact_entry_member.c.entry_id)
        .where(ContactEntry.case_id == case_id)
    ):
        links.setdefault(entry_id, set()).add(person_id)
    rows = session.execute(
        select(
            ContactEntry.id,
            ContactEntry.occurred_at,
            ContactEntry.agency_code,
            ContactEntry.method_code,
            ContactEntry.counterpart,
            ContactEntry.text,
            ContactEntry.author_name,
            ContactEntry.signed_at,
            ContactEntry.corrects_id,
            ContactEntry.child_perspective,
        )
        .where(ContactEntry.case_id == case_id, ContactEntry.signed_at.is_not(None))
        .order_by(ContactEntry.occurred_at, ContactEntry.created_at, ContactEntry.id)
    ).all()
    drafts = session.scalar(
        select(func.count(ContactEntry.id)).where(
            ContactEntry.case_id == case_id, ContactEntry.signed_at.is_(None)
        )
    )
    if drafts:
        omissions.append(
            Omission(
                "Kontaktlogg",
                f"{_count(drafts, 'osignerat utkast', 'osignerade utkast')} ingår inte",
            )
        )
    when = {r.id: r.occurred_at for r in rows}
    corrections: dict[uuid.UUID, list[datetime]] = {}
    for r in rows:
        if r.corrects_id is not None:
            corrections.setdefault(r.corrects_id, []).append(r.occurred_at)
    out_of_period = other_agency = other_persons = household_notes = 0
    notes = []
    for r in rows:
        day = _local(r.occurred_at).date()
        if (options.contact_from and day < options.contact_from) or (
            options.contact_to and day > options.contact_to
        ):
            out_of_period += 1
            continue
        if options.contact_agencies is not None and r.agency_code not in options.contact_agencies:
            other_agency += 1
            continue
        concerns = frozenset(links.get(r.id, ()))
        if not _covers(concerns, included, household_only):
            if concerns:
                other_persons += 1
            else:
                household_notes += 1
            continue
        notes.append(
            NoteLine(
                id=r.id,
                occurred_at=r.occurred_at,
                agency=agencies.get(r.agency_code, r.agency_code),
                method=methods.get(r.method_code, r.method_code),
                counterpart=r.counterpart,
                text=r.text,
                author=r.author_name,
                signed_at=r.signed_at,
                corrects_at=when.get(r.corrects_id) if r.corrects_id else None,
                corrected_at=tuple(corrections.get(r.id, ())),
                member_ids=concerns,
                child_perspective=r.child_perspective,
            )
        )
    if out_of_period:
        omissions.append(Omission("Kontaktlogg", f"{_notes_n(out_of_period)} utanför vald period"))
    if other_agency:
        omissions.append(
            Omission("Kontaktlogg", f"{_notes_n(other_agency)} med andra myndigheter än valda")
        )
    if other_persons:
        omissions.append(
            Omission(
                "Kontaktlogg",
                f"{_notes_n(other_persons)} som rör personer som inte ingår lämnas inte ut",
            )
        )
    if household_notes:
        omissions.append(
            Omission(
                "Kontaktlogg",
                f"{_notes_n(household_notes)} utan angiven person (hela hushållet) lämnas inte ut",
            )
        )
    return notes


def _goals_and_outcomes(
    session: Session,
    case: Case,
    names: dict[uuid.UUID, str],
    included: frozenset[uuid.UUID],
    household_only: bool,
    omissions: list[Omission],
) -> tuple[list[GoalLine], list[OutcomeLine]]:
    goals = []
    left_out = 0
    for g in session.scalars(
        select(PlanGoal).where(PlanGoal.case_id == case.id).order_by(PlanGoal.created_at)
    ):
        concerns = frozenset({g.person_id}) if g.person_id else frozenset()
        if not _covers(concerns, included, household_only):
            left_out += 1
            continue
        goals.append(
            GoalLine(
                text=g.text,
                concerns=names.get(g.person_id, "") if g.person_id else "hushållet",
                direction=DIRECTION_LABELS.get(Direction(g.direction), g.direction),
                target_date=g.target_date,
                achieved_on=g.achieved_on,
            )
        )
    if left_out:
        omissions.append(
            Omission("Planering", f"{left_out} mål som rör personer som inte ingår lämnas inte ut")
        )
    outcomes = []
    if case.outcome:
        outcomes.append(
            OutcomeLine(
                "ärendet",
                _outcome_text(
                    case.outcome,
                    case.outcome_grade,
                    case.outcome_permanent,
                    case.outcome_benefit or "",
                ),
                case.closed_on,
            )
        )
    skipped = 0
    for po in session.scalars(
        select(PersonOutcome)
        .where(PersonOutcome.case_id == case.id)
        .order_by(PersonOutcome.recorded_on)
    ):
        if po.person_id not in included:
            skipped += 1
            continue
        if po.outcome:
            outcomes.append(
                OutcomeLine(
                    names.get(po.person_id, ""),
                    _outcome_text(
                        po.outcome, po.outcome_grade, po.outcome_permanent, po.outcome_benefit or ""
                    ),
                    po.recorded_on,
                )
            )
    if skipped:
        omissions.append(
            Omission("Utfall", f"{skipped} utfall för personer som inte ingår lämnas inte ut")
        )
    return goals, outcomes


def _directions(
    session: Session,
    case_id: uuid.UUID,
    options: SummaryOptions,
    recipient_label: str,
    names: dict[uuid.UUID, str],
    included: frozenset[uuid.UUID],
    omissions: list[Omission],
) -> list[DirectionLine]:
    """Each included person's directions, in the order of the household list, oldest first."""
    order = {pid: i for i, pid in enumerate(names)}
    rows = person_directions(session, case_id)
    left_out = sum(1 for d in rows if d.person_id not in included)
    kept = sorted(
        (d for d in rows if d.person_id in included),
        key=lambda d: (order.get(d.person_id, len(order)), d.started_on),
    )
    if left_out:
        omissions.append(
            Omission(
                "Planering",
                f"{_count(left_out, 'inriktning', 'inriktningar')} för personer som inte ingår "
                "lämnas inte ut",
            )
        )
    if not options.is_internal and any(d.note for d in kept):
        omissions.append(
            Omission(
                "Inriktningarnas anteckningar",
                f"interna arbetsanteckningar lämnas inte ut till {recipient_label}",
            )
        )
    return [
        DirectionLine(
            person_name=names.get(d.person_id, ""),
            direction=DIRECTION_LABELS.get(d.direction, d.direction.value),
            started_on=d.started_on,
            ended_on=d.ended_on,
            goal=d.goal,
            goal_date=d.goal_date,
            note=d.note if options.is_internal else "",
        )
        for d in kept
    ]


def _reasons(
    session: Session,
    case_id: uuid.UUID,
    options: SummaryOptions,
    names: dict[uuid.UUID, str],
    included: frozenset[uuid.UUID],
    omissions: list[Omission],
) -> list[ReasonLine]:
    rows = session.execute(
        select(SupportReason, SupportReasonKind.label)
        .join(SupportReasonKind, SupportReasonKind.code == SupportReason.reason_code)
        .where(SupportReason.case_id == case_id, SupportReason.person_id.in_(included))
        .order_by(SupportReason.valid_from)
    ).all()
    if not options.include_support_reasons:
        if rows:
            omissions.append(Omission("Försörjningshinder", "skrivs inte ut (inte valt)"))
        return []
    return [
        ReasonLine(names.get(r.person_id, ""), label, r.valid_from, r.valid_to) for r, label in rows
    ]


def plan_summary(
    session: Session, case_id: uuid.UUID, options: SummaryOptions, *, today: date
) -> SummaryPlan:
    """Decide what the summary contains for this recipient, and list what is left out.

    Reads only. ``today`` is the generation date: consents are judged on it.
    Raises :class:`NotFoundError` for an unknown case and
    :class:`ValidationError` for bad options.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    recipient_label = _check_options(session, options)
    unit = session.get(Unit, case.unit_id)
    omissions: list[Omission] = []
    members = _members(session, case.id)
    persons = _choose_persons(session, options, members, recipient_label, today, omissions)
    included = frozenset(p.id for p in persons)
    household_only = included >= {m.id for m in members}
    names = {m.id: m.name for m in members}
    blocked = None
    if not options.is_internal and not persons:
        blocked = (
            f"inget kan lämnas ut till {recipient_label}: ingen av de valda personerna har "
            f"ett giltigt samtycke {today:%Y-%m-%d}"
        )
    facts = _facts(session, case, options, recipient_label, members, omissions)
    wants_notes = bool({Section.CONTACT_LOG, Section.CHILD_PERSPECTIVE} & options.sections)
    notes = (
        _notes(session, case.id, options, included, household_only, omissions)
        if wants_notes
        else []
    )
    children = [p for p in persons if p.role is MemberRole.CHILD]
    child_notes = tuple(
        (child, tuple(n for n in notes if n.child_perspective and child.id in n.member_ids))
        for child in children
    )
    goals: list[GoalLine] = []
    outcomes: list[OutcomeLine] = []
    directions: list[DirectionLine] = []
    if Section.PLAN in options.sections:
        directions = _directions(
            session, case.id, options, recipient_label, names, included, omissions
        )
        goals, outcomes = _goals_and_outcomes(
            session, case, names, included, household_only, omissions
        )
    reasons = (
        _reasons(session, case.id, options, names, included, omissions)
        if Section.HOUSEHOLD in options.sections
        else []
    )
    flagged = tuple(p.name for p in persons if p.mental_ill_health)
    if flagged and not options.include_mental_health and Section.HOUSEHOLD in options.sections:
        omissions.append(Omission("Psykisk ohälsa", "markeringen skrivs inte ut (inte vald)"))
    consents = [] if options.is_internal else _consents(session, persons, options.recipient, today)
    return SummaryPlan(
        case_id=case.id,
        case_number=case.case_number,
        unit_name=unit.name if unit else "",
        options=options,
        recipient_label=recipient_label,
        today=today,
        facts=facts,
        persons=tuple(persons),
        consents=tuple(consents),
        notes=tuple(notes) if Section.CONTACT_LOG in options.sections else (),
        child_notes=child_notes if Section.CHILD_PERSPECTIVE in options.sections else (),
        goals=tuple(goals),
        outcomes=tuple(outcomes),
        reasons=tuple(reasons),
        mental_health=flagged if options.include_mental_health else (),
        omissions=tuple(omissions),
        blocked_reason=blocked,
        directions=tuple(directions),
        redact=_redactions(case, members),
    )


def _redactions(case: Case, members: Sequence[PersonLine]) -> tuple[str, ...]:
    if not any(m.protected for m in members):
        return ()
    street = (case.address or "").strip()
    return (street,) if len(street) >= 4 else ()


# --------------------------------------------------------------------------- text rules

# Dash-like characters that join digits into one run ("780214-3524", "780214+3524").
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212+"
_DIGIT_RUN = re.compile(rf"\d(?:[\d{re.escape(_DASHES)}]*\d)?")
# A personnummer written with spaces around or instead of the separator.
_SPACED_PID = re.compile(
    rf"(?<![\d{re.escape(_DASHES)}])(\d{{6}}|\d{{8}})"
    rf"(\s+[{re.escape(_DASHES)}]?\s*|[{re.escape(_DASHES)}]\s+)(\d{{4}})(?![\d{re.escape(_DASHES)}])"
)
MAX_DIGITS_IN_RUN = 9


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(c.isdecimal() for c in run)
    if digits <= MAX_DIGITS_IN_RUN:
        return run
    keep = min(8, digits - 4)
    out = []
    seen = 0
    for c in run:
        if c.isdecimal():
            seen += 1
            out.append(c if seen <= keep else "X")
        else:
            out.append(c)
    return "".join(out)


def mask_digit_runs(text: str) -> str:
    """Mask every run of ten or more digits (with or without dashes) and spaced personnummer.

    "19780214-3524" → "19780214-XXXX", "7802143524" → "780214XXXX",
    "780214 3524" → "780214 XXXX"; what remains never holds ten digits in a row.
    """
    text = _SPACED_PID.sub(lambda m: f"{m.group(1)}{m.group(2)}XXXX", text)
    return _DIGIT_RUN.sub(_mask_run, text)


def format_masked_personal_id(digits: str) -> str:
    """``YYYYMMDDNNNC`` → ``YYYYMMDD-XXXX``."""
    return f"{digits[:8]}-XXXX"


# Area codes of two and three digits (the rest have four); 07x are mobile numbers.
_AREA_2 = ("08",)
_AREA_3 = frozenset(
    {"010", "011", "013", "016", "018", "019", "020", "021", "023", "026", "031", "033"}
    | {"035", "036", "040", "042", "044", "046", "054", "060", "063", "090"}
    | {f"07{d}" for d in range(10)}
)


def _group_subscriber(digits: str) -> str:
    n = len(digits)
    if n <= 4:
        return digits
    if n == 5:
        return f"{digits[:3]} {digits[3:]}"
    if n == 6:
        return f"{digits[:2]} {digits[2:4]} {digits[4:]}"
    if n == 7:
        return f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    if n == 8:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return " ".join(digits[i : i + 3] for i in range(0, n, 3))


def format_phone(raw: str) -> str:
    """A Swedish phone number grouped as it is read aloud: "0703010726" → "070-301 07 26".

    Grouping keeps a number from printing as one run of ten digits (which a
    masked summary must never contain). Anything unrecognised is grouped in threes.
    """
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+46") or text.startswith("0046"):
        digits = "0" + digits[2:] if text.startswith("+") else "0" + digits[4:]
    elif text.startswith("+"):
        return "+" + " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    if not digits.startswith("0") or len(digits) < 7:
        return " ".join(digits[i : i + 3] for i in range(0, len(digits), 3)) or text
    if digits.startswith(_AREA_2):
        area = 2
    elif digits[:3] in _AREA_3:
        area = 3
    else:
        area = 4
    return f"{digits[:area]}-{_group_subscriber(digits[area:])}"


def _period(first: date | None, last: date | None, fmt: str = "%Y-%m-%d") -> str:
    """A period without a dash between the dates (two dates joined by a dash read as one run)."""
    if first is None and last is None:
        return ""
    if last is None:
        return f"fr.o.m. {first:{fmt}}"
    if first is None:
        return f"t.o.m. {last:{fmt}}"
    return f"{first:{fmt}} t.o.m. {last:{fmt}}"


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", text)


# --------------------------------------------------------------------------- fonts

ROOT = Path(__file__).resolve().parent.parent
FONT_DIR = ROOT / "resources" / "fonts"


@dataclass(frozen=True)
class FontPair:
    """The registered regular and bold font names, and where the files came from."""

    regular: str
    bold: str
    source: Path


@functools.cache
def summary_fonts() -> FontPair:
    """Register the embedded TrueType family (DejaVu Sans, else reportlab's Vera) once."""
    candidates = [
        ("FokusDejaVuSans", FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"),
    ]
    rl_fonts = Path(reportlab.__file__).parent / "fonts"
    candidates.append(("FokusVera", rl_fonts / "Vera.ttf", rl_fonts / "VeraBd.ttf"))
    for name, regular, bold in candidates:
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont(name, str(regular)))
            pdfmetrics.registerFont(TTFont(f"{name}-Bold", str(bold)))
            pdfmetrics.registerFontFamily(
                name, normal=name, bold=f"{name}-Bold", italic=name, boldItalic=f"{name}-Bold"
            )
            return FontPair(name, f"{name}-Bold", regular.parent)
    raise FokusError("typsnitten för utskrift saknas (resources/fonts)")


class _Measure:
    """Text widths from the font's glyph table, cached per word (reportlab's are slow)."""

    def __init__(self, font_name: str) -> None:
        face = pdfmetrics.getFont(font_name).face
        self._widths: dict[int, float] = dict(face.charWidths)
        self._default = float(face.defaultWidth)
        self._cache: dict[str, float] = {}
        self.ascent = float(face.ascent)

    def units(self, word: str) -> float:
        w = self._cache.get(word)
        if w is None:
            get = self._widths.get
            d = self._default
            w = sum(get(ord(c), d) for c in word)
            if len(self._cache) < 200_000:
                self._cache[word] = w
        return w

    def width(self, text: str, size: float) -> float:
        return self.units(text) * size / 1000.0

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        """Greedy line breaking at spaces; a word wider than the line is cut by characters."""
        limit = width * 1000.0 / size
        space = self.units(" ")
        lines: list[str] = []
        for para in _clean(text).split("\n"):
            words = para.split()
            if not words:
                lines.append("")
                continue
            line: list[str] = []
            used = 0.0
            for word in words:
                w = self.units(word)
                if w > limit:
                    if line:
                        lines.append(" ".join(line))
                    pieces = self._cut(word, limit)
                    lines.extend(pieces[:-1])
                    line = [pieces[-1]]
                    used = self.units(pieces[-1])
                elif not line:
                    line = [word]
                    used = w
                elif used + space + w <= limit:
                    line.append(word)
                    used += space + w
                else:
                    lines.append(" ".join(line))
                    line = [word]
                    used = w
            lines.append(" ".join(line))
        while len(lines) > 1 and lines[-1] == "":
            lines.pop()
        return lines

    def _cut(self, word: str, limit: float) -> list[str]:
        """Cut a word wider than the line: after its last "/" or "-" that fits, else anywhere."""
        pieces = []
        rest = word
        while self.units(rest) > limit:
            used = 0.0
            end = 0
            soft = 0
            for i, c in enumerate(rest):
                w = self._widths.get(ord(c), self._default)
                if end and used + w > limit:
                    break
                used += w
                end = i + 1
                if c in "/-" and i > 0:
                    soft = end
            cut = soft or end
            pieces.append(rest[:cut])
            rest = rest[cut:]
        pieces.append(rest)
        return pieces


# --------------------------------------------------------------------------- drawing

INK = colors.HexColor("#1A1A1A")
MUTED = colors.HexColor("#5B6470")
ACCENT = colors.HexColor("#1F3A5F")
RULE = colors.HexColor("#B8C1CC")
HEAD_FILL = colors.HexColor("#E6EBF1")
ZEBRA = colors.HexColor("#F6F8FA")
SECRECY = colors.HexColor("#8A1C1C")

PAGE_W, PAGE_H = float(A4[0]), float(A4[1])
MARGIN_X = 20 * mm
MARGIN_TOP = 27 * mm
MARGIN_BOTTOM = 20 * mm
FRAME_W = PAGE_W - 2 * MARGIN_X

CELL_SIZE = 8.5
CELL_LEADING = 10.8
PAD_X = 4.0
PAD_TOP = 3.0
PAD_BOTTOM = 3.5
LABEL_W = 165.0  # label column of the key-value tables
KEEP_WHOLE_BELOW = 260.0  # content shorter than this moves to the next page with its heading
KEEP_ROOM = 120.0  # room a heading needs below it to start a long table on this page
SPLIT_MIN_LINES = 8  # rows with more lines may break across pages
SPLIT_KEEP_LINES = 3  # ... leaving at least this many lines on either page


@dataclass(frozen=True)
class _Line:
    """One wrapped line of a table cell; bold and muted lines share the cell's leading."""

    text: str
    bold: bool = False
    muted: bool = False


@dataclass
class _Row:
    """A table row of wrapped cells; its height follows from its longest cell."""

    cells: list[list[_Line]]
    height: float = 0.0
    fill: Any = None

    def lines(self) -> int:
        return max((len(c) for c in self.cells), default=1) or 1


class _Look:
    """Fonts and glyph measures shared by every table (one per process, see :func:`_look`)."""

    def __init__(self, fonts: FontPair) -> None:
        self.fonts = fonts
        self.regular = _Measure(fonts.regular)
        self.bold = _Measure(fonts.bold)

    def cell(
        self, text: str, width: float, *, bold: bool = False, muted: bool = False
    ) -> list[_Line]:
        measure = self.bold if bold else self.regular
        inner = width - 2 * PAD_X
        return [_Line(t, bold, muted) for t in measure.wrap(text, inner, CELL_SIZE)]


@functools.cache
def _look(fonts: FontPair) -> _Look:
    """One set of measures per process: word widths stay cached across a batch of summaries."""
    return _Look(fonts)


def _height(flowable: Flowable) -> float:
    """Height of a flowable before it is placed (a kept group: its parts; a page break: a lot)."""
    if isinstance(flowable, KeepTogether):
        parts: list[Flowable] = flowable._content
        return sum((_height(f) for f in parts), 0.0)
    if isinstance(flowable, CondPageBreak):
        return PAGE_H
    height: float = flowable.wrap(FRAME_W, PAGE_H)[1]
    return height + float(flowable.getSpaceBefore() + flowable.getSpaceAfter())


def _row_height(lines: int) -> float:
    return PAD_TOP + PAD_BOTTOM + lines * CELL_LEADING


class _GridTable(Flowable):  # type: ignore[misc]
    """A table of pre-wrapped lines that splits itself page by page in linear time.

    Its header row is repeated on every page; a row of more than
    ``SPLIT_MIN_LINES`` lines (a long note) is split across pages with
    "(forts.)" in its first cell; shorter rows move whole to the next page.
    """

    def __init__(
        self,
        look: _Look,
        widths: Sequence[float],
        header: Sequence[str] | None,
        rows: list[_Row],
        *,
        zebra: bool = True,
    ) -> None:
        super().__init__()
        self.look = look
        self.widths = list(widths)
        self.header = list(header) if header else None
        self.rows = rows
        self.zebra = zebra
        for i, row in enumerate(rows):
            if not row.height:
                row.height = _row_height(row.lines())
            if zebra and row.fill is None and i % 2 == 1:
                row.fill = ZEBRA
        self._header_cells = (
            [look.cell(h, w, bold=True) for h, w in zip(self.header, self.widths, strict=True)]
            if self.header
            else None
        )
        self._header_h = (
            _row_height(max(len(c) for c in self._header_cells)) if self._header_cells else 0.0
        )
        self._height = self._header_h + sum(r.height for r in rows)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return sum(self.widths), self._height

    def _part(self, rows: list[_Row]) -> _GridTable:
        return _GridTable(self.look, self.widths, self.header, rows, zebra=False)

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        room = availHeight - self._header_h
        used = 0.0
        k = 0
        for row in self.rows:
            if used + row.height > room:
                break
            used += row.height
            k += 1
        if k == len(self.rows):
            # Rounding said it fits after all: move the last row on to make progress.
            k -= 1
            if k == 0:
                return []
            return [self._part(self.rows[:k]), self._part(self.rows[k:])]
        row = self.rows[k]
        fit_lines = int((room - used - PAD_TOP - PAD_BOTTOM) // CELL_LEADING)
        lines = row.lines()
        if lines > SPLIT_MIN_LINES and fit_lines >= SPLIT_KEEP_LINES and lines - fit_lines >= 1:
            first = _Row([c[:fit_lines] for c in row.cells], fill=row.fill)
            rest_cells = [c[fit_lines:] for c in row.cells]
            rest_cells[0] = [_Line("(forts.)", muted=True), *rest_cells[0]]
            rest = _Row(rest_cells, fill=row.fill)
            return [self._part([*self.rows[:k], first]), self._part([rest, *self.rows[k + 1 :]])]
        if k == 0:
            return []
        return [self._part(self.rows[:k]), self._part(self.rows[k:])]

    def draw(self) -> None:
        canv = self.canv
        look = self.look
        total_w = sum(self.widths)
        xs = [0.0]
        for w in self.widths:
            xs.append(xs[-1] + w)
        top = self._height
        bands: list[tuple[float, float, list[list[_Line]], Any]] = []
        y = top
        if self._header_cells:
            bands.append((y, self._header_h, self._header_cells, HEAD_FILL))
            y -= self._header_h
        for row in self.rows:
            bands.append((y, row.height, row.cells, row.fill))
            y -= row.height
        for band_top, h, _cells, fill in bands:
            if fill is not None:
                canv.setFillColor(fill)
                canv.rect(0, band_top - h, total_w, h, stroke=0, fill=1)
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.4)
        canv.lines([(0, t - h, total_w, t - h) for t, h, _c, _f in bands])
        canv.lines([(x, 0, x, top) for x in xs[1:-1]])
        canv.setLineWidth(0.6)
        canv.rect(0, 0, total_w, top, stroke=1, fill=0)
        if self._header_cells:
            canv.setStrokeColor(ACCENT)
            canv.line(0, top - self._header_h, total_w, top - self._header_h)
        text = canv.beginText()
        ascent = look.regular.ascent * CELL_SIZE / 1000.0
        current: tuple[str, Any] | None = None
        for band_top, _h, cells, _fill in bands:
            for x, cell in zip(xs, cells, strict=False):
                baseline = band_top - PAD_TOP - ascent
                for line in cell:
                    if line.text:
                        font = look.fonts.bold if line.bold else look.fonts.regular
                        colour = MUTED if line.muted else INK
                        if current != (font, colour):
                            text.setFont(font, CELL_SIZE, CELL_LEADING)
                            text.setFillColor(colour)
                            current = (font, colour)
                        text.setTextOrigin(x + PAD_X, baseline)
                        text.textOut(line.text)
                    baseline -= CELL_LEADING
        canv.drawText(text)


class _Rule(Flowable):  # type: ignore[misc]
    """A thin coloured line under a section heading."""

    def __init__(self, width: float, colour: Any, thickness: float = 0.8) -> None:
        super().__init__()
        self.width = width
        self.colour = colour
        self.thickness = thickness

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.thickness + 6

    def draw(self) -> None:
        self.canv.setStrokeColor(self.colour)
        self.canv.setLineWidth(self.thickness)
        self.canv.line(0, self.thickness + 4, self.width, self.thickness + 4)


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """Defers each page until the end so that the footer can say "Sida X av Y"."""

    def __init__(self, *args: Any, page_font: str, counter: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[dict[str, Any]] = []
        self._page_font = page_font
        self._counter = counter

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._deferred.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._deferred)
        self._counter.append(total)
        for state in self._deferred:
            self.__dict__.update(state)
            self.setFont(self._page_font, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(PAGE_W - MARGIN_X, 10 * mm, f"Sida {self._pageNumber} av {total}")
            super().showPage()
        super().save()


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class RenderedSummary:
    """The PDF and its page count (the count comes from the numbering pass)."""

    pdf: bytes
    pages: int


class _Renderer:
    """Turns a :class:`SummaryPlan` into platypus flowables; one instance per document."""

    def __init__(self, plan: SummaryPlan, *, settings: Settings, author: str, now: datetime):
        self.plan = plan
        self.settings = settings
        self.author = author
        self.now = now
        self.masked = plan.options.mask_personnummer
        self.fonts = summary_fonts()
        self.look = _look(self.fonts)
        f = self.fonts
        self.s_title = ParagraphStyle(
            "title", fontName=f.bold, fontSize=17, leading=21, textColor=ACCENT, spaceAfter=2
        )
        self.s_sub = ParagraphStyle(
            "sub", fontName=f.regular, fontSize=10, leading=13, textColor=MUTED, spaceAfter=8
        )
        self.s_h1 = ParagraphStyle(
            "h1",
            fontName=f.bold,
            fontSize=12,
            leading=15,
            textColor=ACCENT,
            spaceBefore=14,
            spaceAfter=1,
        )
        self.s_h2 = ParagraphStyle(
            "h2",
            fontName=f.bold,
            fontSize=9.5,
            leading=12,
            textColor=INK,
            spaceBefore=8,
            spaceAfter=4,
        )
        self.s_body = ParagraphStyle(
            "body",
            fontName=f.regular,
            fontSize=9,
            leading=12,
            textColor=INK,
            alignment=TA_LEFT,
            spaceAfter=4,
            splitLongWords=1,
        )
        self.s_note = ParagraphStyle(
            "note",
            parent=self.s_body,
            fontSize=8.5,
            leading=11,
            textColor=INK,
            backColor=colors.HexColor("#F3F5F8"),
            borderColor=RULE,
            borderWidth=0.5,
            borderPadding=(5, 6, 5, 6),
            leftIndent=6,
            rightIndent=6,
            spaceBefore=6,
            spaceAfter=10,
        )

    # -- text helpers

    def t(self, text: str | None) -> str:
        """Every string that reaches the page passes here: redacted, and masked when asked for."""
        text = _clean(text or "")
        for secret in self.plan.redact:
            text = re.sub(re.escape(secret), "[skyddad adress]", text, flags=re.IGNORECASE)
        return mask_digit_runs(text) if self.masked else text

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        html = escape(self.t(text)).replace("\n", "<br/>")
        return Paragraph(html, style or self.s_body)

    def pid(self, person: PersonLine) -> str:
        if person.personal_id:
            return (
                format_masked_personal_id(person.personal_id)
                if self.masked
                else format_personal_id(person.personal_id)
            )
        if person.reserve_number:
            return f"reservnr {person.reserve_number}"
        return f"saknas (född {person.birth_date:%Y-%m-%d})"

    def when(self, dt: datetime) -> str:
        return f"{_local(dt):%Y-%m-%d %H:%M}"

    def heading(self, text: str, body: list[Flowable], *, level: int = 1) -> list[Flowable]:
        """A heading kept with the start of its content, never alone at the foot of a page.

        Short content is kept whole with its heading; a long table only needs
        room for its header and a first row (reportlab's keepWithNext would
        push every long table to a fresh page).
        """
        head: list[Flowable] = (
            [Paragraph(escape(text), self.s_h1), _Rule(FRAME_W, ACCENT)]
            if level == 1
            else [Paragraph(escape(self.t(text)), self.s_h2)]
        )
        if not body:
            return head
        first = body[0]
        if _height(first) < KEEP_WHOLE_BELOW:
            # Never nest KeepTogether: an inner one reports a huge height to force a split.
            kept = first._content if isinstance(first, KeepTogether) else [first]
            return [KeepTogether([*head, *kept]), *body[1:]]
        return [CondPageBreak(KEEP_ROOM), *head, *body]

    def table(
        self,
        widths: Sequence[float],
        header: Sequence[str] | None,
        rows: Iterable[Sequence[str | list[_Line]]],
        *,
        label_column: bool = False,
        zebra: bool = True,
    ) -> _GridTable:
        assert abs(sum(widths) - FRAME_W) < 0.01, "tables span the frame exactly"
        built = []
        for values in rows:
            cells = []
            for i, (v, w) in enumerate(zip(values, widths, strict=True)):
                if isinstance(v, list):
                    cells.append(v)
                else:
                    bold = label_column and i == 0
                    cells.append(self.look.cell(self.t(v), w, bold=bold, muted=bold))
            built.append(_Row(cells))
        return _GridTable(self.look, widths, header, built, zebra=zebra)

    def widths(self, *fixed: float) -> list[float]:
        """Column widths: the given ones, and the last column takes what is left."""
        return [*fixed, FRAME_W - sum(fixed)]

    # -- document

    def story(self) -> list[Flowable]:
        plan = self.plan
        out: list[Flowable] = [
            Paragraph(escape(self.t(f"Sammanfattning av ärende {plan.case_number}")), self.s_title),
            Paragraph(
                escape(self.t(f"{self.settings.municipality} · {plan.unit_name}".strip(" ·"))),
                self.s_sub,
            ),
        ]
        meta = [
            ("Mottagare", plan.recipient_label),
            ("Skapad", f"{self.when(self.now)} av {self.author}"),
            (
                "Personnummer",
                "maskerade (YYYYMMDD-XXXX)" if self.masked else "fullständiga",
            ),
        ]
        if plan.options.contact_from or plan.options.contact_to:
            meta.append(
                ("Kontaktlogg, period", _period(plan.options.contact_from, plan.options.contact_to))
            )
        out.append(self.table(self.widths(LABEL_W), None, meta, label_column=True, zebra=False))
        if not plan.options.is_internal:
            names = ", ".join(p.name for p in plan.persons)
            notice = (
                f"Utlämnas till {plan.recipient_label} med stöd av samtycke. "
                f"Sammanfattningen innehåller endast uppgifter om {names}; "
                "uppgifter om andra personer i hushållet ingår inte."
            )
            out.append(Spacer(1, 6))
            out.append(self.p(notice, self.s_note))
            if plan.consents:
                out += self.heading(
                    "Samtycke",
                    [
                        self.table(
                            self.widths(120, 130),
                            ["Person", "Giltigt", "Omfattning"],
                            [
                                (c.person_name, _period(c.valid_from, c.valid_to), c.scope)
                                for c in plan.consents
                            ],
                        )
                    ],
                    level=2,
                )
        sections = plan.sections
        if Section.CASE in sections:
            out += self.case_section()
        if Section.HOUSEHOLD in sections:
            out += self.household_section()
        if Section.CONTACT_LOG in sections:
            out += self.contact_section()
        if Section.CHILD_PERSPECTIVE in sections:
            out += self.child_section()
        if Section.PLAN in sections:
            out += self.plan_section()
        return out

    def case_section(self) -> list[Flowable]:
        f = self.plan.facts
        if f.months and f.first_month and f.last_month:
            span = _months_between(f.first_month, f.last_month)
            months = f"{f.months} månader, {_period(f.first_month, f.last_month, '%Y-%m')}"
            if span > f.months:
                months += " (med uppehåll)"
        else:
            months = "inga registrerade"
        rows = [
            ("Ärendenummer", self.plan.case_number),
            ("Status", f.status),
            ("Öppnat", f"{f.opened_on:%Y-%m-%d}"),
            ("Avslutat", f"{f.closed_on:%Y-%m-%d}" if f.closed_on else "ej avslutat"),
            ("Handläggare", f.caseworker or "ej tilldelad"),
            ("Inriktning", f.direction),
            ("Fokusärende", "ja" if f.is_focus else "nej"),
            ("Månader med försörjningsstöd", months),
        ]
        if f.months:
            rows.append(("Utbetalt försörjningsstöd", format_amount(f.total_ore)))
        out = self.heading(
            SECTION_LABELS[Section.CASE],
            [self.table(self.widths(LABEL_W), None, rows, label_column=True, zebra=False)],
        )
        if f.summary:
            out += self.heading("Sammanfattning", [self.p(f.summary)], level=2)
        return out

    def household_section(self) -> list[Flowable]:
        f = self.plan.facts
        if f.address_protected:
            address = "skyddad"
        else:
            parts = [f.address or "", " ".join(x for x in (f.postcode, f.town) if x)]
            address = ", ".join(x for x in parts if x) or "ej angiven"
        rows = [
            ("Adress", address),
            ("Boendeform", f.housing_type or "ej angiven"),
            (
                "Boendekostnad",
                format_amount(f.housing_cost_ore)
                if f.housing_cost_ore is not None
                else "ej angiven",
            ),
        ]
        if self.plan.options.include_mental_health:
            rows.append(
                ("Psykisk ohälsa (markering)", ", ".join(self.plan.mental_health) or "ingen")
            )
        out = self.heading(
            SECTION_LABELS[Section.HOUSEHOLD],
            [self.table(self.widths(LABEL_W), None, rows, label_column=True, zebra=False)],
        )
        # Wide enough for "YYYYMMDD-NNNN" and its masked form on one line, never broken.
        pid_w = max(
            self.look.regular.width("00000000-0000", CELL_SIZE),
            self.look.regular.width("00000000-XXXX", CELL_SIZE),
            self.look.bold.width("Personnummer", CELL_SIZE),
        )
        pid_w = float(int(pid_w + 2 * PAD_X + 6))
        name_w = FRAME_W - pid_w - 42 - 96 - 88
        members = []
        for p in self.plan.persons:
            role = MEMBER_ROLE_LABELS[p.role]
            if p.valid_to is not None:
                role += f"\nt.o.m. {p.valid_to:%Y-%m-%d}"
            phone = format_phone(p.phone) if p.phone else ""
            if p.protected:
                phone = "skyddad"
            members.append(
                (p.name, self.pid(p), f"{_age(p.birth_date, self.plan.today)} år", role, phone)
            )
        out += self.heading(
            "Personer",
            [
                self.table(
                    [name_w, pid_w, 42, 96, 88],
                    ["Namn", "Personnummer", "Ålder", "Roll", "Telefon"],
                    members,
                )
            ],
            level=2,
        )
        if self.plan.options.include_support_reasons:
            body: Flowable = (
                self.table(
                    self.widths(130, 130),
                    ["Person", "Period", "Försörjningshinder"],
                    [
                        (r.person_name, _period(r.valid_from, r.valid_to), r.reason)
                        for r in self.plan.reasons
                    ],
                )
                if self.plan.reasons
                else self.p("Inga försörjningshinder registrerade.")
            )
            out += self.heading("Försörjningshinder", [body], level=2)
        return out

    def _note_cells(self, n: NoteLine, text_w: float) -> list[_Line]:
        lines: list[_Line] = []
        if n.corrects_at is not None:
            lines += self.look.cell(
                f"Rättelse av anteckning {self.when(n.corrects_at)}:", text_w, bold=True
            )
        lines += self.look.cell(self.t(n.text), text_w)
        for at in n.corrected_at:
            lines += self.look.cell(f"Rättad genom anteckning {self.when(at)}", text_w, muted=True)
        lines += self.look.cell(
            f"Signerad {self.when(n.signed_at)} av {self.t(n.author)}", text_w, muted=True
        )
        return lines

    def notes_table(self, notes: Sequence[NoteLine]) -> _GridTable:
        widths = self.widths(58, 102, 92)
        contact_w = widths[1]
        text_w = widths[-1]
        rows = []
        for n in notes:
            local = _local(n.occurred_at)
            contact = self.look.cell(self.t(n.agency), contact_w) + self.look.cell(
                self.t(n.method), contact_w, muted=True
            )
            rows.append(
                (
                    f"{local:%Y-%m-%d}\n{local:%H:%M}",
                    contact,
                    n.counterpart,
                    self._note_cells(n, text_w),
                )
            )
        return self.table(
            widths, ["Datum", "Myndighet, kontaktsätt", "Kontaktperson", "Anteckning"], rows
        )

    def contact_section(self) -> list[Flowable]:
        body = (
            [self.notes_table(self.plan.notes)] if self.plan.notes else [self.p(f"{NO_CONTACTS}.")]
        )
        return self.heading(SECTION_LABELS[Section.CONTACT_LOG], body)

    def child_section(self) -> list[Flowable]:
        if not self.plan.child_notes:
            return self.heading(
                SECTION_LABELS[Section.CHILD_PERSPECTIVE],
                [self.p("Inga barn ingår i sammanfattningen.")],
            )
        out: list[Flowable] = []
        for i, (child, notes) in enumerate(self.plan.child_notes):
            age = _age(child.birth_date, self.plan.today)
            body = (
                [self.notes_table(notes)]
                if notes
                else [self.p("Inga anteckningar om barnperspektivet.")]
            )
            part = self.heading(f"{child.name}, {self.pid(child)}, {age} år", body, level=2)
            out += self.heading(SECTION_LABELS[Section.CHILD_PERSPECTIVE], part) if i == 0 else part
        return out

    def directions_table(self) -> Flowable:
        if not self.plan.directions:
            return self.p("Ingen inriktning registrerad för någon person.")
        widths = [100, 96, 84, FRAME_W - 100 - 96 - 84 - 62, 62]
        rows: list[Sequence[str | list[_Line]]] = []
        for d in self.plan.directions:
            goal = self.look.cell(self.t(d.goal or "–"), widths[3])
            if d.note:
                goal += self.look.cell(self.t(d.note), widths[3], muted=True)
            rows.append(
                (
                    d.person_name,
                    d.direction,
                    _period(d.started_on, d.ended_on),
                    goal,
                    f"{d.goal_date:%Y-%m-%d}" if d.goal_date else "",
                )
            )
        return self.table(widths, ["Person", "Inriktning", "Period", "Mål", "Måldatum"], rows)

    def plan_section(self) -> list[Flowable]:
        goals: Flowable = (
            self.table(
                [FRAME_W - 100 - 96 - 62 - 62, 100, 96, 62, 62],
                ["Mål", "Gäller", "Inriktning", "Måldatum", "Uppnått"],
                [
                    (
                        g.text,
                        g.concerns,
                        g.direction,
                        f"{g.target_date:%Y-%m-%d}" if g.target_date else "",
                        f"{g.achieved_on:%Y-%m-%d}" if g.achieved_on else "",
                    )
                    for g in self.plan.goals
                ],
            )
            if self.plan.goals
            else self.p("Inga mål registrerade.")
        )
        outcomes: Flowable = (
            self.table(
                self.widths(150, 80),
                ["Gäller", "Datum", "Utfall"],
                [
                    (
                        o.concerns,
                        f"{o.recorded_on:%Y-%m-%d}" if o.recorded_on else "",
                        o.outcome,
                    )
                    for o in self.plan.outcomes
                ],
            )
            if self.plan.outcomes
            else self.p("Inget utfall registrerat.")
        )
        return (
            self.heading(
                SECTION_LABELS[Section.PLAN],
                self.heading("Inriktning per person", [self.directions_table()], level=2),
            )
            + self.heading("Mål", [goals], level=2)
            + self.heading("Utfall", [outcomes], level=2)
        )

    # -- page furniture

    def _fit(self, text: str, font: str, size: float, width: float) -> str:
        """``text`` cut with an ellipsis to fit ``width`` (running header and footer lines)."""
        measure = self.look.bold if font == self.fonts.bold else self.look.regular
        if measure.width(text, size) <= width:
            return text
        while text and measure.width(text + "…", size) > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def on_page(self, canv: Canvas, doc: BaseDocTemplate) -> None:
        """Running header (organisation, case, the secrecy line) and footer on every page."""
        f = self.fonts
        canv.saveState()
        top = PAGE_H - 12 * mm
        case = self.t(f"Ärende {self.plan.case_number}")
        room = FRAME_W - self.look.bold.width(case, 8.5) - 12
        org = self._fit(self.t(self.settings.municipality), f.bold, 8.5, room)
        canv.setFillColor(ACCENT)
        canv.setFont(f.bold, 8.5)
        canv.drawString(MARGIN_X, top, org)
        org_w = self.look.bold.width(org + "  ", 8.5)
        unit = self._fit(self.t(self.plan.unit_name), f.regular, 8.5, room - org_w)
        canv.setFont(f.regular, 8.5)
        canv.setFillColor(MUTED)
        canv.drawString(MARGIN_X + org_w, top, unit)
        canv.setFillColor(INK)
        canv.setFont(f.bold, 8.5)
        canv.drawRightString(PAGE_W - MARGIN_X, top, case)
        canv.setFillColor(SECRECY)
        canv.setFont(f.bold, 7.5)
        canv.drawString(MARGIN_X, top - 4.6 * mm, SECRECY_LINE)
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.6)
        canv.line(MARGIN_X, top - 7 * mm, PAGE_W - MARGIN_X, top - 7 * mm)
        canv.line(MARGIN_X, 14 * mm, PAGE_W - MARGIN_X, 14 * mm)
        canv.setFillColor(MUTED)
        canv.setFont(f.regular, 7.5)
        footer = self.t(
            f"Sammanfattning · Mottagare: {self.plan.recipient_label} · "
            f"Skapad {self.when(self.now)} av {self.author}"
        )
        # The right end of the footer is kept free for "Sida X av Y" (drawn at save).
        canv.drawString(MARGIN_X, 10 * mm, self._fit(footer, f.regular, 7.5, FRAME_W - 80))
        canv.restoreState()

    def render(self) -> RenderedSummary:
        buf = BytesIO()
        doc = BaseDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=f"Sammanfattning {self.plan.case_number}",
            subject=SECRECY_LINE,
            author=self.t(f"{self.settings.municipality}, {self.plan.unit_name}"),
            creator="Fokus",
            producer="Fokus (reportlab)",
            lang="sv-SE",
            # The canvas's initial font would otherwise be Helvetica, which is never embedded.
            initialFontName=self.fonts.regular,
            initialFontSize=CELL_SIZE,
        )
        frame = Frame(
            MARGIN_X,
            MARGIN_BOTTOM,
            FRAME_W,
            PAGE_H - MARGIN_TOP - MARGIN_BOTTOM,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id="body",
        )
        doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self.on_page)])
        counter: list[int] = []
        doc.build(
            self.story(),
            canvasmaker=functools.partial(
                _NumberedCanvas, page_font=self.fonts.regular, counter=counter
            ),
        )
        return RenderedSummary(buf.getvalue(), counter[-1] if counter else 0)


def _author(session: Session, actor: Actor) -> str:
    if actor.user_id is not None:
        user = session.get(User, actor.user_id)
        if user is not None:
            return user.full_name
    return actor.username


def render_summary(
    plan: SummaryPlan, *, settings: Settings, author: str, now: datetime
) -> RenderedSummary:
    """Draw a plan as an A4 PDF (no database access)."""
    if not plan.allowed:
        raise ValidationError.single("mottagare", plan.blocked_reason or "inget att lämna ut")
    return _Renderer(plan, settings=settings, author=author, now=now).render()


def _build(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    options: SummaryOptions,
    *,
    settings: Settings,
    now: datetime,
) -> tuple[SummaryPlan, RenderedSummary]:
    if now.tzinfo is None:
        raise ValueError("naive datetime given as the generation time")
    require_case_access(session, actor, case_id, Purpose.READ)
    plan = plan_summary(session, case_id, options, today=local_today(now))
    return plan, render_summary(plan, settings=settings, author=_author(session, actor), now=now)


def build_summary_pdf(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    options: SummaryOptions,
    *,
    settings: Settings,
    now: datetime,
) -> bytes:
    """The summary as PDF bytes. Reads only: audit and disclosure are the caller's action."""
    return _build(session, actor, case_id, options, settings=settings, now=now)[1].pdf


# --------------------------------------------------------------------------- user actions


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote, for the CLI's message and the UI's notifier."""

    case_id: uuid.UUID
    case_number: str
    path: Path
    pages: int
    size_bytes: int
    sha256: str
    recipient: str
    masked: bool
    omissions: tuple[str, ...]
    disclosure_note_id: uuid.UUID | None
    changes: Changes = field(default_factory=Changes)


@dataclass(frozen=True)
class PreviewResult:
    """A summary shown on screen (and perhaps printed next): the PDF and its plan."""

    pdf: bytes
    pages: int
    plan: SummaryPlan


def _destination_name(path: Path | str) -> str:
    """The file name for the audit trail: the base name, with long digit runs masked."""
    return mask_digit_runs(Path(path).name)


def _disclosure_text(plan: SummaryPlan, how: str) -> str:
    opts = plan.options
    parts = []
    for s in Section:
        if s in opts.sections:
            label = SECTION_LABELS[s].lower()
            if s is Section.CONTACT_LOG and (opts.contact_from or opts.contact_to):
                label += f" ({_period(opts.contact_from, opts.contact_to)})"
            parts.append(label)
    extras = []
    if opts.include_mental_health:
        extras.append("markering om psykisk ohälsa")
    if opts.include_support_reasons:
        extras.append("försörjningshinder")
    text = (
        f"Sammanfattning av ärendet lämnad till {plan.recipient_label} ({how}) med stöd av "
        f"samtycke. Avser: {', '.join(p.name for p in plan.persons)}. "
        f"Avsnitt: {', '.join(parts)}."
    )
    if plan.notes:
        text += f" Kontaktloggen omfattar {len(plan.notes)} anteckningar."
    if extras:
        text += f" Även: {', '.join(extras)}."
    text += " Personnummer maskerade." if opts.mask_personnummer else ""
    return text


def _record_disclosure(
    session: Session,
    actor: Actor,
    plan: SummaryPlan,
    rendered: RenderedSummary,
    *,
    action: str,
    destination: str,
    how: str,
    now: datetime,
) -> uuid.UUID | None:
    """Audit event for any output; for an agency also a signed note in the contact log."""
    note_id = None
    if not plan.options.is_internal:
        note = add_note_in(
            session,
            actor,
            plan.case_id,
            NoteInput(
                occurred_at=now,
                agency_code=plan.options.recipient,
                method_code=DISCLOSURE_METHOD,
                text=_disclosure_text(plan, how),
                member_ids=tuple(p.id for p in plan.persons),
            ),
            sign=True,
        )
        note_id = note.id
    record(
        session,
        actor,
        action,
        case_id=plan.case_id,
        recipient=plan.options.recipient,
        masked=plan.options.mask_personnummer,
        destination=destination,
        pages=rendered.pages,
        sha256=hashlib.sha256(rendered.pdf).hexdigest(),
        sections=sorted(s.value for s in plan.options.sections),
        persons=[str(p.id) for p in plan.persons],
        note_id=note_id,
    )
    return note_id


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise FokusError(f"filen {path} kan inte skrivas: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise FokusError(f"filen {path} kan inte skrivas: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_summary(
    db: Database,
    actor: Actor,
    case_number: str,
    out_path: Path | str,
    options: SummaryOptions,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write a case's summary to ``out_path``: one user action, one transaction.

    The audit event (and, for an agency, the disclosure note) is committed
    together with the file: if the file cannot be written nothing is logged,
    and if the commit fails the new file is removed again.
    """
    settings = settings if settings is not None else load_settings()
    now = now or utcnow()
    path = Path(out_path)
    written = False
    try:
        with db.begin() as s:
            case = case_by_number(s, case_number)
            plan, rendered = _build(s, actor, case.id, options, settings=settings, now=now)
            note_id = _record_disclosure(
                s,
                actor,
                plan,
                rendered,
                action="summary_exported",
                destination=_destination_name(path),
                how=f"fil {path.name}",
                now=now,
            )
            s.flush()
            write_atomically(path, rendered.pdf)
            written = True
    except BaseException:
        if written:
            path.unlink(missing_ok=True)
        raise
    parts = frozenset({"journal"}) if note_id else frozenset()
    return ExportResult(
        case_id=plan.case_id,
        case_number=plan.case_number,
        path=path,
        pages=rendered.pages,
        size_bytes=len(rendered.pdf),
        sha256=hashlib.sha256(rendered.pdf).hexdigest(),
        recipient=options.recipient,
        masked=options.mask_personnummer,
        omissions=plan.omission_texts,
        disclosure_note_id=note_id,
        changes=Changes(case_ids=frozenset({plan.case_id}), parts=parts),
    )


def preview_summary(
    db: Database,
    actor: Actor,
    case_id: uuid.UUID,
    options: SummaryOptions,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> PreviewResult:
    """Build a summary for the screen; the preview itself is audited ("summary_previewed")."""
    now = now or utcnow()
    with db.begin() as s:
        plan, rendered = _build(s, actor, case_id, options, settings=settings, now=now)
        record(
            s,
            actor,
            "summary_previewed",
            case_id=case_id,
            recipient=options.recipient,
            masked=options.mask_personnummer,
            pages=rendered.pages,
        )
    return PreviewResult(rendered.pdf, rendered.pages, plan)


def record_summary_printed(
    db: Database,
    actor: Actor,
    case_id: uuid.UUID,
    options: SummaryOptions,
    *,
    printer: str,
    settings: Settings,
    now: datetime | None = None,
) -> uuid.UUID | None:
    """After the print dialog succeeded: audit the print and, for an agency, note the disclosure.

    Rebuilds the summary in the same transaction so that what is recorded is
    what the options give now. Returns the disclosure note's id (or None).
    """
    now = now or utcnow()
    with db.begin() as s:
        plan, rendered = _build(s, actor, case_id, options, settings=settings, now=now)
        return _record_disclosure(
            s,
            actor,
            plan,
            rendered,
            action="summary_printed",
            destination=f"skrivare {printer}"[:120],
            how="utskrift",
            now=now,
        )


# --------------------------------------------------------------------------- the print dialog

# "klienten själv" is not offered as a recipient: a client asking for their own file is a
# request for disclosure (begäran om utlämnande), decided on its own, not a consent.
NOT_RECIPIENTS = frozenset({"client"})


@dataclass(frozen=True)
class SummaryPerson:
    """A household member as the print dialog lists them (to choose who is included)."""

    id: uuid.UUID
    name: str
    role: str
    protected: bool
    current: bool
    applicant: bool  # the one an agency gets by default


@dataclass(frozen=True)
class SummaryChoices:
    """What the print dialog offers for one case: its persons, recipients and log agencies."""

    case_id: uuid.UUID
    case_number: str
    persons: tuple[SummaryPerson, ...]
    recipients: tuple[tuple[str, str], ...]  # (code, label), "intern akt" first
    agencies: tuple[tuple[str, str], ...]  # every agency a contact note may be with


def summary_choices_in(session: Session, case_id: uuid.UUID, *, today: date) -> SummaryChoices:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    agencies = session.execute(
        select(Agency.code, Agency.label, Agency.active).order_by(Agency.sort_order, Agency.label)
    ).all()
    members = _members(session, case_id)
    applicant = _applicant(members, today)
    persons = tuple(
        SummaryPerson(
            id=m.id,
            name=m.name,
            role=MEMBER_ROLE_LABELS[m.role],
            protected=m.protected,
            current=m.valid_from <= today and (m.valid_to is None or m.valid_to >= today),
            applicant=applicant is not None and m.id == applicant.id,
        )
        for m in members
    )
    return SummaryChoices(
        case_id=case.id,
        case_number=case.case_number,
        persons=persons,
        recipients=(
            (RECIPIENT_INTERNAL, INTERNAL_LABEL),
            *((c, lbl) for c, lbl, active in agencies if active and c not in NOT_RECIPIENTS),
        ),
        agencies=tuple((c, lbl) for c, lbl, _active in agencies),
    )


def screen_preview(
    db: Database,
    actor: Actor,
    case_id: uuid.UUID,
    options: SummaryOptions,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> PreviewResult:
    """Like :func:`preview_summary`, but a recipient who may get nothing is an answer, not an error.

    The print dialog shows why nothing can be printed (``plan.blocked_reason``)
    instead of a preview; ``pdf`` is then empty. Both outcomes are audited.
    """
    now = now or utcnow()
    with db.begin() as s:
        require_case_access(s, actor, case_id, Purpose.READ)
        plan = plan_summary(s, case_id, options, today=local_today(now))
        rendered = (
            render_summary(plan, settings=settings, author=_author(s, actor), now=now)
            if plan.allowed
            else RenderedSummary(b"", 0)
        )
        record(
            s,
            actor,
            "summary_previewed",
            case_id=case_id,
            recipient=options.recipient,
            masked=options.mask_personnummer,
            pages=rendered.pages,
        )
    return PreviewResult(rendered.pdf, rendered.pages, plan)


# --------------------------------------------------------------------------- batch export

BATCH_ROLES = frozenset({Role.TEAM_LEADER})


def require_batch_export(actor: Actor) -> None:
    """Only an arbetsledare exports summaries in bulk (the CLI operator, as administrator, too)."""
    if actor.role not in BATCH_ROLES and not actor.is_cli:
        raise PermissionDeniedError("bara arbetsledare får exportera sammanfattningar i mängd")


def batch_cap(settings: Settings) -> int:
    cap = settings.batch_export_cap
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise FokusError(
            "inställningen batch_export_cap måste vara ett heltal större än 0 "
            f"(är {cap!r} i {settings_path()})"
        )
    return cap


_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")


def batch_file_name(case_number: str) -> str:
    """The file for one case: its case number only, never a name or a personnummer."""
    safe = _UNSAFE_NAME.sub("_", case_number).strip("._") or "arende"
    return f"{safe}.pdf"


@dataclass(frozen=True)
class BatchPlan:
    """The cases a filter gives, counted before anything is written (ids only within the cap)."""

    count: int
    cap: int
    case_ids: tuple[uuid.UUID, ...]

    @property
    def over_cap(self) -> bool:
        return self.count > self.cap


def plan_batch_in(
    session: Session, actor: Actor, flt: RegisterFilter, *, cap: int, today: date
) -> BatchPlan:
    """Count the cases of a register filter; list their ids (by case number) within the cap."""
    require_batch_export(actor)
    count = count_in(session, flt, today=today, actor=actor)
    if count > cap:
        return BatchPlan(count, cap, ())
    ids = session.scalars(
        select(Case.id)
        .where(*register_conditions(flt, today=today, actor=actor))
        .order_by(Case.number_year, Case.number_seq)
        .limit(cap)
    ).all()
    return BatchPlan(count, cap, tuple(ids))


class BatchExportError(FokusError):
    """A batch stopped by an error on one case; the files written before it stay."""

    def __init__(self, cause: FokusError, case_number: str, written: int, total: int) -> None:
        super().__init__(
            f"ärende {case_number}: {cause.message}. {written} av {total} sammanfattningar "
            "hann sparas; de sparade filerna finns kvar"
        )
        self.exit_code = cause.exit_code
        self.written = written


@dataclass(frozen=True)
class BatchResult:
    """What a batch wrote: the files in order, and whether it was stopped before the end."""

    folder: Path
    total: int
    written: tuple[Path, ...]
    cancelled: bool

    @property
    def count(self) -> int:
        return len(self.written)


def batch_export_summaries(
    db: Database,
    actor: Actor,
    case_ids: Sequence[uuid.UUID],
    folder: Path | str,
    options: SummaryOptions | None = None,
    *,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    now: Callable[[], datetime] = utcnow,
) -> BatchResult:
    """Write one summary per case into ``folder``, named by case number only.

    Only for an arbetsledare, at most ``settings.batch_export_cap`` cases, and
    only into files that do not exist yet (nothing is overwritten). Each file
    is its own user action through :func:`export_summary` (audited, and for an
    agency noted in the contact log); ``cancelled()`` is asked before each
    case, so a stop leaves the files already written, whole, and audited.
    ``progress(done, total)`` is called after each file.
    """
    require_batch_export(actor)
    settings = settings if settings is not None else load_settings()
    options = options if options is not None else SummaryOptions()
    cap = batch_cap(settings)
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        raise ValidationError.single("ärenden", "inga ärenden att exportera")
    if len(ids) > cap:
        raise ValidationError.single(
            "ärenden",
            f"{len(ids)} ärenden är fler än de högst {cap} som får exporteras på en gång",
        )
    target = Path(folder)
    if not target.is_dir():
        raise ValidationError.single("mapp", f"{target} finns inte eller är ingen mapp")
    with db.begin() as s:
        numbers: dict[uuid.UUID, str] = {
            case_id: number
            for case_id, number in s.execute(
                select(Case.id, Case.case_number).where(Case.id.in_(ids))
            )
        }
    missing = [i for i in ids if i not in numbers]
    if missing:
        raise NotFoundError(f"{len(missing)} av ärendena finns inte")
    paths = {i: target / batch_file_name(numbers[i]) for i in ids}
    existing = [p for p in paths.values() if p.exists()]
    if existing:
        raise ValidationError.single(
            "mapp",
            f"mappen innehåller redan {len(existing)} av filerna (t.ex. {existing[0].name}); "
            "välj en tom mapp",
        )
    written: list[Path] = []
    stopped = False
    total = len(ids)
    try:
        for case_id in ids:
            if cancelled is not None and cancelled():
                stopped = True
                break
            try:
                result = export_summary(
                    db,
                    actor,
                    numbers[case_id],
                    paths[case_id],
                    options,
                    settings=settings,
                    now=now(),
                )
            except FokusError as exc:
                raise BatchExportError(exc, numbers[case_id], len(written), total) from exc
            written.append(result.path)
            if progress is not None:
                progress(len(written), total)
    finally:
        # Whatever happens (a stop, an error), the batch itself is on record with its count.
        with db.begin() as s:
            record(
                s,
                actor,
                "summary_batch_exported",
                requested=total,
                written=len(written),
                cancelled=stopped,
                recipient=options.recipient,
                masked=options.mask_personnummer,
                destination=mask_digit_runs(target.name)[:120],
            )
    return BatchResult(target, total, tuple(written), stopped)


class SummaryService:
    """The print dialog's and the batch export's way in: one short transaction per call.

    Safe to call from a worker thread (it keeps no session between calls).
    """

    def __init__(self, *, db: Database, actor: Actor, settings: Settings | None = None) -> None:
        self._db = db
        self.actor = actor
        self.settings = settings if settings is not None else load_settings()

    @property
    def may_batch_export(self) -> bool:
        try:
            require_batch_export(self.actor)
        except PermissionDeniedError:
            return False
        return True

    @property
    def cap(self) -> int:
        return batch_cap(self.settings)

    def choices(self, case_id: uuid.UUID) -> SummaryChoices:
        with self._db.begin() as s:
            require_case_access(s, self.actor, case_id, Purpose.READ)
            return summary_choices_in(s, case_id, today=local_today(utcnow()))

    def preview(self, case_id: uuid.UUID, options: SummaryOptions) -> PreviewResult:
        return screen_preview(self._db, self.actor, case_id, options, settings=self.settings)

    def save(self, case_number: str, path: Path | str, options: SummaryOptions) -> ExportResult:
        return export_summary(
            self._db, self.actor, case_number, path, options, settings=self.settings
        )

    def record_printed(
        self, case_id: uuid.UUID, options: SummaryOptions, *, printer: str
    ) -> uuid.UUID | None:
        return record_summary_printed(
            self._db, self.actor, case_id, options, printer=printer, settings=self.settings
        )

    def plan_batch(self, flt: RegisterFilter) -> BatchPlan:
        with self._db.begin() as s:
            return plan_batch_in(s, self.actor, flt, cap=self.cap, today=local_today(utcnow()))

    def batch_export(
        self,
        case_ids: Sequence[uuid.UUID],
        folder: Path | str,
        options: SummaryOptions | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> BatchResult:
        return batch_export_summaries(
            self._db,
            self.actor,
            case_ids,
            folder,
            options,
            settings=self.settings,
            progress=progress,
            cancelled=cancelled,
        )


__all__ = [
    "ALL_SECTIONS",
    "BatchExportError",
    "BatchPlan",
    "BatchResult",
    "SummaryChoices",
    "SummaryPerson",
    "SummaryService",
    "batch_export_summaries",
    "batch_file_name",
    "plan_batch_in",
    "require_batch_export",
    "screen_preview",
    "summary_choices_in",
    "INTERNAL_LABEL",
    "NO_CONTACTS",
    "RECIPIENT_INTERNAL",
    "SECRECY_LINE",
    "SECTION_LABELS",
    "ExportResult",
    "Omission",
    "PreviewResult",
    "Section",
    "SummaryOptions",
    "SummaryPlan",
    "build_summary_pdf",
    "export_summary",
    "format_masked_personal_id",
    "format_phone",
    "mask_digit_runs",
    "plan_summary",
    "preview_summary",
    "record_summary_printed",
    "render_summary",
    "write_atomically",
]
