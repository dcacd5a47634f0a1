"""The part-level fast paths (``bot.backends.xlsx_parts``) against the openpyxl path, cell by cell.

Each fast path runs side by side with the openpyxl path on the sample units' workbooks and on
randomly filled ones (values, percentages, text that looks like a formula, formulas, dates,
inserted list rows, long names that wrap on the cover, carried values, approval locks); what
the bot reads and what a unit sees must be the same.
"""

from __future__ import annotations

import random
import shutil
import zipfile
from datetime import datetime

import openpyxl
import pytest

from bot.backends import xlsx_parts
from bot.backends.workbook import WorkbookBackend, build_workbook, load_for_edit, read_with_openpyxl
from bot.layout import build_layout
from bot.units import Unit

KINDS = {"so_nganh": "Sở", "huyen": "UBND huyện", "xa": "UBND xã", "nganh_doc": "Chi cục"}


def typed(grids):
    """Grids with each value's type, so 7 and 7.0, "=x" and Text("=x") differ."""
    return {name: [[(type(v).__name__, v) for v in row] for row in rows] for name, rows in grids.items()}


def trimmed(grids):
    """Typed grids without their empty margins. openpyxl's edit path declares a larger sheet
    dimension (it counts the cells under merges), so its grids have more empty cells."""
    out = {}
    for name, rows in typed(grids).items():
        rows = [row[: max((i + 1 for i, (_, v) in enumerate(row) if v is not None), default=0)] for row in rows]
        while rows and not rows[-1]:
            rows.pop()
        out[name] = rows
    return out


def random_unit(rng: random.Random, i: int) -> Unit:
    kind = rng.choice(sorted(KINDS))
    name = f"{KINDS[kind]} {'Phường Hòa Bình Đông ' * rng.randint(1, 6)}{i}"  # long names wrap on the cover
    return Unit(f"U{i}", name, kind, (), ())


def provision_with_openpyxl(backend: WorkbookBackend, layout) -> str:
    ref = backend.allocate(layout.title, {"unit": layout.unit_code, "period": layout.period_id})
    backend.lay_out(ref, layout)
    return ref.id


def random_value(rng: random.Random, spec):
    pick = rng.random()
    if pick < 0.4:
        return rng.randint(0, 5000), None
    if pick < 0.55:
        return round(rng.uniform(0, 1), 4), "0.0%"  # "45,5%" typed into a number cell
    if pick < 0.7:
        return rng.uniform(0, 1e6), None
    if pick < 0.8:
        return rng.choice(["có", "  khoảng trắng  ", "dòng 1\ndòng 2", "Tiếng Việt: ưởng đầy đủ"]), None
    if pick < 0.85:
        return "=không phải công thức", "text"
    if pick < 0.9:
        return datetime(2026, rng.randint(1, 12), rng.randint(1, 28)), "DD/MM/YYYY"
    if pick < 0.95:
        return f"=SUM({spec.a1}:{spec.a1})*0+{rng.randint(1, 9)}", None
    return True, None


def fill_randomly(path: str, layout, rng: random.Random) -> None:
    """A clerk in a spreadsheet program: values of every kind, and sometimes inserted rows."""
    wb = load_for_edit(path)
    for spec in layout.fields.values():
        if not spec.input or rng.random() < 0.4:
            continue
        value, fmt = random_value(rng, spec)
        cell = wb[spec.tab].cell(row=spec.row, column=spec.col)
        cell.value = value
        if fmt == "text":
            cell.data_type = "s"
        elif fmt:
            cell.number_format = fmt
    for block in layout.blocks:
        if block.kind == "table" and rng.random() < 0.3:
            insert_row(wb[block.tab], block.last_row)
    wb.save(path)


def insert_row(ws, row: int) -> None:
    """A line inserted above ``row`` as Excel inserts it: merges below move down with it
    (openpyxl's ``insert_rows`` leaves them where they were)."""
    ws.insert_rows(row)
    for merged in ws.merged_cells.ranges:
        if merged.min_row >= row:
            merged.shift(row_shift=1)
        elif merged.max_row >= row:
            merged.expand(down=1)


@pytest.fixture(scope="module")
def random_workbooks(tmp_path_factory, schema):
    """Twelve randomly filled workbooks of every unit kind (and their layouts)."""
    from bot.periods import parse_period

    period = parse_period("2026-Q1", schema)
    backend = WorkbookBackend(tmp_path_factory.mktemp("random") / "sheets")
    rng = random.Random(13)
    made = []
    for i in range(12):
        layout = build_layout(schema, random_unit(rng, i), period)
        path = provision_with_openpyxl(backend, layout)
        if i % 4:
            fill_randomly(path, layout, rng)
        made.append((path, layout))
    return made


