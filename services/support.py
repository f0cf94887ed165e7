"""Months with paid support (from the payment system's export, or by hand).

A person's time on support counts the months they were a member of a
supported household; money is integer öre.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Case, SupportMonth
from models.codes import MonthSource
from services.access import Purpose, require_case_access
from services.audit import Actor, record
from services.db import Database
from services.errors import NotFoundError, ValidationError

_AMOUNT = re.compile(r"^(\d{1,3}(?: \d{3})+|\d+)(?:,(\d{1,2}))?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
AMOUNT_MAX_ORE = 10_000_000_00  # 10 million kr: anything above is a typo


def parse_amount_ore(text: str) -> int:
    """ "8 450,50", "7210", "7 210" (also with a non-breaking space) → öre."""
    cleaned = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    cleaned = re.sub(r"\s*kr$", "", cleaned)
    if cleaned.startswith("-"):
        raise ValueError("får inte vara negativt")
    cleaned = (
        cleaned.replace(".", ",") if cleaned.count(".") == 1 and "," not in cleaned else cleaned
    )
    m = _AMOUNT.match(cleaned)
    if not m:
        raise ValueError(f"ogiltigt belopp {text.strip()!r}, ange t.ex. 8 450,50")
    kronor = int(m.group(1).replace(" ", ""))
    ore = int((m.group(2) or "0").ljust(2, "0"))
    total = kronor * 100 + ore
    if total > AMOUNT_MAX_ORE:
        raise ValueError("orimligt stort belopp")
    return total


def parse_month(text: str) -> date:
    """ "2025-03" → date(2025, 3, 1)."""
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"ogiltig månad {text.strip()!r}, ange ÅÅÅÅ-MM")
    year = int(m.group(1))
    if not 1900 <= year <= 2100:
        raise ValueError(f"orimligt år {year}")
    return date(year, int(m.group(2)), 1)


def format_amount(ore: int) -> str:
    """12345600 → "123 456 kr"; 845050 → "8 450,50 kr"."""
    kronor, rest = divmod(ore, 100)
    text = f"{kronor:,}".replace(",", " ")
    return f"{text},{rest:02d} kr" if rest else f"{text} kr"


@dataclass(frozen=True)
class MonthView:
    month: date
    amount_ore: int
    source: str


def set_month_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    month: date,
    amount_ore: int,
    source: MonthSource,
    *,
    audit: bool = True,
) -> bool:
    """Record a month; returns False when the same month and amount are already there.

    A different amount for a month already recorded is an error, never an overwrite.
    """
    require_case_access(session, actor, case_id, Purpose.WRITE)
    if amount_ore < 0:
        raise ValidationError.single("belopp", "får inte vara negativt")
    existing = session.scalars(
        select(SupportMonth).where(SupportMonth.case_id == case_id, SupportMonth.month == month)
    ).first()
    if existing is not None:
        if existing.amount_ore == amount_ore:
            return False
        raise ValidationError.single(
            "belopp",
            f"månaden {month:%Y-%m} finns redan med ett annat belopp "
            f"({format_amount(existing.amount_ore)})",
        )
    session.add(
        SupportMonth(
            case_id=case_id,
            month=month,
            amount_ore=amount_ore,
            source=source.value,
            created_by=actor.username,
        )
    )
    if audit:
        record(session, actor, "support_month_added", case_id=case_id, month=f"{month:%Y-%m}")
    return True


class SupportService:
    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def add_month(self, case_id: uuid.UUID, month: date, amount_ore: int) -> bool:
        with self._db.begin() as s:
            if s.get(Case, case_id) is None:
                raise NotFoundError("ärendet finns inte")
            return set_month_in(s, self._actor, case_id, month, amount_ore, MonthSource.MANUAL)

    def months(self, case_id: uuid.UUID) -> list[MonthView]:
        with self._db.begin() as s:
            require_case_access(s, self._actor, case_id, Purpose.READ)
            rows = s.scalars(
                select(SupportMonth)
                .where(SupportMonth.case_id == case_id)
                .order_by(SupportMonth.month)
            )
            return [MonthView(r.month, r.amount_ore, r.source) for r in rows]
