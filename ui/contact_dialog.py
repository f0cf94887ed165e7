"""The "Ny kontakt" form: a contact log note, saved as a draft (or a correction, signed).

Fields: date and time, agency, method, contact person, the household members
the note concerns, text, follow-up date, and barnperspektiv — which can be
ticked only when a child is among the members concerned. Field keys are the
service's Swedish field names, so its messages land beside the right field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from services.audit import LOCAL_TZ
from services.case_view import MemberDetail, NoteDetail
from services.journal import NoteInput
from ui.case_forms import FormDialog, InputError, parse_day

_WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})$")

NEW, EDIT, CORRECT = "new", "edit", "correct"


def parse_when(text: str) -> datetime:
    m = _WHEN.match(text.strip())
    if not m:
        raise InputError("datum och tid", "ange som ÅÅÅÅ-MM-DD TT:MM")
    day = parse_day("datum och tid", m.group(1), required=True)
    assert day is not None
    hour, minute = int(m.group(2)), int(m.group(3))
    if hour > 23 or minute > 59:
        raise InputError("datum och tid", "ogiltig tid")
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


class ContactDialog(FormDialog):
    """A new note, a draft being edited, or a correction of a signed note."""

    def __init__(
        self,
        *,
        agencies: Sequence[tuple[str, str]],
        methods: Sequence[tuple[str, str]],
        members: Sequence[MemberDetail],
        note: NoteDetail | None = None,
        mode: str = NEW,
        now: datetime | None = None,
        parent: QWidget | None = None,
    ) -> None:
        titles = {
            NEW: QCoreApplication.translate("ContactDialog", "Ny kontakt"),
            EDIT: QCoreApplication.translate("ContactDialog", "Ändra utkast"),
            CORRECT: QCoreApplication.translate("ContactDialog", "Rätta anteckning"),
        }
        super().__init__(titles[mode], parent)
        self.mode = mode
        self.note = note
        self.resize(640, 560)
        if mode == CORRECT and note is not None:
            original = QLabel(
                self.tr("Rättar anteckningen från %s (%s). Originalet står kvar oförändrat.")
                % (note.occurred_at.strftime("%Y-%m-%d %H:%M"), note.agency_label)
            )
            original.setWordWrap(True)
            self.form.addRow(original)
            self.save_button.setText(self.tr("Signera rättelse"))
        else:
            self.save_button.setText(self.tr("Spara utkast"))
        when = note.occurred_at if note is not None else (now or datetime.now(LOCAL_TZ))
        self.when = self.line("datum och tid", self.tr("Datum och tid"), f"{when:%Y-%m-%d %H:%M}")
        self.when.setPlaceholderText(self.tr("ÅÅÅÅ-MM-DD TT:MM"))
        self.agency = self.combo(
            "myndighet/motpart",
            self.tr("Myndighet/motpart"),
            agencies,
            note.agency_code if note else None,
        )
        self.method = self.combo(
            "kontaktsätt", self.tr("Kontaktsätt"), methods, note.method_code if note else None
        )
        self.counterpart = self.line(
            "motpart", self.tr("Kontaktperson"), note.counterpart if note else ""
        )
        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        self.member_boxes: dict[uuid.UUID, QCheckBox] = {}
        self._children: set[uuid.UUID] = set()
        concerned = set(note.member_ids) if note else set()
        for m in members:
            if m.person_id in self.member_boxes:
                continue
            label = f"{m.name} ({m.role_label})"
            check = QCheckBox(label)
            check.setAccessibleName(label)
            check.setChecked(m.person_id in concerned)
            check.toggled.connect(self._on_members_changed)
            check.clicked.connect(self._mark_dirty)
            box_layout.addWidget(check)
            self.member_boxes[m.person_id] = check
            if m.is_child:
                self._children.add(m.person_id)
        self.add_field("berörda personer", self.tr("Berör"), box)
        self.text = self.text_area("text", self.tr("Anteckning"), note.text if note else "")
        self.follow_up = self.date_line(
            "uppföljning", self.tr("Följs upp"), note.follow_up_on if note else None
        )
        self.child_perspective = self.check(
            "barnperspektiv", self.tr("Barnperspektiv"), bool(note and note.child_perspective)
        )
        self.child_perspective.setToolTip(
            self.tr("Anteckningen beskriver barnets situation; den listas under barnet")
        )
        if mode == CORRECT:
            self.text.setPlainText("")
            self.dirty = False
        self._on_members_changed()
        self.text.setFocus()

    def _on_members_changed(self, *_: object) -> None:
        has_child = any(self.member_boxes[p].isChecked() for p in self._children)
        self.child_perspective.setEnabled(has_child)
        if not has_child:
            self.child_perspective.setChecked(False)

    def _draft_extra(self) -> dict[str, Any]:
        return {"members": [str(p) for p in self.selected_members()]}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        chosen = {str(p) for p in state.get("members", [])}
        for person_id, box in self.member_boxes.items():
            box.setChecked(str(person_id) in chosen)

    # --- the conflict dialog compares the form as text per field label
    LABELS = (
        "Datum och tid",
        "Myndighet/motpart",
        "Kontaktsätt",
        "Kontaktperson",
        "Berör",
        "Anteckning",
        "Följs upp",
        "Barnperspektiv",
    )

    def values(self) -> dict[str, str]:
        names = [box.text() for box in self.member_boxes.values() if box.isChecked()]
        return {
            "Datum och tid": self.when.text().strip(),
            "Myndighet/motpart": self.agency.currentText(),
            "Kontaktsätt": self.method.currentText(),
            "Kontaktperson": self.counterpart.text().strip(),
            "Berör": ", ".join(names),
            "Anteckning": self.text.toPlainText(),
            "Följs upp": self.follow_up.text().strip(),
            "Barnperspektiv": "ja" if self.child_perspective.isChecked() else "nej",
        }

    def values_of(self, note: NoteDetail) -> dict[str, str]:
        """A saved note as :meth:`values` shows it (member names as this form labels them)."""
        labels = {p: box.text() for p, box in self.member_boxes.items()}
        return {
            "Datum och tid": f"{note.occurred_at:%Y-%m-%d %H:%M}",
            "Myndighet/motpart": note.agency_label,
            "Kontaktsätt": note.method_label,
            "Kontaktperson": note.counterpart,
            "Berör": ", ".join(labels[p] for p in self.member_boxes if p in note.member_ids),
            "Anteckning": note.text,
            "Följs upp": note.follow_up_on.isoformat() if note.follow_up_on else "",
            "Barnperspektiv": "ja" if note.child_perspective else "nej",
        }

    def take_from(self, note: NoteDetail, labels: set[str]) -> None:
        """Copy the fields named by ``labels`` from a saved note into the form."""
        if "Datum och tid" in labels:
            self.when.setText(f"{note.occurred_at:%Y-%m-%d %H:%M}")
        if "Myndighet/motpart" in labels:
            self.agency.setCurrentIndex(max(self.agency.findData(note.agency_code), 0))
        if "Kontaktsätt" in labels:
            self.method.setCurrentIndex(max(self.method.findData(note.method_code), 0))
        if "Kontaktperson" in labels:
            self.counterpart.setText(note.counterpart)
        if "Berör" in labels:
            for person_id, box in self.member_boxes.items():
                box.setChecked(person_id in note.member_ids)
        if "Anteckning" in labels:
            self.text.setPlainText(note.text)
        if "Följs upp" in labels:
            self.follow_up.setText(note.follow_up_on.isoformat() if note.follow_up_on else "")
        if "Barnperspektiv" in labels and self.child_perspective.isEnabled():
            self.child_perspective.setChecked(note.child_perspective)

    def selected_members(self) -> tuple[uuid.UUID, ...]:
        return tuple(p for p, box in self.member_boxes.items() if box.isChecked())

    def value(self) -> NoteInput:
        """The note as typed; :class:`InputError` for a field the form cannot read."""
        when = parse_when(self.when.text())
        follow = parse_day("uppföljning", self.follow_up.text())
        return NoteInput(
            occurred_at=when,
            agency_code=str(self.agency.currentData() or ""),
            method_code=str(self.method.currentData() or ""),
            text=self.text.toPlainText(),
            counterpart=self.counterpart.text(),
            member_ids=self.selected_members(),
            follow_up_on=follow,
            child_perspective=self.child_perspective.isChecked(),
        )
