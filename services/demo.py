"""Made-up demo households: realistic enough to show, test and load-test Fokus.

Why this module exists and why it looks the way it does:

* **Never real data.** Demo data must never mix with real cases, so
  :func:`seed_demo` refuses a database that already holds a case, and writes
  everything (plus one ``seed_demo`` audit event with counts only) in **one
  transaction per run**: a failed or interrupted run leaves the database as
  empty as it was, so it can simply be run again.
* **Deterministic.** The same ``seed`` and ``as_of`` give the same case
  numbers, names, personnummer, notes and months on SQLite and on
  PostgreSQL. Faker (pinned in ``pyproject.toml``) is seeded and only fills a
  few pools once; everything else, UUIDs included, comes from one
  :class:`random.Random`. Wall-clock time is used only to report the duration.
* **Fast.** 100,000 cases are about 4.5 million rows and must load in well
  under two minutes. Rows are plain tuples built from the pools (Faker per
  row would take many minutes), already in their stored form, and written
  per chunk of 1,000 cases on the session's own connection: ``executemany``
  on SQLite, ``COPY … FROM STDIN`` on PostgreSQL, where a helper thread
  writes while the next chunk is generated. SQLAlchemy Core's per-value
  type processing cost more than SQLite's own work, so the SQLite path hands
  the driver pre-rendered values, checked against SQLAlchemy's processors
  before each run. Indexes (on PostgreSQL also keys and foreign keys) are
  dropped for the load and rebuilt from their catalog definitions in the
  same transaction. The ORM is bypassed, so the search columns are computed
  as :func:`services.persons.set_names` computes them, with the same functions,
  and so are the derived tables the ORM hooks would keep: the support-year
  aggregate, the name search's terms, the register's sort keys and the
  members' birth dates are computed from the generated rows by the same
  definitions (tests compare them with those definitions) and written sorted
  by key after the last chunk; the follow-up and protected-case tables are
  rebuilt in SQL. An SQLite file in WAL mode is
  switched to a rollback journal for the one transaction (each page written
  once instead of twice) and back afterwards. Each phase's wall and CPU time
  is reported (``phase``; the bench prints them).
* **Histories end at ``as_of``.** No stored date or timestamp lies after it
  (planned dates such as follow-ups and consent end dates included), so a
  demo made for a given day looks the same whenever it is opened.
* **No Qt.** The desktop app calls this from a worker thread to make a small
  demo database; the command line ``seed-demo`` makes large ones.
"""

from __future__ import annotations

import calendar
import logging
import math
import queue
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models import (
    DEFAULT_CAP_FOCUS,
    DEFAULT_CAP_OTHER,
    Base,
    Case,
    Person,
    PersonIdentifier,
    Unit,
    User,
    follow_ups,
    member_births,
    search_terms,
)
from models import protected as protected_cases
from models import sort_keys as register_keys
from models import stats as support_years
from models.codes import (
    CaseStatus,
    Direction,
    IdKind,
    MemberRole,
    MonthSource,
    OtherBenefit,
    Outcome,
    Protection,
    Role,
    SicknessGrade,
)
from models.reference import SUPPORT_REASONS
from services.audit import Actor, record
from services.cases import allocate_case_numbers, format_case_number
from services.db import Database
from services.errors import DatabaseUnavailableError, ValidationError
from services.text import search_fold, sort_key

Row = tuple[Any, ...]
ProgressFn = Callable[[int, int], None]
# (phase, wall seconds, CPU seconds of the whole process): reported as each phase ends.
PhaseFn = Callable[[str, float, float], None]

CHUNK_CASES = 1000
# Page cache while seeding: the random-UUID key indexes stay in memory, and so do the
# index builds' sorts (256 MiB → 1 GiB: CPU 120 → 95 s with the journal below, 100,000 cases).
SQLITE_CACHE_KIB = 1024 * 1024

# Columns written per table, in the order the generator builds each row tuple.
# tests/test_demo.py checks that every NOT NULL column is covered.
COLUMNS: dict[str, tuple[str, ...]] = {
    "person": (
        "id",
        "personal_id",
        "personal_id_short",
        "id_kind",
        "birth_date",
        "reserve_number",
        "first_name",
        "last_name",
        "search_first",
        "search_last",
        "search_full",
        "search_full_rev",
        "sort_key",
        "phone",
        "email",
        "language",
        "needs_interpreter",
        "protection",
        "mental_ill_health",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ),
    "person_identifier": (
        "id",
        "person_id",
        "personal_id",
        "id_kind",
        "recorded_at",
        "replaced_at",
        "recorded_by",
    ),
    "fs_case": (
        "id",
        "case_number",
        "number_year",
        "number_seq",
        "unit_id",
        "status",
        "opened_on",
        "closed_on",
        "caseworker_id",
        "is_focus",
        "direction",
        "summary",
        "address",
        "postcode",
        "town",
        "housing_type",
        "housing_cost_ore",
        "import_key",
        "version",
        "outcome",
        "outcome_grade",
        "outcome_permanent",
        "outcome_benefit",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ),
    "household_member": (
        "id",
        "case_id",
        "person_id",
        "role",
        "valid_from",
        "valid_to",
        "studying",
        "created_at",
        "version",
    ),
    "support_reason": (
        "id",
        "case_id",
        "person_id",
        "reason_code",
        "valid_from",
        "valid_to",
        "created_at",
        "created_by",
    ),
    "support_month": ("id", "case_id", "month", "amount_ore", "source", "created_at", "created_by"),
    "consent": (
        "id",
        "person_id",
        "case_id",
        "agency_code",
        "scope",
        "valid_from",
        "valid_to",
        "withdrawn_at",
        "created_at",
        "created_by",
        "version",
    ),
    "contact_entry": (
        "id",
        "case_id",
        "occurred_at",
        "agency_code",
        "method_code",
        "counterpart",
        "text",
        "follow_up_on",
        "child_perspective",
        "author_id",
        "author_name",
        "created_at",
        "updated_at",
        "signed_at",
        "corrects_id",
        "version",
    ),
    "contact_entry_member": ("entry_id", "person_id"),
    "plan_goal": (
        "id",
        "case_id",
        "person_id",
        "direction",
        "text",
        "target_date",
        "achieved_on",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ),
    # The support-year aggregate (models/stats.py), computed as the months are generated
    # and written once, sorted by key, after the last chunk (see _Generator.derived_rows).
    "support_year_case": ("case_id", "year", "months", "month_mask"),
    "support_year_person": ("person_id", "year", "months", "month_mask", "prior_mask"),
    # The name search's terms (models/search_terms.py) and the register's sort keys
    # (models/sort_keys.py), likewise.
    "search_term": ("term", "number_year", "number_seq", "case_id"),
    "case_sort_key": ("case_id", "applicant", "personal_id"),
    # Each membership with the member's birth date (models/member_births.py), likewise.
    "member_birth": ("member_id", "case_id", "birth_date", "valid_from", "valid_to"),
}
# Parents before children (foreign keys are checked row by row on SQLite).
TABLE_ORDER = tuple(COLUMNS)

# --- Pools of realistic text --------------------------------------------------------------

_HOUSING: list[tuple[str | None, int]] = [
    ("hyresrätt", 60),
    ("andrahandskontrakt", 12),
    ("inneboende", 6),
    ("boende hos anhörig", 5),
    ("bostadsrätt", 3),
    ("stödboende", 3),
    ("jourboende", 3),
    ("försöksboende", 2),
    (None, 2),  # utan bostad
]

_LANGUAGES = [
    "arabiska",
    "somaliska",
    "tigrinja",
    "dari",
    "persiska",
    "kurdiska",
    "polska",
    "rumänska",
    "engelska",
    "turkiska",
    "ukrainska",
]

# (code, weight) per adult; rolls up to roughly Socialstyrelsen's shares.
_REASON_WEIGHTS: dict[str, int] = {
    "unemployed_insufficient": 12,
    "unemployed_no_benefit": 24,
    "insurance_exhausted": 4,
    "establishment_ended": 6,
    "awaiting_benefit": 4,
    "social_obstacle": 11,
    "studying": 4,
    "sick_with_benefit": 6,
    "sick_without_benefit": 5,
    "ill_without_certificate": 8,
    "parental_leave": 5,
    "insufficient_income": 8,
    "other": 3,
}
_REASON_GROUP = {code: group for code, _label, group in SUPPORT_REASONS}
_REASON_LABEL = {code: label for code, label, _group in SUPPORT_REASONS}

