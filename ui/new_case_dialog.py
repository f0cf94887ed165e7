"""A new case: the sökande's personnummer first, then the household, reason, caseworker.

As soon as the personnummer is valid the controller asks, in the background,
whether the person already has an open case; if so the dialog says which
unit and caseworker has it (no case content) and offers to open it — the
case window then follows the access rules like any other opening. The whole
household is saved in one transaction (:meth:`services.cases.CaseEditService.create_case`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from models.codes import MemberRole
from services.cases import CaseInput, MemberInput, OpenCaseHolder
from services.errors import FokusError, ValidationError
from services.personal_id import PersonalIdError, parse_personal_id
from services.persons import PersonInput
from services.support import parse_amount_ore
from ui.case_forms import FormDialog, InputError, parse_day
from ui.household_dialogs import PersonalIdCheck


@dataclass
class ChildRow:
    personal_id: QLineEdit
    first_name: QLineEdit
    last_name: QLineEdit


class NewCaseDialog(FormDialog):
    """Sökande (personnummer first), medsökande, barn, address, reason, caseworker."""

    open_existing = Signal(object)  # the case id of the person's open case

    def __init__(
        self,
        *,
        reason_kinds: Sequence[tuple[str, str]],
        today: date,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(QCoreApplication.translate("NewCaseDialog", "Nytt ärende"), parent)
        self.resize(640, 640)
        self.holder: OpenCaseHolder | None = None
        self.personal_id = self.line("personnummer", self.tr("Sökandes personnummer"))
        self.personal_id.setPlaceholderText(self.tr("ÅÅÅÅMMDD-NNNN"))
        self.pid_check = PersonalIdCheck(self, "personnummer", today)
        self.holder_label = QLabel()
        self.holder_label.setWordWrap(True)
        self.holder_label.setAccessibleName(self.tr("Öppet ärende"))
        self.open_existing_button = QPushButton(self.tr("Öppna det ärendet"))
        row = QHBoxLayout()
        row.addWidget(self.holder_label, 1)
        row.addWidget(self.open_existing_button)
        self.form.addRow(row)
        self.holder_label.setVisible(False)
        self.open_existing_button.setVisible(False)
        self.first_name = self.line("förnamn", self.tr("Förnamn"))
        self.last_name = self.line("efternamn", self.tr("Efternamn"))
        self.co_personal_id = self.line(
            "medsökandes personnummer", self.tr("Medsökandes personnummer")
        )
        self.co_check = PersonalIdCheck(self, "medsökandes personnummer", today)
        self.co_first_name = self.line("medsökandes förnamn", self.tr("Medsökandes förnamn"))
        self.co_last_name = self.line("medsökandes efternamn", self.tr("Medsökandes efternamn"))

        self.children_box = QWidget()
        self._children_layout = QVBoxLayout(self.children_box)
        self._children_layout.setContentsMargins(0, 0, 0, 0)
        self.child_rows: list[ChildRow] = []
        self.add_child_button = QPushButton(self.tr("Lägg till barn"))
        self._children_layout.addWidget(self.add_child_button)
        self.add_field("barn", self.tr("Barn"), self.children_box)

        self.address = self.line("adress", self.tr("Adress"))
        self.postcode = self.line("postnummer", self.tr("Postnummer"))
        self.town = self.line("ort", self.tr("Ort"))
        self.housing_cost = self.line("boendekostnad", self.tr("Boendekostnad"))
        self.opened_on = self.date_line("öppnat", self.tr("Öppnat"), today)
        self.reason = self.combo(
            "försörjningshinder",
            self.tr("Sökandes försörjningshinder"),
            [("", self.tr("– anges senare –")), *reason_kinds],
        )
        self.assign_to_me = self.check("handläggare", self.tr("Jag är handläggare"), True)
        self.save_button.setText(self.tr("Skapa ärendet"))
        self.add_child_button.clicked.connect(self.add_child)
        self.open_existing_button.clicked.connect(self._on_open_existing)
        self.personal_id.setFocus()

    def add_child(self) -> ChildRow:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        n = len(self.child_rows) + 1
        edits = []
        for placeholder in (self.tr("personnummer"), self.tr("förnamn"), self.tr("efternamn")):
            edit = QLineEdit()
            edit.setPlaceholderText(placeholder)
            edit.setAccessibleName(self.tr("Barn %d: %s") % (n, placeholder))
            edit.textEdited.connect(self._mark_dirty)
            box.addWidget(edit)
            edits.append(edit)
        self._children_layout.insertWidget(self._children_layout.count() - 1, row)
        child = ChildRow(*edits)
        self.child_rows.append(child)
        return child

    def _draft_extra(self) -> dict[str, Any]:
        return {
            "children": [
                [c.personal_id.text(), c.first_name.text(), c.last_name.text()]
                for c in self.child_rows
            ]
        }

    def _restore_extra(self, state: dict[str, Any]) -> None:
        for values in state.get("children", []):
            child = self.add_child()
            for edit, text in zip(
                (child.personal_id, child.first_name, child.last_name), values, strict=False
            ):
                edit.setText(str(text))

    def show_holder(self, holder: OpenCaseHolder | None) -> None:
        self.holder = holder
        if holder is None:
            self.holder_label.setVisible(False)
            self.open_existing_button.setVisible(False)
            return
        who = holder.caseworker_name or self.tr("ingen handläggare")
        self.holder_label.setText(
            self.tr("Personen har redan ett öppet ärende, %s, hos %s (%s).")
            % (holder.case_number, holder.unit_name, who)
        )
        self.holder_label.setVisible(True)
        self.open_existing_button.setVisible(True)

    def _on_open_existing(self) -> None:
        if self.holder is not None:
            case_id = self.holder.case_id
            self.dirty = False
            self.reject()
            self.open_existing.emit(case_id)

    def _person(self, key: str, pid: str, first: str, last: str) -> PersonInput:
        pid = pid.strip()
        if pid:
            try:
                parse_personal_id(pid)
            except PersonalIdError as exc:
                raise InputError(key, str(exc)) from exc
        return PersonInput(first_name=first, last_name=last, personal_id=pid or None)

    def value(
        self, *, unit_id: uuid.UUID, caseworker_id: uuid.UUID | None
    ) -> tuple[CaseInput, str | None]:
        if not self.personal_id.text().strip():
            raise InputError("personnummer", "ange sökandes personnummer först")
        members = [
            MemberInput(
                MemberRole.APPLICANT,
                self._person(
                    "personnummer",
                    self.personal_id.text(),
                    self.first_name.text(),
                    self.last_name.text(),
                ),
            )
        ]
        if any(e.text().strip() for e in (self.co_personal_id, self.co_first_name)):
            members.append(
                MemberInput(
                    MemberRole.CO_APPLICANT,
                    self._person(
                        "medsökandes personnummer",
                        self.co_personal_id.text(),
                        self.co_first_name.text(),
                        self.co_last_name.text(),
                    ),
                )
            )
        for child in self.child_rows:
            if not any(e.text().strip() for e in (child.personal_id, child.first_name)):
                continue
            members.append(
                MemberInput(
                    MemberRole.CHILD,
                    self._person(
                        "barn",
                        child.personal_id.text(),
                        child.first_name.text(),
                        child.last_name.text(),
                    ),
                )
            )
        cost = None
        if self.housing_cost.text().strip():
            try:
                cost = parse_amount_ore(self.housing_cost.text())
            except ValueError as exc:
                raise InputError("boendekostnad", str(exc)) from exc
        opened = parse_day("öppnat", self.opened_on.text(), required=True)
        assert opened is not None
        data = CaseInput(
            unit_id=unit_id,
            opened_on=opened,
            members=members,
            caseworker_id=caseworker_id if self.assign_to_me.isChecked() else None,
            address=self.address.text() or None,
            postcode=self.postcode.text() or None,
            town=self.town.text() or None,
            housing_cost_ore=cost,
        )
        return data, str(self.reason.currentData()) or None


class NewCaseController(QObject):
    """Runs the lookup and the save of a :class:`NewCaseDialog` in the background."""

    created = Signal(object)  # the new case's id
    failed = Signal(str)

    def __init__(
        self,
        *,
        dialog: NewCaseDialog,
        edits: Any,
        runner: Any,
        unit_id: uuid.UUID,
        caseworker_id: uuid.UUID | None,
        open_case: Callable[[uuid.UUID], object],
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._edits = edits
        self._runner = runner
        self._unit_id = unit_id
        self._caseworker_id = caseworker_id
        self._looked_up = ""
        dialog.personal_id.textChanged.connect(self._on_pid_changed)
        dialog.save_requested.connect(self._on_save)
        dialog.open_existing.connect(open_case)

    def _on_pid_changed(self, text: str) -> None:
        text = text.strip()
        if not self._dialog.pid_check.valid or not text:
            self._dialog.show_holder(None)
            return
        if text == self._looked_up:
            return
        self._looked_up = text
        edits = self._edits

        def done(holder: OpenCaseHolder | None) -> None:
            if shiboken6.isValid(self._dialog) and self._looked_up == text:
                self._dialog.show_holder(holder)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, FokusError):
                raise exc
            if shiboken6.isValid(self._dialog):
                self._dialog.set_error("personnummer", exc.message)

        self._runner.run(
            lambda: edits.open_case_holder(text), on_done=done, on_error=failed, owner=self
        )

    def _on_save(self) -> None:
        d = self._dialog
        try:
            data, reason = d.value(unit_id=self._unit_id, caseworker_id=self._caseworker_id)
        except InputError as exc:
            d.show_errors(ValidationError.single(exc.field, exc.message).errors)
            return
        edits = self._edits

        def done(ref: Any) -> None:
            if shiboken6.isValid(d):
                d.saved()
            self.created.emit(ref.id)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, FokusError):
                raise exc
            if shiboken6.isValid(d):
                if isinstance(exc, ValidationError):
                    d.show_errors(exc)
                else:
                    d.show_message(exc.message)
            self.failed.emit(exc.message)

        self._runner.run(
            lambda: edits.create_case(data, reason), on_done=done, on_error=failed, owner=self
        )
