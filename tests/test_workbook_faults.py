"""One unit's odd workbook never stops the others, and a clerk's save is never lost (issue 9, 16–24)."""

from __future__ import annotations

import os
import shutil
import unicodedata

import openpyxl
import pytest

import bot.sheets.backends.workbook as workbook_backend
from bot.checks.report import report_from_document, report_from_json
from bot.outline.layout import COVER_TAB, build_layout
from bot.sheets.backends import xlsx_parts
from bot.sheets.backends.base import SetCells
from bot.sheets.backends.workbook import TEMP_PREFIX, WorkbookBackend, sweep_stale_temp_files
from bot.sheets.document import extract
from jobs.approve import decide
from jobs.check import check
from jobs.poll import poll
from tests.helpers import type_into

UNITS = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nSYT,Sở Y tế,so_nganh,,\n"
COUNT = "t_to_chuc_bo_may/phong_ban/bao_cao"
E_DOCS = "t_van_ban_dien_tu/don_vi[1]/vb_tong"


@pytest.fixture
def ctx(provisioned):
    return provisioned(UNITS)


def path_of(ctx, code):
    return ctx.store.sheet(code, "2026-Q1").sheet_id


def layout_of(ctx, code):
    return build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period("2026-Q1"))


def fill(ctx, code, values, later=0):
    """A clerk types and saves; ``later`` seconds moves the change time on (file systems with a
    coarse clock would otherwise show two saves in one second as one)."""
    type_into(path_of(ctx, code), layout_of(ctx, code), values)
    if later:
        st = os.stat(path_of(ctx, code))
        os.utime(path_of(ctx, code), (st.st_atime, st.st_mtime + later))


def latest(ctx, code):
    row = next(r for r in ctx.store.latest_snapshots("2026-Q1") if r["unit"] == code)
    return report_from_json(row["report_json"])


def outcome(result, code):
    return next(o for o in result.outcomes if o.unit == code)


# --- 16: a clerk's save racing the feedback write ------------------------------------------------


@pytest.mark.parametrize("path", ["part-level", "openpyxl"])
def test_it_drops_its_write_when_the_clerk_saves_meanwhile_and_reads_her_save_next(ctx, monkeypatch, path):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {COUNT: 5})
    poll(ctx, period)
    load, apply_edits = workbook_backend.load_for_edit, xlsx_parts.apply_edits

    def clerk_saves_while_we_write(source, *args, **kwargs):
        if str(source) == path_of(ctx, "STP"):
            fill(ctx, "STP", {COUNT: 6}, later=5)
        if path == "openpyxl" and args:
            raise ValueError("a workbook the part-level writer is not sure of")  # openpyxl writes it
        return (apply_edits if args else load)(source, *args, **kwargs)

    monkeypatch.setattr(xlsx_parts, "apply_edits", clerk_saves_while_we_write)
    if path == "openpyxl":
        monkeypatch.setattr(workbook_backend, "load_for_edit", lambda source: load(source))
    result = check(ctx, period)
    assert "STP" in result.feedback_pending and "STP" not in result.feedback_written
    monkeypatch.setattr(xlsx_parts, "apply_edits", apply_edits)
    assert "STP" in poll(ctx, period).read
    assert latest(ctx, "STP")[0].values[COUNT] == 6
    assert "STP" in check(ctx, period).feedback_written


def test_it_never_moves_the_change_mark_past_a_save_it_did_not_read(ctx, monkeypatch):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {COUNT: 5})
    poll(ctx, period)
    write_many = ctx.backend.write_many

    def clerk_saves_just_after_our_write(batch):
        failed = write_many(batch)
        fill(ctx, "STP", {COUNT: 7}, later=5)
        return failed

    monkeypatch.setattr(ctx.backend, "write_many", clerk_saves_just_after_our_write)
    assert "STP" in check(ctx, period).feedback_written
    assert "STP" in poll(ctx, period).read
    assert latest(ctx, "STP")[0].values[COUNT] == 7


@pytest.mark.parametrize("lock", ["~$STP.xlsx", ".~lock.STP.xlsx#"])
def test_it_leaves_a_workbook_open_in_excel_or_libreoffice_alone(ctx, lock):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {COUNT: 5})
    poll(ctx, period)
    (ctx.config.sheets_dir / "2026-Q1" / lock).write_text("owner", encoding="utf-8")
    before = open(path_of(ctx, "STP"), "rb").read()
    assert "STP" in check(ctx, period).feedback_pending
    assert open(path_of(ctx, "STP"), "rb").read() == before


