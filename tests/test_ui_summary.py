"""The summary print dialog and the batch export, with real widgets over real SQLite databases.

The PDF is built by the real service in the background runner; the preview
is a real QPdfDocument; saved and printed files are read back with pypdf.
Modal pieces are opened with ``open()`` (never ``exec()``), so the tests
drive them directly and cannot hang.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget
from sqlalchemy import select

from models import AuditEvent, HouseholdMember
from models.codes import MemberRole, Role
from services.audit import Actor
from services.cases import CaseService
from services.db import Database, open_database
from services.register import RegisterService
from services.search import RegisterFilter
from services.settings import Settings
from services.summary import BatchResult, SummaryOptions, SummaryService
from services.users import UserInput, create_user_in, get_or_create_unit
from tests.factories import BENGT, KARIN, MARIE, OSKAR, make_case
from ui.batch_export import BatchExportController
from ui.main_controller import MainWindowController
from ui.main_window import MainWindow
from ui.register_controller import RegisterController
from ui.register_model import RegisterModel
from ui.summary_controller import SummaryDialogController, SummaryDialogs
from ui.summary_dialog import SummaryDialog
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 15_000
UNIT = "Försörjningsstöd Södertälje"
SETTINGS = Settings(municipality="Södertälje kommun")
A, C, B = MemberRole.APPLICANT, MemberRole.CO_APPLICANT, MemberRole.CHILD


@dataclass
class World:
    db: Database
    leader: Actor
    worker: Actor
    case_id: uuid.UUID
    case_number: str
    karin: uuid.UUID


@pytest.fixture
def runner(qtbot) -> Iterator[BackgroundRunner]:  # type: ignore[no-untyped-def]
    r = BackgroundRunner()
    yield r
    r.wait()
    QCoreApplication.processEvents()  # deliver late results to this test's widgets


@pytest.fixture
def host(qtbot) -> QWidget:  # type: ignore[no-untyped-def]
    """The dialogs' parent: qtbot closes it, and it deletes what is still open."""
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = open_database(f"sqlite:///{tmp_path / 'summary.db'}")
    cli = Actor.cli()
    with db.begin() as s:
        unit_id = get_or_create_unit(s, cli, UNIT).id
        lena = create_user_in(s, cli, UserInput("lena", "Lena Ledare", Role.TEAM_LEADER, UNIT))
        hans = create_user_in(s, cli, UserInput("hans", "Hans Handläggare", Role.CASEWORKER, UNIT))
        leader = Actor("lena", Role.TEAM_LEADER, lena.id, "test")
        worker = Actor("hans", Role.CASEWORKER, hans.id, "test")
    ref = make_case(
        CaseService(db=db, actor=cli),
        unit_id,
        (A, replace(KARIN, mental_ill_health=True, phone="0703010726")),
        (C, MARIE),
        (B, OSKAR),
        address="Storgatan 12 B",
        postcode="15172",
        town="Södertälje",
        caseworker_id=hans.id,
    )
    with db.begin() as s:
        karin = next(
            m.person_id
            for m in s.scalars(select(HouseholdMember).where(HouseholdMember.case_id == ref.id))
            if m.role == MemberRole.APPLICANT.value
        )
    yield World(db, leader, worker, ref.id, ref.case_number, karin)
    db.dispose()


def _service(world: World, actor: Actor | None = None, **settings: object) -> SummaryService:
    return SummaryService(
        db=world.db, actor=actor or world.leader, settings=replace(SETTINGS, **settings)
    )


def _open(qtbot, world: World, runner, host) -> SummaryDialogController:  # type: ignore[no-untyped-def]
    dialogs = SummaryDialogs(service=_service(world), runner=runner, parent=host)
    controller = dialogs.open_for_case(world.case_id, host)
    qtbot.waitUntil(lambda: controller.preview is not None, timeout=WAIT)
    return controller


def _dialog(controller: SummaryDialogController) -> SummaryDialog:
    dialog = controller.parent()
    assert isinstance(dialog, SummaryDialog)
    return dialog


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _longest_digit_run(text: str) -> int:
    """Digits in the longest run of digits and dashes (whitespace around a dash removed)."""
    joined = re.sub(r"\s*([-\u2010-\u2014\u2212+])\s*", r"\1", text)
    runs = re.findall(r"[\d\-\u2010-\u2014\u2212+]+", joined)
    return max((sum(c.isdecimal() for c in r) for r in runs), default=0)


