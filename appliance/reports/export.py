"""A report table as CSV (UTF-8 with a BOM and ``;``, so Excel opens
Cyrillic right; a text a spreadsheet would run as a formula behind a ``'``,
numbers as they are) or XLSX (through XlsxWriter: one sheet, bold header
row, numbers stored as numbers, text always stored as text)."""
from __future__ import annotations

import csv
import io
import re

import xlsxwriter

from appliance.base.upload import export_cell

SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def to_csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([export_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else export_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def sheet_name(title: str) -> str:
    return (SHEET_BAD.sub(" ", title).strip() or "Report")[:31]


def to_xlsx(header: list[str], rows: list[list], title: str = "Report") -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(sheet_name(title))
    bold = book.add_format({"bold": True})
    for r, row in enumerate([header] + rows):
        for c, value in enumerate(row):
            style = bold if r == 0 else None
            if value is None or value == "":
                continue
            if isinstance(value, (bool, int, float)):
                sheet.write_number(r, c, int(value) if isinstance(value, bool) else value, style)
            else:
                # always as text: a caller's "=..." must never become a formula
                sheet.write_string(r, c, XML_BAD.sub("", str(value)), style)
    book.close()
    return out.getvalue()