# (agency, method, text, child perspective); "{m}" becomes the note's month ("mars 2026").
_NOTES: list[tuple[str, str, str, bool]] = [
    (
        "client",
        "meeting",
        "Uppföljningssamtal. Klienten berättar att jobbsökandet går trögt; vi gick "
        "igenom vilka jobb som sökts och bokade ny tid om en månad.",
        False,
    ),
    (
        "client",
        "phone",
        "Klienten ringde och frågade när utbetalningen för {m} kommer. Informerade om "
        "att ansökan är under handläggning.",
        False,
    ),
    (
        "client",
        "phone",
        "Klienten ringde och meddelade att kompletteringen är inskickad via e-tjänsten.",
        False,
    ),
    (
        "client",
        "secure_message",
        "Begärt komplettering: kontoutdrag för de tre senaste månaderna och hyresavi för {m}.",
        False,
    ),
    ("client", "letter", "Kallelse till planeringssamtal skickad.", False),
    ("client", "sms", "Påminnelse om bokad tid skickad via SMS.", False),
    ("client", "phone", "Klienten uteblev från bokat möte. Ny tid erbjuden.", False),
    (
        "client",
        "video",
        "Digitalt möte. Gick igenom ansökan för {m}; inga förändringar i hushållet.",
        False,
    ),
    (
        "client",
        "meeting",
        "Klienten har fått ett visstidsjobb på deltid. Inkomsten räknas in i kommande "
        "ansökan; informerade om jobbstimulans.",
        False,
    ),
    (
        "client",
        "email",
        "Klienten frågade om bistånd till tandvård. Informerade om att kostnadsförslag "
        "behövs innan behandlingen påbörjas.",
        False,
    ),
    (
        "client",
        "home_visit",
        "Hembesök tillsammans med kollega. Bostaden i ordning. Klienten beskriver en "
        "pressad ekonomi och oro inför vintern.",
        False,
    ),
    (
        "client",
        "meeting",
        "Planeringssamtal. Planen reviderades tillsammans med klienten; nästa uppföljning "
        "om tre månader.",
        False,
    ),
    (
        "client",
        "internal",
        "Beslut om försörjningsstöd för {m} fattat och kommunicerat.",
        False,
    ),
    (
        "client",
        "internal",
        "Ärendedragning med arbetsledare. Beslutades att erbjuda insats via jobbcenter.",
        False,
    ),
    (
        "client",
        "internal",
        "Ansökan för {m} avslogs delvis; beslut med besvärshänvisning skickat.",
        False,
    ),
    (
        "af",
        "phone",
        "Avstämning med handläggare på Arbetsförmedlingen. Klienten är inskriven och "
        "deltar i Rusta och matcha.",
        False,
    ),
    (
        "af",
        "meeting",
        "Trepartssamtal med Arbetsförmedlingen om insatser. Klienten anvisas till "
        "arbetsmarknadsutbildning.",
        False,
    ),
    (
        "af",
        "email",
        "Arbetsförmedlingen bekräftar att aktivitetsrapporten för {m} är inlämnad.",
        False,
    ),
    (
        "jobcentre",
        "meeting",
        "Överlämning till kommunens jobbcenter. Klienten börjar arbetsträning på halvtid.",
        False,
    ),
    (
        "jobcentre",
        "phone",
        "Jobbcentret meddelar att klienten har god närvaro i arbetsträningen.",
        False,
    ),
    (
        "fk",
        "phone",
        "Samtal med Försäkringskassan om ansökan om sjukpenning. Beslut väntas inom fyra veckor.",
        False,
    ),
    (
        "fk",
        "meeting",
        "Avstämningsmöte med Försäkringskassan och vårdcentralen om klientens arbetsförmåga.",
        False,
    ),
    ("fk", "letter", "Kopia av Försäkringskassans beslut om bostadsbidrag inkom.", False),
    (
        "fk",
        "phone",
        "Försäkringskassan bekräftar att ansökan om sjukersättning är registrerad.",
        False,
    ),
    (
        "healthcare",
        "phone",
        "Kontakt med vårdcentralen enligt samtycke. Läkarintyg skickas till klienten.",
        False,
    ),
    (
        "healthcare",
        "meeting",
        "SIP-möte med vårdcentralen och klienten. Ansvarsfördelningen dokumenteras i SIP:en.",
        False,
    ),
    (
        "psychiatry",
        "phone",
        "Kontakt med öppenvårdspsykiatrin enligt samtycke. Klienten har regelbundna samtal där.",
        False,
    ),
    (
        "psychiatry",
        "meeting",
        "Samordnat möte med psykiatrin om stöd inför arbetsträning.",
        False,
    ),
    (
        "landlord",
        "phone",
        "Hyresvärden meddelar obetald hyra för {m}. Klienten informerad; ansökan om "
        "bistånd till hyresskuld utreds.",
        False,
    ),
    ("landlord", "letter", "Kopia av hyresavtalet inkom från hyresvärden.", False),
    (
        "kronofogden",
        "phone",
        "Kronofogden bekräftar att ansökan om skuldsanering handläggs.",
        False,
    ),
    (
        "debt_advice",
        "meeting",
        "Klienten har fått tid hos budget- och skuldrådgivningen och tar med sina räkningar.",
        False,
    ),
    ("akassa", "phone", "A-kassan meddelar att ersättningen upphör efter {m}.", False),
    ("csn", "letter", "Beslut från CSN om studiemedel inkom.", False),
    (
        "migrationsverket",
        "phone",
        "Migrationsverket bekräftar att uppehållstillstånd har beviljats.",
        False,
    ),
    (
        "social_services",
        "internal",
        "Intern konsultation med vuxenenheten om stöd i boendet.",
        False,
    ),
    ("guardian", "phone", "Samtal med god man om klientens räkningar för {m}.", False),
    (
        "coordination_union",
        "meeting",
        "Klienten är anmäld till samordningsförbundets insats för personer långt från "
        "arbetsmarknaden.",
        False,
    ),
    (
        "school",
        "phone",
        "Samtal med skolans kurator enligt samtycke. Barnet har hög frånvaro; skolan "
        "erbjuder stödsamtal.",
        True,
    ),
    (
        "school",
        "meeting",
        "Möte med förskolan om barnets behov. Barnets situation vägs in i bedömningen.",
        True,
    ),
    (
        "client",
        "meeting",
        "Samtal med föräldern om barnens fritidsaktiviteter. Bistånd till fritidsaktivitet "
        "prövas utifrån barnets bästa.",
        True,
    ),
    (
        "client",
        "home_visit",
        "Hembesök. Barnen var hemma; familjen bor trångt men barnen beskrivs må bra.",
        True,
    ),
    (
        "client",
        "meeting",
        "Barnsamtal med det äldsta barnet tillsammans med föräldern. Barnet berättar om "
        "skolan och kompisarna.",
        True,
    ),
]
_ADULT_NOTES = [n for n in _NOTES if not n[3]]
_CHILD_NOTES = [n for n in _NOTES if n[3]]

_FIRST_NOTES: list[tuple[str, str, str]] = [
    (
        "client",
        "secure_message",
        "Ansökan om ekonomiskt bistånd inkom via e-tjänsten. Nybesök bokas.",
    ),
    ("client", "phone", "Klienten ringde och ville ansöka om försörjningsstöd. Nybesök bokat."),
    (
        "client",
        "meeting",
        "Nybesök. Gick igenom ansökan, inkomster och utgifter. Informerade om kravet på att "
        "stå till arbetsmarknadens förfogande och om rätten att överklaga.",
    ),
    ("social_services", "internal", "Aktualisering från mottagningsenheten. Ärendet fördelat."),
]

_CLOSING: dict[Outcome, str] = {
    Outcome.WORK: "Klienten har fått en tillsvidareanställning. Ärendet avslutas.",
    Outcome.STUDIES: "Klienten har börjat studera med studiemedel. Ärendet avslutas.",
    Outcome.SICKNESS_COMPENSATION: "Försäkringskassan har beviljat sjukersättning. "
    "Ärendet avslutas.",
    Outcome.ACTIVITY_COMPENSATION: "Försäkringskassan har beviljat aktivitetsersättning. "
    "Ärendet avslutas.",
    Outcome.OTHER_BENEFIT: "Klienten har fått annan ersättning som täcker behovet. "
    "Ärendet avslutas.",
    Outcome.MOVED: "Klienten har flyttat till annan kommun. Ärendet avslutas.",
    Outcome.CONTACT_ENDED: "Ingen ny ansökan har kommit in på tre månader. Ärendet avslutas.",
    Outcome.OTHER: "Ärendet avslutas efter avstämning med arbetsledare.",
}
_OUTCOME_WEIGHTS: list[tuple[Outcome, int]] = [
    (Outcome.WORK, 30),
    (Outcome.STUDIES, 8),
    (Outcome.SICKNESS_COMPENSATION, 8),
    (Outcome.ACTIVITY_COMPENSATION, 3),
    (Outcome.OTHER_BENEFIT, 15),
    (Outcome.MOVED, 12),
    (Outcome.CONTACT_ENDED, 20),
    (Outcome.OTHER, 4),
]

_CORRECTIONS = [
    "mötet ägde rum dagen innan, inte som angivet.",
    "det var Försäkringskassan, inte a-kassan, som kontaktades.",
    "klienten kom ensam till mötet.",
    "beloppet i anteckningen ska vara 1 250 kr.",
]

_COUNTERPARTS: dict[str, list[str]] = {
    "af": ["handläggare, Arbetsförmedlingen", "arbetsförmedlare"],
    "fk": ["handläggare, Försäkringskassan", "samordnare, Försäkringskassan"],
    "healthcare": ["distriktsläkare, vårdcentralen", "kurator, vårdcentralen"],
    "psychiatry": ["kontaktperson, öppenvårdspsykiatrin", "psykiatrisjuksköterska"],
    "landlord": ["förvaltare", "hyresvärdens kundtjänst"],
    "school": ["skolkurator", "mentor", "förskollärare"],
    "jobcentre": ["arbetskonsulent, jobbcenter"],
    "guardian": ["god man"],
}

_CONSENTS: list[tuple[str, str]] = [
    ("fk", "Uppgifter om sjukpenning, sjukersättning och arbetsförmåga."),
    ("healthcare", "Uppgifter om sjukskrivning och planerad behandling inför SIP."),
    ("psychiatry", "Samordning av insatser; uppgifter om pågående behandling."),
    ("af", "Uppgifter om inskrivning, aktiviteter och planering."),
    ("kronofogden", "Uppgifter om skulder och skuldsanering."),
    ("landlord", "Uppgifter om hyresskuld och avbetalningsplan."),
    ("school", "Uppgifter om barnets skolgång och frånvaro."),
]

