"""The part-level fast paths (``bot.sheets.backends.xlsx_parts``) against the openpyxl path, cell by cell.

Each fast path runs side by side with the openpyxl path on the sample units' workbooks and on
randomly filled ones (values, percentages, text that looks like a formula, formulas, dates,
inserted list rows, long names that wrap on the cover, carried values, approval locks); what
the bot reads and what a unit sees must be the same.
"""

from __future__ import annotations

import random
import re
import zipfile

import openpyxl
import pytest
from openpyxl import load_workbook

from bot.outline.layout import build_layout
from bot.outline.units import Unit
from bot.sheets.backends import xlsx_parts
from bot.sheets.backends.workbook import WorkbookBackend, build_workbook, read_with_openpyxl
from tests.workbook_compare import (
    KINDS,
    copy_of,
    fast,
    feedback_for,
    fill_randomly,
    provision_with_openpyxl,
    random_unit,
    random_value,
    seen,
    tags_with_openpyxl,
    trimmed,
    typed,
    with_openpyxl,
)

APPROVALS = [None, "approved", "returned"]


@pytest.fixture(scope="module")
def random_workbooks(tmp_path_factory, schema):
    """Twelve workbooks, three of each unit kind, the first of every four left blank and the
    others randomly filled (with their layouts). Every third of them, taken from the first,
    second or third on, holds each kind once and one blank workbook."""
    from bot.outline.periods import parse_period

    period = parse_period("2026-Q1", schema)
    backend = WorkbookBackend(tmp_path_factory.mktemp("random") / "sheets")
    rng = random.Random(13)
    made = []
    for i in range(12):
        layout = build_layout(schema, random_unit(rng, i, sorted(KINDS)[i % 4]), period)
        path = provision_with_openpyxl(backend, layout)
        if i % 4:
            fill_randomly(path, layout, rng)
        made.append((path, layout))
    return made


def test_it_reads_random_workbooks_exactly_as_openpyxl_does(random_workbooks):
    for path, layout in random_workbooks:
        assert typed(xlsx_parts.read_grids(path)) == typed(read_with_openpyxl(path))
        assert xlsx_parts.read_tags(path) == tags_with_openpyxl(path)
        assert xlsx_parts.read_tags(path)["unit"] == layout.unit_code
        assert xlsx_parts.read_sheet_names(path) == load_workbook(path, read_only=True).sheetnames


def test_it_reads_a_sheet_it_has_read_before_again_under_other_number_formats(tmp_path):
    """Two files whose sheet XML is the same byte for byte, but not their styles: 0.125 shown as
    a percentage is 12.5 to the bot, shown as a plain number it is 0.125."""
    paths = []
    for name, number_format in (("percent", "0.0%"), ("plain", "0.000")):
        wb = openpyxl.Workbook()
        wb.active["A1"] = 0.125
        wb.active["A1"].number_format = number_format
        wb.save(tmp_path / f"{name}.xlsx")
        paths.append(tmp_path / f"{name}.xlsx")
    sheet = "xl/worksheets/sheet1.xml"
    assert zipfile.ZipFile(paths[0]).read(sheet) == zipfile.ZipFile(paths[1]).read(sheet)
    assert [xlsx_parts.read_grids(p)["Sheet"][0][0] for p in paths] == [12.5, 0.125]
    assert [read_with_openpyxl(p)["Sheet"][0][0] for p in paths] == [12.5, 0.125]


def test_it_gives_each_reader_its_own_rows_of_a_sheet_read_before(workbook):
    _, ref, _ = workbook
    first = xlsx_parts.read_grids(ref.id)
    expected = typed(read_with_openpyxl(ref.id))
    for grid in first.values():
        for row in grid:
            row[:] = ["changed by the caller"] * len(row)
    assert typed(xlsx_parts.read_grids(ref.id)) == expected