def test_it_reads_random_workbooks_exactly_as_openpyxl_does(random_workbooks):
    for path, _ in random_workbooks:
        assert typed(xlsx_parts.read_grids(path)) == typed(read_with_openpyxl(path))


def test_it_reads_the_sample_workbook_exactly_as_openpyxl_does(workbook):
    backend, ref, _ = workbook
    assert typed(xlsx_parts.read_grids(ref.id)) == typed(read_with_openpyxl(ref.id))


def test_it_hands_a_workbook_it_cannot_be_sure_of_to_openpyxl(workbook, tmp_path):
    from openpyxl.worksheet.formula import ArrayFormula

    backend, ref, layout = workbook
    wb = openpyxl.load_workbook(ref.id)
    spec = next(s for s in layout.fields.values() if s.input and s.tab != "Bìa")
    wb[spec.tab][spec.a1] = ArrayFormula(spec.a1, "=SUM(A1:A2)")  # not a structure the bot writes
    odd = tmp_path / "odd.xlsx"
    wb.save(odd)
    before = xlsx_parts.FALLBACKS["read"]
    with pytest.raises(xlsx_parts.Unsure):
        xlsx_parts.read_grids(odd)
    grids = backend.read(type(ref)(str(odd), ""))
    assert isinstance(grids[spec.tab][spec.row - 1][spec.col - 1], ArrayFormula)
    assert xlsx_parts.FALLBACKS["read"] == before + 1


def copy_of(path, tmp_path, name):
    target = tmp_path / name
    shutil.copy(path, target)
    return str(target)


def seen(path) -> dict:
    """What a unit sees in a workbook, as openpyxl loads it: values, formats, merges, links,
    protection, validation, widths and heights, tabs and tags."""
    wb = openpyxl.load_workbook(path)
    out = {"tabs": wb.sheetnames, "tags": {p.name: p.value for p in wb.custom_doc_props.props},
           "title": wb.properties.title, "structure_locked": bool(wb.security and wb.security.lockStructure)}
    for ws in wb.worksheets:
        blank = None
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                look = cell_look(c)
                blank = blank or cell_look(ws.cell(row=1048576, column=1))
                if look != blank:
                    cells[c.coordinate] = look
        p = ws.protection
        out[ws.title] = {
            "cells": cells,
            "merges": sorted(str(r) for r in ws.merged_cells.ranges),
            "links": sorted((h.ref, h.location, h.target) for h in ws._hyperlinks),
            "protection": (p.sheet, p.insertRows, p.formatColumns, p.formatRows, p.deleteRows),
            "validations": sorted((v.type, v.operator, v.formula1, v.formula2, str(v.sqref), v.error, v.errorStyle)
                                  for v in ws.data_validations.dataValidation),
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.customWidth},
            "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
            "print": (ws.page_setup.orientation, ws.page_setup.paperSize, ws.page_setup.fitToWidth,
                      ws.sheet_properties.pageSetUpPr.fitToPage, ws.print_options.horizontalCentered),
        }
    return out


def cell_look(c) -> tuple:
    f, b, a = c.font, c.border, c.alignment
    # an absent flag and a flag written as false look the same (LibreOffice writes them out)
    return (c.value, c.data_type, bool(f.b), bool(f.i), f.sz, f.u, f.color.rgb if f.color else None,
            c.fill.fill_type, c.fill.fgColor.rgb, tuple(getattr(b, s).style for s in ("left", "right", "top", "bottom")),
            bool(a.wrap_text), a.horizontal, a.vertical, c.number_format, c.protection.locked, bool(c.quotePrefix))


def with_openpyxl(path: str, edits) -> None:
    from bot.backends.workbook import _apply

    wb = load_for_edit(path)
    for edit in edits:
        _apply(wb, edit)
    wb.save(path)


def fast(path: str, edits) -> None:
    target = path + ".new"
    xlsx_parts.apply_edits(path, target, edits)
    shutil.move(target, path)


