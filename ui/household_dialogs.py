"""Forms of the Hushåll tab: a member (add or edit), ending a membership, a support
reason for an adult, a consent.

The personnummer field is validated as it is typed with the domain's own
rule and Swedish message (:func:`services.personal_id.parse_personal_id`),
shown beside the field; the service checks it again when saving.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QWidget

from models.codes import MEMBER_ROLE_LABELS, MemberRole
from services.case_view import MemberDetail
from services.cases import MemberInput, MemberPersonInput
from services.journal import ConsentInput
from services.personal_id import PersonalIdError, parse_personal_id
from services.persons import PersonInput
from ui.case_forms import FormDialog, InputError, parse_day

ROLE_ITEMS = [(r.value, MEMBER_ROLE_LABELS[r]) for r in MemberRole]


class PersonalIdCheck:
    """Checks a personnummer field as it is typed; the message goes beside it."""

    def __init__(self, dialog: FormDialog, key: str, today: date | None = None) -> None:
        self._dialog = dialog
        self._key = key
        self._today = today
        edit = dialog.fields[key]
        edit.textChanged.connect(self.check)  # type: ignore[attr-defined]
        self.valid = True
        self.message = ""

    def check(self, text: str) -> None:
        label = self._dialog.errors[self._key]
        cleaned = text.strip()
        if not cleaned:
            label.clear()
            label.setVisible(False)
            self.valid = True
            self.message = ""
            return
        try:
            pid = parse_personal_id(cleaned, today=self._today)
        except PersonalIdError as exc:
            self.message = str(exc)
            label.setText(self.message)
            label.setVisible(True)
            self.valid = False
            return
        label.clear()
        label.setVisible(False)
        self.valid = True
        self.message = ""
        self._dialog.fields[self._key].setToolTip(pid.formatted())


class MemberDialog(FormDialog):
    """Add a member (person data, role, from date) or edit a member's person data."""

    def __init__(
        self,
        *,
        member: MemberDetail | None = None,
        default_from: date | None = None,
        today: date | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            QCoreApplication.translate("MemberDialog", "Ändra person")
            if member
            else QCoreApplication.translate("MemberDialog", "Ny hushållsmedlem"),
            parent,
        )
        self.member = member
        self.role = self.combo(
            "roll", self.tr("Roll"), ROLE_ITEMS, member.role if member else MemberRole.CHILD.value
        )
        self.personal_id = self.line(
            "personnummer", self.tr("Personnummer"), member.personal_id if member else ""
        )
        self.personal_id.setPlaceholderText(self.tr("ÅÅÅÅMMDD-NNNN"))
        self.pid_check = PersonalIdCheck(self, "personnummer", today)
        self.first_name = self.line(
            "förnamn", self.tr("Förnamn"), member.first_name if member else ""
        )
        self.last_name = self.line(
            "efternamn", self.tr("Efternamn"), member.last_name if member else ""
        )
        self.birth_date = self.date_line("födelsedatum", self.tr("Födelsedatum (utan nummer)"))
        self.phone = self.line("telefon", self.tr("Telefon"), member.phone if member else "")
        self.email = self.line("e-post", self.tr("E-post"), member.email if member else "")
        self.valid_from = self.date_line(
            "från", self.tr("Från"), member.valid_from if member else default_from
        )
        self.studying = self.check(
            "studerar", self.tr("Studerar (barn 18–20 år)"), member.studying if member else False
        )
        if member is not None:
            self.birth_date.setEnabled(False)  # follows from the personnummer, or is kept
            # The sökande stays sökande (a case always has one); other roles may change.
            self.role.setEnabled(member.role != MemberRole.APPLICANT.value)
        self.personal_id.setFocus()

    LABELS = ("Förnamn", "Efternamn", "Personnummer", "Telefon", "E-post", "Roll", "Från")

    def values(self) -> dict[str, str]:
        """The form as text per field label (what the conflict dialog compares)."""
        return {
            "Förnamn": self.first_name.text().strip(),
            "Efternamn": self.last_name.text().strip(),
            "Personnummer": self.personal_id.text().strip(),
            "Telefon": self.phone.text().strip(),
            "E-post": self.email.text().strip(),
            "Roll": self.role.currentText(),
            "Från": self.valid_from.text().strip(),
        }

    @staticmethod
    def values_of(m: MemberDetail) -> dict[str, str]:
        """A stored member as :meth:`values` shows it."""
        return {
            "Förnamn": m.first_name,
            "Efternamn": m.last_name,
            "Personnummer": m.personal_id,
            "Telefon": m.phone,
            "E-post": m.email,
            "Roll": m.role_label,
            "Från": m.valid_from.isoformat(),
        }

    def set_values(self, values: dict[str, str]) -> None:
        self.first_name.setText(values["Förnamn"])
        self.last_name.setText(values["Efternamn"])
        self.personal_id.setText(values["Personnummer"])
        self.phone.setText(values["Telefon"])
        self.email.setText(values["E-post"])
        index = self.role.findText(values["Roll"])
        if index >= 0:
            self.role.setCurrentIndex(index)
        self.valid_from.setText(values["Från"])

    def _refuse_bad_pid(self) -> None:
        if not self.pid_check.valid:
            raise InputError("personnummer", self.pid_check.message)

    def person_value(self) -> MemberPersonInput:
        self._refuse_bad_pid()
        return MemberPersonInput(
            first_name=self.first_name.text(),
            last_name=self.last_name.text(),
            personal_id=self.personal_id.text().strip() or None,
            phone=self.phone.text(),
            email=self.email.text(),
        )

    def membership_value(self) -> tuple[MemberRole, date, bool]:
        """Role, from date and studying flag of an existing membership."""
        start = parse_day("från", self.valid_from.text(), required=True)
        assert start is not None
        return MemberRole(str(self.role.currentData())), start, self.studying.isChecked()

    def member_value(self) -> MemberInput:
        self._refuse_bad_pid()
        start = parse_day("från", self.valid_from.text())
        birth = parse_day("födelsedatum", self.birth_date.text())
        return MemberInput(
            role=MemberRole(str(self.role.currentData())),
            person=PersonInput(
                first_name=self.first_name.text(),
                last_name=self.last_name.text(),
                personal_id=self.personal_id.text().strip() or None,
                birth_date=birth,
                phone=self.phone.text() or None,
                email=self.email.text() or None,
            ),
            valid_from=start,
            studying=self.studying.isChecked(),
        )


