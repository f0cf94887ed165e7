"""The print dialog for a case summary: options on the left, what is left out, a live preview.

Layout only; :class:`ui.summary_controller.SummaryDialogController` fills
the lists, builds the options and the preview. What is left out and why is
shown beside the options, before anything is printed, because a summary to
an agency must disclose no more than the consent covers.
"""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from services.summary import SECTION_LABELS, Section

OMISSION_STYLE = (
    "QLabel#omissions { background: #fff8e1; border: 1px solid #e0c46c; padding: 6px; }"
    " QLabel#previewPlaceholder { color: #5b6470; font-size: 11pt; padding: 24px; }"
    ' QLabel#dialogStatus[error="true"] { color: #8a1c1c; }'
)


def _date_edit(day: QDate) -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setDate(day)
    edit.setEnabled(False)
    return edit


class SummaryDialog(QDialog):
    """Options, the omission list and the preview of one case's summary."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryDialog")
        self.setWindowTitle(self.tr("Fokus – skriv ut sammanfattning"))
        self.setStyleSheet(OMISSION_STYLE)

        # --- options
        self.recipient = QComboBox()
        self.recipient.setAccessibleName(self.tr("Mottagare"))
        self.persons = QListWidget()
        self.persons.setAccessibleName(self.tr("Personer"))
        self.persons.setMaximumHeight(80)
        self.section_boxes: dict[Section, QCheckBox] = {}
        sections = QVBoxLayout()
        sections.setSpacing(2)
        for section in Section:
            box = QCheckBox(SECTION_LABELS[section])
            box.setChecked(True)
            self.section_boxes[section] = box
            sections.addWidget(box)
        self.period = QCheckBox(self.tr("Bara kontakter i perioden"))
        self.contact_from = _date_edit(QDate.currentDate().addYears(-1))  # a year back
        self.contact_from.setAccessibleName(self.tr("Kontaktlogg från"))
        self.contact_to = _date_edit(QDate.currentDate())
        self.contact_to.setAccessibleName(self.tr("Kontaktlogg till"))
        self.agencies = QListWidget()
        self.agencies.setAccessibleName(self.tr("Myndigheter i kontaktloggen"))
        self.agencies.setMaximumHeight(110)
        self.mask_personnummer = QCheckBox(self.tr("Maskera personnummer (ÅÅÅÅMMDD-XXXX)"))
        self.mental_health = QCheckBox(self.tr("Ta med markering om psykisk ohälsa"))
        self.support_reasons = QCheckBox(self.tr("Ta med försörjningshinder"))

        form = QFormLayout()
        form.addRow(self.tr("&Mottagare:"), self.recipient)
        persons_box = QGroupBox(self.tr("Personer"))
        QVBoxLayout(persons_box).addWidget(self.persons)
        sections_box = QGroupBox(self.tr("Avsnitt"))
        sections_box.setLayout(sections)
        log_box = QGroupBox(self.tr("Kontaktlogg"))
        log_layout = QFormLayout(log_box)
        log_layout.addRow(self.period)
        dates = QHBoxLayout()
        dates.addWidget(self.contact_from)
        dates.addWidget(QLabel(self.tr("t.o.m.")))
        dates.addWidget(self.contact_to)
        log_layout.addRow(self.tr("Från:"), dates)
        log_layout.addRow(self.tr("Myndigheter:"), self.agencies)
        sensitive_box = QGroupBox(self.tr("Känsliga uppgifter"))
        sensitive = QVBoxLayout(sensitive_box)
        sensitive.setSpacing(2)
        for box in (self.mask_personnummer, self.mental_health, self.support_reasons):
            sensitive.addWidget(box)

        self.omissions_title = QLabel(self.tr("<b>Utelämnas</b>"))
        self.omissions = QLabel()
        self.omissions.setObjectName("omissions")
        self.omissions.setWordWrap(True)
        self.omissions.setTextFormat(Qt.TextFormat.RichText)
        self.omissions.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.omissions.setAccessibleName(self.tr("Det här utelämnas"))
        self.omissions.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        options = QWidget()
        left = QVBoxLayout(options)
        left.setContentsMargins(0, 0, 6, 0)
        left.addLayout(form)
        for w in (persons_box, sections_box, log_box, sensitive_box):
            left.addWidget(w)
        left.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(options)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # What is left out stays in view below the options, however far they are scrolled.
        omissions_scroll = QScrollArea()
        omissions_scroll.setWidget(self.omissions)
        omissions_scroll.setWidgetResizable(True)
        omissions_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        omissions_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        omissions_panel = QWidget()
        omissions_layout = QVBoxLayout(omissions_panel)
        omissions_layout.setContentsMargins(0, 4, 0, 0)
        omissions_layout.addWidget(self.omissions_title)
        omissions_layout.addWidget(omissions_scroll, 1)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(scroll)
        side.addWidget(omissions_panel)
        side.setStretchFactor(0, 3)
        side.setStretchFactor(1, 1)
        side.setChildrenCollapsible(False)
        side.setSizes([560, 220])
        side.setMinimumWidth(380)

        # --- preview
        self.document = QPdfDocument(self)
        self.preview = QPdfView()
        self.preview.setAccessibleName(self.tr("Förhandsgranskning"))
        self.preview.setDocument(self.document)
        self.preview.setPageMode(QPdfView.PageMode.MultiPage)
        self.preview.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.preview.setStyleSheet("QPdfView { background: #8e96a0; }")
        self.placeholder = QLabel()
        self.placeholder.setObjectName("previewPlaceholder")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.placeholder, 1)
        right_layout.addWidget(self.preview, 1)
        self.preview.setVisible(False)

        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 620])

        # --- buttons
        self.status = QLabel()
        self.status.setObjectName("dialogStatus")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.print_button = QPushButton(self.tr("Skriv &ut …"))
        self.save_button = QPushButton(self.tr("&Spara som PDF …"))
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.addButton(self.print_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.print_button.setEnabled(False)
        self.save_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        self.resize(1100, 780)

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("error", error)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def show_placeholder(self, text: str) -> None:
        """Hide the preview and say why (loading, nothing may be printed, an error)."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(True)
        self.preview.setVisible(False)

    def set_document(self, document: QPdfDocument) -> None:
        """Show ``document`` in the preview; the previous one is deleted."""
        old = self.document
        self.document = document
        self.preview.setDocument(document)
        if old is not document:
            old.close()
            old.deleteLater()

    def show_preview(self) -> None:
        self.placeholder.setVisible(False)
        self.preview.setVisible(True)
