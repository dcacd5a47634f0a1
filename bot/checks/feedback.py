"""What a unit sees of a check inside its own workbook: the "Kiểm tra" tab and the cover status.

Feedback only ever touches cells the bot owns (a tab of its own and three cover cells), so
it can never overwrite what a unit typed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from bot.checks.completeness import percent_filled
from bot.checks.report import SEVERITIES, SEVERITY_LABELS, Finding
from bot.outline.layout import (
    CHECK_TAB,
    COVER_TAB,
    LINE_HEIGHT,
    CellSpec,
    TabLayout,
    WorkbookLayout,
    fit_row_heights,
    wrapped_lines,
)
from bot.sheets.backends.base import ReplaceTab, SetCells

HEADERS = ("Mức độ", "Bảng", "Dòng", "Cột", "Ô", "Nội dung")
WIDTHS = (11, 28, 28, 24, 10, 70)


def feedback_hash(state_label: str, completeness, findings: list[Finding], comment: str | None) -> str:
    """Changes only when what the unit would read changes (not with the time of the check)."""
    text = json.dumps(
        [
            state_label,
            completeness.filled,
            completeness.required,
            sorted((f.severity, f.cell or "", f.message) for f in findings),
            comment or "",
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def feedback_edits(
    layout: WorkbookLayout,
    state_label: str,
    completeness,
    findings: list[Finding],
    section_titles: dict[str, str],
    checked_at: datetime,
    comment: str | None = None,
) -> list:
    """The edits that bring the unit's workbook up to date with this check."""
    cover = {}
    for key, value in (
        ("state", state_label),
        ("checked_at", f"{checked_at:%H:%M %d/%m/%Y}"),
        ("comment", comment or ""),
    ):
        spec = layout.fields[f"_cover/{key}"]
        cover[(spec.row, spec.col)] = value
    tab = check_tab(state_label, completeness, findings, section_titles, checked_at)
    return [SetCells(COVER_TAB, cover), ReplaceTab(tab)]


def check_tab(
    state_label: str,
    completeness,
    findings: list[Finding],
    section_titles: dict[str, str],
    checked_at: datetime,
) -> TabLayout:
    tab = TabLayout(name=CHECK_TAB, landscape=True, col_widths=dict(enumerate(WIDTHS, start=1)))
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    lines = [
        ("KẾT QUẢ KIỂM TRA BÁO CÁO", "title"),
        (f"Thời điểm kiểm tra: {checked_at:%H:%M ngày %d/%m/%Y}", "text"),
        (f"Tình trạng: {state_label}", "status"),
        (
            f"Mức độ hoàn thành: {completeness.filled}/{completeness.required} ô bắt buộc "
            f"({_percent(completeness.filled, completeness.required)})",
            "text",
        ),
        (f"Số lỗi: {errors}; số cảnh báo: {warnings}", "text"),
    ]
    for row, (text, style) in enumerate(lines, start=1):
        tab.put(row, 1, CellSpec(text, style=style))
        tab.merges.append((row, 1, row, len(HEADERS)))
    row = len(lines) + 2
    _findings_heading(tab, row, findings)
    _completeness_table(tab, row + len(findings) + 2, completeness, section_titles)
    fit_row_heights(tab)  # all but the findings' rows, which fit themselves as they are filled
    _findings_rows(tab, row + 1, findings)
    return tab


def _findings_heading(tab: TabLayout, row: int, findings: list[Finding]) -> None:
    if not findings:
        tab.put(row, 1, CellSpec("Không phát hiện lỗi nào.", style="status"))
    for col, text in enumerate(HEADERS if findings else (), start=1):
        tab.put(row, col, CellSpec(text, style="header"))


def _findings_rows(tab: TabLayout, row: int, findings: list[Finding]) -> None:
    ordered = sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.cell or ""))
    cells, heights = tab.cells, tab.row_heights  # ~70 findings × 6 cells a unit: filled directly
    spec = CellSpec  # positional (value, formula, style, input, validation, link): half the cost
    w1, w2, w3, w4, w5, w6 = WIDTHS
    for i, f in enumerate(ordered, start=row):
        style = "error" if f.severity == "error" else "warning"
        label = SEVERITY_LABELS.get(f.severity, f.severity)
        table, line, column = f.table_label or "", f.row_label or "", f.column_label or ""
        a1, message = (f.cell or "").rpartition("!")[2], f.message
        cells[(i, 1)] = spec(label, None, style)
        cells[(i, 2)] = spec(table, None, style)
        cells[(i, 3)] = spec(line, None, style)
        cells[(i, 4)] = spec(column, None, style)
        if f.cell:
            cells[(i, 5)] = spec(a1, None, "link", False, None, _link_target(f.cell))
        else:
            cells[(i, 5)] = spec(a1, None, style)
        cells[(i, 6)] = spec(message, None, style)
        # the height fit_row_heights would give the row (none of its cells merged or one-line)
        lines = max(
            wrapped_lines(label, w1) if label else 0,
            wrapped_lines(table, w2) if table else 0,
            wrapped_lines(line, w3) if line else 0,
            wrapped_lines(column, w4) if column else 0,
            wrapped_lines(a1, w5) if a1 else 0,
            wrapped_lines(message, w6) if message else 0,
        )
        if lines:
            heights[i] = lines * LINE_HEIGHT


def _completeness_table(tab: TabLayout, row: int, completeness, section_titles: dict[str, str]) -> None:
    """Per section: the share of required cells filled (the section's name spans columns 2–4)."""
    for i, (section, (filled, required)) in enumerate(
        [(None, (0, 0)), *completeness.by_section.items()], start=row
    ):
        header = section is None
        values = (
            ("Tỷ lệ", "Phần", "Đã nhập / cần nhập")
            if header
            else (_percent(filled, required), section_titles.get(section, section), f"{filled}/{required}")
        )
        for col, value in zip((1, 2, 5), values, strict=True):
            tab.put(i, col, CellSpec(value, style="header" if header else "label"))
        for col in (3, 4):
            tab.put(i, col, CellSpec(None, style="header" if header else "label"))
        tab.merges.append((i, 2, i, 4))


def _percent(filled: int, required: int) -> str:
    return f"{percent_filled(filled, required)}%"


def _link_target(cell: str) -> str:
    tab, _, a1 = cell.rpartition("!")
    return f"{tab.strip(chr(39))}!{a1}"
