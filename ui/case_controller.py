"""Behaviour of the case window, and the one-window-per-case rule.

The case is read in the background (the opening is audited by the service)
and the tabs are filled on the GUI thread. Every edit is one service call in
the background (:class:`ui.worker.BackgroundRunner`), one transaction; the
form that asked for it stays open until the call succeeds, with the service's
messages beside the fields they name when it does not. After a change the
case is read again (not audited as a new opening: the change itself is) and
only the tabs whose data changed are refilled.

A stale version (someone else saved first) never overwrites anything: for
the housing form the conflict dialog shows base, theirs and yours per field;
for other forms the window reloads and says so.

:class:`CaseWindows` keeps one window per case: activating a case that is
already open raises its window.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMessageBox, QWidget

from services.case_view import CaseDetail, MemberDetail, NoteDetail
from services.cases import CaseChanges
from services.errors import ConflictError, FokusError, ValidationError
from services.support import format_amount, parse_amount_ore
from ui.case_dialogs import (
    CloseCaseDialog,
    DirectionDialog,
    GoalDialog,
    MonthDialog,
    PersonOutcomeDialog,
)
from ui.case_forms import FormDialog, InputError, ask_discard, find_data, parse_day
from ui.case_models import NoteFilter
from ui.case_view import CaseView
from ui.conflict_dialog import THEIRS, YOURS, ConflictDialog, ConflictField
from ui.contact_dialog import CORRECT, EDIT, NEW, ContactDialog
from ui.household_dialogs import ConsentDialog, EndMemberDialog, MemberDialog, ReasonDialog
from ui.worker import Runner

TITLE_PREFIX = "Fokus – ärende"
HOUSING_FIELDS = ("adress", "postnummer", "ort", "boendekostnad")


class CaseSource(Protocol):
    def load(self, case_id: uuid.UUID) -> CaseDetail: ...


@dataclass(frozen=True)
class CaseServices:
    """The services a case window edits through (each call is one transaction).

    ``cases`` is a :class:`services.cases.CaseService`, ``edits`` a
    :class:`services.cases.CaseEditService`, ``journal`` a
    :class:`services.journal.JournalService`, ``targets`` a
    :class:`services.targets.TargetService`.
    """

    cases: Any
    edits: Any
    journal: Any
    targets: Any
    support: Any = None  # a services.support.SupportService: months entered by hand
    drafts: Any = None  # a services.drafts.DraftStore: note text autosaved, encrypted
    draft_interval_ms: int = 5_000
    clocks: Any = None  # a services.longterm.LongTermService: the Översikt tab's clocks


def _day(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _alive(obj: QObject | None) -> bool:
    return obj is not None and shiboken6.isValid(obj)


class CaseController(QObject):
    """Loads one case into its :class:`CaseView` and runs its edits; Esc closes the window."""

    loaded = Signal()
    load_failed = Signal(str)
    action_done = Signal(str)  # what was done ("anteckning sparad", …), after the refresh
    action_failed = Signal(str)
    register_changed = Signal(object)  # the case id, when what the register lists changed

    def __init__(
        self,
        *,
        view: CaseView,
        source: CaseSource,
        runner: Runner,
        case_id: uuid.UUID,
        services: CaseServices | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(view)  # deleted with its window: late results are then dropped
        self._view = view
        self._source = source
        self._runner = runner
        self._services = services
        self._today = today
        self.case_id = case_id
        self.detail: CaseDetail | None = None
        self.dialog: FormDialog | None = None  # the form now open, if any
        self.conflict_dialog: ConflictDialog | None = None
        self.autosaver: Any = None  # the autosave of the form now open, if any
        self.housing_autosaver: Any = None  # the autosave of the Hushåll tab's housing form
        self._tab = 0
        self.housing_dirty = False
        self._housing_base: dict[str, str] = {}
        self._pending_action = ""
        # Replaceable in tests: questions the user must answer.
        self.confirm: Callable[[str, str], bool] = self._ask
        self.confirm_discard: Callable[[], bool] = lambda: ask_discard(view)
        view.setWindowTitle(TITLE_PREFIX)
        view.close_guard = self._may_close
        # Replaceable in tests: leaving the Hushåll tab with unsaved housing changes.
        self.confirm_leave: Callable[[], str] = self._ask_leave
        self._close_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), view)
        self._set_editable(False)
        self._connect_signals()
        self.reload()

    @property
    def editable(self) -> bool:
        return self._services is not None

    def _connect_signals(self) -> None:
        v = self._view
        self._close_shortcut.activated.connect(v.close)
        v.print_action.triggered.connect(self._on_print)
        v.print_button.clicked.connect(self._on_print)
        v.save_action.triggered.connect(self._on_save_shortcut)
        v.new_note_action.triggered.connect(self._on_new_note)
        v.new_note_button.clicked.connect(self._on_new_note)
        v.edit_note_button.clicked.connect(self._on_edit_note)
        v.sign_note_button.clicked.connect(self._on_sign_note)
        v.correct_note_button.clicked.connect(self._on_correct_note)
        v.notes.selectionModel().selectionChanged.connect(self._on_note_selected)
        for table in (v.members, v.consents, v.goals):
            table.selectionModel().selectionChanged.connect(
                lambda *_: self._set_editable(self.editable)
            )
        v.agency_filter.currentIndexChanged.connect(self._on_filter_changed)
        v.counterpart_filter.textChanged.connect(self._on_filter_changed)
        v.date_from_filter.textChanged.connect(self._on_filter_changed)
        v.date_to_filter.textChanged.connect(self._on_filter_changed)
        v.child_combo.currentIndexChanged.connect(self._fill_child_notes)
        for edit in v.housing_edits.values():
            edit.textEdited.connect(self._on_housing_edited)
        v.save_housing_button.clicked.connect(self._on_save_housing)
        v.tabs.currentChanged.connect(self._on_tab_changed)
        v.add_member_button.clicked.connect(self._on_add_member)
        v.edit_member_button.clicked.connect(self._on_edit_member)
        v.end_member_button.clicked.connect(self._on_end_member)
        v.add_reason_button.clicked.connect(self._on_add_reason)
        v.add_consent_button.clicked.connect(self._on_add_consent)
        v.withdraw_consent_button.clicked.connect(self._on_withdraw_consent)
        v.close_case_button.clicked.connect(self._on_close_case)
        v.reopen_button.clicked.connect(self._on_reopen)
        v.add_goal_button.clicked.connect(self._on_add_goal)
        v.achieve_goal_button.clicked.connect(self._on_achieve_goal)
        v.add_outcome_button.clicked.connect(self._on_add_outcome)
        v.add_month_button.clicked.connect(self._on_add_month)
        v.add_direction_button.clicked.connect(self._on_add_direction)

    # --- loading
    def reload(self) -> None:
        """Open the case: read it (audited) in the background."""
        self._view.loading.setText(self.tr("Hämtar ärendet …"))
        self._view.loading.setVisible(True)
        case_id = self.case_id
        self._runner.run(
            lambda: self._source.load(case_id),
            on_done=self._on_loaded,
            on_error=self._on_load_error,
            owner=self,
        )

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """Read the case again after a change (not a new, audited opening)."""
        case_id = self.case_id
        read = getattr(self._source, "refresh", self._source.load)

        def done(detail: CaseDetail) -> None:
            self._on_loaded(detail)
            if then is not None:
                then()

        self._runner.run(
            lambda: read(case_id), on_done=done, on_error=self._on_load_error, owner=self
        )

    def _on_loaded(self, detail: CaseDetail) -> None:
        old = self.detail
        self.detail = detail
        self._fill(detail, old)
        self._view.loading.setVisible(False)
        if old is None:
            self._start_housing_drafts()
            self._offer_drafts()
        elif self._listed(old) != self._listed(detail):
            self.register_changed.emit(self.case_id)
        self.loaded.emit()

    def _on_load_error(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        self._view.loading.setText(self.tr("Ärendet kunde inte hämtas: %s") % exc.message)
        self._view.loading.setVisible(True)
        self.load_failed.emit(exc.message)

    @staticmethod
    def _listed(d: CaseDetail) -> tuple[object, ...]:
        """What the case register shows of a case (status, household, months, caseworker)."""
        return (d.status, d.members, d.months, d.caseworker_name, d.is_focus)

    # --- filling
    def _names(self, d: CaseDetail) -> dict[uuid.UUID, str]:
        return {m.person_id: m.name for m in d.members}

    def _fill(self, d: CaseDetail, old: CaseDetail | None) -> None:
        v = self._view
        v.setWindowTitle(f"{TITLE_PREFIX} {d.case_number}")
        self._fill_overview(d)
        if old is None or (old.members, old.protected) != (d.members, d.protected):
            self._fill_members(d)
        if old is None or old.reasons != d.reasons:
            v.reasons_model.set_rows(
                [(r.person_name, r.label, _day(r.valid_from), _day(r.valid_to)) for r in d.reasons],
                d.reasons,
            )
        if old is None or old.consents != d.consents:
            self._fill_consents(d)
        if old is None or (old.agencies, old.reason_kinds) != (d.agencies, d.reason_kinds):
            current = v.agency_filter.currentData()
            v.agency_filter.blockSignals(True)
            while v.agency_filter.count() > 1:
                v.agency_filter.removeItem(1)
            for code, label in d.agencies:
                v.agency_filter.addItem(label, code)
            index = find_data(v.agency_filter, current)
            v.agency_filter.setCurrentIndex(max(index, 0))
            v.agency_filter.blockSignals(False)
        if old is None or old.notes != d.notes or old.members != d.members:
            self._fill_notes(d)
        if old is None or old.months != d.months:
            self._fill_months(d)
        if old is None or (old.directions, old.goals, old.outcomes) != (
            d.directions,
            d.goals,
            d.outcomes,
        ):
            self._fill_plan(d)
        if old is None or old.history != d.history:
            v.history_model.set_rows(
                [(_time(h.occurred_at), h.actor, h.action_label) for h in d.history], d.history
            )
        if not self.housing_dirty:
            self._fill_housing(d)
        self._set_editable(self.editable)

    def _fill_overview(self, d: CaseDetail) -> None:
        if d.protected:
            address = self.tr("skyddad")
        else:
            address = ", ".join(
                p for p in (d.address, " ".join(x for x in (d.postcode, d.town) if x)) if p
            )
        yes, no = self.tr("ja"), self.tr("nej")
        flags = []
        if any(m.is_child and m.current and m.age < 18 for m in d.members):
            flags.append(self.tr("barnfamilj"))
        if d.protected:
            flags.append(self.tr("skyddad"))
        values = {
            "case_number": d.case_number,
            "status": d.status_label,
            "opened": _day(d.opened_on),
            "closed": _day(d.closed_on),
            "outcome": d.outcome_label,
            "caseworker": d.caseworker_name or self.tr("ej fördelat"),
            "direction": d.direction_label,
            "focus": yes if d.is_focus else no,
            "flags": ", ".join(flags),
            "address": address,
            "housing_cost": (
                format_amount(d.housing_cost_ore) if d.housing_cost_ore is not None else ""
            ),
            "summary": d.summary,
        }
        for key, text in values.items():
            self._view.fields[key].setText(text)

    def _fill_members(self, d: CaseDetail) -> None:
        rows = [
            (
                m.name,
                m.personal_id,
                str(m.age),
                m.role_label,
                _day(m.valid_from),
                _day(m.valid_to),
                self.tr("skyddad") if m.protected else "",
            )
            for m in d.members
        ]
        self._view.members_model.set_rows(rows, d.members)
        v = self._view
        current = v.child_combo.currentData()
        v.child_combo.blockSignals(True)
        v.child_combo.clear()
        for child in d.children():
            v.child_combo.addItem(child.name, child.person_id)
        index = find_data(v.child_combo, current)
        v.child_combo.setCurrentIndex(max(index, 0))
        v.child_combo.blockSignals(False)

    def _fill_consents(self, d: CaseDetail) -> None:
        today = self._today()
        rows, warn = [], []
        for c in d.consents:
            if c.withdrawn_on is not None:
                status = self.tr("återkallat %s") % _day(c.withdrawn_on)
            elif c.valid_on(today):
                status = self.tr("giltigt")
            elif c.valid_from > today:
                status = self.tr("ej börjat")
            else:
                status = self.tr("upphört")
            rows.append(
                (
                    c.person_name,
                    c.agency_label,
                    c.scope,
                    _day(c.valid_from),
                    _day(c.valid_to),
                    status,
                )
            )
            warn.append(not c.valid_on(today))
        self._view.consents_model.set_rows(rows, d.consents, warn)

    def _fill_notes(self, d: CaseDetail) -> None:
        v = self._view
        selected = self.selected_note()
        v.notes_model.set_notes(d.notes, self._names(d))
        if selected is not None:
            self.select_note(selected.id)
        self._update_note_count()
        self._fill_child_notes()
        self._on_note_selected()

    def _update_note_count(self) -> None:
        d = self.detail
        total = len(d.notes) if d is not None else 0
        shown = self._view.notes_model.rowCount()
        text = (
            self.tr("%d anteckningar") % total
            if shown == total
            else self.tr("%d av %d anteckningar") % (shown, total)
        )
        self._view.note_count.setText(text)

    def _fill_child_notes(self, *_: object) -> None:
        v = self._view
        d = self.detail
        child = v.child_combo.currentData()
        if d is None or child is None:
            v.child_notes_model.set_rows([])
            return
        notes = d.notes_about(child)
        yes = self.tr("ja")
        v.child_notes_model.set_rows(
            [
                (
                    _time(n.occurred_at),
                    n.agency_label,
                    yes if n.child_perspective else "",
                    n.text.splitlines()[0] if n.text else "",
                )
                for n in notes
            ],
            notes,
        )

    def _fill_months(self, d: CaseDetail) -> None:
        self._view.months_model.set_rows(
            [(f"{m.month:%Y-%m}", format_amount(m.amount_ore)) for m in d.months], d.months
        )
        years: dict[int, list[int | None]] = {}
        for m in d.months:
            years.setdefault(m.month.year, [None] * 12)[m.month.month - 1] = m.amount_ore
        strip = []
        for year in sorted(years, reverse=True):
            amounts = years[year]
            total = sum(a for a in amounts if a is not None)
            strip.append(
                (
                    year,
                    [format_amount(a) if a is not None else "" for a in amounts],
                    format_amount(total),
                )
            )
        self._view.month_strip.fill(strip)

    def _fill_plan(self, d: CaseDetail) -> None:
        v = self._view
        v.directions_model.set_rows(
            [
                (
                    x.person_name,
                    x.label,
                    _day(x.started_on),
                    _day(x.ended_on),
                    x.goal,
                    _day(x.goal_date),
                )
                for x in d.directions
            ],
            d.directions,
        )
        household = self.tr("hela hushållet")
        v.goals_model.set_rows(
            [
                (
                    g.person_name or household,
                    g.direction_label,
                    g.text,
                    _day(g.target_date),
                    _day(g.achieved_on),
                )
                for g in d.goals
            ],
            d.goals,
        )
        v.outcomes_model.set_rows(
            [(o.person_name, _day(o.recorded_on), o.label) for o in d.outcomes], d.outcomes
        )

    def _housing_values(self, d: CaseDetail) -> dict[str, str]:
        cost = d.housing_cost_ore
        return {
            "adress": d.address or "",
            "postnummer": d.postcode or "",
            "ort": d.town or "",
            "boendekostnad": format_amount(cost).removesuffix(" kr") if cost is not None else "",
        }

    def _fill_housing(self, d: CaseDetail) -> None:
        v = self._view
        self._housing_base = self._housing_values(d)
        for key, edit in v.housing_edits.items():
            edit.setText(self._housing_base[key])
            v.housing_errors[key].setVisible(False)
        for key in ("adress", "postnummer", "ort"):
            v.housing_edits[key].setReadOnly(d.protected)
            v.housing_edits[key].setPlaceholderText(self.tr("skyddad") if d.protected else "")
        v.housing_note.setText(
            self.tr("Skyddade personuppgifter: adressen visas inte") if d.protected else ""
        )
        self.housing_dirty = False

    def _set_editable(self, on: bool) -> None:
        v = self._view
        d = self.detail
        loaded = on and d is not None
        closed = d is not None and d.is_closed
        for w in (
            v.add_member_button,
            v.add_reason_button,
            v.add_consent_button,
            v.new_note_button,
            v.add_goal_button,
            v.add_direction_button,
            v.add_outcome_button,
            v.save_housing_button,
        ):
            w.setEnabled(loaded)
        v.new_note_action.setEnabled(loaded)
        v.add_month_button.setEnabled(
            loaded and self._services is not None and self._services.support is not None
        )
        for edit in v.housing_edits.values():
            edit.setEnabled(loaded)
        v.close_case_button.setEnabled(loaded and not closed)
        v.reopen_button.setEnabled(loaded and closed)
        member = self.selected_member()
        v.edit_member_button.setEnabled(loaded and member is not None)
        v.end_member_button.setEnabled(
            loaded and member is not None and member.current and member.role != "applicant"
        )
        consent = self._selected(v.consents, v.consents_model)
        v.withdraw_consent_button.setEnabled(
            loaded and consent is not None and consent.withdrawn_on is None
        )
        goal = self._selected(v.goals, v.goals_model)
        v.achieve_goal_button.setEnabled(loaded and goal is not None and goal.achieved_on is None)
        self._update_note_buttons()

    # --- selection helpers
    def _selected(self, table: Any, model: Any) -> Any:
        rows = table.selectionModel().selectedRows() if table.selectionModel() else []
        return model.object(rows[0].row()) if rows else None

    def selected_member(self) -> MemberDetail | None:
        member: MemberDetail | None = self._selected(self._view.members, self._view.members_model)
        return member

    def selected_note(self) -> NoteDetail | None:
        rows = self._view.notes.selectionModel().selectedRows()
        return self._view.notes_model.note(rows[0].row()) if rows else None

    def select_note(self, note_id: uuid.UUID) -> bool:
        row = self._view.notes_model.row_of(note_id)
        if row < 0:
            return False
        self._view.notes.selectRow(row)
        return True

    def _update_note_buttons(self) -> None:
        v = self._view
        n = self.selected_note()
        loaded = self.editable and self.detail is not None
        own_draft = n is not None and not n.signed
        v.edit_note_button.setEnabled(loaded and own_draft)
        v.sign_note_button.setEnabled(loaded and own_draft)
        v.correct_note_button.setEnabled(loaded and n is not None and n.signed)

    def _on_note_selected(self, *_: object) -> None:
        n = self.selected_note()
        self._update_note_buttons()
        if n is None or self.detail is None:
            self._view.note_detail.clear()
            return
        names = self._names(self.detail)
        lines = [
            f"{_time(n.occurred_at)} · {n.agency_label} · {n.method_label}"
            + (f" · {n.counterpart}" if n.counterpart else ""),
            self.tr("Skriven av %s; %s")
            % (n.author, self.tr("signerad") if n.signed else self.tr("utkast, inte signerad")),
        ]
        if n.member_ids:
            lines.append(self.tr("Berör: %s") % ", ".join(names.get(p, "") for p in n.member_ids))
        if n.follow_up_on:
            lines.append(self.tr("Följs upp: %s") % _day(n.follow_up_on))
        if n.child_perspective:
            lines.append(self.tr("Barnperspektiv"))
        if n.missing_consent:
            lines.append(
                self.tr("⚠ Inget giltigt samtycke till %s från: %s")
                % (n.agency_label, ", ".join(n.missing_consent))
            )
        if n.corrects_id is not None:
            lines.append(self.tr("Rättelse av en tidigare anteckning"))
        if n.corrected_by:
            lines.append(self.tr("Anteckningen har rättats; se rättelsen"))
        self._view.note_detail.setPlainText("\n".join(lines) + "\n\n" + n.text)

    def _on_filter_changed(self, *_: object) -> None:
        v = self._view
        try:
            start = parse_day("från", v.date_from_filter.text())
            end = parse_day("till", v.date_to_filter.text())
        except InputError as exc:
            v.filter_error.setText(f"{exc.field}: {exc.message}")
            v.filter_error.setVisible(True)
            return
        v.filter_error.setVisible(False)
        v.notes_model.set_filter(
            NoteFilter(
                agency_code=str(v.agency_filter.currentData() or ""),
                counterpart=v.counterpart_filter.text().strip(),
                date_from=start,
                date_to=end,
            )
        )
        self._update_note_count()
        self._on_note_selected()

    # --- running actions
    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self._view,
            f"Fokus – {title}",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _open_dialog(
        self, dialog: FormDialog, save: Callable[[FormDialog], None], *, draft: str = ""
    ) -> FormDialog:
        """Open a form; with ``draft`` (its draft key) it is autosaved as an encrypted draft."""
        dialog.confirm_discard = lambda: self.confirm_discard()
        if draft:
            self._autosave(dialog, draft)
        dialog.save_requested.connect(lambda: self._collect(dialog, save))
        dialog.finished.connect(lambda _r: self._forget_dialog(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: FormDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _collect(self, dialog: FormDialog, save: Callable[[FormDialog], None]) -> None:
        try:
            save(dialog)
        except InputError as exc:
            dialog.show_errors([ValidationError.single(exc.field, exc.message).errors[0]])

    def _submit(
        self,
        work: Callable[[], Any],
        *,
        done_text: str,
        dialog: FormDialog | None = None,
        on_conflict: Callable[[ConflictError], None] | None = None,
        on_invalid: Callable[[ValidationError], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """Run one service call in the background; refresh the window when it is done."""
        self._view.show_message("")

        def done(_result: Any) -> None:
            if on_done is not None:
                on_done()
            if _alive(dialog):
                assert dialog is not None
                dialog.saved()
            self.refresh(then=lambda: self.action_done.emit(done_text))

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, FokusError):
                raise exc
            if isinstance(exc, ConflictError) and on_conflict is not None:
                on_conflict(exc)
            elif isinstance(exc, ConflictError):
                self._on_stale(exc, dialog)
            elif isinstance(exc, ValidationError) and on_invalid is not None:
                on_invalid(exc)
            elif _alive(dialog):
                assert dialog is not None
                if isinstance(exc, ValidationError):
                    dialog.show_errors(exc)
                else:
                    dialog.show_message(exc.message)
            else:
                self._view.show_message(exc.message)
            self.action_failed.emit(exc.message)

        self._runner.run(work, on_done=done, on_error=failed, owner=self)

    def _on_stale(self, exc: ConflictError, dialog: FormDialog | None) -> None:
        """No field-level data: say so, reload, and keep the user's form open to try again."""
        text = self.tr("%s – fönstret har uppdaterats; kontrollera och spara igen.") % exc.message
        if _alive(dialog):
            assert dialog is not None
            dialog.show_message(text)
        else:
            self._view.show_message(text)
        self.conflict_dialog = ConflictDialog([], what=exc.what, parent=self._view)
        self.conflict_dialog.open()
        self.refresh()

    # --- Hushåll: housing
    def _on_housing_edited(self, *_: object) -> None:
        self.housing_dirty = True
        if self.housing_autosaver is not None:
            self.housing_autosaver.touch()

    def _discard_housing_draft(self) -> None:
        if self.housing_autosaver is not None:
            self.housing_autosaver.discard()

    # --- switching tabs
    def _ask_leave(self) -> str:
        """Leaving the Hushåll tab with unsaved housing changes: "save", "discard" or "stay"."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Fokus – osparade ändringar"),
            self.tr("Bostadsuppgifterna är ändrade men inte sparade. Spara dem nu?"),
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self._view,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "stay"

    def _on_tab_changed(self, index: int) -> None:
        """The unsaved-changes guard when switching away from the Hushåll tab."""
        household = self._view.tabs.indexOf(self._view.household_page)
        left, self._tab = self._tab, index
        if left != household or index == household or not self.housing_dirty:
            return
        answer = self.confirm_leave()
        if answer == "save":
            self._on_save_housing()
        elif answer == "discard":
            self._discard_housing_draft()
            if self.detail is not None:
                self._fill_housing(self.detail)
        else:  # stay on the form
            self._tab = household
            self._view.tabs.blockSignals(True)
            self._view.tabs.setCurrentIndex(household)
            self._view.tabs.blockSignals(False)

    def _on_save_shortcut(self) -> None:
        if self.dialog is not None and _alive(self.dialog):
            self.dialog.save_button.click()
        elif self.housing_dirty:
            self._on_save_housing()

    def housing_form(self) -> dict[str, str]:
        return {k: e.text().strip() for k, e in self._view.housing_edits.items()}

    def _show_housing_errors(self, errors: list[tuple[str, str]]) -> None:
        v = self._view
        for err in v.housing_errors.values():
            err.clear()
            err.setVisible(False)
        general = []
        for field, message in errors:
            label = v.housing_errors.get(field)
            if label is None:
                general.append(f"{field}: {message}")
                continue
            label.setText(message)
            label.setVisible(True)
        if general:
            v.show_message("; ".join(general))

    def _housing_changes(self, form: dict[str, str]) -> CaseChanges:
        d = self.detail
        assert d is not None
        base = self._housing_base
        cost: int | None = None
        if form["boendekostnad"] != base["boendekostnad"]:
            if not form["boendekostnad"]:
                raise InputError("boendekostnad", "ange ett belopp (0 om ingen)")
            try:
                cost = parse_amount_ore(form["boendekostnad"])
            except ValueError as exc:
                raise InputError("boendekostnad", str(exc)) from exc
        changed = {k: form[k] for k in ("adress", "postnummer", "ort") if form[k] != base[k]}
        if d.protected:
            changed = {}
        return CaseChanges(
            address=changed.get("adress"),
            postcode=changed.get("postnummer"),
            town=changed.get("ort"),
            housing_cost_ore=cost,
        )

    def _on_save_housing(self) -> None:
        if self.detail is None or self._services is None:
            return
        self._show_housing_errors([])
        try:
            changes = self._housing_changes(self.housing_form())
        except InputError as exc:
            self._show_housing_errors([(exc.field, exc.message)])
            return
        if changes == CaseChanges():
            self.housing_dirty = False
            self._discard_housing_draft()
            return
        cases, case_id, version = self._services.cases, self.case_id, self.detail.version

        def invalid(exc: ValidationError) -> None:
            self.housing_dirty = True  # not saved: the form keeps what was typed
            self._view.tabs.setCurrentWidget(self._view.household_page)
            self._show_housing_errors([(e.field, e.message) for e in exc.errors])

        self.housing_dirty = False  # the form is filled from the saved case after the refresh
        self._submit(
            lambda: cases.update_case(case_id, version, changes),
            done_text=self.tr("bostaden sparad"),
            on_conflict=self._on_housing_conflict,
            on_invalid=invalid,
            on_done=self._discard_housing_draft,
        )

    def _on_housing_conflict(self, exc: ConflictError) -> None:
        """Someone saved the case first: show base, theirs and yours per field."""
        self.housing_dirty = True
        yours = self.housing_form()
        base = dict(self._housing_base)
        read = getattr(self._source, "refresh", self._source.load)
        case_id = self.case_id

        def got_theirs(fresh: CaseDetail) -> None:
            theirs = self._housing_values(fresh)
            labels = {
                "adress": self.tr("Adress"),
                "postnummer": self.tr("Postnummer"),
                "ort": self.tr("Ort"),
                "boendekostnad": self.tr("Boendekostnad"),
            }
            fields = [
                ConflictField(labels[k], base[k], theirs[k], yours[k])
                for k in HOUSING_FIELDS
                if theirs[k] != yours[k] and (theirs[k] != base[k] or yours[k] != base[k])
            ]
            old = self.detail
            self.detail = fresh
            self._fill(fresh, old)  # the form keeps what the user typed (it is dirty)
            self._housing_base = theirs
            dialog = ConflictDialog(fields, what=exc.what, parent=self._view)
            self.conflict_dialog = dialog

            def finished(result: int) -> None:
                if result != ConflictDialog.DialogCode.Accepted:
                    self._view.show_message(
                        self.tr("Dina ändringar är inte sparade; de står kvar i formuläret.")
                    )
                    return
                chosen = dialog.resolved()
                for k in HOUSING_FIELDS:
                    if labels[k] in chosen:
                        self._view.housing_edits[k].setText(chosen[labels[k]])
                self._on_save_housing()

            dialog.finished.connect(finished)
            dialog.open()

        self._runner.run(
            lambda: read(case_id), on_done=got_theirs, on_error=self._on_load_error, owner=self
        )

    # --- Hushåll: members, reasons, consents
    def _on_add_member(self) -> None:
        d = self.detail
        if d is None or self._services is None:
            return
        cases, case_id, version = self._services.cases, self.case_id, d.version

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, MemberDialog)
            member = dlg.member_value()
            self._submit(
                lambda: cases.add_member(case_id, version, member),
                done_text=self.tr("medlem tillagd"),
                dialog=dlg,
            )

        self._open_dialog(
            MemberDialog(default_from=self._today(), today=self._today(), parent=self._view),
            save,
            draft=self._draft_key("member:new"),
        )

    def _on_edit_member(self) -> None:
        member = self.selected_member()
        if member is None or self._services is None:
            return
        edits = self._services.edits
        dialog = MemberDialog(member=member, today=self._today(), parent=self._view)
        base = dialog.values()
        # The versions the next save starts from; a conflict moves them to the saved ones.
        versions = {"member": member.version, "person": member.person_version}

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, MemberDialog)
            data = dlg.person_value()
            role, start, studying = dlg.membership_value()
            self._submit(
                lambda: edits.update_member(
                    (member.id, versions["member"]),
                    role,
                    start,
                    studying,
                    (member.person_id, versions["person"]),
                    data,
                ),
                done_text=self.tr("medlemmen sparad"),
                dialog=dlg,
                on_conflict=lambda exc: self._on_member_conflict(
                    exc, dlg, member.id, base, versions
                ),
            )

        self._open_dialog(dialog, save, draft=self._draft_key("member:edit", member.id))

    def _on_member_conflict(
        self,
        exc: ConflictError,
        dialog: MemberDialog,
        member_id: uuid.UUID,
        base: dict[str, str],
        versions: dict[str, int],
    ) -> None:
        """Someone saved this member first: theirs beside yours per field, then save again."""
        dialog.set_busy(False)
        yours = dialog.values()

        def got_theirs() -> None:
            d = self.detail
            fresh = next((m for m in d.members if m.id == member_id), None) if d else None
            if fresh is None or not _alive(dialog):
                return
            theirs = MemberDialog.values_of(fresh)
            fields = [
                ConflictField(label, base.get(label), theirs[label], yours[label])
                for label in yours
                if theirs[label] != yours[label]
                and (theirs[label] != base.get(label) or yours[label] != base.get(label))
            ]
            versions["member"], versions["person"] = fresh.version, fresh.person_version
            base.clear()
            base.update(theirs)
            conflict = ConflictDialog(fields, what=exc.what, parent=dialog)
            self.conflict_dialog = conflict

            def finished(result: int) -> None:
                if not _alive(dialog):
                    return
                if result != ConflictDialog.DialogCode.Accepted:
                    dialog.show_message(
                        self.tr("Inget sparades; formuläret har dina värden, sparat är deras.")
                    )
                    return
                resolved = dialog.values()
                resolved.update(conflict.resolved())
                dialog.set_values(resolved)
                dialog.save_button.click()

            conflict.finished.connect(finished)
            conflict.open()

        self.refresh(then=got_theirs)

    def _on_end_member(self) -> None:
        member = self.selected_member()
        if member is None or self._services is None:
            return
        cases = self._services.cases

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, EndMemberDialog)
            valid_to = dlg.value()
            self._submit(
                lambda: cases.end_member(member.id, member.version, valid_to),
                done_text=self.tr("medlemskapet avslutat"),
                dialog=dlg,
            )

        self._open_dialog(
            EndMemberDialog(member, today=self._today(), parent=self._view),
            save,
            draft=self._draft_key("member:end", member.id),
        )

    def _on_add_reason(self) -> None:
        d = self.detail
        if d is None or self._services is None:
            return
        cases, case_id = self._services.cases, self.case_id
        adults = [m for m in d.members if m.is_adult and m.current]

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, ReasonDialog)
            person, code, start, end = dlg.value()
            self._submit(
                lambda: cases.add_support_reason(case_id, person, code, start, end),
                done_text=self.tr("försörjningshinder sparat"),
                dialog=dlg,
            )

        self._open_dialog(
            ReasonDialog(
                adults=adults, kinds=d.reason_kinds, today=self._today(), parent=self._view
            ),
            save,
            draft=self._draft_key("reason:new"),
        )

    def _on_add_consent(self) -> None:
        d = self.detail
        if d is None or self._services is None:
            return
        journal, case_id = self._services.journal, self.case_id

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, ConsentDialog)
            data = dlg.value()
            self._submit(
                lambda: journal.add_consent(case_id, data),
                done_text=self.tr("samtycket sparat"),
                dialog=dlg,
            )

        self._open_dialog(
            ConsentDialog(
                members=[m for m in d.members if m.current],
                agencies=d.agencies,
                today=self._today(),
                parent=self._view,
            ),
            save,
            draft=self._draft_key("consent:new"),
        )

    def _on_withdraw_consent(self) -> None:
        consent = self._selected(self._view.consents, self._view.consents_model)
        if consent is None or self._services is None:
            return
        if not self.confirm(
            self.tr("återkalla samtycke"),
            self.tr("Återkalla %s samtycke till %s? Det gäller från i dag och kan inte ångras.")
            % (consent.person_name, consent.agency_label),
        ):
            return
        journal = self._services.journal
        self._submit(
            lambda: journal.withdraw_consent(consent.id, consent.version),
            done_text=self.tr("samtycket återkallat"),
        )

    # --- drafts
    def _autosave(self, dialog: FormDialog, key: str) -> None:
        """Autosave ``dialog`` as an encrypted draft under ``key`` (and restore one)."""
        if self._services is None or self._services.drafts is None:
            return
        from ui.drafts import FormDraftAutosaver

        self.autosaver = FormDraftAutosaver(
            dialog=dialog,
            store=self._services.drafts,
            key=key,
            interval_ms=self._services.draft_interval_ms,
        )

    def _draft_key(self, form: str, ident: uuid.UUID | None = None) -> str:
        from ui.drafts import form_key

        return form_key(form, ident or self.case_id)

    def _start_housing_drafts(self) -> None:
        """The housing form's autosave; a draft left by a closed window is put back."""
        d = self.detail
        if self._services is None or self._services.drafts is None or d is None:
            return
        from ui.drafts import DraftAutosaver, saved_at_text

        self.housing_autosaver = DraftAutosaver(
            store=self._services.drafts,
            key=self._draft_key("housing"),
            state=self.housing_form,
            dirty=lambda: self.housing_dirty,
            interval_ms=self._services.draft_interval_ms,
            parent=self,
        )
        existing = self.housing_autosaver.existing()
        if existing is None:
            return
        for key, edit in self._view.housing_edits.items():
            if key in existing.payload and not (d.protected and key != "boendekostnad"):
                edit.setText(str(existing.payload[key]))
        self.housing_dirty = True
        self._view.housing_note.setText(
            self.tr("Återställt osparat utkast från %s; spara eller ångra med Avbryt.")
            % saved_at_text(existing)
        )

    def save_drafts(self) -> None:
        """Write every unsaved form of this window as a draft now (logout, closing)."""
        if self.autosaver is not None and _alive(self.autosaver):
            self.autosaver.save_now()
        if self.housing_autosaver is not None:
            self.housing_autosaver.save_now()

    def _offer_drafts(self) -> None:
        """Say so when this user left unsaved drafts in this case."""
        if self._services is None or self._services.drafts is None or self.detail is None:
            return
        from ui.drafts import case_draft_keys

        d = self.detail
        store = self._services.drafts
        keys = case_draft_keys(
            self.case_id, [(n.id, n.signed) for n in d.notes], [m.id for m in d.members]
        )
        if d.is_closed:  # closed meanwhile: the close form (a date and an outcome) is moot
            store.delete(self._draft_key("case:close"))
        found = store.keys(keys)
        if found:
            self._view.show_message(
                self.tr(
                    "Du har %d osparat utkast i det här ärendet; det visas igen när du öppnar "
                    "samma formulär (t.ex. Ny kontakt, Ändra utkast, Rätta eller Hushåll)."
                )
                % len(found)
            )

    # --- Kontaktlogg

    def _members_for_notes(self) -> list[MemberDetail]:
        d = self.detail
        assert d is not None
        return [m for m in d.members if m.current] or list(d.members)

    def _on_new_note(self) -> None:
        if self.detail is None or self._services is None:
            return
        if self.dialog is not None and _alive(self.dialog):
            self.dialog.raise_()
            return
        journal, case_id = self._services.journal, self.case_id
        self._view.tabs.setCurrentIndex(2)
        self._open_note_dialog(
            NEW, None, lambda data: journal.add_note(case_id, data), self.tr("utkast sparat")
        )

    def _on_edit_note(self) -> None:
        n = self.selected_note()
        if n is None or self.detail is None or self._services is None:
            return
        if n.signed:
            self._view.show_message(
                self.tr("Anteckningen är signerad och låst; skriv en rättelse i stället.")
            )
            return
        journal = self._services.journal
        # The version the next save starts from; a conflict moves it to the saved one.
        versions = {"note": n.version}
        self._open_note_dialog(
            EDIT,
            n,
            lambda data: journal.update_draft(n.id, versions["note"], data),
            self.tr("utkast sparat"),
            versions=versions,
        )

    def _on_sign_note(self) -> None:
        n = self.selected_note()
        if n is None or self._services is None or n.signed:
            return
        if not self.confirm(
            self.tr("signera"),
            self.tr("Signera anteckningen? En signerad anteckning är låst och kan bara rättas."),
        ):
            return
        journal = self._services.journal
        self._submit(
            lambda: journal.sign(n.id, n.version), done_text=self.tr("anteckningen signerad")
        )

    def _on_correct_note(self) -> None:
        n = self.selected_note()
        if n is None or self.detail is None or self._services is None or not n.signed:
            return
        journal, store = self._services.journal, self._services.drafts
        if store is not None:
            # An edit draft of a note signed since (elsewhere): its text becomes the
            # correction's draft, so what was typed is offered here instead of lost.
            from ui.drafts import draft_key

            edit_key, correct_key = (
                draft_key(self.case_id, EDIT, n.id),
                draft_key(self.case_id, CORRECT, n.id),
            )
            left = store.load(edit_key)
            if left is not None and store.load(correct_key) is None:
                store.save(correct_key, left.payload)
            if left is not None:
                store.delete(edit_key)
        self._open_note_dialog(
            CORRECT, n, lambda data: journal.correct(n.id, data), self.tr("rättelsen signerad")
        )

    def _open_note_dialog(
        self,
        mode: str,
        note: NoteDetail | None,
        call: Callable[[Any], Any],
        done_text: str,
        *,
        versions: dict[str, int] | None = None,
    ) -> None:
        """The contact dialog for a new note, a draft's edit or a correction; Spara runs
        ``call(data)`` in the worker. Its text is autosaved as an encrypted draft. With
        ``versions`` (editing a draft) a stale version opens the field-level conflict dialog."""
        d = self.detail
        assert d is not None
        base: dict[str, str] = {}

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, ContactDialog)
            data = dlg.value()
            on_conflict = None
            if versions is not None and note is not None:
                on_conflict = lambda exc: self._on_note_conflict(  # noqa: E731
                    exc, dlg, note.id, base, versions
                )
            self._submit(
                lambda: call(data), done_text=done_text, dialog=dlg, on_conflict=on_conflict
            )

        dialog = ContactDialog(
            agencies=d.agencies,
            methods=d.methods,
            members=self._members_for_notes(),
            note=note,
            mode=mode,
            parent=self._view,
        )
        if note is not None:
            base.update(dialog.values_of(note))
        from ui.drafts import draft_key

        self._open_dialog(dialog, save, draft=draft_key(self.case_id, mode, note and note.id))

    def _on_note_conflict(
        self,
        exc: ConflictError,
        dialog: ContactDialog,
        note_id: uuid.UUID,
        base: dict[str, str],
        versions: dict[str, int],
    ) -> None:
        """The draft was saved elsewhere first (the author in another window or on another
        computer): theirs beside yours per field, then save again on the saved version."""
        dialog.set_busy(False)
        yours = dialog.values()

        def got_theirs() -> None:
            d = self.detail
            fresh = next((n for n in d.notes if n.id == note_id), None) if d else None
            if not _alive(dialog):
                return
            if fresh is None or fresh.signed:
                if self.autosaver is not None and _alive(self.autosaver):
                    self.autosaver.save_now()
                dialog.keep_draft = True  # closing this form keeps the text as a draft
                dialog.show_message(
                    self.tr(
                        "Anteckningen har signerats under tiden och kan inte ändras. Din text "
                        "står kvar här och som utkast: Rätta på anteckningen tar fram den."
                    )
                )
                return
            theirs = dialog.values_of(fresh)
            fields = [
                ConflictField(label, base.get(label), theirs[label], yours[label])
                for label in ContactDialog.LABELS
                if theirs[label] != yours[label]
                and (theirs[label] != base.get(label) or yours[label] != base.get(label))
            ]
            versions["note"] = fresh.version
            base.clear()
            base.update(theirs)
            conflict = ConflictDialog(fields, what=exc.what, parent=dialog)
            self.conflict_dialog = conflict

            def finished(result: int) -> None:
                if not _alive(dialog):
                    return
                if result != ConflictDialog.DialogCode.Accepted:
                    dialog.show_message(
                        self.tr("Inget sparades; formuläret har dina värden, sparat är deras.")
                    )
                    return
                chosen = conflict.choices()
                dialog.take_from(fresh, {label for label, side in chosen.items() if side == THEIRS})
                if dialog.values() == theirs:  # theirs throughout: nothing left to save
                    dialog.saved()
                    self.refresh()
                else:
                    dialog.save_button.click()

            conflict.finished.connect(finished)
            conflict.open()

        self.refresh(then=got_theirs)

    # --- Översikt
    def _on_close_case(self) -> None:
        d = self.detail
        if d is None or self._services is None or d.is_closed:
            return
        cases, case_id, version = self._services.cases, self.case_id, d.version

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, CloseCaseDialog)
            closed_on, outcome = dlg.value()
            self._submit(
                lambda: cases.close(case_id, version, closed_on, outcome),
                done_text=self.tr("ärendet avslutat"),
                dialog=dlg,
                on_conflict=lambda exc: self._on_close_conflict(exc, dlg, d, closed_on, outcome),
            )

        self._open_dialog(
            CloseCaseDialog(today=self._today(), parent=self._view),
            save,
            draft=self._draft_key("case:close"),
        )

    def _on_reopen(self) -> None:
        d = self.detail
        if d is None or self._services is None or not d.is_closed:
            return
        if not self.confirm(self.tr("återöppna"), self.tr("Återöppna ärendet %s?") % d.case_number):
            return
        cases, case_id, version = self._services.cases, self.case_id, d.version
        self._submit(
            lambda: cases.reopen(case_id, version),
            done_text=self.tr("ärendet återöppnat"),
            on_conflict=lambda exc: self._on_reopen_conflict(exc, d),
        )

    # --- Översikt: conflicts on closing and reopening
    CLOSE_LABELS = ("Status", "Avslutat", "Utfall")

    def _case_values(self, d: CaseDetail) -> dict[str, str]:
        """What the Översikt and Hushåll tabs show of a case, per field label (for the
        conflict dialog's "the other also changed" list)."""
        values = {
            "Status": d.status_label,
            "Avslutat": _day(d.closed_on),
            "Utfall": d.outcome_label,
            "Handläggare": d.caseworker_name or "",
            "Inriktning": d.direction_label,
            "Fokusärende": self.tr("ja") if d.is_focus else self.tr("nej"),
        }
        housing = self._housing_values(d)
        labels = {"adress": "Adress", "postnummer": "Postnummer", "ort": "Ort"}
        if not d.protected:
            values.update({labels[k]: housing[k] for k in labels})
        values["Boendekostnad"] = housing["boendekostnad"]
        return values

    def _others(self, base: CaseDetail, fresh: CaseDetail) -> list[ConflictField]:
        was, now = self._case_values(base), self._case_values(fresh)
        return [
            ConflictField(label, was[label], now[label], now[label])
            for label in now
            if label not in self.CLOSE_LABELS and was.get(label) != now[label]
        ]

    def _on_close_conflict(
        self,
        exc: ConflictError,
        dialog: CloseCaseDialog,
        base: CaseDetail,
        closed_on: date,
        outcome: Any,
    ) -> None:
        """Someone saved the case while the close form was open. Still open: theirs
        ("pågående") beside yours ("avslutad …"), and what else they changed. Closed by
        them: their date and outcome beside yours, chosen per field."""
        from models.codes import STATUS_LABELS, CaseStatus
        from services.case_view import outcome_label

        dialog.set_busy(False)
        mine = outcome_label(
            outcome.outcome.value,
            outcome.grade.value if outcome.grade else None,
            outcome.permanent,
            outcome.benefit.value if outcome.benefit else None,
        )
        closed_label = STATUS_LABELS[CaseStatus.CLOSED]

        def got_theirs() -> None:
            fresh = self.detail
            if fresh is None or not _alive(dialog) or self._services is None:
                return
            cases, case_id, version = self._services.cases, self.case_id, fresh.version
            theirs = self._case_values(fresh)
            was = self._case_values(base)
            if not fresh.is_closed:
                fields = [
                    ConflictField(
                        "Status",
                        was["Status"],
                        theirs["Status"],
                        f"{closed_label} {closed_on.isoformat()}, {mine}",
                    )
                ]
            else:
                yours = {"Avslutat": closed_on.isoformat(), "Utfall": mine}
                fields = [
                    ConflictField(label, was[label], theirs[label], yours[label])
                    for label in ("Avslutat", "Utfall")
                    if theirs[label] != yours[label]
                ]
            conflict = ConflictDialog(
                fields, what=exc.what, others=self._others(base, fresh), parent=dialog
            )
            self.conflict_dialog = conflict

            def finished(result: int) -> None:
                if not _alive(dialog):
                    return
                if result != ConflictDialog.DialogCode.Accepted:
                    dialog.show_message(
                        self.tr("Inget sparades; formuläret har dina värden, sparat är deras.")
                    )
                    return
                chosen = conflict.choices()
                keep = {label for label, side in chosen.items() if side == YOURS}
                if not fresh.is_closed and "Status" in keep:
                    self._submit(
                        lambda: cases.close(case_id, version, closed_on, outcome),
                        done_text=self.tr("ärendet avslutat"),
                        dialog=dialog,
                        on_conflict=lambda again: self._on_close_conflict(
                            again, dialog, fresh, closed_on, outcome
                        ),
                    )
                elif fresh.is_closed and keep:
                    new_day = closed_on if "Avslutat" in keep else None
                    new_outcome = outcome if "Utfall" in keep else None
                    self._submit(
                        lambda: cases.change_closing(case_id, version, new_day, new_outcome),
                        done_text=self.tr("avslutet ändrat"),
                        dialog=dialog,
                        on_conflict=lambda again: self._on_close_conflict(
                            again, dialog, fresh, closed_on, outcome
                        ),
                    )
                else:  # theirs throughout: nothing of yours left to save
                    dialog.saved()
                    self._view.show_message(self.tr("Inget ändrades; det sparade gäller."))

            conflict.finished.connect(finished)
            conflict.open()

        self.refresh(then=got_theirs)

    def _on_reopen_conflict(self, exc: ConflictError, base: CaseDetail) -> None:
        """Someone saved the case before the reopening: already reopened, nothing to do;
        still closed (other changes): reopen on their version if the user keeps theirs."""
        from models.codes import STATUS_LABELS, CaseStatus

        def got_theirs() -> None:
            fresh = self.detail
            if fresh is None or self._services is None:
                return
            cases, case_id, version = self._services.cases, self.case_id, fresh.version
            others = self._others(base, fresh)
            if not fresh.is_closed:
                fields: list[ConflictField] = []
            else:
                was = self._case_values(base)
                theirs = self._case_values(fresh)
                fields = [
                    ConflictField(
                        "Status",
                        f"{was['Status']} {was['Avslutat']}, {was['Utfall']}",
                        f"{theirs['Status']} {theirs['Avslutat']}, {theirs['Utfall']}",
                        STATUS_LABELS[CaseStatus.ONGOING] + self.tr(" (återöppnat)"),
                    )
                ]
            conflict = ConflictDialog(fields, what=exc.what, others=others, parent=self._view)
            self.conflict_dialog = conflict

            def finished(result: int) -> None:
                if (
                    result == ConflictDialog.DialogCode.Accepted
                    and conflict.choices().get("Status") == YOURS
                ):
                    self._submit(
                        lambda: cases.reopen(case_id, version),
                        done_text=self.tr("ärendet återöppnat"),
                        on_conflict=lambda again: self._on_reopen_conflict(again, fresh),
                    )
                else:
                    self._view.show_message(self.tr("Inget ändrades; det sparade gäller."))

            conflict.finished.connect(finished)
            conflict.open()

        self.refresh(then=got_theirs)

    def _on_add_month(self) -> None:
        if self.detail is None or self._services is None or self._services.support is None:
            return
        support, case_id = self._services.support, self.case_id

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, MonthDialog)
            month, amount = dlg.value()
            self._submit(
                lambda: support.add_month(case_id, month, amount),
                done_text=self.tr("månaden sparad"),
                dialog=dlg,
            )

        self._open_dialog(MonthDialog(parent=self._view), save, draft=self._draft_key("month:new"))

    def _on_print(self) -> None:
        self._view.print_requested.emit(self.case_id)

    # --- Planering och utfall
    def _on_add_goal(self) -> None:
        d = self.detail
        if d is None or self._services is None:
            return
        edits = self._services.edits

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, GoalDialog)
            data = dlg.value()
            self._submit(
                lambda: edits.add_goal(data), done_text=self.tr("målet sparat"), dialog=dlg
            )

        self._open_dialog(
            GoalDialog(
                case_id=self.case_id,
                members=[m for m in d.members if m.current],
                parent=self._view,
            ),
            save,
            draft=self._draft_key("goal:new"),
        )

    def _on_add_direction(self) -> None:
        d = self.detail
        if d is None or self._services is None:
            return
        targets = self._services.targets

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, DirectionDialog)
            data = dlg.value()
            self._submit(
                lambda: targets.set_direction(data),
                done_text=self.tr("inriktningen sparad"),
                dialog=dlg,
            )

        self._open_dialog(
            DirectionDialog(
                case_id=self.case_id,
                members=[m for m in d.members if m.current],
                today=self._today(),
                parent=self._view,
            ),
            save,
            draft=self._draft_key("direction:new"),
        )

    def _on_achieve_goal(self) -> None:
        goal = self._selected(self._view.goals, self._view.goals_model)
        if goal is None or self._services is None:
            return
        edits, today = self._services.edits, self._today()
        self._submit(
            lambda: edits.achieve_goal(goal.id, goal.version, today),
            done_text=self.tr("målet uppnått"),
        )

    def _on_add_outcome(self) -> None:
        d = self.detail
        if d is None or self._services is None:
            return
        targets, case_id = self._services.targets, self.case_id

        def save(dlg: FormDialog) -> None:
            assert isinstance(dlg, PersonOutcomeDialog)
            person, outcome, day = dlg.value()
            self._submit(
                lambda: targets.record_outcome(case_id, person, outcome, day),
                done_text=self.tr("utfallet sparat"),
                dialog=dlg,
            )

        self._open_dialog(
            PersonOutcomeDialog(members=list(d.members), today=self._today(), parent=self._view),
            save,
            draft=self._draft_key("outcome:new"),
        )

    # --- closing
    def has_unsaved_changes(self) -> bool:
        return self.housing_dirty or (
            self.dialog is not None and _alive(self.dialog) and self.dialog.dirty
        )

    def _may_close(self) -> bool:
        self.save_drafts()  # what was typed survives the window as a draft
        if not self.has_unsaved_changes():
            return True
        if not self.confirm_discard():
            return False
        if self.dialog is not None and _alive(self.dialog):
            self.dialog.dirty = False
            self.dialog.keep_draft = True
        return True