_GOALS: dict[Direction, list[str]] = {
    Direction.WORK_STUDIES: [
        "Söka minst tio arbeten i månaden",
        "Påbörja arbetsträning via jobbcenter",
        "Slutföra SFI och gå vidare till vuxenutbildning",
        "Ta körkort inför jobb inom hemtjänsten",
        "Påbörja yrkesutbildning inom vård och omsorg",
    ],
    Direction.SICKNESS_COMPENSATION: [
        "Få arbetsförmågan utredd av vårdcentralen",
        "Ansöka om sjukersättning med stöd av läkarutlåtande",
        "Delta i SIP-möte med psykiatrin",
        "Ansöka om aktivitetsersättning",
    ],
    Direction.UNDECIDED: [
        "Kartlägga hinder för arbete",
        "Ordna ett stabilt boende",
        "Göra en budget med budget- och skuldrådgivningen",
        "Komma i kontakt med vårdcentralen",
    ],
}

_MONTHS_SV = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]
# PTS reserves 070-174 06 05 … 070-174 06 99 for use in fiction: nobody is called.
_PHONES = [f"070-174 06 {n:02d}" for n in range(5, 100)]

# Rough monthly amounts (kr) that make payments plausible; not the riksnorm.
_ADULT_KR = 4_300
_COUPLE_KR = 8_500
_CHILD_KR = (2_600, 3_900)
_CHILD_BENEFIT_KR = 1_250

# --- Results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    """What a seed run created, for the command line and the demo dialog."""

    cases: int
    persons: int
    members: int
    notes: int
    months: int
    users: int
    consents: int
    support_reasons: int
    plan_goals: int
    seconds: float
    # Where the time went: (phase, wall seconds, process CPU seconds), in order.
    phases: tuple[tuple[str, float, float], ...] = ()

    def summary(self) -> str:
        secs = f"{self.seconds:.1f}".replace(".", ",")
        return (
            f"{self.cases} ärenden, {self.persons} personer, {self.notes} anteckningar, "
            f"{self.months} månader på {secs} s"
        )


# --- Small helpers ------------------------------------------------------------------------


