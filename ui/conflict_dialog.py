"""The stale-version conflict dialog: theirs beside yours, choose per field.

It takes plain data (:class:`ConflictField`: a label and three strings), so
any part of Fokus can use it: the case window when a save meets a newer
version, the offline sync when a laptop's change meets the server's. For
each field the user keeps their own value or takes the other's; "Behåll
alla mina" and "Ta alla deras" set every row at once. Nothing is decided
silently: the dialog only reports the choices, its caller saves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

YOURS = "yours"
THEIRS = "theirs"


@dataclass(frozen=True)
class ConflictField:
    """One field as it was when you started (base), as saved by the other (theirs), and yours.

    ``base`` is None when it is not known (only the two versions are).
    """

    label: str
    base: str | None
    theirs: str
    yours: str

    @property
    def they_changed(self) -> bool:
        return self.base is None or self.theirs != self.base

    @property
    def differs(self) -> bool:
        return self.theirs != self.yours


class ConflictDialog(QDialog):
    """Lists the fields the other user changed, theirs beside yours; a choice per field."""

    def __init__(
        self,
        fields: Sequence[ConflictField],
        *,
        what: str,
        who: str = "",
        others: Sequence[ConflictField] = (),
        parent: QWidget | None = None,
    ) -> None:
        """``others``: what the other user changed outside your form (shown, kept as saved)."""
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – någon annan har ändrat %s") % what)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.fields = [f for f in fields if f.differs]
        self._groups: dict[str, QButtonGroup] = {}
        self.radios: dict[tuple[str, str], QRadioButton] = {}

        by = self.tr(" (%s)") % who if who else ""
        intro = QLabel(
            self.tr(
                "Någon annan%s sparade %s medan du arbetade. Inget av ditt har sparats än. "
                "Välj för varje fält om ditt eller det andra värdet ska gälla."
            )
            % (by, what)
            if self.fields
            else self.tr(
                "Någon annan sparade %s medan du arbetade; inget av ditt sparades. "
                "Fönstret visar nu det senast sparade."
            )
            % what
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)

        grid = QGridLayout()
        for col, head in enumerate(
            (self.tr("Fält"), self.tr("Förut"), self.tr("Deras"), self.tr("Ditt"))
        ):
            label = QLabel(f"<b>{head}</b>")
            grid.addWidget(label, 0, col)
        for row, f in enumerate(self.fields, start=1):
            grid.addWidget(QLabel(f.label), row, 0)
            base = QLabel(f.base if f.base is not None else self.tr("(okänt)"))
            base.setEnabled(False)
            grid.addWidget(base, row, 1)
            group = QButtonGroup(self)
            theirs = QRadioButton(f.theirs or self.tr("(tomt)"))
            yours = QRadioButton(f.yours or self.tr("(tomt)"))
            theirs.setAccessibleName(self.tr("Ta deras %s") % f.label)
            yours.setAccessibleName(self.tr("Behåll mitt %s") % f.label)
            group.addButton(theirs)
            group.addButton(yours)
            yours.setChecked(True)
            grid.addWidget(theirs, row, 2)
            grid.addWidget(yours, row, 3)
            self._groups[f.label] = group
            self.radios[(f.label, THEIRS)] = theirs
            self.radios[(f.label, YOURS)] = yours
        layout.addLayout(grid)
        self.others = [f for f in others if f.they_changed]
        if self.others:
            note = QLabel(self.tr("Den andra ändrade också (inte i ditt formulär; det står kvar):"))
            note.setWordWrap(True)
            layout.addWidget(note)
            other_grid = QGridLayout()
            for row, f in enumerate(self.others):
                other_grid.addWidget(QLabel(f.label), row, 0)
                was = QLabel(f.base if f.base is not None else self.tr("(okänt)"))
                was.setEnabled(False)
                other_grid.addWidget(was, row, 1)
                other_grid.addWidget(QLabel(f.theirs or self.tr("(tomt)")), row, 2)
            layout.addLayout(other_grid)

        self.buttons = QDialogButtonBox()
        if self.fields:
            self.all_mine = QPushButton(self.tr("Behåll alla mina"))
            self.all_theirs = QPushButton(self.tr("Ta alla deras"))
            self.buttons.addButton(self.all_mine, QDialogButtonBox.ButtonRole.ActionRole)
            self.buttons.addButton(self.all_theirs, QDialogButtonBox.ButtonRole.ActionRole)
            self.all_mine.clicked.connect(lambda: self.choose_all(YOURS))
            self.all_theirs.clicked.connect(lambda: self.choose_all(THEIRS))
            self.ok_button = QPushButton(self.tr("Spara valen"))
            self.buttons.addButton(self.ok_button, QDialogButtonBox.ButtonRole.AcceptRole)
            self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        else:
            self.ok_button = QPushButton(self.tr("OK"))
            self.buttons.addButton(self.ok_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def choose(self, label: str, side: str) -> None:
        self.radios[(label, side)].setChecked(True)

    def choose_all(self, side: str) -> None:
        for f in self.fields:
            self.choose(f.label, side)

    def choices(self) -> dict[str, str]:
        """Field label → ``"yours"`` or ``"theirs"``, for every field that differs."""
        return {
            f.label: THEIRS if self.radios[(f.label, THEIRS)].isChecked() else YOURS
            for f in self.fields
        }

    def resolved(self) -> dict[str, str]:
        """Field label → the value chosen (only fields that differ)."""
        chosen = self.choices()
        return {f.label: f.theirs if chosen[f.label] == THEIRS else f.yours for f in self.fields}