def _events(db: Database, action: str) -> list[dict[str, object]]:
    with db.begin() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        return [json.loads(r.detail) for r in rows]


# --------------------------------------------------------------------------- the dialog


def test_dialog_opens_with_a_real_preview(qtbot, world, runner, host) -> None:  # type: ignore[no-untyped-def]
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    assert dialog.windowTitle() == f"Fokus – sammanfattning {world.case_number}"
    assert dialog.document.pageCount() > 0
    assert not dialog.preview.isHidden() and dialog.placeholder.isHidden()
    assert dialog.recipient.currentText() == "intern akt"
    assert [dialog.persons.item(i).text() for i in range(dialog.persons.count())] == [
        "Karin Nyström (sökande)",
        "Marie Åkesson (medsökande)",
        "Oskar Nyström (barn)",
    ]
    assert "Psykisk ohälsa: markeringen skrivs inte ut (inte vald)" in dialog.omissions.text()
    assert dialog.print_button.isEnabled() and dialog.save_button.isEnabled()
    assert _events(world.db, "summary_previewed")
    # Opening the same case again raises the dialog already open.
    dialogs = SummaryDialogs(service=_service(world), runner=runner, parent=host)
    first = dialogs.open_for_case(world.case_id, host)
    assert dialogs.open_for_case(world.case_id, host) is first
    assert len(host.findChildren(SummaryDialog)) == 2  # one per registry: the test's two


def test_recipient_change_updates_what_is_left_out(qtbot, world, runner, host) -> None:  # type: ignore[no-untyped-def]
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    assert "samtycke" not in dialog.omissions.text()
    with qtbot.waitSignal(controller.preview_ready, timeout=WAIT) as blocker:
        dialog.recipient.setCurrentIndex(dialog.recipient.findData("fk"))
    assert blocker.args == [0]  # no consent: nothing may be printed
    text = dialog.omissions.text()
    assert "Inget skrivs ut: inget kan lämnas ut till Försäkringskassan" in text
    assert "Karin Nyström: inget giltigt samtycke till Försäkringskassan" in text
    assert "Marie Åkesson: bara sökandens egna uppgifter" in text
    assert not dialog.print_button.isEnabled() and not dialog.save_button.isEnabled()
    assert dialog.preview.isHidden() and "Inget kan skrivas ut" in dialog.placeholder.text()
    checked = [dialog.persons.item(i).checkState().value for i in range(3)]
    assert checked == [2, 0, 0]  # an agency gets the applicant by default
    assert controller.options().person_ids is None

    from services.journal import ConsentInput, JournalService

    JournalService(db=world.db, actor=world.leader).add_consent(
        world.case_id,
        ConsentInput(
            person_id=world.karin,
            agency_code="fk",
            scope="Sjukskrivning",
            valid_from=date(2025, 1, 1),
        ),
    )
    with qtbot.waitSignal(controller.preview_ready, timeout=WAIT) as blocker:
        dialog.mask_personnummer.setChecked(True)
    assert blocker.args[0] > 0 and dialog.document.pageCount() == blocker.args[0]
    assert "Inget skrivs ut" not in dialog.omissions.text()
    assert "Utlämnas till Försäkringskassan" in _pdf_text(controller.preview.pdf)  # type: ignore[union-attr]
    # Back to the internal file: everyone again.
    with qtbot.waitSignal(controller.preview_ready, timeout=WAIT):
        dialog.recipient.setCurrentIndex(0)
    assert [dialog.persons.item(i).checkState().value for i in range(3)] == [2, 2, 2]


def test_bad_options_show_the_field(qtbot, world, runner, host) -> None:  # type: ignore[no-untyped-def]
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    with qtbot.waitSignal(controller.preview_failed, timeout=WAIT) as blocker:
        for box in dialog.section_boxes.values():
            box.setChecked(False)
    assert blocker.args == ["avsnitt: välj minst ett avsnitt"]
    assert dialog.status.text() == "avsnitt: välj minst ett avsnitt"
    assert not dialog.save_button.isEnabled() and dialog.preview.isHidden()


