"""Saving a dashboard chart's numbers: CSV as Swedish Excel opens it, and XLSX.

CSV: semicolon-separated, UTF-8 with a byte-order mark (so Excel detects the
encoding and åäö survive), decimal comma. XLSX: one sheet named after the
chart, a bold header row, numbers as numbers. No Qt here: the controller
calls these with plain tables.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

Cell = str | int | float


@dataclass(frozen=True)
class ChartTable:
    """A chart's numbers: a title, column headers and rows."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _csv_cell(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def write_csv(table: ChartTable, path: Path) -> None:
    """``;``-separated, UTF-8 with BOM, decimal comma."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow(table.headers)
        for row in table.rows:
            writer.writerow([_csv_cell(v) for v in row])


def sheet_title(title: str) -> str:
    """Excel's sheet-name rules: at most 31 characters, none of []:*?/\\."""
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", title).strip()
    return cleaned[:31] or "Blad1"


def write_xlsx(table: ChartTable, path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet_title(table.title)
    ws.append(list(table.headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        ws.append(list(row))
    for i, header in enumerate(table.headers, start=1):
        width = max([len(str(header))] + [len(str(r[i - 1])) for r in table.rows]) + 2
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width, 60)
    wb.save(path)
