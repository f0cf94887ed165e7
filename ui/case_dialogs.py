"""Forms of the Översikt and Planering tabs: closing a case with its outcome, a plan
goal, a person's outcome.

An outcome is what the unit is measured by, so closing asks for it: the
outcome, and for sjukersättning its grade and whether it is varaktig, for
"annan ersättning" which one. The service checks the combination.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from models.codes import (
    DIRECTION_LABELS,
    GRADE_LABELS,
    OTHER_BENEFIT_LABELS,
    OUTCOME_LABELS,
    Direction,
    OtherBenefit,
    Outcome,
    SicknessGrade,
)
from services.case_view import MemberDetail
from services.cases import GoalInput, OutcomeInput
from ui.case_forms import FormDialog, InputError, parse_day

_NONE = ""


class OutcomeFields:
    """Outcome, grade, varaktig and benefit fields, enabled as the outcome requires."""

    def __init__(self, dialog: FormDialog) -> None:
        self.outcome = dialog.combo(
            "utfall",
            QCoreApplication.translate("OutcomeFields", "Utfall"),
            [(o.value, OUTCOME_LABELS[o]) for o in Outcome],
        )
        self.grade = dialog.combo(
            "omfattning",
            QCoreApplication.translate("OutcomeFields", "Omfattning"),
            [(_NONE, "–"), *((g.value, GRADE_LABELS[g]) for g in SicknessGrade)],
        )
        self.permanent = dialog.combo(
            "varaktig",
            QCoreApplication.translate("OutcomeFields", "Varaktig"),
            [
                (_NONE, "–"),
                ("yes", QCoreApplication.translate("OutcomeFields", "varaktig")),
                ("no", QCoreApplication.translate("OutcomeFields", "tidsbegränsad")),
            ],
        )
        self.benefit = dialog.combo(
            "ersättning",
            QCoreApplication.translate("OutcomeFields", "Annan ersättning"),
            [(_NONE, "–"), *((b.value, OTHER_BENEFIT_LABELS[b]) for b in OtherBenefit)],
        )
        self.outcome.currentIndexChanged.connect(self._on_outcome)
        self._on_outcome()

    def _on_outcome(self, *_: object) -> None:
        outcome = Outcome(str(self.outcome.currentData()))
        sick = outcome is Outcome.SICKNESS_COMPENSATION
        self.grade.setEnabled(sick)
        self.permanent.setEnabled(sick)
        self.benefit.setEnabled(outcome is Outcome.OTHER_BENEFIT)
        for box in (self.grade, self.permanent, self.benefit):
            if not box.isEnabled():
                box.setCurrentIndex(0)

    def value(self) -> OutcomeInput:
        grade = str(self.grade.currentData())
        permanent = str(self.permanent.currentData())
        benefit = str(self.benefit.currentData())
        return OutcomeInput(
            outcome=Outcome(str(self.outcome.currentData())),
            grade=SicknessGrade(grade) if grade else None,
            permanent=None if not permanent else permanent == "yes",
            benefit=OtherBenefit(benefit) if benefit else None,
        )


class CloseCaseDialog(FormDialog):
    """Close a case on a date with its outcome."""

    def __init__(self, *, today: date, parent: QWidget | None = None) -> None:
        super().__init__(QCoreApplication.translate("CloseCaseDialog", "Avsluta ärende"), parent)
        self.closed_on = self.date_line("avslutat", self.tr("Avslutat"), today)
        self.outcome = OutcomeFields(self)
        self.save_button.setText(self.tr("Avsluta ärendet"))

    def value(self) -> tuple[date, OutcomeInput]:
        closed = parse_day("avslutat", self.closed_on.text(), required=True)
        assert closed is not None
        return closed, self.outcome.value()


class GoalDialog(FormDialog):
    """A goal in the plan, for one person or for the household."""

    def __init__(
        self,
        *,
        case_id: uuid.UUID,
        members: Sequence[MemberDetail],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(QCoreApplication.translate("GoalDialog", "Nytt mål"), parent)
        self.case_id = case_id
        people: dict[uuid.UUID | None, str] = {None: self.tr("hela hushållet")}
        for m in members:
            people[m.person_id] = m.name
        self.person = self.combo("person", self.tr("Gäller"), list(people.items()))
        self.direction = self.combo(
            "inriktning",
            self.tr("Inriktning"),
            [(d.value, DIRECTION_LABELS[d]) for d in Direction],
            Direction.UNDECIDED.value,
        )
        self.text = self.text_area("mål", self.tr("Mål"))
        self.target_date = self.date_line("måldatum", self.tr("Måldatum"))

    def value(self) -> GoalInput:
        return GoalInput(
            case_id=self.case_id,
            text=self.text.toPlainText(),
            person_id=self.person.currentData(),
            direction=Direction(str(self.direction.currentData())),
            target_date=parse_day("måldatum", self.target_date.text()),
        )


class PersonOutcomeDialog(FormDialog):
    """One person's outcome while the case goes on (e.g. the partner got work)."""

    def __init__(
        self, *, members: Sequence[MemberDetail], today: date, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            QCoreApplication.translate("PersonOutcomeDialog", "Registrera utfall"), parent
        )
        people: dict[uuid.UUID, str] = {}
        for m in members:
            if m.is_adult:
                people[m.person_id] = m.name
        self.person = self.combo("person", self.tr("Person"), list(people.items()))
        self.recorded_on = self.date_line("datum", self.tr("Datum"), today)
        self.outcome = OutcomeFields(self)

    def value(self) -> tuple[uuid.UUID, OutcomeInput, date]:
        person = self.person.currentData()
        if person is None:
            raise InputError("person", "välj en vuxen i hushållet")
        day = parse_day("datum", self.recorded_on.text(), required=True)
        assert day is not None
        return person, self.outcome.value(), day