def test_contact_log_period_and_agencies(qtbot, world, runner, host) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from PySide6.QtCore import QDate, Qt

    from services.journal import JournalService, NoteInput

    journal = JournalService(db=world.db, actor=world.leader)
    for day, agency, text in ((3, "fk", "TIDIGNOT"), (20, "fk", "SENNOT"), (21, "af", "AFNOT")):
        journal.add_note(
            world.case_id,
            NoteInput(
                occurred_at=datetime(2025, 3, day, 9, tzinfo=UTC),
                agency_code=agency,
                method_code="phone",
                text=text,
                member_ids=(world.karin,),
            ),
            sign=True,
        )
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    assert not dialog.contact_from.isEnabled()
    with qtbot.waitSignal(controller.preview_ready, timeout=WAIT):
        dialog.contact_from.setDate(QDate(2025, 3, 10))
        dialog.period.setChecked(True)
    assert dialog.contact_from.isEnabled() and dialog.contact_to.isEnabled()
    options = controller.shown_options
    assert options is not None and options.contact_from == date(2025, 3, 10)
    assert options.contact_to == date.today()
    assert "Kontaktlogg: 1 anteckning utanför vald period" in dialog.omissions.text()
    text = _pdf_text(controller.preview.pdf)  # type: ignore[union-attr]
    assert "SENNOT" in text and "AFNOT" in text and "TIDIGNOT" not in text

    af_row = next(
        i
        for i in range(dialog.agencies.count())
        if dialog.agencies.item(i).data(Qt.ItemDataRole.UserRole) == "af"
    )
    with qtbot.waitSignal(controller.preview_ready, timeout=WAIT):
        dialog.agencies.item(af_row).setCheckState(Qt.CheckState.Unchecked)
    assert controller.shown_options is not None
    assert "af" not in (controller.shown_options.contact_agencies or {"af"})
    assert "Kontaktlogg: 1 anteckning med andra myndigheter än valda" in dialog.omissions.text()
    assert "AFNOT" not in _pdf_text(controller.preview.pdf)  # type: ignore[union-attr]