def test_it_hands_tags_it_cannot_be_sure_of_to_openpyxl(workbook, tmp_path):
    from openpyxl.packaging.custom import IntProperty

    backend, ref, _ = workbook
    wb = openpyxl.load_workbook(ref.id)
    wb.custom_doc_props.append(IntProperty(name="lần", value=3))
    odd = tmp_path / "odd.xlsx"
    wb.save(odd)
    with pytest.raises(xlsx_parts.Unsure):
        xlsx_parts.read_tags(odd)
    assert backend.tags(odd)["lần"] == 3


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


@pytest.mark.parametrize("approval", APPROVALS)
def test_it_writes_feedback_as_openpyxl_does(random_workbooks, schema, tmp_path, approval):
    """Feedback without a decision, with an approval's lock and with a return's: each on a
    third of the random workbooks (every unit kind, blank and filled)."""
    rng = random.Random(f"feedback {approval}")
    for i, (path, layout) in enumerate(random_workbooks[APPROVALS.index(approval) :: len(APPROVALS)]):
        edits = feedback_for(path, layout, schema, rng, approval)
        reference, candidate = copy_of(path, tmp_path, f"a{i}.xlsx"), copy_of(path, tmp_path, f"b{i}.xlsx")
        with_openpyxl(reference, edits)
        fast(candidate, edits)
        assert seen(candidate) == seen(reference)
        grids = read_with_openpyxl(candidate)
        assert trimmed(grids) == trimmed(read_with_openpyxl(reference))
        assert typed(xlsx_parts.read_grids(candidate)) == typed(grids)
        again = feedback_for(candidate, layout, schema, rng, approval, grids)  # a second check over the first
        with_openpyxl(reference, again)
        fast(candidate, again)
        assert seen(candidate) == seen(reference)


def test_it_locks_a_workbook_approved_returned_and_approved_again_as_openpyxl_does(
    random_workbooks, schema, tmp_path
):
    path, layout = random_workbooks[1]
    rng = random.Random("approve, return, approve")
    reference, candidate = copy_of(path, tmp_path, "a.xlsx"), copy_of(path, tmp_path, "b.xlsx")
    for approval in ("approved", "returned", "approved"):
        edits = feedback_for(candidate, layout, schema, rng, approval)
        with_openpyxl(reference, edits)
        fast(candidate, edits)
        assert seen(candidate) == seen(reference), approval


def test_it_locks_a_whole_workbook_without_rewriting_the_sheets_protected_already(workbook):
    """The template's sheets are protected (their input cells unlocked): an approval locks
    every cell through the stylesheet and leaves those sheets' parts as they were."""
    from bot.sheets.backends.base import Protect

    backend, ref, layout = workbook
    with zipfile.ZipFile(ref.id) as z:
        sheets = {i.filename: (i.CRC, i.compress_size) for i in z.infolist() if "worksheets/" in i.filename}
        protected = {n for n in sheets if re.search(rb'<sheetProtection\b[^>]*\ssheet="1"', z.read(n))}
    assert protected, "the template protects its sheets"
    fast(ref.id, [Protect(whole=True)])
    with zipfile.ZipFile(ref.id) as z:
        after = {i.filename: (i.CRC, i.compress_size) for i in z.infolist() if "worksheets/" in i.filename}
    assert {n: after[n] for n in protected} == {n: sheets[n] for n in protected}
    wb = load_workbook(ref.id)
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert not [
        c.coordinate for ws in wb.worksheets for row in ws.iter_rows() for c in row if not c.protection.locked
    ]


def test_it_adds_no_cell_format_when_the_same_feedback_is_written_twice(workbook, schema, tmp_path):
    backend, ref, layout = workbook
    edits = feedback_for(ref.id, layout, schema, random.Random(1), None)
    fast(ref.id, edits)
    size = len(zipfile.ZipFile(ref.id).read("xl/styles.xml"))
    fast(ref.id, edits)
    assert len(zipfile.ZipFile(ref.id).read("xl/styles.xml")) == size