# --- 17: one unit's workbook never stops the period ----------------------------------------------


@pytest.mark.parametrize("typed", ["9" * 400, "9" * 4300], ids=["400 digits", "4300 digits"])
def test_it_reports_a_huge_number_at_its_cell_and_checks_the_others(ctx, typed):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {COUNT: typed})
    fill(ctx, "SYT", {COUNT: 3, "_cover/status": "Đã nộp"})
    poll(ctx, period)
    result = check(ctx, period)
    cell = layout_of(ctx, "STP").fields[COUNT]
    assert any(
        f.rule == "parse" and f.cell == f"'{cell.tab}'!{cell.a1}" for f in outcome(result, "STP").findings
    )
    assert outcome(result, "SYT").state != "chua_mo"


def test_it_reports_a_deleted_cover_tab_for_that_unit_and_writes_the_others_feedback(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {COUNT: 5})
    fill(ctx, "SYT", {COUNT: 3})
    wb = openpyxl.load_workbook(path_of(ctx, "STP"))
    wb.remove(wb[COVER_TAB])
    wb.save(path_of(ctx, "STP"))
    poll(ctx, period)
    result = check(ctx, period)
    assert any(f.rule == "structure" and COVER_TAB in f.message for f in outcome(result, "STP").findings)
    assert "STP" in result.feedback_pending and "SYT" in result.feedback_written


def test_it_turns_any_failure_to_read_one_workbook_into_a_finding_for_that_unit(ctx, monkeypatch):
    import bot.checks.reading as poll_job

    period = ctx.period("2026-Q1")

    def extract_failing_for_stp(layout, grids, tags=None):
        if layout.unit_code == "STP":
            raise RecursionError("something in this file nobody foresaw")
        return extract(layout, grids, tags)

    monkeypatch.setattr(poll_job, "extract", extract_failing_for_stp)
    polled = poll(ctx, period)
    assert "STP" in polled.failed and "SYT" in polled.read
    stp = outcome(check(ctx, period), "STP")
    assert any(f.rule == "poll" and f.severity == "error" for f in stp.findings)


# --- 18: another unit's workbook, or another period's ------------------------------------------


def test_it_does_not_read_a_neighbours_workbook_copied_over_this_units(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "SYT", {COUNT: 9, "_cover/status": "Đã nộp"})
    shutil.copyfile(path_of(ctx, "SYT"), path_of(ctx, "STP"))
    poll(ctx, period)
    report, findings = latest(ctx, "STP")
    assert report.values.get(COUNT) is None and not report.submitted
    assert any(f.rule == "structure" and "SYT" in f.message for f in findings)


def test_it_does_not_read_a_workbook_tagged_for_another_period(ctx, workbook):
    backend, ref, layout = workbook
    type_into(ref.id, layout, {COUNT: 4})
    doc = extract(layout, backend.read(ref), {"unit": "STP", "period": "2025-N"})
    assert COUNT not in doc.cells and "2025-N" in doc.problems[0].message
    assert extract(layout, backend.read(ref), backend.tags_of(ref)).cells[COUNT].raw == 4


# --- 19: columns inserted or deleted -------------------------------------------------------------


@pytest.mark.parametrize("change", ["insert", "delete"])
def test_it_notices_a_column_inserted_or_deleted_and_reads_nothing_of_that_table(workbook, schema, change):
    backend, ref, layout = workbook
    type_into(ref.id, layout, {E_DOCS: 200})
    spec = layout.fields[E_DOCS]
    wb = openpyxl.load_workbook(ref.id)
    (wb[spec.tab].insert_cols if change == "insert" else wb[spec.tab].delete_cols)(spec.col)
    wb.save(ref.id)
    report, findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    assert "t_van_ban_dien_tu" in report.unreadable
    assert not any(k.startswith("t_van_ban_dien_tu/") and v is not None for k, v in report.values.items())
    assert any(
        f.rule == "structure" and f.table == "t_van_ban_dien_tu" and "cột" in f.message for f in findings
    )


def test_it_reads_an_untouched_template_without_a_column_finding(workbook, schema):
    backend, ref, layout = workbook
    _, findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    assert not [f for f in findings if f.rule == "structure"]