class CaseWindows(QObject):
    """Opens case windows, one per case; re-activating a case raises its window.

    With ``services`` the windows edit; without, they only read.
    """

    print_requested = Signal(object)  # a case id, from any case window
    case_created = Signal(object)  # a new case's id (the register may refresh)
    case_changed = Signal(object)  # a case's id, after an edit that the register shows

    def __init__(
        self,
        *,
        source: CaseSource,
        runner: Runner,
        parent_window: QWidget | None = None,
        services: CaseServices | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(parent_window)
        self._source = source
        self._runner = runner
        self._parent_window = parent_window
        self._services = services
        self._today = today
        self._open: dict[uuid.UUID, CaseController] = {}
        self.new_case_dialog: QWidget | None = None
        self.new_case_autosaver: Any = None

    def open_controllers(self) -> list[CaseController]:
        return list(self._open.values())

    def save_drafts(self) -> None:
        """Every unsaved form of every case window, and the new-case form, as a draft now
        (before Fokus logs out without asking, e.g. from the idle lock)."""
        for controller in self.open_controllers():
            controller.save_drafts()
        if _alive(self.new_case_autosaver):
            self.new_case_autosaver.save_now()

    def close_all(self) -> bool:
        """Close every case window and the new-case form, each asking about unsaved
        changes; False when the user chose to stay in one (nothing more is closed)."""
        self.save_drafts()
        for controller in self.open_controllers():
            view = controller.parent()
            if isinstance(view, QWidget) and _alive(view) and not view.close():
                view.raise_()
                view.activateWindow()
                return False
        dialog = self.new_case_dialog
        if _alive(dialog):
            assert isinstance(dialog, FormDialog)
            dialog.keep_draft = True
            if dialog.isVisible() and not dialog.close():
                return False
        return True

    def controller(self, case_id: uuid.UUID) -> CaseController | None:
        return self._open.get(case_id)

    def new_case(self, unit_id: uuid.UUID, caseworker_id: uuid.UUID | None = None) -> None:
        """Ctrl+N: the new-case form; the case created opens in its window."""
        from ui.new_case_dialog import NewCaseController, NewCaseDialog

        if self._services is None:
            return
        if _alive(self.new_case_dialog) and self.new_case_dialog.isVisible():  # type: ignore[union-attr]
            assert self.new_case_dialog is not None
            self.new_case_dialog.raise_()
            self.new_case_dialog.activateWindow()
            return
        edits = self._services.edits

        def show(kinds: list[tuple[str, str]]) -> None:
            dialog = NewCaseDialog(
                reason_kinds=kinds, today=self._today(), parent=self._parent_window
            )
            dialog.setWindowModality(Qt.WindowModality.NonModal)
            controller = NewCaseController(
                dialog=dialog,
                edits=edits,
                runner=self._runner,
                unit_id=unit_id,
                caseworker_id=caseworker_id,
                open_case=self.open,
            )
            controller.created.connect(self.open)
            controller.created.connect(self.case_created)
            services = self._services
            if services is not None and services.drafts is not None:
                from ui.drafts import FormDraftAutosaver, form_key

                self.new_case_autosaver = FormDraftAutosaver(
                    dialog=dialog,
                    store=services.drafts,
                    key=form_key("case:new", unit_id),
                    interval_ms=services.draft_interval_ms,
                )
            self.new_case_dialog = dialog
            dialog.show()

        self._runner.run(edits.reason_kinds, on_done=show, owner=self)

    def open(self, case_id: uuid.UUID) -> CaseController:
        existing = self._open.get(case_id)
        if existing is not None:
            view = existing.parent()
            assert isinstance(view, CaseView)
            view.show()
            view.raise_()
            view.activateWindow()
            return existing
        view = CaseView(self._parent_window)
        controller = CaseController(
            view=view,
            source=self._source,
            runner=self._runner,
            case_id=case_id,
            services=self._services,
            today=self._today,
        )
        self._open[case_id] = controller
        view.closed.connect(lambda: self._open.pop(case_id, None))
        view.print_requested.connect(self.print_requested)
        controller.register_changed.connect(self.case_changed)
        if self._services is not None and self._services.clocks is not None:
            self._add_clocks(view, controller, case_id, self._services.clocks)
        view.show()
        return controller

    def _add_clocks(
        self, view: CaseView, controller: CaseController, case_id: uuid.UUID, clocks: Any
    ) -> None:
        """The time-on-support clocks in the Översikt tab, counted again after every load
        (an edit of months or members changes them)."""
        from ui.clock_panel import ClockPanel

        panel = ClockPanel()
        panel.setObjectName("clockPanel")
        view.clock_slot.addWidget(panel)

        def shown(data: Any) -> None:
            if shiboken6.isValid(panel):
                panel.set_data(data)

        def failed(exc: BaseException) -> None:
            if not shiboken6.isValid(panel):
                return
            if not isinstance(exc, FokusError):
                raise exc
            panel.note.setText(self.tr("Tiden med stöd kunde inte räknas: %s") % exc.message)

        def load() -> None:
            self._runner.run(
                lambda: clocks.case_clock_panel(case_id),
                on_done=shown,
                on_error=failed,
                owner=controller,
            )

        controller.loaded.connect(load)
