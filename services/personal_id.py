"""Personnummer and samordningsnummer: parse, validate, store as 12 digits.

python-stdnum validates personnummer but rejects samordningsnummer (day + 60),
so those are checked here: subtract 60 from the day, check the date and the
Luhn digit over the 10-digit form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.se import personnummer

from models.codes import IdKind

_FORMAT = re.compile(r"^(\d{6}|\d{8})([-+]?)(\d{4})$")


@dataclass(frozen=True)
class PersonalId:
    """A validated identity number."""

    digits: str  # 12 digits, YYYYMMDDNNNC
    kind: IdKind
    birth_date: date

    @property
    def short(self) -> str:
        return self.digits[2:]

    def formatted(self) -> str:
        return format_personal_id(self.digits)


class PersonalIdError(ValueError):
    """The number is not a valid personnummer or samordningsnummer (Swedish message)."""


def format_personal_id(digits: str) -> str:
    """``YYYYMMDDNNNC`` → ``YYYYMMDD-NNNC``."""
    return f"{digits[:8]}-{digits[8:]}"


def _birth_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_personal_id(text: str, *, today: date | None = None) -> PersonalId:
    """Parse ``YYMMDD-NNNC``, ``YYMMDD+NNNC``, ``YYYYMMDDNNNC`` and the like.

    A 10-digit number gets the century that makes the person younger than
    100, or at least 100 with ``+``.
    """
    today = today or date.today()
    raw = re.sub(r"\s+", "", text)
    match = _FORMAT.match(raw)
    if not match:
        raise PersonalIdError("ange 10 eller 12 siffror, t.ex. ÅÅÅÅMMDD-NNNN")
    head, sep, tail = match.groups()
    if len(head) == 8:
        year = int(head[:4])
        rest = head[4:]
    else:
        rest = head[2:]
        year = (today.year // 100) * 100 + int(head[:2])
        month, day = int(rest[:2]), int(rest[2:4])
        candidate = _birth_date(year, month, day - 60 if day > 60 else day)
        if year > today.year or (candidate is not None and candidate > today):
            year -= 100
        if sep == "+":
            year -= 100
    month, day = int(rest[:2]), int(rest[2:4])
    ten = f"{year % 100:02d}{rest}{tail}"
    digits = f"{year:04d}{rest}{tail}"
    kind = IdKind.SAMORDNINGSNUMMER if day > 60 else IdKind.PERSONNUMMER
    real_day = day - 60 if kind is IdKind.SAMORDNINGSNUMMER else day
    born = _birth_date(year, month, real_day)
    if born is None:
        raise PersonalIdError(f"datumet {year:04d}-{month:02d}-{real_day:02d} finns inte")
    if born > today:
        raise PersonalIdError("födelsedatumet ligger i framtiden")
    if kind is IdKind.PERSONNUMMER:
        try:
            personnummer.validate(digits)
        except StdnumError as exc:
            raise PersonalIdError("kontrollsiffran stämmer inte") from exc
    elif not luhn.is_valid(ten):
        raise PersonalIdError("kontrollsiffran stämmer inte")
    return PersonalId(digits=digits, kind=kind, birth_date=born)
