"""Mål: the unit's outcome targets with progress, and a form to set a new one.

A target is groups of outcomes counted in persons, like the Helsingborg
focus posts' 35 = 15 (work, studies or part-time sjukersättning) + 20
(varaktig sjukersättning); "Fokustjänsternas mål" fills the form with it.
View only; ui/targets_controller.py saves through TargetService.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.codes import OUTCOME_LABELS, Outcome, SicknessGrade
from services.targets import OutcomeRule, TargetGroupInput, TargetProgress

_PART_TIME = (SicknessGrade.QUARTER, SicknessGrade.HALF, SicknessGrade.THREE_QUARTERS)

# The choices of a group: a label and the rules it stands for.
RULE_CHOICES: tuple[tuple[str, tuple[OutcomeRule, ...]], ...] = (
    *(
        (OUTCOME_LABELS[o], (OutcomeRule(o),))
        for o in Outcome
        if o is not Outcome.SICKNESS_COMPENSATION
    ),
    ("sjukersättning (alla)", (OutcomeRule(Outcome.SICKNESS_COMPENSATION),)),
    (
        "sjukersättning på deltid (¼, ½, ¾)",
        tuple(OutcomeRule(Outcome.SICKNESS_COMPENSATION, grade=g) for g in _PART_TIME),
    ),
    (
        "sjukersättning på heltid",
        (OutcomeRule(Outcome.SICKNESS_COMPENSATION, grade=SicknessGrade.FULL),),
    ),
    (
        "varaktig sjukersättning",
        (OutcomeRule(Outcome.SICKNESS_COMPENSATION, permanent=True),),
    ),
)


def _qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


class GroupEditor(QGroupBox):
    """One group: its name, how many persons, and which outcomes count."""

    def __init__(self, number: int, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Grupp %s") % number, parent)
        self.label_edit = QLineEdit()
        self.count_spin = QSpinBox()
        self.count_spin.setRange(0, 100_000)
        self.rules_list = QListWidget()
        self.rules_list.setMaximumHeight(140)
        for text, rules in RULE_CHOICES:
            item = QListWidgetItem(text)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, rules)
            self.rules_list.addItem(item)
        form = QFormLayout(self)
        form.addRow(self.tr("Namn"), self.label_edit)
        form.addRow(self.tr("Antal personer"), self.count_spin)
        form.addRow(self.tr("Utfall som räknas"), self.rules_list)

    def set_group(self, group: TargetGroupInput) -> None:
        self.label_edit.setText(group.label)
        self.count_spin.setValue(group.count_target)
        wanted = set(group.rules)
        for i in range(self.rules_list.count()):
            item = self.rules_list.item(i)
            rules = set(item.data(Qt.ItemDataRole.UserRole))
            checked = bool(rules) and rules <= wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def group(self) -> TargetGroupInput:
        rules: list[OutcomeRule] = []
        for i in range(self.rules_list.count()):
            item = self.rules_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                rules.extend(item.data(Qt.ItemDataRole.UserRole))
        return TargetGroupInput(self.label_edit.text(), self.count_spin.value(), tuple(rules))


class TargetsWindow(QWidget):
    """The unit's targets (tree: target → groups with achieved/target) and the form."""

    def __init__(self, *, unit_name: str, today: date, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – mål, %s") % unit_name)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels([self.tr("Mål / grupp"), self.tr("Uppnått"), self.tr("Mål")])
        self.status_label = QLabel(self.tr("Laddar …"))
        self.name_edit = QLineEdit()
        self.from_edit = QDateEdit(_qdate(date(today.year, 1, 1)))
        self.to_edit = QDateEdit(_qdate(date(today.year, 12, 31)))
        for edit in (self.from_edit, self.to_edit):
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setCalendarPopup(True)
        self.focus_check = QCheckBox(self.tr("Räkna bara fokusärenden"))
        self.groups: list[GroupEditor] = []
        self.groups_layout = QVBoxLayout()
        self.add_group_button = QPushButton(self.tr("Lägg till &grupp"))
        self.preset_button = QPushButton(self.tr("&Fokustjänsternas mål (35 = 15 + 20)"))
        self.save_button = QPushButton(self.tr("&Spara målet"))
        form = QFormLayout()
        form.addRow(self.tr("Namn"), self.name_edit)
        form.addRow(self.tr("Från"), self.from_edit)
        form.addRow(self.tr("Till"), self.to_edit)
        form.addRow("", self.focus_check)
        groups_host = QWidget()
        groups_host.setLayout(self.groups_layout)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(groups_host)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preset_button)
        buttons.addWidget(self.add_group_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        new_box = QGroupBox(self.tr("Nytt mål"))
        new_layout = QVBoxLayout(new_box)
        new_layout.addLayout(form)
        new_layout.addWidget(scroll, 1)
        new_layout.addLayout(buttons)
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(self.tree, 1)
        left.addWidget(self.status_label)
        layout.addLayout(left, 1)
        layout.addWidget(new_box, 1)
        self.add_group()
        self.resize(1100, 640)

    def add_group(self) -> GroupEditor:
        editor = GroupEditor(len(self.groups) + 1)
        self.groups.append(editor)
        self.groups_layout.addWidget(editor)
        return editor

    def set_groups(self, groups: tuple[TargetGroupInput, ...]) -> None:
        for editor in self.groups:
            editor.setParent(None)
            editor.deleteLater()
        self.groups = []
        for g in groups:
            self.add_group().set_group(g)

    def period(self) -> tuple[date, date]:
        return _pydate(self.from_edit.date()), _pydate(self.to_edit.date())

    def show_targets(self, targets: list[TargetProgress]) -> None:
        self.tree.clear()
        for t in targets:
            top = QTreeWidgetItem(
                [
                    f"{t.name} ({t.period_from:%Y-%m-%d}–{t.period_to:%Y-%m-%d})",
                    str(t.total_achieved),
                    str(t.total_target),
                ]
            )
            for g in t.groups:
                top.addChild(QTreeWidgetItem([g.label, str(g.achieved), str(g.count_target)]))
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        self.tree.resizeColumnToContents(0)
