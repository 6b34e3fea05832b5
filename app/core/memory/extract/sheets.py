"""Tables as text: XLSX (openpyxl, read-only streaming) and CSV/TSV (csv module).

Each sheet is cited by its name as the heading and rows by their line range: the row number in
a sheet, the file lines a CSV record spans (a quoted field may hold line breaks). Rows with
text are grouped a few at a time so a chunk holds a readable slice of the table; a range covers
only rows with text. Stated caps, besides the per-file text cap: MAX_ROWS rows read per sheet,
MAX_COLUMNS columns per XLSX row, MAX_SHEETS sheets and MAX_CELLS scanned cells per workbook,
MAX_CELL_CHARS characters per cell. A capped file is flagged ``truncated``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped
from app.core.memory.extract.text import NotText, read_text

XLSX_EXTENSIONS = (".xlsx", ".xlsm")
CSV_EXTENSIONS = (".csv", ".tsv")
MAX_ROWS = 20_000
ROWS_PER_PIECE = 10
MAX_CELL_CHARS = 2_000
# XLSX only. Read-only openpyxl pads a row with None up to its last cell and yields every
# missing row, so a few cells at XFD1048576 would otherwise cost millions of empty values.
MAX_COLUMNS = 1_024
MAX_SHEETS = 256
MAX_CELLS = 10_000_000  # cell positions scanned per workbook, padding included
# A cell is whitespace-normalised from at most this many characters before it is cut.
_CELL_SCAN_CHARS = 4 * MAX_CELL_CHARS
# csv's default limit (131,072) would fail a whole file on one long field; the text read is
# already capped at max_chars, so no field can be longer than that.
_CSV_MIN_FIELD_LIMIT = 131_072
_CSV_MAX_FIELD_LIMIT = 2**31 - 1

# (first line, last line, cell values) of one row or record.
Row = tuple[int, int, Sequence[Any]]


def _cell(value: Any, buffer: PieceBuffer) -> str:
    text = str(value)
    words = " ".join(text[:_CELL_SCAN_CHARS].split())
    if len(text) > _CELL_SCAN_CHARS or len(words) > MAX_CELL_CHARS:
        buffer.truncated = True
    return words[:MAX_CELL_CHARS]


def _row_text(values: Sequence[Any], buffer: PieceBuffer) -> str:
    cells = (_cell(v, buffer) for v in values if v is not None and v != "")
    return " | ".join(c for c in cells if c)


def add_rows(buffer: PieceBuffer, rows: Iterable[Row], heading: tuple[str, ...]) -> None:
    """Group rows with text into pieces; stops after MAX_ROWS rows or when the buffer is full."""
    group: list[str] = []
    first = last = 0
    for count, (start, end, values) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            buffer.truncated = True
            break
        line = _row_text(values, buffer) if values else ""
        if not line:
            continue
        if not group:
            first = start
        group.append(line)
        last = end
        if len(group) >= ROWS_PER_PIECE:
            if not buffer.add(Piece("\n".join(group), heading=heading, line_start=first,
                                    line_end=last)):
                return
            group = []
    if group:
        buffer.add(Piece("\n".join(group), heading=heading, line_start=first, line_end=last))


class _CellBudget:
    """Cell positions left to scan in one workbook (MAX_CELLS)."""

    def __init__(self) -> None:
        self.left = MAX_CELLS


def _sheet_rows(sheet: Any, budget: _CellBudget, buffer: PieceBuffer) -> Iterator[Row]:
    # The declared <dimension> is often wrong (many writers emit A1); read-only openpyxl would
    # trust it and cut the sheet, so read the rows that are actually there.
    sheet.reset_dimensions()
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if not values:  # a row missing from the file
            yield number, number, ()
            continue
        budget.left -= len(values)
        if budget.left < 0:
            buffer.truncated = True
            return
        if len(values) > MAX_COLUMNS:
            rest = values[MAX_COLUMNS:]
            if rest.count(None) != len(rest):
                buffer.truncated = True
            values = values[:MAX_COLUMNS]
        yield number, number, values


def extract_xlsx(path: Path, max_chars: int) -> Extraction:
    from openpyxl import load_workbook

    workbook = load_workbook(str(path), read_only=True, data_only=True)
    try:
        buffer = PieceBuffer(max_chars)
        budget = _CellBudget()
        for index, sheet in enumerate(workbook.worksheets):
            if buffer.full or budget.left < 0:
                break
            if index >= MAX_SHEETS:
                buffer.truncated = True
                break
            add_rows(buffer, _sheet_rows(sheet, budget, buffer), (sheet.title,))
        return buffer.result("no cells with text")
    finally:
        workbook.close()


def _csv_rows(reader: Any) -> Iterator[Row]:
    """Records with the file lines they span (``line_num`` counts lines read so far)."""
    start = 1
    for values in reader:
        end = reader.line_num
        yield start, end, values
        start = end + 1


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
    buffer = PieceBuffer(max_chars)
    limit = min(max(len(text) + 1, _CSV_MIN_FIELD_LIMIT), _CSV_MAX_FIELD_LIMIT)
    previous = csv.field_size_limit(limit)  # process-wide: restored below
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        add_rows(buffer, _csv_rows(reader), ())
    finally:
        csv.field_size_limit(previous)
    buffer.truncated = buffer.truncated or truncated
    return buffer.result("no cells with text")
