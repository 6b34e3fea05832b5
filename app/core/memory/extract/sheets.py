"""Tables as text: XLSX (openpyxl, read-only streaming) and CSV/TSV (csv module).

Each sheet is cited by its name as the heading and rows by their number as the line range.
Rows are grouped a few at a time so a chunk holds a readable slice of the table; at most
MAX_ROWS rows per sheet are read (a stated cap, besides the per-file text cap)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped
from app.core.memory.extract.text import NotText, read_text

XLSX_EXTENSIONS = (".xlsx", ".xlsm")
CSV_EXTENSIONS = (".csv", ".tsv")
MAX_ROWS = 20_000
ROWS_PER_PIECE = 10
MAX_CELL_CHARS = 2_000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())[:MAX_CELL_CHARS]


def add_rows(buffer: PieceBuffer, rows: Iterable[Sequence[Any]], heading: tuple[str, ...]) -> None:
    group: list[str] = []
    first = 0
    number = 0
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            buffer.truncated = True
            break
        cells = [_cell(v) for v in row]
        line = " | ".join(c for c in cells if c)
        if line:
            if not group:
                first = number
            group.append(line)
        if len(group) >= ROWS_PER_PIECE:
            if not buffer.add(Piece("\n".join(group), heading=heading, line_start=first,
                                    line_end=number)):
                return
            group = []
    if group:
        buffer.add(Piece("\n".join(group), heading=heading, line_start=first, line_end=number))


def extract_xlsx(path: Path, max_chars: int) -> Extraction:
    from openpyxl import load_workbook

    workbook = load_workbook(str(path), read_only=True, data_only=True)
    try:
        buffer = PieceBuffer(max_chars)
        for sheet in workbook.worksheets:
            if buffer.full:
                break
            add_rows(buffer, sheet.iter_rows(values_only=True), (sheet.title,))
        return buffer.result("no cells with text")
    finally:
        workbook.close()


def extract_csv(path: Path, max_chars: int) -> Extraction:
    try:
        text, truncated = read_text(path, max_chars)
    except NotText as exc:
        return skipped(str(exc))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(max(MAX_CELL_CHARS * 16, 131072))
    buffer = PieceBuffer(max_chars)
    add_rows(buffer, csv.reader(io.StringIO(text), delimiter=delimiter), ())
    buffer.truncated = buffer.truncated or truncated
    return buffer.result("no cells with text")