def test_it_writes_the_same_workbook_from_remembered_formats_as_from_a_parsed_stylesheet(
    workbook, schema, tmp_path, monkeypatch
):
    from bot.sheets.backends.xlsx_parts import styles

    backend, ref, layout = workbook
    edits = feedback_for(ref.id, layout, schema, random.Random(3), None)
    copies = [copy_of(ref.id, tmp_path, f"{name}.xlsx") for name in ("first", "second", "afresh")]
    fast(copies[0], edits)  # learns the answers for this stylesheet
    parsed = []
    monkeypatch.setattr(styles.etree, "fromstring", _counting(styles.etree.fromstring, parsed))
    fast(copies[1], edits)  # from what the first write learnt
    assert parsed == []  # the stylesheet was not parsed again
    monkeypatch.undo()
    styles._ANSWERS.clear()
    styles._TEXTS.clear()
    fast(copies[2], edits)  # parsed afresh
    parts = [_parts(path) for path in copies]
    assert parts[1] == parts[2] and parts[0] == parts[2]


def _counting(parse, calls: list):
    def counted(xml, *args, **kwargs):
        if b"<styleSheet" in xml[:400]:
            calls.append(len(xml))
        return parse(xml, *args, **kwargs)

    return counted


def _parts(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist() if name != "docProps/core.xml"}


def test_it_writes_feedback_through_the_backend_without_openpyxl(workbook, schema):
    backend, ref, layout = workbook
    before = xlsx_parts.FALLBACKS["write"]
    backend.write(ref, feedback_for(ref.id, layout, schema, random.Random(2), "approved"))
    assert xlsx_parts.FALLBACKS["write"] == before
    assert seen(ref.id)["Kiểm tra"]["cells"]["A1"][0] == "KẾT QUẢ KIỂM TRA BÁO CÁO"


def test_it_provisions_from_a_template_what_openpyxl_builds(schema, tmp_path):
    """Units of every kind, long names that wrap on the cover, values carried from a last report."""
    from bot.outline.periods import parse_period

    period = parse_period("2026-Q1", schema)
    rng = random.Random(7)
    backend = WorkbookBackend(tmp_path / "fast")
    before = xlsx_parts.FALLBACKS["lay_out"]
    for i in range(16):
        unit = random_unit(rng, i)
        plain = build_layout(schema, unit, period)
        carried = {
            key: random_value(rng, spec)[0]
            for key, spec in plain.fields.items()
            if spec.input and spec.type != "narrative" and rng.random() < 0.3 and i % 2
        }
        carried = {
            k: v
            for k, v in carried.items()
            if isinstance(v, (int, float, str)) and not isinstance(v, bool) and not str(v).startswith("=")
        }
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
    from bot.outline.periods import parse_period

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
    return provisioned(
        "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nH_A,UBND huyện A,huyen,,\nX_B,UBND xã B,xa,,\n"
    )


def type_and_poll(ctx, code, values):
    from jobs.poll import poll
    from tests.helpers import type_into

    period = ctx.period("2026-Q1")
    path = ctx.store.sheet(code, period.id).sheet_id
    type_into(path, build_layout(ctx.schema, ctx.unit_by_code[code], period), values)
    ctx.store.set_poll_mark(code, period.id, None, None)  # forget the last read: the file changed
    poll(ctx, period)


def parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_it_writes_the_master_as_openpyxl_does(master_ctx, tmp_path):
    from bot.reporting.gather import gather
    from bot.reporting.master_layout import master_layout
    from jobs.compile import compile

    period = master_ctx.period("2026-Q1")
    type_and_poll(master_ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 4, "i1_chi_dao": "=không chạy"})
    compile(master_ctx, period)
    type_and_poll(
        master_ctx, "H_A", {"t_tinh_gian/cong_chuc/de_nghi": 2, "i1_chi_dao": "- Đã ban hành kế hoạch"}
    )
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

    from bot.reporting.gather import gather
    from bot.reporting.master_layout import master_layout
    from bot.sheets.backends.base import ReplaceTab, SheetRef
    from bot.sheets.backends.workbook import render_tab
    from jobs.compile import compile

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