class _Phases:
    """Wall and process CPU time per seeding phase, kept and reported as each ends.

    Seeding 100,000 cases is generation in Python, the database's inserts, the
    index builds, the derived tables and ANALYZE; timing each (issue 8) shows
    which one to cut. CPU time is the whole process's (user + system), the
    honest figure on a machine shared with other work.
    """

    def __init__(self, report: PhaseFn | None) -> None:
        self.report = report
        self.done: list[tuple[str, float, float]] = []
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def since_mark(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, time.process_time() - self._cpu

    def mark(self, name: str) -> None:
        """End the phase ``name``, begun at the previous mark (or restart)."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.add(name, wall - self._wall, cpu - self._cpu)
        self._wall, self._cpu = wall, cpu

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.done.append((name, wall, cpu))
        if self.report is not None:
            self.report(name, wall, cpu)


# uuid.UUID(int=n, version=4) sets these bits; done on the integer it is ten times faster.
_V4_CLEAR = ((1 << 128) - 1) ^ ((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _year_masks(months: Sequence[int]) -> dict[int, int]:
    """{year: 12-bit mask of its months} for month indexes (bit 0 = January)."""
    out: dict[int, int] = {}
    for i in months:
        year = i // 12
        out[year] = out.get(year, 0) | 1 << (i % 12)
    return out


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _utc_offset_minutes(day: date) -> int:
    """Sweden's offset on ``day`` at office hours: CEST from the last Sunday of March
    to the last Sunday of October (no time-zone database needed, e.g. on Windows)."""
    return 120 if _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10) else 60


def _luhn_digit(nine: str) -> int:
    total = 0
    for i, ch in enumerate(nine):
        d = (ord(ch) - 48) * (2 - i % 2)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


@cache
def _fold_part(name: str) -> tuple[str, str]:
    return search_fold(name), sort_key(name)


def _name_columns(first: str, last: str) -> tuple[str, str, str, str, str]:
    """search_first/last/full/full_rev and sort_key, equal to what ``set_names`` stores.

    ``set_names`` calls ``search_fold`` on "first last" and "last first" and
    ``sort_key(last, first)``. Folding works character by character, so for
    names without surrounding or doubled whitespace (every pool name is
    normalised so) the folded whole is the folded parts joined by a space;
    caching the parts makes this a dictionary look-up per person.
    """
    f, f_key = _fold_part(first)
    la, l_key = _fold_part(last)
    return f, la, f"{f} {la}", f"{la} {f}", f"{l_key} {f_key}"


def _ascii(text: str) -> str:
    folded = search_fold(text).replace("å", "a").replace("ä", "a").replace("ö", "o")
    return "".join(ch for ch in folded if "a" <= ch <= "z")


def _normalise(name: str) -> str:
    return " ".join(name.split())


@dataclass(frozen=True)
class _Pools:
    """Names and places drawn once from Faker; rows combine them with the RNG."""

    male: list[str]
    female: list[str]
    last: list[str]
    streets: list[str]
    towns: list[str]
    postcode_prefixes: dict[str, list[int]]


def _build_pools(seed: int, rng: random.Random) -> _Pools:
    from faker import Faker

    fake = Faker("sv_SE")
    fake.seed_instance(seed)
    male = [_normalise(fake.first_name_male()) for _ in range(2000)]
    female = [_normalise(fake.first_name_female()) for _ in range(2000)]
    last = [_normalise(fake.last_name()) for _ in range(3000)]
    streets = sorted({fake.street_name() for _ in range(600)})
    towns: list[str] = []
    while len(towns) < 5:
        town = fake.city()
        if town not in towns:
            towns.append(town)
    prefixes = {t: sorted(rng.sample(range(100, 990), rng.randint(2, 4))) for t in towns}
    return _Pools(male, female, last, streets, towns, prefixes)


# --- The case skeleton: dates and numbers, decided for all cases up front ----------------


@dataclass
class _Skeleton:
    index: int
    status: CaseStatus
    opened_on: date
    closed_on: date | None
    months: list[int]  # month indexes with paid support
    is_focus: bool
    year: int = 0
    seq: int = 0
    caseworker: int | None = None  # index into the user list; None = not yet assigned


def _span_months(rng: random.Random) -> int:
    u = rng.random()
    if u < 0.20:
        return rng.randint(1, 6)
    if u < 0.42:
        return rng.randint(7, 18)
    if u < 0.72:
        return rng.randint(19, 40)
    return rng.randint(37, 78)  # three to six and a half years


def _random_day_in_month(rng: random.Random, index: int, latest: date) -> date:
    first = _month_start(index)
    last_day = calendar.monthrange(first.year, first.month)[1]
    return min(first + timedelta(days=rng.randrange(last_day)), latest)


def _paid_months(rng: random.Random, first: int, last: int) -> list[int]:
    coverage = 0.97 if rng.random() < 0.8 else rng.uniform(0.7, 0.95)
    months = [first]
    months.extend(m for m in range(first + 1, last + 1) if rng.random() < coverage)
    return months


def _skeletons(rng: random.Random, count: int, as_of: date) -> list[_Skeleton]:
    out: list[_Skeleton] = []
    now_m = _month_index(as_of)
    for i in range(count):
        u = rng.random()
        closed_on: date | None = None
        months: list[int] = []
        is_focus = False
        if u < 0.03:
            status = CaseStatus.ACTUALISATION
            opened = as_of - timedelta(days=rng.randrange(21))
        elif u < 0.08:
            status = CaseStatus.INVESTIGATION
            opened = as_of - timedelta(days=rng.randrange(60))
            if rng.random() < 0.3:
                months = [_month_index(opened)]
        elif u < 0.30:
            status = CaseStatus.CLOSED
            closed_on = as_of - timedelta(days=rng.randrange(1, 4 * 365))
            end_m = _month_index(closed_on)
            start_m = end_m - _span_months(rng) + 1
            opened = _random_day_in_month(rng, start_m, closed_on)
            months = _paid_months(rng, start_m, end_m)
        else:
            status = CaseStatus.ONGOING
            span = _span_months(rng)
            start_m = now_m - span + 1
            opened = _random_day_in_month(rng, start_m, as_of)
            months = _paid_months(rng, start_m, now_m)
            is_focus = span >= 24 and rng.random() < 0.12
        out.append(_Skeleton(i, status, opened, closed_on, months, is_focus))
    return out


# --- Row generation -------------------------------------------------------------------------


@dataclass
class _Member:
    person_id: str
    role: MemberRole
    birth: date
    valid_from: date
    valid_to: date | None


class _Generator:
    """Builds the rows of a chunk of cases, deterministically from ``rng``.

    Values are produced in their stored form so that no per-value conversion
    is needed on the way in: UUIDs as 32 hex digits, dates as ISO strings and
    timestamps as UTC text in SQLAlchemy's SQLite storage format (``tz`` adds
    ``+00:00`` for PostgreSQL's COPY). :func:`_check_sqlite_formats` checks the
    formats against SQLAlchemy's own bind processors before a run.
    """

    def __init__(
        self,
        rng: random.Random,
        pools: _Pools,
        as_of: date,
        unit_id: str,
        users: list[tuple[str, str]],
        importer: str,
        tz: str,
    ) -> None:
        self.rng = rng
        self.pools = pools
        self.as_of = as_of
        self.unit_id = unit_id
        self.users = users
        self.importer = importer
        self.tz = tz
        self.used_ids: set[str] = set()
        self.reason_codes = list(_REASON_WEIGHTS)
        self.reason_weights = list(_REASON_WEIGHTS.values())
        self.housing = [h for h, _ in _HOUSING]
        self.housing_weights = [w for _, w in _HOUSING]
        self.outcomes = [o for o, _ in _OUTCOME_WEIGHTS]
        self.outcome_weights = [w for _, w in _OUTCOME_WEIGHTS]
        self.buf: dict[str, list[Row]] = {t: [] for t in TABLE_ORDER}
        self._days: dict[int, tuple[str, int, str]] = {}
        self.case_years: list[Row] = []
        self.person_years: list[Row] = []
        self.search_terms: list[Row] = []
        self.sort_keys: list[Row] = []
        self.member_births: list[Row] = []
        self._sort_key: tuple[str, str] = ("", "")  # the last person's name key and number
        self._terms: set[str] = set()  # the name terms of the case being generated
        self._months: dict[int, tuple[str, str]] = {}

    # -- values in stored form --

    def new_id(self) -> str:
        return f"{self.rng.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"

    def _day(self, ordinal: int) -> tuple[str, int, str]:
        """ISO date, UTC offset in minutes and "mars 2026" for a day ordinal."""
        hit = self._days.get(ordinal)
        if hit is None:
            d = date.fromordinal(ordinal)
            label = f"{_MONTHS_SV[d.month - 1]} {d.year}"
            hit = (d.isoformat(), _utc_offset_minutes(d), label)
            self._days[ordinal] = hit
        return hit

    def iso(self, d: date | None) -> str | None:
        return None if d is None else self._day(d.toordinal())[0]

    def ts(self, ordinal: int, local_minute: int) -> str:
        """Swedish wall-clock time (between 02:00 and 24:00) as stored UTC text."""
        iso, offset, _ = self._day(ordinal)
        m = local_minute - offset
        return f"{iso} {m // 60:02d}:{m % 60:02d}:00.000000{self.tz}"

    def _month(self, index: int) -> tuple[str, str]:
        hit = self._months.get(index)
        if hit is None:
            first = _month_start(index).isoformat()
            hit = (first, f"{first} 03:00:00.000000{self.tz}")  # the nightly import
            self._months[index] = hit
        return hit

    # -- identities --

    def _number(self, birth: date, male: bool, coordination: bool) -> str:
        day = birth.day + 60 if coordination else birth.day
        head = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}"
        century = f"{birth.year // 100:02d}"
        rng = self.rng
        while True:
            serial = f"{rng.randrange(100):02d}{rng.randrange(5) * 2 + male}"
            digits = f"{century}{head}{serial}{_luhn_digit(head + serial)}"
            if digits not in self.used_ids:
                self.used_ids.add(digits)
                return digits

    def _birth(self, ref: date, age: int) -> date:
        hi = _years_before(ref, age).toordinal()
        lo = _years_before(ref, age + 1).toordinal() + 1
        return date.fromordinal(self.rng.randint(lo, hi))

    def person(
        self,
        *,
        ref: date,
        age: int,
        male: bool,
        last: str,
        newcomer: bool,
        protection: str | None,
        adult: bool,
        since: date,
        author: str,
        mental: bool = False,
    ) -> tuple[str, date]:
        rng = self.rng
        pid = self.new_id()
        birth = self._birth(ref, age)
        first = rng.choice(self.pools.male if male else self.pools.female)
        u = rng.random()
        kind: IdKind | None
        if newcomer:
            if u < 0.15:
                kind = None
            elif u < 0.30 and not adult:
                kind = IdKind.PERSONNUMMER  # born in Sweden
            else:
                kind = IdKind.SAMORDNINGSNUMMER
        else:
            kind = (
                None if u < 0.02 else IdKind.SAMORDNINGSNUMMER if u < 0.03 else IdKind.PERSONNUMMER
            )
        created_day = max(since, birth).toordinal()
        created = self.ts(created_day, 9 * 60 + rng.randrange(300))
        digits: str | None = None
        reserve: str | None = None
        if kind is None:
            if rng.random() < 0.8:
                reserve = f"R{birth:%Y%m%d}{rng.randrange(1000):03d}"
        else:
            digits = self._number(birth, male, kind is IdKind.SAMORDNINGSNUMMER)
            if kind is IdKind.PERSONNUMMER and adult and not newcomer and rng.random() < 0.01:
                # Had a samordningsnummer before the personnummer: the history is kept.
                old = self._number(birth, male, True)
                switched = created_day - rng.randint(200, 2000)
                recorded = switched - rng.randint(100, 900)
                self.buf["person_identifier"].append(
                    (
                        self.new_id(),
                        pid,
                        old,
                        IdKind.SAMORDNINGSNUMMER.value,
                        self.ts(recorded, 10 * 60),
                        self.ts(switched, 10 * 60),
                        author,
                    )
                )
            self.buf["person_identifier"].append(
                (self.new_id(), pid, digits, kind.value, created, None, author)
            )
        phone = email = language = None
        interpreter = False
        if adult:
            if rng.random() < 0.7:
                phone = rng.choice(_PHONES)
            if rng.random() < 0.25:
                email = f"{_ascii(first)}.{_ascii(last)}{rng.randrange(10, 99)}@example.com"
        if newcomer or rng.random() < 0.03:
            language = rng.choice(_LANGUAGES)
            interpreter = adult and rng.random() < 0.6
        sf, sl, full, rev, key = _name_columns(first, last)
        # The person's name search terms, as models.search_terms.terms_query chooses them.
        self._terms.add(full)
        self._terms.add(rev)
        if not full.startswith(sf):
            self._terms.add(sf)
        if not rev.startswith(sl):
            self._terms.add(sl)
        self._sort_key = (key, digits or "")
        self.buf["person"].append(
            (
                pid,
                digits,
                digits[2:] if digits else None,
                kind.value if kind else None,
                self.iso(birth),
                reserve,
                first,
                last,
                sf,
                sl,
                full,
                rev,
                key,
                phone,
                email,
                language,
                interpreter,
                protection,
                mental,
                1,
                created,
                author,
                created,
                author,
            )
        )
        return pid, birth

    # -- one case --

    def case(self, sk: _Skeleton) -> None:
        rng = self.rng
        as_of = self.as_of
        end = sk.closed_on or as_of
        opened = sk.opened_on
        worker_id, worker = self.users[sk.caseworker if sk.caseworker is not None else 0]
        case_id = self.new_id()
        self._terms = set()
        case_years = (end - opened).days // 365

        # Household composition.
        u = rng.random()
        if sk.is_focus and u < 0.6:
            u = rng.choice((0.5, 0.8))  # focus caseloads favour families with children
        partner = False
        n_children = 0
        if u < 0.41:
            kind = "single"
        elif u < 0.63:
            kind = "single_parent"
            n_children = rng.choices((1, 2, 3, 4), (45, 33, 15, 7))[0]
        elif u < 0.73:
            kind, partner = "couple", True
        elif u < 0.97:
            kind, partner = "family", True
            n_children = rng.choices((1, 2, 3, 4, 5), (32, 36, 19, 9, 4))[0]
        else:
            kind = "other_adult"
        newcomer = rng.random() < 0.07
        protection: str | None = None
        if rng.random() < 0.008:
            protection = (
                Protection.PROTECTED_REGISTRATION.value
                if rng.random() < 0.3
                else Protection.CONFIDENTIALITY_MARKING.value
            )

        a = rng.random()
        if a < 0.18:
            age = rng.randint(18, 24)
        elif a < 0.45:
            age = rng.randint(25, 34)
        elif a < 0.68:
            age = rng.randint(35, 44)
        elif a < 0.86:
            age = rng.randint(45, 54)
        else:
            age = rng.randint(55, 66)
        if n_children:
            age = max(age, 21)
        age = max(age, 19 + case_years)  # an adult already when the case opened
        male = rng.random() < (0.25 if kind == "single_parent" else 0.55)
        last = rng.choice(self.pools.last)
        members: list[_Member] = []

        reason_first = rng.choices(self.reason_codes, self.reason_weights)[0]
        sick = _REASON_GROUP[reason_first] == "sickness"
        mental = rng.random() < (0.45 if sick else 0.10) or (sk.is_focus and rng.random() < 0.4)
        pid, birth = self.person(
            ref=end, age=age, male=male, last=last, newcomer=newcomer, protection=protection,
            adult=True, since=opened, author=worker, mental=mental,
        )  # fmt: skip
        members.append(_Member(pid, MemberRole.APPLICANT, birth, opened, None))
        # The register's sort keys: the applicant (the one, with no end date), as
        # models.sort_keys.keys_query finds them; "" for a missing personnummer.
        self.sort_keys.append((case_id, *self._sort_key))
        reasons = {pid: reason_first}
        partner_last = last

        if partner:
            p_age = max(19 + case_years, min(70, age + rng.randint(-6, 8)))
            if rng.random() >= 0.6:
                partner_last = rng.choice(self.pools.last)
            since = opened
            if rng.random() < 0.05 and end > opened:
                since = opened + timedelta(days=rng.randrange((end - opened).days + 1))
            ppid, pbirth = self.person(
                ref=end, age=p_age, male=not male, last=partner_last, newcomer=newcomer,
                protection=protection, adult=True, since=since, author=worker,
                mental=rng.random() < 0.08,
            )  # fmt: skip
            until: date | None = None
            if rng.random() < 0.04 and end > since:
                until = since + timedelta(days=rng.randrange((end - since).days + 1))
            members.append(_Member(ppid, MemberRole.CO_APPLICANT, pbirth, since, until))
            reasons[ppid] = rng.choices(self.reason_codes, self.reason_weights)[0]
        elif kind == "other_adult":
            opid, obirth = self.person(
                ref=end, age=rng.randint(max(21, 19 + case_years), 60), male=rng.random() < 0.5,
                last=rng.choice(self.pools.last), newcomer=newcomer, protection=protection,
                adult=True, since=opened, author=worker,
            )  # fmt: skip
            members.append(_Member(opid, MemberRole.OTHER_ADULT, obirth, opened, None))
            reasons[opid] = rng.choices(self.reason_codes, self.reason_weights)[0]

        # Children: under 18, or 18–20 and still in school (studying).
        children: list[_Member] = []
        studying: set[str] = set()
        oldest = max(0, min(20, age - 18))
        for _ in range(n_children):
            c_age = rng.randint(18, 20) if rng.random() < 0.06 else rng.randint(0, 17)
            c_age = min(c_age, oldest)
            c_last = partner_last if partner and rng.random() < 0.2 else last
            cpid, cbirth = self.person(
                ref=end, age=c_age, male=rng.random() < 0.5, last=c_last, newcomer=newcomer,
                protection=protection, adult=False, since=opened, author=worker,
            )  # fmt: skip
            children.append(_Member(cpid, MemberRole.CHILD, cbirth, max(opened, cbirth), None))
            if c_age >= 18:
                studying.add(cpid)
        members.extend(children)

        for m in members:
            member_id = self.new_id()
            valid_from, valid_to = self.iso(m.valid_from), self.iso(m.valid_to)
            self.buf["household_member"].append(
                (
                    member_id,
                    case_id,
                    m.person_id,
                    m.role.value,
                    valid_from,
                    valid_to,
                    m.person_id in studying,
                    self.ts(m.valid_from.toordinal(), 10 * 60 + rng.randrange(360)),
                    1,
                )
            )
            # models.member_births: the membership with the member's birth date.
            self.member_births.append((member_id, case_id, self.iso(m.birth), valid_from, valid_to))

        # Försörjningshinder per adult, sometimes changed once.
        for m in members:
            if m.role is MemberRole.CHILD:
                continue
            code = reasons[m.person_id]
            stop = m.valid_to or sk.closed_on
            start = m.valid_from
            horizon = stop or as_of
            if horizon > start + timedelta(days=240) and rng.random() < 0.2:
                change = start + timedelta(days=rng.randint(120, (horizon - start).days))
                self._reason(case_id, m.person_id, code, start, change - timedelta(days=1), worker)
                code = rng.choices(self.reason_codes, self.reason_weights)[0]
                start = change
            self._reason(case_id, m.person_id, code, start, stop, worker)

        group = _REASON_GROUP[reason_first]
        direction = Direction.UNDECIDED
        if group == "sickness" and rng.random() < (0.8 if sk.is_focus else 0.5):
            direction = Direction.SICKNESS_COMPENSATION
        elif sk.is_focus or (group == "unemployment" and rng.random() < 0.6):
            direction = Direction.WORK_STUDIES

        # Housing and money (kronor here, öre when stored).
        housing = rng.choices(self.housing, self.housing_weights)[0]
        rent: int | None = None
        if housing in ("hyresrätt", "andrahandskontrakt", "försöksboende"):
            rent = rng.randint(4_200, 7_500) + (len(members) - 1) * rng.randint(600, 1_200)
        elif housing == "bostadsrätt":
            rent = rng.randint(3_000, 6_500)
        elif housing in ("inneboende", "stödboende"):
            rent = rng.randint(2_500, 4_800)
        elif housing == "boende hos anhörig":
            rent = rng.choice((0, 1_000, 1_500, 2_000))
        adults = len(members) - len(children)
        need = _COUPLE_KR if partner else _ADULT_KR * adults
        need += sum(rng.randint(*_CHILD_KR) for _ in children) + (rent or 0) + 450
        need -= _CHILD_BENEFIT_KR * len(children)  # barnbidrag is income
        if children and rng.random() < 0.5:
            need -= rng.randint(1_000, 3_500)  # bostadsbidrag, underhållsstöd
        if rng.random() < 0.35:
            need -= rng.randint(1_000, 7_000)  # part-time work, a-kassa, sjukpenning
        base_kr = min(20_000, max(3_000, need))

        town = rng.choice(self.pools.towns)
        address = postcode = case_town = None
        if housing is not None and protection != Protection.PROTECTED_REGISTRATION.value:
            address = f"{rng.choice(self.pools.streets)} {rng.randint(1, 120)}"
            if housing != "bostadsrätt" and rng.random() < 0.6:
                address += f" lgh {rng.randint(10, 16)}{rng.randint(1, 9):02d}"
            postcode = f"{rng.choice(self.pools.postcode_prefixes[town])} {rng.randint(10, 99)}"
            case_town = town

        outcome: Outcome | None = None
        grade: str | None = None
        permanent: bool | None = None
        benefit: str | None = None
        if sk.status is CaseStatus.CLOSED:
            outcome = rng.choices(self.outcomes, self.outcome_weights)[0]
            if outcome is Outcome.SICKNESS_COMPENSATION:
                grade = rng.choice(list(SicknessGrade)).value
                permanent = rng.random() < 0.7
            elif outcome is Outcome.OTHER_BENEFIT:
                benefit = rng.choice(list(OtherBenefit)).value

        created = self.ts(opened.toordinal(), 8 * 60 + rng.randrange(480))
        updated = self.ts(end.toordinal(), 8 * 60 + rng.randrange(480)) if end > opened else created
        self.buf["fs_case"].append(
            (
                case_id,
                format_case_number(sk.year, sk.seq),
                sk.year,
                sk.seq,
                self.unit_id,
                sk.status.value,
                self.iso(opened),
                self.iso(sk.closed_on),
                worker_id if sk.caseworker is not None else None,
                sk.is_focus,
                direction.value,
                self._summary(kind, n_children, reason_first),
                address,
                postcode,
                case_town,
                housing,
                rent * 100 if rent is not None else None,
                None,
                1,
                outcome.value if outcome else None,
                grade,
                permanent,
                benefit,
                created,
                worker,
                updated,
                worker,
            )
        )

        # Months with paid support, whole kronor mostly, 3 000–20 000 kr.
        months = self.buf["support_month"]
        rand = rng.random
        source = MonthSource.IMPORT.value
        for index in sk.months:
            month, imported = self._month(index)
            kr = base_kr * (0.93 + 0.12 * rand())
            if rand() < 0.05:
                kr += 500 + 2_500 * rand()  # tandvård, glasögon, spis
            ore = int(min(20_000.0, max(3_000.0, kr))) * 100
            if rand() < 0.2 and ore < 2_000_000:
                ore += (25, 50, 75)[int(rand() * 3)]
            months.append((self.new_id(), case_id, month, ore, source, imported, self.importer))

        self._support_years(case_id, sk.months, members)
        # Every member's terms once per case (the definition's UNION), in any role or period.
        self.search_terms.extend((t, sk.year, sk.seq, case_id) for t in self._terms)
        adult_members = [m for m in members if m.role is not MemberRole.CHILD]
        self._consents(case_id, adult_members, children, opened, end, worker)
        self._notes(sk, case_id, members, children, worker_id, worker, outcome)
        if sk.status is CaseStatus.ONGOING and len(sk.months) >= 3 and rng.random() < 0.4:
            self._goals(case_id, adult_members, direction, opened, worker)

    def _support_years(self, case_id: str, months: list[int], members: list[_Member]) -> None:
        """The household's and each member's rows of the support-year aggregate.

        The same definition as :func:`models.stats.case_years_query` and
        ``person_years_query`` (a member counts a month their period touches:
        from the month of ``valid_from`` to ``valid_to`` inclusive), from the
        months and memberships just generated: cheaper than the rebuild's join
        and grouping over every month afterwards (13 s CPU at 100,000 cases).
        Every seeded person belongs to exactly one household, so a person's rows
        are that household's months in the person's period. ``months`` is sorted.
        """
        if not months:
            return
        whole = _year_masks(months)
        self.case_years.extend(
            (case_id, year, mask.bit_count(), mask) for year, mask in whole.items()
        )
        for m in members:
            lo = _month_index(m.valid_from)
            hi = _month_index(m.valid_to) if m.valid_to is not None else months[-1]
            if lo <= months[0] and hi >= months[-1]:
                years = whole
            else:
                years = _year_masks([i for i in months if lo <= i <= hi])
            for year, mask in years.items():
                prior = 0
                for k in range(3):
                    prior |= years.get(year - 3 + k, 0) << (12 * k)
                self.person_years.append((m.person_id, year, mask.bit_count(), mask, prior))

    def derived_rows(self) -> dict[str, list[Row]]:
        """The derived tables' rows of every case so far (support years, search terms, sort
        keys, member births), in key order: in SQLite (tables without rowid) each insert is
        then an append to the B-tree."""
        batch: dict[str, list[Row]] = {t: [] for t in TABLE_ORDER}
        batch["support_year_case"] = sorted(self.case_years)
        batch["support_year_person"] = sorted(self.person_years)
        batch["search_term"] = sorted(self.search_terms)
        batch["case_sort_key"] = sorted(self.sort_keys)
        batch["member_birth"] = sorted(self.member_births)
        self.case_years, self.person_years, self.search_terms = [], [], []
        self.sort_keys, self.member_births = [], []
        return batch

    def _summary(self, kind: str, n_children: int, reason: str) -> str:
        words = {1: "ett barn", 2: "två barn", 3: "tre barn", 4: "fyra barn", 5: "fem barn"}
        household = {
            "single": "Ensamstående utan barn.",
            "single_parent": f"Ensamstående förälder med {words.get(n_children, 'barn')}.",
            "couple": "Sammanboende par utan barn.",
            "family": f"Sammanboende par med {words.get(n_children, 'barn')}.",
            "other_adult": "Sökande som delar hushåll med en annan vuxen.",
        }[kind]
        return f"{household} Försörjningshinder: {_REASON_LABEL[reason]}."

    def _reason(
        self, case_id: str, person_id: str, code: str, start: date, stop: date | None, author: str
    ) -> None:
        self.buf["support_reason"].append(
            (
                self.new_id(),
                case_id,
                person_id,
                code,
                self.iso(start),
                self.iso(stop),
                self.ts(start.toordinal(), 13 * 60 + self.rng.randrange(180)),
                author,
            )
        )

    def _consents(
        self,
        case_id: str,
        adults: list[_Member],
        children: list[_Member],
        opened: date,
        end: date,
        author: str,
    ) -> None:
        rng = self.rng
        if rng.random() >= 0.3:
            return
        span = (end - opened).days
        for _ in range(rng.randint(1, 3)):
            person = rng.choice(adults)
            agency, scope = rng.choice(_CONSENTS)
            if agency == "school" and not children:
                agency, scope = _CONSENTS[0]
            start = opened + timedelta(days=rng.randrange(span + 1))
            valid_to: date | None = None
            if rng.random() < 0.35:
                valid_to = start + timedelta(days=365)
                if valid_to > end:
                    valid_to = None  # "tills vidare" rather than a date after as_of
            withdrawn: str | None = None
            if rng.random() < 0.05 and end > start:
                day = start.toordinal() + rng.randrange((end - start).days + 1)
                withdrawn = self.ts(day, 11 * 60)
            self.buf["consent"].append(
                (
                    self.new_id(),
                    person.person_id,
                    case_id,
                    agency,
                    scope,
                    self.iso(start),
                    self.iso(valid_to),
                    withdrawn,
                    self.ts(start.toordinal(), 10 * 60 + rng.randrange(300)),
                    author,
                    1,
                )
            )

    def _notes(
        self,
        sk: _Skeleton,
        case_id: str,
        members: list[_Member],
        children: list[_Member],
        worker_id: str,
        worker: str,
        outcome: Outcome | None,
    ) -> None:
        rng = self.rng
        rand = rng.random
        first_day = sk.opened_on.toordinal()
        last_day = (sk.closed_on or self.as_of).toordinal()
        as_of = self.as_of.toordinal()
        if sk.status in (CaseStatus.ACTUALISATION, CaseStatus.INVESTIGATION):
            extra = rng.randint(0, 2)
        else:
            extra = max(0, round(rng.gauss(1.0 + 0.22 * len(sk.months), 1.5)))
            if sk.is_focus:
                extra = round(extra * 1.4)
        span = last_day - first_day + 1
        days = sorted(first_day + int(rand() * span) for _ in range(extra))
        entries = self.buf["contact_entry"]
        links = self.buf["contact_entry_member"]
        applicant = members[0].person_id
        co_adult = None
        if len(members) > 1 and members[1].role is not MemberRole.CHILD:
            co_adult = members[1].person_id
        written: list[tuple[str, int, str]] = []

        def add(
            day: int,
            agency: str,
            method: str,
            text: str,
            child: bool,
            linked: Sequence[str],
            corrects: str | None = None,
        ) -> None:
            weekday = (day - 1) % 7
            if weekday >= 5 and day - (weekday - 4) >= first_day:
                day -= weekday - 4  # weekends → the Friday before
            iso, offset, label = self._day(day)
            local = 8 * 60 + int(rand() * 510)
            created = local + 5 + int(rand() * 55)
            signed = created + int(rand() * 20)
            follow_up: str | None = None
            if rand() < 0.15:
                due = day + (7, 14, 21, 30)[int(rand() * 4)]
                if due <= as_of:
                    follow_up = self._day(due)[0]
            author_id, author = worker_id, worker
            if rand() < 0.12:
                author_id, author = rng.choice(self.users)  # ersättare or an earlier caseworker
            counterpart = ""
            if agency in _COUNTERPARTS and rand() < 0.6:
                counterpart = rng.choice(_COUNTERPARTS[agency])
            note_id = self.new_id()
            signed_ts = self._clock(iso, signed - offset)
            entries.append(
                (
                    note_id,
                    case_id,
                    self._clock(iso, local - offset),
                    agency,
                    method,
                    counterpart,
                    text.replace("{m}", label) if "{m}" in text else text,
                    follow_up,
                    child,
                    author_id,
                    author,
                    self._clock(iso, created - offset),
                    signed_ts,
                    signed_ts,
                    corrects,
                    1,
                )
            )
            for person_id in dict.fromkeys(linked):
                links.append((note_id, person_id))
            written.append((note_id, day, agency))

        agency, method, text = rng.choice(_FIRST_NOTES)
        add(first_day, agency, method, text, False, [applicant] if rand() < 0.5 else [])
        for day in days:
            if children and rand() < 0.25:
                agency, method, text, _ = rng.choice(_CHILD_NOTES)
                add(day, agency, method, text, True, [rng.choice(children).person_id])
                continue
            agency, method, text, _ = rng.choice(_ADULT_NOTES)
            r = rand()
            linked: list[str] = []
            if r < 0.3:
                linked.append(applicant)
                if co_adult is not None and r < 0.1:
                    linked.append(co_adult)
            add(day, agency, method, text, False, linked)
        if outcome is not None:
            add(last_day, "client", "internal", _CLOSING[outcome], False, [applicant])
        if len(written) >= 3 and rand() < 0.08:
            note_id, day, agency = rng.choice(written[:-1])
            fix_day = min(last_day, day + rng.randint(1, 10))
            text = f"Rättelse av anteckningen från {self._day(day)[0]}: {rng.choice(_CORRECTIONS)}"
            add(fix_day, agency, "internal", text, False, [], corrects=note_id)

    def _clock(self, iso: str, utc_minute: int) -> str:
        return f"{iso} {utc_minute // 60:02d}:{utc_minute % 60:02d}:00.000000{self.tz}"

    def _goals(
        self, case_id: str, adults: list[_Member], direction: Direction, opened: date, author: str
    ) -> None:
        rng = self.rng
        as_of = self.as_of.toordinal()
        first = opened.toordinal()
        for text in rng.sample(_GOALS[direction], rng.randint(1, 2)):
            person = rng.choice(adults).person_id if rng.random() < 0.8 else None
            start = first + rng.randrange(as_of - first + 1)
            target = start + rng.choice((90, 180))
            achieved: int | None = None
            if target <= as_of and rng.random() < 0.4:
                achieved = max(start, target - rng.randrange(60))
            created = self.ts(start, 9 * 60 + rng.randrange(420))
            updated = self.ts(achieved, 15 * 60) if achieved is not None else created
            self.buf["plan_goal"].append(
                (
                    self.new_id(),
                    case_id,
                    person,
                    direction.value,
                    text,
                    self._day(target)[0] if target <= as_of else None,
                    self._day(achieved)[0] if achieved is not None else None,
                    1,
                    created,
                    author,
                    updated,
                    author,
                )
            )

    def take(self) -> dict[str, list[Row]]:
        out, self.buf = self.buf, {t: [] for t in TABLE_ORDER}
        return out


# --- Writing --------------------------------------------------------------------------------


def _check_sqlite_formats(session: Session) -> None:
    """Refuse to run if SQLAlchemy would store UUIDs, dates or timestamps differently.

    The SQLite path hands pre-rendered values to the driver; this compares
    those renderings with SQLAlchemy's own bind processors for the real column
    types, so a changed storage format fails loudly instead of writing rows
    the ORM cannot find.
    """
    dialect = session.get_bind().dialect
    table = Base.metadata.tables["contact_entry"]
    gen = _Generator(
        random.Random(0), _Pools([], [], [], [], [], {}), date(2026, 7, 1), "", [], "", ""
    )
    ident = gen.new_id()
    day = date(2026, 7, 1)
    samples: list[tuple[str, Any, str | None]] = [
        ("id", uuid.UUID(hex=ident), ident),
        ("follow_up_on", day, gen.iso(day)),
        (
            "occurred_at",
            datetime(2026, 7, 1, 7, 5, tzinfo=UTC),
            gen.ts(day.toordinal(), 9 * 60 + 5),
        ),
    ]
    for column, value, rendered in samples:
        process = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        stored = process(value) if process else value
        if stored != rendered:
            raise RuntimeError(f"SQLite storage format of {column} changed: {stored!r}")


def _sqlite_write(raw: Any, table: str, rows: list[Row]) -> None:
    """``executemany`` on the session's sqlite3 connection, inside its transaction."""
    cols = COLUMNS[table]
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    raw.executemany(sql, rows)