def test_it_tells_the_clerk_a_value_typed_beside_a_table_is_not_read_and_still_reads_the_table(
    workbook, schema
):
    backend, ref, layout = workbook
    type_into(ref.id, layout, {E_DOCS: 200})
    spec = layout.fields[E_DOCS]
    beside = next(t for t in layout.tabs if t.name == spec.tab).max_col + 2
    wb = openpyxl.load_workbook(ref.id)
    wb[spec.tab].cell(row=spec.row, column=beside).value = 250
    wb.save(ref.id)
    report, findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    stray = [
        f for f in findings if f.cell == f"'{spec.tab}'!{openpyxl.utils.get_column_letter(beside)}{spec.row}"
    ]
    assert len(stray) == 1 and stray[0].severity == "warning" and "không được đọc" in stray[0].message
    assert report.values[E_DOCS] == 200 and "t_van_ban_dien_tu" not in report.unreadable


# --- 20: a formula typed into an input cell ------------------------------------------------------


def test_it_reports_a_formula_typed_into_an_input_cell_at_its_cell(workbook, schema):
    backend, ref, layout = workbook
    type_into(ref.id, layout, {COUNT: "=B5+C5", "t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao": "=12+3"})
    report, findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    spec = layout.fields[COUNT]
    found = [f for f in findings if f.cell == f"'{spec.tab}'!{spec.a1}"]
    assert len(found) == 1 and "nhập số, không nhập công thức" in found[0].message
    assert COUNT in report.unparsed and COUNT not in report.formulas
    assert report.values["t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao"] == 15


# --- 21: the cover's status ----------------------------------------------------------------------


def test_it_reads_a_decomposed_da_nop_as_submitted_and_reports_an_unknown_status(workbook, schema):
    backend, ref, layout = workbook
    type_into(ref.id, layout, {"_cover/status": unicodedata.normalize("NFD", "Đã nộp")})
    report, findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    assert report.submitted and not findings
    type_into(ref.id, layout, {"_cover/status": "Da nop"})
    report, findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    assert not report.submitted
    assert [f.cell for f in findings] == [f"'{COVER_TAB}'!{layout.fields['_cover/status'].a1}"]


# --- 22: text the bot writes never becomes a formula --------------------------------------------


def test_it_writes_a_return_comment_starting_with_equals_as_text(ctx):
    period = ctx.period("2026-Q1")
    poll(ctx, period)
    comment = '=HYPERLINK("http://example.invalid","Bấm vào đây")'
    decide(ctx, "STP", period, "returned", comment)
    spec = layout_of(ctx, "STP").fields["_cover/comment"]
    cell = openpyxl.load_workbook(path_of(ctx, "STP"))[COVER_TAB].cell(spec.row, spec.col)
    assert cell.data_type == "s" and cell.value == comment


# --- 24: writes die with their run; what killed writes left is swept ------------------------------


def test_it_writes_a_large_batch_in_the_calling_process(tmp_path, schema, period, monkeypatch):
    from bot.outline.units import Unit

    backend = WorkbookBackend(tmp_path / "sheets")
    batch = []
    for i in range(workbook_backend.PARALLEL_FROM + 2):
        layout = build_layout(schema, Unit(f"U{i}", f"Đơn vị {i}", "so_nganh"), period)
        ref = backend.allocate(layout.title, {"unit": f"U{i}", "period": period.id})
        backend.lay_out(ref, layout)
        batch.append((ref, [SetCells(COVER_TAB, {(1, 10): "x"})]))
    writers = []
    save = workbook_backend._save_atomically
    monkeypatch.setattr(
        workbook_backend, "_save_atomically", lambda *a, **k: writers.append(os.getpid()) or save(*a, **k)
    )
    failed = backend.write_many(batch)
    assert list(failed.values()) == [None] * len(batch)
    assert writers == [os.getpid()] * len(batch)  # no worker process that could outlive this one


def test_it_sweeps_the_temporary_files_of_killed_writes_and_keeps_those_in_progress(ctx, monkeypatch):
    folder = ctx.config.sheets_dir / "2026-Q1"
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)  # a process id that is certainly gone
    killed = folder / f"{TEMP_PREFIX}{dead}-abc.tmp"
    running = folder / f"{TEMP_PREFIX}{os.getppid()}-def.tmp"
    for f in (killed, running):
        f.write_bytes(b"half a workbook")
    fill(ctx, "STP", {COUNT: 5})
    poll(ctx, ctx.period("2026-Q1"))
    check(ctx, ctx.period("2026-Q1"))
    assert not killed.exists() and running.exists()
    old = os.stat(running).st_mtime - workbook_backend.STALE_TEMP_SECONDS - 1
    os.utime(running, (old, old))
    assert sweep_stale_temp_files(folder) == [running]