def test_save_as_pdf_writes_the_case(qtbot, world, runner, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    dialog.save_button.click()
    chooser = controller.save_dialog
    assert chooser is not None and chooser.windowTitle() == "Fokus – spara sammanfattning som PDF"
    target = tmp_path / "sammanfattning"
    chooser.selectFile(str(target))
    with qtbot.waitSignal(controller.saved, timeout=WAIT) as blocker:
        chooser.accept()
    written = Path(blocker.args[0])
    assert written.name == "sammanfattning.pdf"
    text = _pdf_text(written.read_bytes())
    assert f"Sammanfattning av ärende {world.case_number}" in text
    assert "19780214-3524" in text  # not masked unless chosen
    (event,) = _events(world.db, "summary_exported")
    assert event["destination"] == "sammanfattning.pdf" and event["masked"] is False
    assert dialog.status.text() == f"Sparad: {written}"


def test_masked_save_has_no_run_of_ten_digits(qtbot, world, runner, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    with qtbot.waitSignal(controller.preview_ready, timeout=WAIT):
        dialog.mask_personnummer.setChecked(True)
    assert controller.shown_options is not None and controller.shown_options.mask_personnummer
    with qtbot.waitSignal(controller.saved, timeout=WAIT) as blocker:
        controller.save_to(tmp_path / "maskerad.pdf")
    text = _pdf_text(Path(blocker.args[0]).read_bytes())
    assert "19780214-XXXX" in text and "070-301 07 26" in text
    assert _longest_digit_run(text) < 10
    assert _longest_digit_run(_pdf_text(controller.preview.pdf)) < 10  # type: ignore[union-attr]
    (event,) = _events(world.db, "summary_exported")
    assert event["masked"] is True


def test_print_to_a_pdf_printer(qtbot, world, runner, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    controller = _open(qtbot, world, runner, host)
    dialog = _dialog(controller)
    out = tmp_path / "utskrift.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(out))
    assert not dialog.print_button.isHidden() and dialog.print_button.isEnabled()
    with qtbot.waitSignal(controller.printed, timeout=WAIT) as blocker:
        assert controller.print_to(printer)
        assert not dialog.print_button.isEnabled()  # one print at a time
        assert not controller.print_to(printer)
    pages = blocker.args[0]
    assert pages == dialog.document.pageCount() > 0
    reader = PdfReader(str(out))
    assert len(reader.pages) == pages
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.3) < 1.5 and abs(float(box.height) - 841.9) < 1.5  # A4
    images = list(reader.pages[0].images)
    assert images, "the page is drawn as an image of the PDF page"
    from PIL import Image

    picture = Image.open(io.BytesIO(images[0].data)).convert("L")
    lo, hi = picture.getextrema()
    assert hi == 255 and lo < 100  # a white page with dark text on it
    (event,) = _events(world.db, "summary_printed")
    assert event["destination"] == "skrivare utskrift.pdf"
    assert dialog.status.text() == f"Utskriven ({pages} sidor) och registrerad."
    assert dialog.print_button.isEnabled()


# --------------------------------------------------------------------------- batch export


class GatedService:
    """The real service; after the first file the worker waits until the test says go on."""

    def __init__(self, inner: SummaryService) -> None:
        self.inner = inner
        self.go_on = threading.Event()

    @property
    def may_batch_export(self) -> bool:
        return self.inner.may_batch_export

    def plan_batch(self, flt: RegisterFilter):  # type: ignore[no-untyped-def]
        return self.inner.plan_batch(flt)

    def batch_export(
        self,
        case_ids: Sequence[uuid.UUID],
        folder: Path | str,
        options: SummaryOptions | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> BatchResult:
        def gated(done: int, total: int) -> None:
            assert progress is not None
            progress(done, total)
            if done == 1:
                assert self.go_on.wait(WAIT / 1000), "the test never let the worker go on"

        return self.inner.batch_export(
            case_ids, folder, options, progress=gated, cancelled=cancelled
        )


def _more_cases(world: World, n: int) -> None:
    with world.db.begin() as s:
        unit_id = get_or_create_unit(s, Actor.cli(), UNIT).id
    cases = CaseService(db=world.db, actor=Actor.cli())
    for i in range(n):
        person = replace(
            BENGT, personal_id=None, birth_date=date(1965, 9, 9), first_name=f"Bengt{chr(65 + i)}"
        )
        make_case(cases, unit_id, (A, person))


def _confirm(qtbot, batch: BatchExportController, folder: Path, count: int) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(batch.planned, timeout=WAIT):
        batch.start()
    box = batch.message
    assert box is not None and box.isVisible()
    assert box.text() == f"Exportera sammanfattningar för {count} ärenden?"
    assert box.windowTitle() == "Fokus – exportera sammanfattningar"
    (accept,) = [b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole]
    assert accept.text() == "Välj mapp …"
    accept.click()
    chooser = batch.folder_dialog
    assert chooser is not None
    chooser.setDirectory(str(folder))
    chooser.accept()


def test_batch_export_writes_one_file_per_case(qtbot, world, runner, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _more_cases(world, 2)
    folder = tmp_path / "export"
    folder.mkdir()
    batch = BatchExportController(
        parent_widget=host, service=_service(world), runner=runner, current_filter=RegisterFilter
    )
    assert batch.allowed
    with qtbot.waitSignal(batch.finished, timeout=WAIT) as blocker:
        _confirm(qtbot, batch, folder, 3)
    result = blocker.args[0]
    assert result.count == 3 and not result.cancelled
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"FS-2024-0000{i}.pdf" for i in (1, 2, 3)]
    assert world.case_number + ".pdf" in names
    assert batch.message is not None
    assert batch.message.text() == f"3 sammanfattningar sparades i {folder}."
    assert len(_events(world.db, "summary_exported")) == 3
    assert batch.progress is None and not batch.running


def test_batch_export_stops_on_cancel(qtbot, world, runner, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _more_cases(world, 4)
    folder = tmp_path / "export"
    folder.mkdir()
    service = GatedService(_service(world))
    batch = BatchExportController(
        parent_widget=host, service=service, runner=runner, current_filter=RegisterFilter
    )
    _confirm(qtbot, batch, folder, 5)
    qtbot.waitUntil(
        lambda: batch.progress is not None and batch.progress.value() == 1, timeout=WAIT
    )
    assert batch.progress is not None
    (cancel,) = batch.progress.findChildren(QPushButton)
    assert cancel.text() == "Avbryt"
    with qtbot.waitSignal(batch.finished, timeout=WAIT) as blocker:
        cancel.click()
        service.go_on.set()
    result = blocker.args[0]
    assert result.cancelled and result.count == 1 and result.total == 5
    assert len(list(folder.iterdir())) == 1
    assert batch.message is not None
    assert batch.message.text() == (
        f"Exporten avbröts. 1 av 5 sammanfattningar sparades i {folder}; "
        "de sparade filerna finns kvar."
    )
    (event,) = _events(world.db, "summary_batch_exported")
    assert event["cancelled"] is True and event["written"] == 1


def test_batch_export_refuses_above_the_cap(qtbot, world, runner, host) -> None:  # type: ignore[no-untyped-def]
    _more_cases(world, 2)
    batch = BatchExportController(
        parent_widget=host,
        service=_service(world, batch_export_cap=2),
        runner=runner,
        current_filter=RegisterFilter,
    )
    with qtbot.waitSignal(batch.planned, timeout=WAIT):
        batch.start()
    assert batch.message is not None and batch.message.icon() == QMessageBox.Icon.Warning
    assert "Filtret ger 3 ärenden. Högst 2 sammanfattningar" in batch.message.text()
    assert batch.folder_dialog is None and not batch.running


def test_a_caseworker_cannot_batch_export(qtbot, world, runner, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    service = _service(world, world.worker)
    batch = BatchExportController(
        parent_widget=host, service=service, runner=runner, current_filter=RegisterFilter
    )
    assert not batch.allowed
    batch.start()
    assert batch.message is not None
    assert batch.message.text() == "Bara arbetsledare får exportera sammanfattningar."
    assert not batch.running
    from services.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        service.batch_export([world.case_id], tmp_path)
    assert _events(world.db, "summary_exported") == []


# --------------------------------------------------------------------------- the main window


def _main(qtbot, world: World, actor: Actor, runner, tmp_path: Path):  # type: ignore[no-untyped-def]
    window = MainWindow(user_label="test")
    qtbot.addWidget(window)
    register_service = RegisterService(db=world.db)
    model = RegisterModel(source=register_service, runner=runner, parent=window)
    state = ViewState(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    assert actor.user_id is not None
    register = RegisterController(
        view=window.register,
        model=model,
        counter=register_service,
        runner=runner,
        state=state,
        user_id=actor.user_id,
        parent=window,
    )
    service = _service(world, actor)
    controller = MainWindowController(
        window=window,
        register=register,
        state=state,
        database_label="SQLite – test",
        summaries=SummaryDialogs(service=service, runner=runner, parent=window),
        batch_export=BatchExportController(
            parent_widget=window,
            service=service,
            runner=runner,
            current_filter=register.current_filter,
        ),
    )
    qtbot.waitUntil(lambda: model.rowCount() == 1 and not model.loading, timeout=WAIT)
    return window, model, controller


def test_main_window_menu_entries(qtbot, world, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window, model, _controller = _main(qtbot, world, world.leader, runner, tmp_path)
    assert window.print_summary_action.isVisible()
    assert window.export_summaries_action.isVisible()
    window.print_summary_action.trigger()  # nothing selected yet
    assert window.statusBar().currentMessage() == "Välj ett ärende i registret först."
    window.register.table.setCurrentIndex(model.index(0, 1))
    window.print_summary_action.trigger()
    (dialog,) = window.findChildren(SummaryDialog)
    qtbot.waitUntil(lambda: dialog.document.pageCount() > 0, timeout=WAIT)
    assert dialog.windowTitle().endswith(world.case_number)
    dialog.close()

    other, _m, _c = _main(qtbot, world, world.worker, runner, tmp_path / "w")
    assert other.print_summary_action.isVisible()
    assert not other.export_summaries_action.isVisible()
    runner.wait()
    QCoreApplication.processEvents()