def _copy_write(raw: Any, table: str, rows: list[Row]) -> None:
    """``COPY … FROM STDIN`` on the session's psycopg connection, inside its transaction."""
    sql = f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN"
    with raw.cursor() as cur, cur.copy(sql) as cp:
        write_row = cp.write_row
        for r in rows:
            write_row(r)


_ON_TABLE = re.compile(r'\bON\s+(?:ONLY\s+)?(?:"?\w+"?\.)?"?(\w+)"?', re.IGNORECASE)


def _index_table(sql: str) -> str | None:
    """The table a CREATE INDEX statement is on (None for other statements)."""
    if not sql.lstrip().upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX")):
        return None
    match = _ON_TABLE.search(sql)
    return match.group(1) if match else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_deferred(raw: Any) -> tuple[list[str], list[str]]:
    """DROP and CREATE statements for the secondary indexes of the loaded tables.

    Key and UNIQUE indexes belong to the table definition in SQLite and stay.
    """
    marks = ", ".join("?" * len(TABLE_ORDER))
    rows = raw.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks}) ORDER BY name",
        TABLE_ORDER,
    ).fetchall()
    drop, create = [f"DROP INDEX {_quote(name)}" for name, _ in rows], [sql for _, sql in rows]
    # The protected-case trigger on new members: ~4 µs a row; the table is rebuilt after.
    name = protected_cases.SQLITE_MEMBER_INSERT
    trigger = raw.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    if trigger is not None:
        drop.append(f"DROP TRIGGER {_quote(name)}")
        create.append(trigger[0])
    return drop, create


