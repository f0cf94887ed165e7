"""Logguppföljning for the arbetsledare: a case's log, a period's export, the nödåtkomster.

A thin layer over :mod:`services.audit` (which checks the role, limits an
arbetsledare to their unit and audits every review and export) and
:func:`services.access.emergency_log`; each call is one transaction, so it
can run in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from services.access import EmergencyRow, emergency_log
from services.audit import Actor, AuditRow, case_log, export_period_csv
from services.cases import case_by_number
from services.db import Database
from services.errors import ValidationError


@dataclass(frozen=True)
class CaseLog:
    """The events of one case, oldest first."""

    case_number: str
    rows: list[AuditRow]


class AuditReviewService:
    """The review operations for the UI, the actor bound at construction."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def case_log(self, case_number: str) -> CaseLog:
        """The log of the case with this number (``ärendenummer`` names the field)."""
        number = (case_number or "").strip()
        if not number:
            raise ValidationError.single("ärendenummer", "måste fyllas i")
        with self._db.begin() as s:
            case = case_by_number(s, number)
            return CaseLog(case.case_number, case_log(s, self._actor, case.id))

    def export_period(self, start: date, end: date, path: Path) -> int:
        """Write the period's log as CSV (``;``, UTF-8 with BOM); returns the number of events."""
        with self._db.begin() as s:
            return export_period_csv(s, self._actor, start, end, path)

    def emergency_log(self, start: date, end: date) -> list[EmergencyRow]:
        """The nödåtkomster granted in the period, newest first."""
        with self._db.begin() as s:
            return emergency_log(s, self._actor, start, end)