@pytest.mark.parametrize(
    "xml, found",
    [
        (
            b'<worksheet><sheetData><row r="1"/></sheetData><x/></worksheet>',
            b'<sheetData><row r="1"/></sheetData>',
        ),
        (b"<worksheet><sheetData/><x/></worksheet>", b"<sheetData/>"),
        (b'<worksheet><sheetData\n a="1"></sheetData></worksheet>', b'<sheetData\n a="1"></sheetData>'),
        (b"<worksheet><sheetDataX/></worksheet>", None),
        (b"<worksheet><sheetData><row/></worksheet>", None),
    ],
)
def test_it_finds_the_cells_of_a_sheet_it_locks_whole_or_says_it_is_unsure(xml, found):
    from bot.sheets.backends.xlsx_parts.sheets import _sheet_data_span

    span = _sheet_data_span(xml)
    assert (xml[span[0] : span[1]] if span else None) == found


def test_it_stores_a_replaced_part_as_zipfile_itself_would(workbook, tmp_path):
    """The zip writer deflates replaced parts itself (with ISA-L, not zlib): the package must
    hold what ``ZipFile.writestr`` would store, entry for entry (name, sizes, checksum, flags,
    order), with local headers that agree with the central directory, every part inflating to
    its text, the other parts copied as stored."""
    import struct

    from bot.sheets.backends.xlsx_parts.zip_writer import COMPRESS_LEVEL, write_package

    _, ref, _ = workbook
    name = "xl/worksheets/sheet1.xml"
    replaced = {name: b"<worksheet>" + "Kiểm tra ".encode() * 5000 + b"</worksheet>"}
    ours = tmp_path / "ours.xlsx"
    write_package(ref.id, ours, replaced)

    expected = tmp_path / "zipfile.xlsx"
    with zipfile.ZipFile(ref.id) as src, zipfile.ZipFile(expected, "w") as dst:
        for info in src.infolist():
            if info.filename in replaced:
                fresh = zipfile.ZipInfo(info.filename, info.date_time)
                fresh.compress_type, fresh.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
                dst.writestr(fresh, replaced[info.filename], compresslevel=COMPRESS_LEVEL)
            else:
                dst.writestr(info, src.read(info.filename), compresslevel=COMPRESS_LEVEL)
    data = ours.read_bytes()
    with zipfile.ZipFile(ours) as got, zipfile.ZipFile(expected) as want:
        assert got.testzip() is None  # every part inflates, with the checksum its entry gives
        assert [i.filename for i in got.infolist()] == [i.filename for i in want.infolist()]
        for a, b in zip(got.infolist(), want.infolist(), strict=True):
            assert got.read(a) == want.read(b)
            fields = ("CRC", "file_size", "flag_bits", "compress_type", "external_attr", "date_time")
            assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], a.filename
            # the local header (APPNOTE 4.3.7) says what the central directory says
            header = struct.unpack("<4s5H3L2H", data[a.header_offset : a.header_offset + 30])
            assert header[0] == zipfile.stringFileHeader
            assert header[2:4] == (a.flag_bits, a.compress_type), a.filename
            assert header[6:9] == (a.CRC, a.compress_size, a.file_size), a.filename
            assert data[a.header_offset + 30 : a.header_offset + 30 + header[9]] == a.filename.encode()
        # each part's bytes end where the next part (or the central directory) begins: a reader
        # that streams the file, not seeking by the directory, finds every part
        ends = [
            i.header_offset + 30 + len(i.filename.encode()) + len(i.extra) + i.compress_size
            for i in got.infolist()
        ]
        starts = [i.header_offset for i in got.infolist()[1:]] + [got.start_dir]
        assert ends == starts
        assert got.getinfo(name).compress_size < len(replaced[name]) / 10  # deflated, not stored
