"""Shared by the intake and portal tests: a clerk's file, filled as a spreadsheet program would."""

from __future__ import annotations

import io

import openpyxl

from bot.outline.layout import build_layout
from jobs.demo import correct_values

UNITS = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,vt@stp.example.vn,\n"
TWO_UNITS = UNITS + "SNV,Sở Nội vụ,so_nganh,vt@snv.example.vn,\n"
PERIOD = "2026-Q1"
# Two mistakes a clerk makes: a total that does not add up, and more approved than proposed.
TOTAL_KEY = "t_van_ban_dien_tu/don_vi[1]/vb_tong"
APPROVED_KEY = "t_tinh_gian/vien_chuc/phe_duyet"
MISTAKES = {TOTAL_KEY: 402, APPROVED_KEY: 5}


def fill(ctx, data: bytes, values: dict, code: str = "STP", props: dict | None = None) -> bytes:
    """``data`` (a workbook) with ``values`` typed in (field key → what the clerk types)."""
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for key, value in values.items():
        spec = layout.fields[key]
        wb[spec.tab].cell(row=spec.row, column=spec.col).value = value
    for prop in wb.custom_doc_props.props:
        if props and prop.name in props:
            prop.value = props[prop.name]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filled_report(ctx, code: str = "STP", mistakes: bool = False) -> dict:
    values = correct_values(ctx, code, 1)
    if mistakes:
        values.update(MISTAKES)
    return values


def cell_value(ctx, key: str, code: str = "STP"):
    """What the unit's current workbook holds at ``key``'s cell."""
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD))
    spec = layout.fields[key]
    wb = openpyxl.load_workbook(ctx.store.sheet(code, PERIOD).sheet_id)
    return wb[spec.tab].cell(row=spec.row, column=spec.col).value