_PG_FOREIGN_KEYS = """
SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_class r ON r.oid = c.confrelid
WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace
  AND (t.relname = ANY(%(tables)s) OR r.relname = ANY(%(tables)s))
ORDER BY t.relname, c.conname
"""
_PG_KEYS = """
SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
WHERE c.contype IN ('p', 'u') AND t.relnamespace = current_schema()::regnamespace
  AND t.relname = ANY(%(tables)s)
ORDER BY t.relname, c.contype, c.conname
"""
_PG_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%(tables)s)
  AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c
    WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')
  )
ORDER BY i.relname
"""
_PG_OWNED = """
SELECT coalesce(bool_and(pg_has_role(current_user, t.relowner, 'USAGE')), false)
FROM pg_class t
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%(tables)s)
"""


def _pg_deferred(raw: Any) -> tuple[list[str], list[str]]:
    """DROP and re-CREATE statements for the keys, indexes and foreign keys of the loaded
    tables, read from the catalog (so they follow the schema, whoever changed it).

    Empty when the current user does not own every table concerned: then the
    rows go in with the constraints in place, just more slowly.
    """
    args = {"tables": list(TABLE_ORDER)}
    fks = raw.execute(_PG_FOREIGN_KEYS, args).fetchall()
    keys = raw.execute(_PG_KEYS, args).fetchall()
    indexes = raw.execute(_PG_INDEXES, args).fetchall()
    involved = sorted({t for t, _, _ in fks} | set(TABLE_ORDER))
    if not raw.execute(_PG_OWNED, {"tables": involved}).fetchone()[0]:
        return [], []
    drop = [f"ALTER TABLE {_quote(t)} DROP CONSTRAINT {_quote(c)}" for t, c, _ in fks]
    drop += [f"ALTER TABLE {_quote(t)} DROP CONSTRAINT {_quote(c)}" for t, c, _ in keys]
    drop += [f"DROP INDEX {_quote(name)}" for name, _ in indexes]
    create = [f"ALTER TABLE {_quote(t)} ADD CONSTRAINT {_quote(c)} {d}" for t, c, d in keys]
    create += [sql for _, sql in indexes]
    create += [f"ALTER TABLE {_quote(t)} ADD CONSTRAINT {_quote(c)} {d}" for t, c, d in fks]
    # The protected-case trigger would look up each member's person without its key:
    # paused for the load, the table rebuilt after it (models/protected.py).
    pause = f"ALTER TABLE household_member %s TRIGGER {protected_cases.PG_MEMBER_TRIGGER}"
    return [pause % "DISABLE", *drop], [*create, pause % "ENABLE"]


class _Writer:
    """Writes chunks in one helper thread while the caller generates the next chunk.

    Generation is Python work; inserting is mostly the database's (SQLite's
    B-tree work runs with the GIL released, PostgreSQL works in its own
    process), so on two cores the two overlap. The thread gets the raw DBAPI
    connection of the caller's transaction and is the only one using it until
    :meth:`close` returns; the session itself never crosses threads.
    """

    def __init__(
        self, raw: Any, write: Callable[[Any, str, list[Row]], None], *, threaded: bool
    ) -> None:
        self._raw = raw
        self._write = write
        self._queue: queue.Queue[dict[str, list[Row]] | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fokus-demo-writer", daemon=True)
        if threaded:
            self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so put() never blocks forever
            try:
                self._write_batch(batch)
            except BaseException as exc:  # handed to the caller's thread, re-raised there
                self._error = exc

    def _write_batch(self, batch: dict[str, list[Row]]) -> None:
        for table in TABLE_ORDER:
            if batch[table]:
                self._write(self._raw, table, batch[table])

    def put(self, batch: dict[str, list[Row]]) -> None:
        self._raise()
        if self._thread.is_alive():
            self._queue.put(batch)
        else:
            self._write_batch(batch)

    def close(self) -> None:
        """Wait until everything is written; re-raise a write error."""
        self.stop()
        self._raise()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


# --- Entry point ------------------------------------------------------------------------------


def _make_users(
    session: Session,
    gen_id: Callable[[], str],
    rng: random.Random,
    pools: _Pools,
    *,
    unit_id: str,
    workers: int,
    focus_workers: int,
    created: datetime,
) -> tuple[tuple[str, str], list[tuple[str, str]], list[tuple[str, str]]]:
    """The team leader, the caseworkers and the focus caseworkers: (id, username) each."""
    taken = set(session.scalars(select(User.username)))
    rows: list[dict[str, Any]] = []

    def one(role: Role, *, focus: bool, cap: int) -> tuple[str, str]:
        first = rng.choice(pools.male if rng.random() < 0.3 else pools.female)
        last = rng.choice(pools.last)
        base = f"{_ascii(first)[:3]}{_ascii(last)[:3]}" or "demo"
        n = 1
        while f"{base}{n:02d}" in taken:
            n += 1
        username = f"{base}{n:02d}"
        taken.add(username)
        user_id = gen_id()
        rows.append(
            {
                "id": uuid.UUID(hex=user_id),
                "username": username,
                "full_name": f"{first} {last}",
                "role": role.value,
                "unit_id": uuid.UUID(hex=unit_id),
                "is_focus": focus,
                "caseload_cap": cap,
                "active": True,
                "password_hash": None,
                "failed_logins": 0,
                "locked_until": None,
                "created_at": created,
                "version": 1,
            }
        )
        return user_id, username

    leader = one(Role.TEAM_LEADER, focus=False, cap=DEFAULT_CAP_OTHER)
    regular = [one(Role.CASEWORKER, focus=False, cap=DEFAULT_CAP_OTHER) for _ in range(workers)]
    focus = [one(Role.CASEWORKER, focus=True, cap=DEFAULT_CAP_FOCUS) for _ in range(focus_workers)]
    session.execute(insert(Base.metadata.tables["app_user"]), rows)
    return leader, regular, focus


def _assign(rng: random.Random, cases: list[_Skeleton], first_user: int, users: int) -> None:
    """Spread cases evenly (in shuffled order) over ``users`` consecutive user slots."""
    order = list(range(len(cases)))
    rng.shuffle(order)
    for slot, i in enumerate(order):
        cases[i].caseworker = first_user + slot % users


def seed_demo(
    db: Database,
    actor: Actor,
    *,
    cases: int,
    seed: int,
    as_of: date,
    progress: ProgressFn | None = None,
    phase: PhaseFn | None = None,
) -> SeedResult:
    """Fill an empty database with ``cases`` made-up cases whose histories end at ``as_of``.

    Raises :class:`ValidationError` when the database already holds a case.
    Everything, the audit event included, is one transaction. ``phase`` is
    told the wall and CPU time of each phase as it ends (also in the result).
    """
    started = time.perf_counter()
    phases = _Phases(phase)
    dialect = db.engine.dialect
    if dialect.name not in ("sqlite", "postgresql") or (
        dialect.name == "postgresql" and dialect.driver != "psycopg"
    ):
        raise DatabaseUnavailableError(
            "demodata kan bara skapas i SQLite eller i PostgreSQL via psycopg "
            "(postgresql+psycopg://)"
        )
    old_journal: str | None = None
    try:
        with db.begin() as session:
            if session.scalars(select(Case.id).limit(1)).first() is not None:
                raise ValidationError.single(
                    "databas", "innehåller redan ärenden; demodata skapas bara i en tom databas"
                )
            old_cache: int | None = None
            if session.get_bind().dialect.name == "sqlite":
                _check_sqlite_formats(session)
                conn = session.connection()
                old_cache = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                old_journal = _rollback_journal(conn)
            try:
                rows = _seed_in(
                    session, actor, random.Random(seed), seed, cases, as_of, progress, phases
                )
            finally:
                if old_cache is not None:
                    session.connection().exec_driver_sql(f"PRAGMA cache_size={old_cache}")
        phases.mark("commit")
    finally:
        if old_journal is not None:
            _restore_journal(db, old_journal)
    refresh_statistics(db)
    phases.mark("analyze")
    return SeedResult(
        cases=rows["fs_case"],
        persons=rows["person"],
        members=rows["household_member"],
        notes=rows["contact_entry"],
        months=rows["support_month"],
        users=rows["app_user"],
        consents=rows["consent"],
        support_reasons=rows["support_reason"],
        plan_goals=rows["plan_goal"],
        seconds=time.perf_counter() - started,
        phases=tuple(phases.done),
    )


def _rollback_journal(conn: Any) -> str | None:
    """Put an SQLite file that is in WAL mode into a rollback journal for the seeding.

    In WAL mode the one big transaction writes every page twice: into the
    write-ahead log (1.2 GB at 100,000 cases), then, at the checkpoint after
    the commit, into the file. A rollback journal saves only the pages that
    existed before, and an empty database has almost none, so each page is
    written once; the transaction stays atomic and a crash still rolls it back.
    Returns the mode to restore afterwards, or None when nothing was changed
    (not WAL, a transaction already open, or another connection holding the
    file, which WAL then keeps).
    """
    raw = conn.connection.driver_connection
    if raw.in_transaction:
        return None
    mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()).lower()
    if mode != "wal":
        return None
    try:
        now = str(conn.exec_driver_sql("PRAGMA journal_mode=TRUNCATE").scalar_one()).lower()
    except OperationalError:
        return None
    return mode if now == "truncate" else None


def _restore_journal(db: Database, mode: str) -> None:
    """Back to the journal mode the file had (every new connection sets WAL anyway)."""
    with db.engine.connect() as conn:
        try:
            conn.exec_driver_sql(f"PRAGMA journal_mode={mode}")
        except OperationalError:
            logging.getLogger(__name__).warning("journal mode not restored to %s", mode)


def refresh_statistics(db: Database) -> None:
    """Give the query planner statistics after a bulk load.

    Without them SQLite picks poor plans for the register's status filter
    (measured 500 ms instead of 15 ms at 100,000 cases). SQLite samples
    (analysis_limit) so this stays well under a second.

    PostgreSQL gets ``VACUUM (ANALYZE)``, as its documentation advises after a
    bulk load: the load leaves dead rows (the follow-up dates are rebuilt) and
    no visibility map, so index-only scans would read the table. Autovacuum
    would do it later, or never where it is off: on such a server the
    dashboard took 950 ms after a fresh seed, and 1,010-1,416 ms on a reused
    one, against 640-700 ms vacuumed (docs/performance.md). It took 2.6 s at
    100,000 cases.
    """
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=2000")
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        return
    # VACUUM cannot run inside a transaction.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")


def _seed_in(
    session: Session,
    actor: Actor,
    rng: random.Random,
    seed: int,
    cases: int,
    as_of: date,
    progress: ProgressFn | None,
    phases: _Phases,
) -> dict[str, int]:
    if progress:
        progress(0, cases)
    pools = _build_pools(seed, rng)
    skeletons = _skeletons(rng, cases, as_of)

    # Case numbers follow the opening date, per year, from the shared counter.
    skeletons.sort(key=lambda s: (s.opened_on, s.index))
    by_year: dict[int, list[_Skeleton]] = {}
    for sk in skeletons:
        by_year.setdefault(sk.opened_on.year, []).append(sk)
    for year in sorted(by_year):
        group = by_year[year]
        for sk, seq in zip(group, allocate_case_numbers(session, year, len(group)), strict=True):
            sk.year, sk.seq = year, seq

    bind = session.get_bind()
    use_copy = bind.dialect.name == "postgresql" and bind.dialect.driver == "psycopg"
    gen = _Generator(rng, pools, as_of, "", [], actor.username, "+00:00" if use_copy else "")
    # Persons may exist without cases; their numbers must stay unique.
    gen.used_ids.update(n for n in session.scalars(select(Person.personal_id)) if n)
    gen.used_ids.update(session.scalars(select(PersonIdentifier.personal_id)))

    # One unit; caseworkers for about 68 open cases each, focus caseworkers for at most 28.
    unit_name = f"Försörjningsstöd {pools.towns[0]}"
    existing = session.scalars(select(Unit.id).where(Unit.name == unit_name)).first()
    earliest = min((s.opened_on for s in skeletons), default=as_of)
    users_created = datetime.combine(earliest - timedelta(days=30), datetime.min.time(), UTC)
    users_created += timedelta(hours=7)
    if existing is None:
        unit_id = gen.new_id()
        session.execute(
            insert(Base.metadata.tables["unit"]),
            [{"id": uuid.UUID(hex=unit_id), "name": unit_name, "created_at": users_created}],
        )
    else:
        unit_id = existing.hex
    open_regular = [
        s
        for s in skeletons
        if s.status in (CaseStatus.ONGOING, CaseStatus.INVESTIGATION) and not s.is_focus
    ]
    focus_cases = [s for s in skeletons if s.is_focus]
    workers = max(3, math.ceil(len(open_regular) / 68))
    focus_workers = max(1, math.ceil(len(focus_cases) / 28))
    leader, regular, focus = _make_users(
        session, gen.new_id, rng, pools, unit_id=unit_id, workers=workers,
        focus_workers=focus_workers, created=users_created,
    )  # fmt: skip
    gen.users = [leader, *regular, *focus]
    gen.unit_id = unit_id
    _assign(rng, open_regular, 1, workers)
    _assign(rng, focus_cases, 1 + workers, focus_workers)
    for sk in skeletons:
        if sk.status is CaseStatus.CLOSED:
            sk.caseworker = 1 + rng.randrange(workers)
        # Actualisations wait for the team leader to assign them (caseworker None).

    # Bulk loading: indexes (and on PostgreSQL keys and foreign keys) are dropped
    # for the load and rebuilt after it, in this same transaction, as pg_restore
    # does: one sort per index instead of a random B-tree update per row.
    session.flush()
    # The aggregate, the search terms and the sort keys are loaded from the generator;
    # nothing else may be in them (nor can be: they derive from cases, and there are none).
    session.execute(delete(support_years.SupportYearPerson))
    session.execute(delete(support_years.SupportYearCase))
    session.execute(delete(search_terms.SearchTerm))
    session.execute(delete(register_keys.CaseSortKey))
    session.execute(delete(member_births.MemberBirth))
    phases.mark("setup")
    raw: Any = session.connection().connection.driver_connection
    drop, create = _pg_deferred(raw) if use_copy else _sqlite_deferred(raw)
    if use_copy:
        raw.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for sql in drop:
        raw.execute(sql)
    phases.mark("drop indexes")
    # SQLite writes in the caller's thread: sqlite3 takes the GIL back after every
    # row, so a writer thread would mostly wait for the generating one.
    writer = _Writer(raw, _copy_write if use_copy else _sqlite_write, threaded=use_copy)
    counts = dict.fromkeys(TABLE_ORDER, 0)
    counts["app_user"] = len(gen.users)
    done = 0
    gen_wall = gen_cpu = 0.0
    try:
        for start in range(0, len(skeletons), CHUNK_CASES):
            wall, cpu = time.perf_counter(), time.process_time()
            chunk = skeletons[start : start + CHUNK_CASES]
            for sk in chunk:
                gen.case(sk)
            batch = gen.take()
            gen_wall += time.perf_counter() - wall
            gen_cpu += time.process_time() - cpu
            for table, rows in batch.items():
                counts[table] += len(rows)
            writer.put(batch)
            done += len(chunk)
            if progress:
                progress(done, cases)
        writer.close()
    finally:
        writer.stop()
    # The rest of the loop is the inserts (on PostgreSQL, waiting for the COPY thread).
    loop_wall, loop_cpu = phases.since_mark()
    phases.add("generate rows", gen_wall, gen_cpu)
    phases.add("write rows", loop_wall - gen_wall, loop_cpu - gen_cpu)
    phases.restart()
    derived = gen.derived_rows()
    for table, rows in derived.items():
        counts[table] += len(rows)
    writer.put(derived)  # the writer thread has stopped: written here, in order
    phases.mark("derived tables (support years, search terms, sort keys, births)")
    for table in TABLE_ORDER:  # timed per table: the months' and the notes' indexes dominate
        mine = [sql for sql in create if _index_table(sql) == table]
        for sql in mine:
            raw.execute(sql)
        if mine:
            phases.mark(f"indexes {table} ({len(mine)})")
    rest = [sql for sql in create if _index_table(sql) not in TABLE_ORDER]
    for sql in rest:  # triggers paused for the load; PostgreSQL's keys and foreign keys
        raw.execute(sql)
    if rest:
        phases.mark(f"triggers and keys ({len(rest)})")
    # The raw inserts bypassed the ORM hooks that keep the support-year aggregate, the
    # register's sort keys, the cases' follow-up dates, the members' birth dates and the
    # search terms current.
    support_years.loaded(session)  # written above, from the generated rows
    register_keys.loaded(session)  # written above, from the generated rows
    follow_ups.rebuild(session)
    phases.mark("follow-ups")
    member_births.loaded(session)  # written above, from the generated rows
    search_terms.loaded(session)  # written above, from the generated rows
    protected_cases.rebuild(session)  # kept by triggers, paused for the load
    phases.mark("protected cases")
    record(
        session,
        actor,
        "seed_demo",
        cases=counts["fs_case"],
        persons=counts["person"],
        members=counts["household_member"],
        notes=counts["contact_entry"],
        months=counts["support_month"],
        users=counts["app_user"],
    )
    phases.mark("audit")
    return counts
