"""Sheets and CSV: every row despite a wrong declared dimension, cost bounded by the cells that
exist (column, sheet and cell caps), line ranges that cover only rows with text and the real
file lines of a CSV record, long cells cut instead of failing the file."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.core.memory.extract import EXTRACTED, Extraction, extract, sheets

CAP = 200_000


def spans(result: Extraction) -> list[tuple[str, int | None, int | None]]:
    return [(p.text, p.line_start, p.line_end) for p in result.pieces]


def write_workbook(path: Path, cells: dict[str, dict[str, Any]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, values in cells.items():
        sheet = workbook.create_sheet(title)
        for coordinate, value in values.items():
            sheet[coordinate] = value
    workbook.save(str(path))
    return path


def test_xlsx_wrong_dimension_still_reads_every_row(tmp_path: Path) -> None:
    from openpyxl import Workbook

    good = tmp_path / "good.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    for row in range(1, 101):
        sheet.append([f"r{row}a", f"r{row}b", f"r{row}c"])
    workbook.save(str(good))
    wrong = tmp_path / "wrong.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(wrong, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', data)
                assert b'<dimension ref="A1"/>' in data
            target.writestr(item, data)
    result = extract(wrong, CAP)
    assert result.status == EXTRACTED
    assert not result.truncated
    assert len(result.pieces) == 10
    assert result.pieces[-1].text.endswith("r100a | r100b | r100c")
    assert (result.pieces[-1].line_start, result.pieces[-1].line_end) == (91, 100)


def test_xlsx_sparse_far_cells_cost_what_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_workbook(tmp_path / "sparse.xlsx", {
        "Sheet": {"A1": "first", "XFD1": "last column", "A1048576": "last row"},
    })
    monkeypatch.setattr(sheets, "MAX_ROWS", 50)  # keeps the unfixed code's run short
    calls = 0
    real_cell = sheets._cell

    def counting_cell(*args: Any) -> str:
        nonlocal calls
        calls += 1
        return real_cell(*args)

    monkeypatch.setattr(sheets, "_cell", counting_cell)
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    # XFD is past MAX_COLUMNS and row 1,048,576 past MAX_ROWS: both cut, and said so.
    assert spans(result) == [("first", 1, 1)]
    assert result.truncated
    assert calls == 1  # padding Nones are never formatted


def test_xlsx_columns_past_the_cap_are_cut(tmp_path: Path) -> None:
    from openpyxl.utils import get_column_letter

    last = get_column_letter(sheets.MAX_COLUMNS)
    beyond = get_column_letter(sheets.MAX_COLUMNS + 1)
    path = write_workbook(tmp_path / "wide.xlsx", {
        "Wide": {"A1": "left", f"{last}1": "edge", f"{beyond}1": "dropped", "A2": "next"},
    })
    result = extract(path, CAP)
    assert spans(result) == [("left | edge\nnext", 1, 2)]
    assert result.truncated


def test_xlsx_sheet_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_workbook(tmp_path / "many.xlsx", {
        "One": {"A1": "one"}, "Two": {"A1": "two"}, "Three": {"A1": "three"},
    })
    monkeypatch.setattr(sheets, "MAX_SHEETS", 2)
    result = extract(path, CAP)
    assert [p.heading for p in result.pieces] == [("One",), ("Two",)]
    assert result.truncated


def test_xlsx_scanned_cells_are_capped_per_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = {f"A{row}": f"a{row}" for row in range(1, 31)} | {f"E{row}": "e" for row in
                                                             range(1, 31)}
    path = write_workbook(tmp_path / "cells.xlsx", {"S": rows, "T": {"A1": "later"}})
    monkeypatch.setattr(sheets, "MAX_CELLS", 5 * 12)  # 12 rows of 5 positions
    result = extract(path, CAP)
    assert result.truncated
    assert result.pieces[-1].line_end == 12
    assert all(p.heading == ("S",) for p in result.pieces)


def test_xlsx_line_range_stops_at_last_row_with_text(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "gaps.xlsx", {"S": {"A2": "two", "A4": "four"}})
    from openpyxl import load_workbook

    workbook = load_workbook(str(path))
    workbook["S"]["A9"].number_format = "0.00"  # a styled, empty cell further down
    workbook.save(str(path))
    assert spans(extract(path, CAP)) == [("two\nfour", 2, 4)]


def test_csv_trailing_empty_rows_are_not_in_the_range(tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    path.write_text("x,y\n,\n,\n,\n", encoding="utf-8")
    assert spans(extract(path, CAP)) == [("x | y", 1, 1)]


def test_csv_line_range_is_file_lines_not_record_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('name,note\nann,"line one\nline two\nline three"\nbob,x\n', encoding="utf-8")
    monkeypatch.setattr(sheets, "ROWS_PER_PIECE", 1)
    assert spans(extract(path, CAP)) == [
        ("name | note", 1, 1),
        ("ann | line one line two line three", 2, 4),
        ("bob | x", 5, 5),
    ]


def test_csv_long_cell_is_cut_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "longcell.csv"
    path.write_text("id,payload\n1," + "x" * 200_000 + "\n2,short\n3,also short\n",
                    encoding="utf-8")
    limit_before = csv.field_size_limit()
    result = extract(path, 1_000_000)
    assert csv.field_size_limit() == limit_before  # the process-wide limit is restored
    assert result.status == EXTRACTED
    assert result.truncated
    lines = result.pieces[0].text.split("\n")
    assert lines[1] == "1 | " + "x" * sheets.MAX_CELL_CHARS
    assert lines[3] == "3 | also short"
    assert (result.pieces[0].line_start, result.pieces[0].line_end) == (1, 4)