class DirectionDialog(FormDialog):
    """A new direction for one adult (the current one ends the day before)."""

    def __init__(
        self,
        *,
        case_id: uuid.UUID,
        members: Sequence[MemberDetail],
        today: date,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(QCoreApplication.translate("DirectionDialog", "Ny inriktning"), parent)
        self.case_id = case_id
        people: dict[uuid.UUID, str] = {}
        for m in members:
            if m.is_adult:
                people[m.person_id] = m.name
        self.person = self.combo("person", self.tr("Person"), list(people.items()))
        self.direction = self.combo(
            "inriktning",
            self.tr("Inriktning"),
            [(d.value, DIRECTION_LABELS[d]) for d in Direction],
            Direction.WORK_STUDIES.value,
        )
        self.started_on = self.date_line("från", self.tr("Från"), today)
        self.goal = self.text_area("mål", self.tr("Mål"))
        self.goal_date = self.date_line("måldatum", self.tr("Måldatum"))

    def value(self) -> Any:
        from services.targets import DirectionInput

        person = self.person.currentData()
        if person is None:
            raise InputError("person", "välj en vuxen i hushållet")
        start = parse_day("från", self.started_on.text(), required=True)
        assert start is not None
        return DirectionInput(
            case_id=self.case_id,
            person_id=person,
            direction=Direction(str(self.direction.currentData())),
            started_on=start,
            goal=self.goal.toPlainText(),
            goal_date=parse_day("måldatum", self.goal_date.text()),
        )


class MonthDialog(FormDialog):
    """A month with paid support entered by hand (the payment system's import does the rest)."""

    def __init__(self, *, parent: QWidget | None = None) -> None:
        super().__init__(QCoreApplication.translate("MonthDialog", "Registrera stödmånad"), parent)
        self.month = self.line("månad", self.tr("Månad"))
        self.month.setPlaceholderText(self.tr("ÅÅÅÅ-MM"))
        self.amount = self.line("belopp", self.tr("Belopp"))
        self.amount.setPlaceholderText(self.tr("t.ex. 8 450,50"))

    def value(self) -> tuple[date, int]:
        from services.support import parse_amount_ore, parse_month

        try:
            month = parse_month(self.month.text())
        except ValueError as exc:
            raise InputError("månad", str(exc)) from exc
        try:
            amount = parse_amount_ore(self.amount.text())
        except ValueError as exc:
            raise InputError("belopp", str(exc)) from exc
        return month, amount