def feedback_for(path: str, layout, schema, rng: random.Random, approval: str | None):
    """The edits a check makes: cover status, the "Kiểm tra" tab (findings linked to their
    cells), and the locks of an approval or a return."""
    from bot.backends.base import Protect, input_cells
    from bot.completeness import STATE_LABELS, completeness
    from bot.document import extract
    from bot.feedback import feedback_edits
    from bot.report import report_from_document
    from jobs.check import check_reports, section_title

    report, read_findings = report_from_document(extract(layout, read_with_openpyxl(path)), schema, layout.unit_kind)
    findings = check_reports(schema, [report], {report.unit: read_findings})[report.unit]
    state = rng.choice(sorted(STATE_LABELS))
    titles = {s.id: section_title(s) for s in schema.sections}
    edits = feedback_edits(layout, STATE_LABELS[state], completeness(schema, report), findings, titles,
                           datetime(2026, 3, rng.randint(1, 28), 9, 30), rng.choice([None, "Cần bổ sung số liệu"]))
    if approval == "approved":
        edits.append(Protect(whole=True))
    elif approval == "returned":
        edits.append(Protect(whole=False, input_cells=input_cells(layout)))
    return edits


@pytest.mark.parametrize("approval", [None, "approved", "returned"])
def test_it_writes_feedback_as_openpyxl_does(random_workbooks, schema, tmp_path, approval):
    rng = random.Random(f"feedback {approval}")
    for i, (path, layout) in enumerate(random_workbooks):
        edits = feedback_for(path, layout, schema, rng, approval)
        reference, candidate = copy_of(path, tmp_path, f"a{i}.xlsx"), copy_of(path, tmp_path, f"b{i}.xlsx")
        with_openpyxl(reference, edits)
        fast(candidate, edits)
        assert seen(candidate) == seen(reference)
        assert trimmed(read_with_openpyxl(candidate)) == trimmed(read_with_openpyxl(reference))
        assert typed(xlsx_parts.read_grids(candidate)) == typed(read_with_openpyxl(candidate))
        again = feedback_for(candidate, layout, schema, rng, approval)  # a second check over the first
        with_openpyxl(reference, again)
        fast(candidate, again)
        assert seen(candidate) == seen(reference)


def test_it_adds_no_cell_format_when_the_same_feedback_is_written_twice(workbook, schema, tmp_path):
    backend, ref, layout = workbook
    edits = feedback_for(ref.id, layout, schema, random.Random(1), None)
    fast(ref.id, edits)
    size = len(zipfile.ZipFile(ref.id).read("xl/styles.xml"))
    fast(ref.id, edits)
    assert len(zipfile.ZipFile(ref.id).read("xl/styles.xml")) == size


def test_it_writes_feedback_through_the_backend_without_openpyxl(workbook, schema):
    backend, ref, layout = workbook
    before = xlsx_parts.FALLBACKS["write"]
    backend.write(ref, feedback_for(ref.id, layout, schema, random.Random(2), "approved"))
    assert xlsx_parts.FALLBACKS["write"] == before
    assert seen(ref.id)["Kiểm tra"]["cells"]["A1"][0] == "KẾT QUẢ KIỂM TRA BÁO CÁO"


def test_it_provisions_from_a_template_what_openpyxl_builds(schema, tmp_path):
    """Units of every kind, long names that wrap on the cover, values carried from a last report."""
    from bot.periods import parse_period

    period = parse_period("2026-Q1", schema)
    rng = random.Random(7)
    backend = WorkbookBackend(tmp_path / "fast")
    before = xlsx_parts.FALLBACKS["lay_out"]
    for i in range(16):
        unit = random_unit(rng, i)
        plain = build_layout(schema, unit, period)
        carried = {key: random_value(rng, spec)[0] for key, spec in plain.fields.items()
                   if spec.input and spec.type != "narrative" and rng.random() < 0.3 and i % 2}
        carried = {k: v for k, v in carried.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)
                   and not str(v).startswith("=")}
        layout = build_layout(schema, unit, period, prefill=carried)
        path = provision_with_openpyxl(backend, layout)  # through the backend: the fast path
        expected = tmp_path / f"expected{i}.xlsx"
        build_workbook(layout).save(expected)
        assert seen(path) == seen(expected)
        assert typed(read_with_openpyxl(path)) == typed(read_with_openpyxl(expected))
        assert typed(xlsx_parts.read_grids(path)) == typed(read_with_openpyxl(expected))
    assert xlsx_parts.FALLBACKS["lay_out"] == before