class EndMemberDialog(FormDialog):
    """End a membership on a date (the person leaves the household; history stays)."""

    def __init__(self, member: MemberDetail, *, today: date, parent: QWidget | None = None) -> None:
        super().__init__(
            QCoreApplication.translate("EndMemberDialog", "Avsluta medlemskap"), parent
        )
        self.member = member
        self.form.addRow(QLabel(f"{member.name} ({member.role_label})"))
        self.valid_to = self.date_line("till", self.tr("Till och med"), today)
        self.save_button.setText(self.tr("Avsluta medlemskapet"))

    def value(self) -> date:
        d = parse_day("till", self.valid_to.text(), required=True)
        assert d is not None
        return d


class ReasonDialog(FormDialog):
    """A försörjningshinder for one adult, for a period."""

    def __init__(
        self,
        *,
        adults: Sequence[MemberDetail],
        kinds: Sequence[tuple[str, str]],
        today: date,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            QCoreApplication.translate("ReasonDialog", "Nytt försörjningshinder"), parent
        )
        self.person = self.combo(
            "person", self.tr("Person"), [(m.person_id, m.name) for m in adults]
        )
        self.kind = self.combo("försörjningshinder", self.tr("Försörjningshinder"), kinds)
        self.valid_from = self.date_line("från", self.tr("Från"), today)
        self.valid_to = self.date_line("till", self.tr("Till"))

    def value(self) -> tuple[uuid.UUID, str, date, date | None]:
        person = self.person.currentData()
        if person is None:
            raise InputError("person", "välj en vuxen i hushållet")
        start = parse_day("från", self.valid_from.text(), required=True)
        assert start is not None
        return person, str(self.kind.currentData()), start, parse_day("till", self.valid_to.text())


class ConsentDialog(FormDialog):
    """A samtycke: whose, to whom, what it covers, for how long."""

    def __init__(
        self,
        *,
        members: Sequence[MemberDetail],
        agencies: Sequence[tuple[str, str]],
        today: date,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(QCoreApplication.translate("ConsentDialog", "Nytt samtycke"), parent)
        seen: dict[uuid.UUID, str] = {}
        for m in members:
            seen[m.person_id] = m.name
        self.person = self.combo("person", self.tr("Person"), list(seen.items()))
        self.agency = self.combo(
            "till vem", self.tr("Till vem"), [a for a in agencies if a[0] != "client"]
        )
        self.scope = self.text_area("omfattning", self.tr("Omfattning"))
        self.scope.setPlaceholderText(self.tr("t.ex. uppgifter om sjukskrivning och vårdplanering"))
        self.valid_from = self.date_line("från", self.tr("Från"), today)
        self.valid_to = self.date_line("till", self.tr("Till"))

    def value(self) -> ConsentInput:
        person = self.person.currentData()
        if person is None:
            raise InputError("person", "välj en person")
        start = parse_day("från", self.valid_from.text(), required=True)
        assert start is not None
        return ConsentInput(
            person_id=person,
            agency_code=str(self.agency.currentData()),
            scope=self.scope.toPlainText(),
            valid_from=start,
            valid_to=parse_day("till", self.valid_to.text()),
        )