def test_it_keeps_one_units_carried_values_out_of_another_units_layout(schema):
    """Section tabs are laid out once per unit kind and shared: carried values must not leak."""
    from bot.periods import parse_period

    period = parse_period("2026-Q1", schema)
    first = build_layout(schema, Unit("A", "Sở A", "so_nganh", (), ()), period)
    key, spec = next((k, s) for k, s in first.fields.items() if s.input and s.tab != "Bìa")
    carried = build_layout(schema, Unit("B", "Sở B", "so_nganh", (), ()), period, prefill={key: 42})
    later = build_layout(schema, Unit("C", "Sở C", "so_nganh", (), ()), period)
    assert carried.tab(spec.tab).cells[(spec.row, spec.col)].value == 42
    assert first.tab(spec.tab).cells[(spec.row, spec.col)].value is None
    assert later.tab(spec.tab).cells[(spec.row, spec.col)].value is None
    assert later.tab("Bìa").cells[(5, 2)].value == "C" and first.tab("Bìa").cells[(5, 2)].value == "A"


@pytest.fixture
def master_ctx(provisioned):
    return provisioned("code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nH_A,UBND huyện A,huyen,,\nX_B,UBND xã B,xa,,\n")


def type_and_poll(ctx, code, values):
    from jobs.poll import poll

    from .conftest import type_into

    period = ctx.period("2026-Q1")
    path = ctx.store.sheet(code, period.id).sheet_id
    type_into(path, build_layout(ctx.schema, ctx.unit_by_code[code], period), values)
    ctx.store.set_poll_mark(code, period.id, None, None)  # forget the last read: the file changed
    poll(ctx, period)


def parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_it_writes_the_master_as_openpyxl_does(master_ctx, tmp_path):
    from bot.master import master_layout
    from jobs.compile import compile, gather

    period = master_ctx.period("2026-Q1")
    type_and_poll(master_ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 4, "i1_chi_dao": "=không chạy"})
    compile(master_ctx, period)
    type_and_poll(master_ctx, "H_A", {"t_tinh_gian/cong_chuc/de_nghi": 2})
    before = xlsx_parts.FALLBACKS["write"]
    path = compile(master_ctx, period).removeprefix("file://")  # the tabs whose values changed
    assert xlsx_parts.FALLBACKS["write"] == before
    expected = tmp_path / "expected.xlsx"
    build_workbook(master_layout(gather(master_ctx, period), period)).save(expected)
    got, want = seen(path), seen(expected)
    for tab in want["tabs"]:  # the subtitle holds the minute it was compiled
        got[tab]["cells"].pop("A2"), want[tab]["cells"].pop("A2")
    assert got == want
    assert trimmed(xlsx_parts.read_grids(path)).keys() == trimmed(read_with_openpyxl(expected)).keys()


def test_it_rewrites_only_the_master_tabs_whose_values_changed(master_ctx):
    from jobs.compile import compile

    period = master_ctx.period("2026-Q1")
    type_and_poll(master_ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 4})
    path = compile(master_ctx, period).removeprefix("file://")
    first = parts(path)
    master_ctx.store.set_setting(f"master:{period.id}", "")  # compiled again, with the same values
    compile(master_ctx, period)
    assert parts(path) == first  # nothing in it changed: the file stays as it is
    type_and_poll(master_ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 9})
    compile(master_ctx, period)
    second = parts(path)
    changed = [name for name in first if name.startswith("xl/worksheets/") and first[name] != second[name]]
    assert changed and len(changed) < len([n for n in first if n.startswith("xl/worksheets/")]) / 2


def test_it_rewrites_a_whole_master_as_openpyxl_does(master_ctx, tmp_path):
    from openpyxl.packaging.custom import StringProperty

    from bot.backends.base import ReplaceTab, SheetRef
    from bot.backends.workbook import render_tab
    from bot.master import master_layout
    from jobs.compile import compile, gather

    period = master_ctx.period("2026-Q1")
    type_and_poll(master_ctx, "X_B", {"t_tinh_gian/cong_chuc/de_nghi": 3, "i1_chi_dao": "  Xã đã làm  "})
    path = compile(master_ctx, period).removeprefix("file://")
    tabs = master_layout(gather(master_ctx, period), period).tabs
    backend = WorkbookBackend(master_ctx.config.sheets_dir)
    tags = backend.tags(path)
    before = xlsx_parts.FALLBACKS["rewrite"]
    backend.write(SheetRef(path, ""), [ReplaceTab(tab) for tab in tabs])
    assert xlsx_parts.FALLBACKS["rewrite"] == before
    wb = openpyxl.Workbook()  # what the openpyxl path (WorkbookBackend._rewrite) builds
    wb.remove(wb.active)
    for tab in tabs:
        render_tab(wb.create_sheet(tab.name), tab)
    for key, value in tags.items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    wb.save(tmp_path / "expected.xlsx")
    assert seen(path) == seen(tmp_path / "expected.xlsx")
    assert typed(xlsx_parts.read_grids(path)) == typed(read_with_openpyxl(tmp_path / "expected.xlsx"))
