"""The Google Sheets backend does the job of the workbook backend on shared spreadsheets, in
few calls and within quota, through the real gspread + google-auth against the local fake."""

# ruff: noqa: F811  (pytest fixtures imported from tests.google_rig are used as arguments)
from __future__ import annotations

import functools
import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from google.oauth2 import service_account

from bot.checks.report import report_from_document
from bot.clock import TZ
from bot.config import ConfigError, load_config
from bot.context import open_context
from bot.outline.layout import CHECK_TAB, COVER_TAB
from bot.sheets.backends.base import (
    BackendError,
    BackendStopped,
    Protect,
    ReplaceTab,
    SetCells,
    SheetBusy,
    SheetMissing,
    SheetRef,
    input_cells,
)
from bot.sheets.backends.google import (
    REQUEST_TIMEOUT,
    SCOPES,
    GoogleBackend,
    Identity,
    NoQuota,
    Quota,
    RetryPolicy,
    rewrite_google_url,
    tab_sheet_id,
)
from bot.sheets.backends.google import backend as google_backend
from bot.sheets.backends.workbook import WorkbookBackend
from bot.sheets.document import extract
from cli.main import main
from jobs.check import check
from jobs.compile import compile as compile_master
from jobs.poll import poll
from jobs.provision import provision
from tests.fakes.google import GOOGLE_TOKEN_URI, SCOPE_SPREADSHEETS, drive_error
from tests.fakes.google_keys import mint_service_account
from tests.google_rig import (  # noqa: F401  (fixtures)
    BOT,
    COORDINATOR,
    PERIOD,
    FakeTime,
    backend,
    cells_of,
    clock,
    ctx,
    fake,
    folder,
    home,
    layout_of,
    make_backend,
    provisioned,
    ref_of,
    sheet_id_of,
    ticks,
    time_out_calls,
    type_in_browser,
    write_home,
)
from tests.helpers import type_into

# --- provisioning -------------------------------------------------------------------------------


def test_it_provisions_a_unit_in_one_create_one_batch_one_permission_per_email_and_one_marker(ctx, fake):
    results = provision(ctx, ctx.period(PERIOD))

    assert [r.action for r in results] == ["created"] * 3
    emails = 3 + 3 * 1  # unit e-mails (2 + 1 + 0) and the coordinator on each of the three
    assert fake.counts == {
        "oauth.token": 1,
        "drive.files.list": 1,  # find(): one listing of the folder for the whole run
        "drive.files.create": 3,
        "sheets.spreadsheets.batchUpdate": 3,  # whatever the number of tables
        "drive.permissions.create": emails,
        "drive.files.update": 3,  # the "laid out" marker
    }


def test_it_lays_out_every_tab_with_values_formulas_merges_and_formats(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    book = fake.spreadsheet(sheet_id_of(ctx, "STP"))

    assert [s.title for s in book.sheets] == [t.name for t in layout.tabs]
    assert book.properties["locale"] == "vi_VN" and book.properties["timeZone"] == "Asia/Ho_Chi_Minh"
    cover = book.sheet_titled(COVER_TAB)
    assert cover.id == tab_sheet_id(COVER_TAB)
    assert fake.grid(book.id, COVER_TAB)[4] == ["Mã đơn vị", "STP"]
    ratio = next(s for s in layout.fields.values() if s.computed and s.type == "percent")
    stored = fake.cell(book.id, ratio.tab, ratio.a1)
    assert stored["userEnteredValue"]["formulaValue"].startswith("=IF(N(")
    assert ";" in stored["userEnteredValue"]["formulaValue"]  # vi_VN argument separator
    tab = layout.tab(ratio.tab)
    sheet = book.sheet_titled(ratio.tab)
    assert {
        (m["startRowIndex"] + 1, m["startColumnIndex"] + 1, m["endRowIndex"], m["endColumnIndex"])
        for m in sheet.merges
    } == set(tab.merges)
    first_input = next(s for s in layout.fields.values() if s.input and s.type == "count")
    fmt = fake.cell(book.id, first_input.tab, first_input.a1)["userEnteredFormat"]
    assert fmt["backgroundColorStyle"]["rgbColor"]["blue"] == pytest.approx(0xD5 / 255, abs=1e-3)
    assert fmt["numberFormat"] == {"type": "NUMBER", "pattern": "#,##0.##"}
    assert sheet.column_meta[0]["pixelSize"] == round(tab.col_widths[1] * 7 + 5)


def test_it_protects_each_tab_except_the_input_cells(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    book = fake.spreadsheet(sheet_id_of(ctx, "STP"))

    for tab in layout.tabs:
        (protected,) = book.sheet_titled(tab.name).protected_ranges
        assert protected["range"] == {"sheetId": tab_sheet_id(tab.name)}
        assert set(protected["editors"]["users"]) == {BOT, COORDINATOR}
        unlocked = set().union(*(cells_of(r) for r in protected.get("unprotectedRanges", [])))
        merged = {
            (r1, c1): cells_of(
                {"startRowIndex": r1 - 1, "endRowIndex": r2, "startColumnIndex": c1 - 1, "endColumnIndex": c2}
            )
            for r1, c1, r2, c2 in tab.merges
        }
        expected = set().union(
            set(), *(merged.get(pos, {pos}) for pos, spec in tab.cells.items() if spec.input)
        )
        assert unlocked == expected, tab.name
    assert any(book.sheet_titled(t.name).protected_ranges[0].get("unprotectedRanges") for t in layout.tabs)


def test_it_adds_the_workbooks_validations_as_warnings(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    spreadsheet = sheet_id_of(ctx, "STP")
    status = layout.fields["_cover/status"]
    count = next(s for s in layout.fields.values() if s.input and s.type == "count")

    rule = fake.cell(spreadsheet, COVER_TAB, status.a1)["dataValidation"]
    assert rule["condition"] == {
        "type": "ONE_OF_LIST",
        "values": [{"userEnteredValue": "Chưa nộp"}, {"userEnteredValue": "Đã nộp"}],
    }
    assert rule["strict"] is False
    assert (
        fake.cell(spreadsheet, count.tab, count.a1)["dataValidation"]["condition"]["type"]
        == "NUMBER_GREATER_THAN_EQ"
    )


def test_it_shares_with_each_unit_email_as_writer_and_never_by_link(ctx, fake):
    provision(ctx, ctx.period(PERIOD))

    permissions = fake.permissions(sheet_id_of(ctx, "STP"))
    shared = {p["emailAddress"]: p["role"] for p in permissions if p.get("emailAddress")}
    assert shared == {
        "vanthu@stp.example.vn": "writer",
        "phong.hc@stp.example.vn": "writer",
        COORDINATOR: "writer",
    }
    assert not any(p["type"] == "anyone" for p in permissions)
    notified = {
        c.body["emailAddress"]: c.query["sendNotificationEmail"]
        for c in fake.calls
        if c.kind == "drive.permissions.create"
    }
    assert notified["vanthu@stp.example.vn"] == ["true"] and notified[COORDINATOR] == ["false"]


def test_it_tags_each_spreadsheet_in_the_folder_and_marks_it_laid_out(ctx, fake, folder, provisioned):
    stored = fake.file(sheet_id_of(ctx, "H_A"))

    assert stored["parents"] == [folder]
    props = stored["appProperties"]
    assert (props["unit"], props["period"], props["schema_version"], props["laid_out"]) == (
        "H_A",
        PERIOD,
        ctx.schema.version,
        "1",
    )
    assert [props[f"tab{i}"] for i in range(int(props["tabs"]))] == [
        t.name for t in layout_of(ctx, "H_A").tabs
    ]
    assert stored["name"] == layout_of(ctx, "H_A").title


def test_it_leaves_a_laid_out_spreadsheet_alone_on_the_next_run(ctx, fake, provisioned):
    status = layout_of(ctx, "STP").fields["_cover/status"]
    fake.type_as_user(sheet_id_of(ctx, "STP"), COVER_TAB, {status.a1: "Đã nộp"})
    ctx.backend = make_backend(ctx.config.home, FakeTime())  # a new run: nothing cached

    results = provision(ctx, provisioned)

    assert {r.action for r in results} == {"existing"}
    assert fake.counts == {"oauth.token": 1, "drive.files.list": 1}  # is_laid_out from one listing
    assert fake.grid(sheet_id_of(ctx, "STP"), COVER_TAB)[status.row - 1][1] == "Đã nộp"


def test_it_resumes_a_provisioning_killed_after_the_spreadsheet_was_created(ctx, fake):
    period = ctx.period(PERIOD)
    fake.inject("500", times=4, match=":batchUpdate")  # every attempt of the first unit's layout

    first = {r.unit: r.action for r in provision(ctx, period)}
    again = {r.unit: r.action for r in provision(ctx, period)}

    assert first == {"STP": "failed", "H_A": "created", "X_B": "created"}
    assert again == {"STP": "resumed", "H_A": "existing", "X_B": "existing"}
    assert fake.counts["drive.files.create"] == 3  # no second spreadsheet for anyone
    book = fake.spreadsheet(sheet_id_of(ctx, "STP"))
    assert [s.title for s in book.sheets] == [t.name for t in layout_of(ctx, "STP").tabs]
    assert ctx.store.sheet("STP", PERIOD).status == "ready"


def test_it_finds_a_spreadsheet_by_its_tags_when_the_run_died_before_recording_it(ctx, fake, backend):
    period = ctx.period(PERIOD)
    orphan = backend.allocate(
        "Báo cáo", {"unit": "STP", "period": period.id, "schema_version": ctx.schema.version}
    )
    fresh = make_backend(ctx.config.home, FakeTime())

    assert fresh.find({"unit": "STP", "period": period.id}) == orphan
    assert fresh.find({"unit": "H_A", "period": period.id}) is None


def test_it_resumes_a_layout_killed_before_sharing_without_duplicates(ctx, fake):
    period = ctx.period(PERIOD)
    fake.inject("503", times=4, match="/permissions$")  # STP's first e-mail, every attempt

    provision(ctx, period)
    assert fake.counts["sheets.spreadsheets.batchUpdate"] == 3
    again = {r.unit: r.action for r in provision(ctx, period)}

    assert again["STP"] == "resumed"
    book = fake.spreadsheet(sheet_id_of(ctx, "STP"))
    assert [s.title for s in book.sheets] == [t.name for t in layout_of(ctx, "STP").tabs]
    emails = [p["emailAddress"] for p in fake.permissions(book.id) if p.get("emailAddress")]
    assert sorted(emails) == sorted({"vanthu@stp.example.vn", "phong.hc@stp.example.vn", COORDINATOR})
    assert fake.file(book.id)["appProperties"]["laid_out"] == "1"


def test_it_creates_one_spreadsheet_when_the_answer_to_the_create_was_lost(ctx, fake, backend):
    fake.inject("drop", match=r"^/drive/v3/files$", applied=True)

    ref = backend.allocate("Báo cáo", {"unit": "STP", "period": PERIOD})

    assert fake.counts["drive.files.create"] == 1
    spreadsheets = [f for f in fake.files.values() if f.app_properties.get("unit") == "STP"]
    assert [f.id for f in spreadsheets] == [ref.id]


# --- reading ---------------------------------------------------------------------------------------

TYPED = {
    "t_van_ban_dien_tu/don_vi[1]/_label": "Văn phòng Sở",
    "t_van_ban_dien_tu/don_vi[1]/vb_tong": 200,
    "t_van_ban_dien_tu/don_vi[1]/vb_gui": 12.5,
    "t_van_ban_dien_tu/don_vi[2]/vb_nhan": " 7 ",
    "t_van_ban_dien_tu/don_vi[2]/vb_gui": "abc",
    "i1_chi_dao": "Đã ban hành Kế hoạch số 12/KH-STP.",
    "_cover/status": "Đã nộp",
}


def test_it_reads_what_a_unit_typed_exactly_as_the_workbook_backend_does(ctx, fake, provisioned, tmp_path):
    unit, layout = ctx.unit_by_code["STP"], layout_of(ctx, "STP")
    workbook = WorkbookBackend(tmp_path / "wb")
    wb_ref = workbook.allocate(layout.title, {"unit": "STP", "period": PERIOD})
    workbook.lay_out(wb_ref, layout)
    type_into(wb_ref.id, layout, {**TYPED, "t_van_ban_dien_tu/don_vi[1]/vbdt_tong": "1.234"})
    spreadsheet = sheet_id_of(ctx, "STP")
    type_in_browser(
        fake, spreadsheet, layout, {**TYPED, "t_van_ban_dien_tu/don_vi[1]/vbdt_tong": 1234}
    )  # vi_VN parsed it

    from_google = report_from_document(
        extract(layout, ctx.backend.read(SheetRef(spreadsheet, ""))), ctx.schema, unit.kind
    )
    from_workbook = report_from_document(extract(layout, workbook.read(wb_ref)), ctx.schema, unit.kind)

    (google, google_findings), (book, book_findings) = from_google, from_workbook
    assert google.values == book.values
    assert google.values["t_van_ban_dien_tu/don_vi[1]/vbdt_tong"] == 1234
    assert (google.cells, google.formulas, google.list_lines, google.status) == (
        book.cells,
        book.formulas,
        book.list_lines,
        book.status,
    )
    assert [f.message for f in google_findings] == [f.message for f in book_findings] != []


def test_it_reads_a_unit_in_one_call_with_formulas_and_empty_cells_as_none(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    ref = ref_of(ctx, "STP")
    ctx.backend.modified_times([ref_of(ctx, c) for c in ("STP", "H_A")])
    fake.reset_calls()

    grids = ctx.backend.read(ref)

    assert fake.counts == {"sheets.spreadsheets.get": 1}
    (call,) = fake.calls
    assert call.query["includeGridData"] == ["true"] and "numberFormat" in call.query["fields"][0]
    assert list(grids) == [t.name for t in layout.tabs]
    ratio = next(s for s in layout.fields.values() if s.computed and s.type == "percent")
    assert str(grids[ratio.tab][ratio.row - 1][ratio.col - 1]).startswith("=IF(")
    status_row = grids[COVER_TAB][layout.fields["_cover/state"].row - 1]
    assert status_row[1:] in ([], [None])


def test_it_reads_a_percentage_typed_in_vi_vn_as_the_clerk_typed_it(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    ref = ref_of(ctx, "STP")
    percent = next(s for s in layout.fields.values() if s.input and s.type == "percent")
    count = next(s for s in layout.fields.values() if s.input and s.type == "count")
    fake.type_text(ref.id, percent.tab, {percent.a1: "12,5%"})
    fake.type_text(ref.id, count.tab, {count.a1: "1.234"})

    grids = ctx.backend.read(ref)

    assert grids[percent.tab][percent.row - 1][percent.col - 1] == 12.5
    assert grids[count.tab][count.row - 1][count.col - 1] == 1234
    assert fake.counts["sheets.spreadsheets.get"] == 1


def test_it_reads_the_tabs_a_spreadsheet_really_has_when_a_unit_renamed_one(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    spreadsheet = sheet_id_of(ctx, "STP")
    renamed = layout.tabs[2].name
    fake.spreadsheet(spreadsheet).sheet_titled(renamed).properties["title"] = "Trang của tôi"

    grids = ctx.backend.read(SheetRef(spreadsheet, ""))
    doc = extract(layout, grids)

    assert "Trang của tôi" in grids and renamed not in grids
    assert any(f"Không tìm thấy trang '{renamed}'" in p.message for p in doc.problems)


def test_it_says_a_deleted_spreadsheet_is_missing(ctx, fake, provisioned):
    spreadsheet = sheet_id_of(ctx, "X_B")
    del fake.files[spreadsheet]
    del fake.books[spreadsheet]

    with pytest.raises(SheetMissing):
        make_backend(ctx.config.home, FakeTime()).read(SheetRef(spreadsheet, ""))


# --- polling --------------------------------------------------------------------------------------


def test_it_lists_the_folder_once_per_poll_and_reads_only_what_changed(ctx, fake, clock, provisioned):
    first = poll(ctx, provisioned)
    assert sorted(first.read) == ["H_A", "STP", "X_B"]
    fake.reset_calls()
    clock.advance()
    type_in_browser(fake, sheet_id_of(ctx, "H_A"), layout_of(ctx, "H_A"), {"i1_chi_dao": "Đã triển khai."})

    second = poll(ctx, provisioned)

    assert second.read == ["H_A"] and sorted(second.unchanged) == ["STP", "X_B"]
    assert fake.counts == {"drive.files.list": 1, "sheets.spreadsheets.get": 1}


def test_it_keeps_polling_the_others_when_one_spreadsheet_keeps_failing(ctx, fake, provisioned):
    broken = sheet_id_of(ctx, "STP")
    fake.inject("500", times=100, match=broken + "$")

    result = poll(ctx, provisioned)

    assert sorted(result.read) == ["H_A", "X_B"]
    assert "thử lại" in result.failed["STP"]
    assert fake.counts["sheets.spreadsheets.get"] == 4 + 2  # STP's bounded attempts, then one each


# --- feedback, approval, master -----------------------------------------------------------------------


def test_it_writes_each_units_feedback_in_one_batch_update(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    type_in_browser(
        fake, sheet_id_of(ctx, "STP"), layout, {"t_van_ban_dien_tu/don_vi[1]/vb_tong": "hai trăm"}
    )
    poll(ctx, provisioned)
    fake.reset_calls()

    result = check(ctx, provisioned)

    assert result.feedback_written == ["STP"]  # the others were never opened: nothing to tell them
    sheets_calls = {kind: n for kind, n in fake.counts.items() if kind.startswith("sheets.")}
    assert sheets_calls == {"sheets.spreadsheets.batchUpdate": 1}
    spreadsheet = sheet_id_of(ctx, "STP")
    assert fake.grid(spreadsheet, CHECK_TAB)[0] == ["KẾT QUẢ KIỂM TRA BÁO CÁO"]
    vb_tong = layout.fields["t_van_ban_dien_tu/don_vi[1]/vb_tong"]
    links = [
        row
        for row in fake.grid(spreadsheet, CHECK_TAB, render="FORMULA")
        if len(row) > 4 and str(row[4]).startswith("=HYPERLINK")
    ]
    assert f'=HYPERLINK("#gid={tab_sheet_id(vb_tong.tab)}&range={vb_tong.a1}";"{vb_tong.a1}")' in [
        r[4] for r in links
    ]
    assert fake.grid(spreadsheet, COVER_TAB)[layout.fields["_cover/state"].row - 1][1] != ""


def test_it_replaces_the_check_tab_in_place_without_growing_the_workbook(ctx, fake, provisioned):
    from bot.checks.feedback import check_tab

    ref = ref_of(ctx, "STP")
    layout = layout_of(ctx, "STP")
    comp = SimpleNamespace(filled=1, required=2, by_section={})

    for _ in range(2):
        ctx.backend.write(
            ref, [ReplaceTab(check_tab("Đang nhập", comp, [], {}, datetime(2026, 3, 5, 9, 0, tzinfo=TZ)))]
        )

    book = fake.spreadsheet(ref.id)
    assert [s.title for s in book.sheets] == [t.name for t in layout.tabs]
    assert fake.grid(ref.id, CHECK_TAB)[2] == ["Tình trạng: Đang nhập"]
    assert fake.counts["sheets.spreadsheets.batchUpdate"] == 2


def test_it_locks_an_approved_report_and_unlocks_only_inputs_when_returned(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    ref = ref_of(ctx, "STP")
    book = fake.spreadsheet(ref.id)
    before = {s.title: s.protected_ranges[0].get("unprotectedRanges") for s in book.sheets}

    ctx.backend.write(ref, [Protect(whole=True)])
    locked = {s.title: list(s.protected_ranges) for s in book.sheets}
    ctx.backend.write(ref, [Protect(whole=False, input_cells=input_cells(layout))])

    assert all(len(p) == 1 and "unprotectedRanges" not in p[0] for p in locked.values())
    after = {s.title: s.protected_ranges[0].get("unprotectedRanges") for s in book.sheets}
    assert {t: set(map(json.dumps, r or [])) for t, r in after.items()} == {
        t: set(map(json.dumps, r or [])) for t, r in before.items()
    }
    assert fake.counts["sheets.spreadsheets.get"] == 2 and fake.counts["sheets.spreadsheets.batchUpdate"] == 2


def test_it_creates_the_master_once_and_updates_it_in_place(ctx, fake, provisioned):
    poll(ctx, provisioned)

    url = compile_master(ctx, provisioned)
    tabs = [s.title for s in fake.spreadsheet(url.split("/d/")[1].split("/")[0]).sheets]
    fake.reset_calls()
    again = compile_master(ctx, provisioned, force=True)

    assert again == url
    master_id = url.split("/d/")[1].split("/")[0]
    assert [s.title for s in fake.spreadsheet(master_id).sheets] == tabs
    assert (
        fake.counts.get("drive.files.create", 0) == 0 and fake.counts["sheets.spreadsheets.batchUpdate"] == 1
    )
    assert fake.file(master_id)["appProperties"]["unit"] == "_master"
    emails = {p.get("emailAddress") for p in fake.permissions(master_id)}
    assert COORDINATOR in emails and not emails & {"vanthu@stp.example.vn"}


def test_it_writes_values_only_into_existing_cells_with_set_cells(ctx, fake, provisioned):
    layout = layout_of(ctx, "STP")
    spec = layout.fields["i1_chi_dao"]
    ref = ref_of(ctx, "STP")

    ctx.backend.write(ref, [SetCells(spec.tab, {(spec.row, spec.col): "=1+1 không phải công thức"})])

    stored = fake.cell(ref.id, spec.tab, spec.a1)
    assert stored["userEnteredValue"] == {"stringValue": "=1+1 không phải công thức"}
    assert stored["userEnteredFormat"]["backgroundColorStyle"]  # formats untouched


# --- failures and quota -----------------------------------------------------------------------------


def test_it_survives_injected_429_500_and_timeouts_with_growing_waits(ctx, fake, ticks, provisioned):
    ref = ref_of(ctx, "STP")
    ctx.backend.read(ref)
    fake.reset_calls()
    for kind in ("429", "500"):
        fake.inject(kind, match=r"/v4/spreadsheets/[^/]+$")
    timed_out = time_out_calls(ctx.backend, ticks, "/v4/spreadsheets/", seconds=10)

    grids = ctx.backend.read(ref)

    assert COVER_TAB in grids
    assert len(timed_out) == 1 and fake.counts["sheets.spreadsheets.get"] == 3  # + the one that timed out
    assert len(ticks.sleeps) == 3 and ticks.sleeps[0] < ticks.sleeps[2]


def test_it_retries_a_call_that_timed_out_with_the_default_timeout_and_budget(
    home, ticks, fake, ctx, provisioned
):
    backend = make_backend(
        home, ticks, retry=RetryPolicy(sleep=ticks.sleep, monotonic=ticks.monotonic), timeout=REQUEST_TIMEOUT
    )
    ref = ref_of(ctx, "STP")
    backend.modified_times([ref, ref_of(ctx, "H_A")])
    timed_out = time_out_calls(backend, ticks, "/v4/spreadsheets/")

    grids = backend.read(ref)

    assert COVER_TAB in grids and len(timed_out) == 1


def test_it_gives_up_as_a_retryable_sheet_busy_within_its_bounds(ctx, fake, ticks, provisioned):
    ref = ref_of(ctx, "STP")
    ctx.backend.read(ref)
    fake.reset_calls()
    fake.inject("503", times=1000, match=r"/v4/spreadsheets/[^/]+$")

    with pytest.raises(SheetBusy) as caught:
        ctx.backend.read(ref)

    assert caught.value.retryable
    assert fake.counts["sheets.spreadsheets.get"] == 4  # the policy's attempts
    assert sum(ticks.sleeps) <= 30  # the policy's budget


def test_it_fails_fast_for_a_while_once_google_keeps_refusing(ctx, fake, ticks, provisioned):
    refs = [ref_of(ctx, c) for c in ("H_A", "STP", "X_B")]
    fake.inject("429", times=3 * 4)  # every attempt of three reads in a row
    for ref in refs:
        with pytest.raises(SheetBusy):
            ctx.backend.read(ref)
    calls = len(fake.calls)

    with pytest.raises(SheetBusy):
        ctx.backend.read(refs[0])

    assert len(fake.calls) == calls  # no call during the cool-down
    ticks.now += ctx.backend.retry.cooldown + 1
    assert COVER_TAB in ctx.backend.read(refs[0])


def test_it_keeps_sheets_calls_under_the_configured_reads_per_minute(home, ticks, fake, ctx, provisioned):
    quota = Quota(reads_per_minute=2, writes_per_minute=60, sleep=ticks.sleep, monotonic=ticks.monotonic)
    backend = make_backend(home, ticks, quota=quota)
    refs = [ref_of(ctx, c) for c in ("H_A", "STP", "X_B")]
    backend.modified_times(refs)

    for ref in refs:
        backend.read(ref)

    assert quota.waited >= 59  # the third read waited for the minute to pass
    assert fake.counts["sheets.spreadsheets.get"] == 3


def test_it_explains_a_folder_outside_a_shared_drive_and_does_not_retry(tmp_path, fake, ticks):
    my_drive = fake.add_folder("Thư mục cá nhân", shared_drive=False, members=[BOT])
    backend = make_backend(write_home(tmp_path, fake, my_drive), ticks)

    with pytest.raises(BackendError) as caught:
        backend.allocate("Báo cáo", {"unit": "STP", "period": PERIOD})

    assert not caught.value.retryable
    assert "Drive dùng chung" in str(caught.value) and "google.oauth_token" in str(caught.value)
    assert fake.counts["drive.files.create"] == 1


def test_it_explains_an_injected_storage_quota_error(fake, backend):
    backend.find({"unit": "STP", "period": PERIOD})
    fake.inject("quota", match=r"^/drive/v3/files$")

    with pytest.raises(BackendError, match="Shared Drive"):
        backend.allocate("Báo cáo", {"unit": "STP", "period": PERIOD})


def test_it_says_to_share_the_folder_with_the_service_account(tmp_path, fake, ticks):
    stranger = fake.add_folder("Của người khác", members=["someone@else.example.vn"])
    backend = make_backend(write_home(tmp_path, fake, stranger), ticks)

    with pytest.raises(BackendError) as caught:
        backend.allocate("Báo cáo", {"unit": "STP", "period": PERIOD})

    assert f"chia sẻ cho {BOT}" in str(caught.value) and "Người chỉnh sửa" in str(caught.value)


def test_it_explains_missing_scopes(ctx, fake):
    fake.grantable_scopes = {SCOPE_SPREADSHEETS}

    results = provision(ctx, ctx.period(PERIOD))

    assert "chưa được cấp đủ quyền" in results[0].error and "auth/drive" in results[0].error


def test_it_explains_a_missing_credentials_file(tmp_path, fake, folder):
    home = write_home(tmp_path, fake, folder, credentials=str(tmp_path / "khong-co.json"))

    with pytest.raises(ConfigError, match="Không tìm thấy tệp khóa tài khoản dịch vụ"):
        GoogleBackend.from_config(load_config(home))


def test_it_explains_a_file_that_is_not_a_service_account_key(tmp_path, fake, folder):
    login = tmp_path / "login.json"
    login.write_text(json.dumps(fake.add_user("chuyenvien@sonoivu.example.vn")), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{khong phai json", encoding="utf-8")

    with pytest.raises(ConfigError, match="google.oauth_token"):
        GoogleBackend.from_config(load_config(write_home(tmp_path, fake, folder, credentials=str(login))))
    with pytest.raises(ConfigError, match="không phải JSON hợp lệ"):
        GoogleBackend.from_config(load_config(write_home(tmp_path, fake, folder, credentials=str(broken))))


def test_it_explains_when_no_google_account_is_configured(tmp_path, fake, folder):
    home = write_home(tmp_path, fake, folder, credentials=None)

    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        GoogleBackend.from_config(load_config(home, environ={}))


def test_it_works_with_a_users_oauth_login_where_there_is_no_shared_drive(tmp_path, fake, ticks):
    user = "chuyenvien@sonoivu.example.vn"
    my_drive = fake.add_folder("Báo cáo (Drive của tôi)", shared_drive=False, members=[user])
    token = tmp_path / "oauth.json"
    token.write_text(json.dumps({**fake.add_user(user), "token_uri": GOOGLE_TOKEN_URI}), encoding="utf-8")
    home = write_home(tmp_path, fake, my_drive, credentials=None, oauth_token=str(token))
    context = open_context(home, backend=make_backend(home, ticks))

    results = provision(context, context.period(PERIOD))

    assert {r.action for r in results} == {"created"}
    assert fake.file(context.store.sheet("STP", PERIOD).sheet_id)["owners"][0]["emailAddress"] == user
    context.close()


def test_it_refuses_a_user_login_without_the_drive_permission(tmp_path, fake, folder):
    info = {**fake.add_user("a@b.example.vn", scopes=[SCOPE_SPREADSHEETS]), "scopes": [SCOPE_SPREADSHEETS]}
    token = tmp_path / "oauth.json"
    token.write_text(json.dumps(info), encoding="utf-8")

    with pytest.raises(ConfigError, match="chưa được cấp đủ quyền"):
        GoogleBackend.from_config(load_config(write_home(tmp_path, fake, folder, oauth_token=str(token))))


def test_it_reports_an_address_google_refuses_without_stopping_provisioning(ctx, fake, backend, monkeypatch):
    refused = "phong.hc@stp.example.vn"
    grant = fake._permission_create

    def refuse_one_address(request, params, principal):
        if (request.body or {}).get("emailAddress") == refused:
            raise drive_error(
                400, 'Bad Request. User message: "Không có tài khoản Google"', "invalidSharingRequest"
            )
        return grant(request, params, principal)

    monkeypatch.setattr(fake, "_permission_create", refuse_one_address)
    results = provision(ctx, ctx.period(PERIOD))

    assert {r.unit: r.action for r in results}["STP"] == "created"
    (problem,) = backend.sharing_problems[sheet_id_of(ctx, "STP")]
    assert refused in problem


def test_it_says_what_failed_when_the_bot_may_not_share_the_file(ctx, fake, backend, monkeypatch):
    def not_a_manager(request, params, principal):
        raise drive_error(
            403, "The user does not have sufficient permissions for this file.", "insufficientFilePermissions"
        )

    monkeypatch.setattr(fake, "_permission_create", not_a_manager)
    results = provision(ctx, ctx.period(PERIOD))

    assert {r.unit: r.action for r in results}["STP"] == "created"
    problems = backend.sharing_problems[sheet_id_of(ctx, "STP")]
    assert all("không được phép chia sẻ" in p and "Người quản lý nội dung" in p for p in problems)
    assert not any("không còn quyền mở" in p for p in problems)


def test_it_points_each_google_service_at_its_configured_base_url():
    bases = {"oauth2": "http://127.0.0.1:1", "sheets": "http://proxy:8080/sheets"}

    assert rewrite_google_url("https://oauth2.googleapis.com/token", bases) == "http://127.0.0.1:1/token"
    assert (
        rewrite_google_url("https://sheets.googleapis.com/v4/spreadsheets/x", bases)
        == "http://proxy:8080/sheets/v4/spreadsheets/x"
    )
    assert (
        rewrite_google_url("https://www.googleapis.com/drive/v3/files", bases)
        == "https://www.googleapis.com/drive/v3/files"
    )
    assert (
        rewrite_google_url("https://www.googleapis.com/drive/v3/files", None)
        == "https://www.googleapis.com/drive/v3/files"
    )


def test_it_can_be_built_from_credentials_directly(fake, folder, ticks):
    creds = service_account.Credentials.from_service_account_info(
        fake.service_account_info(BOT), scopes=list(SCOPES)
    )
    backend = GoogleBackend(
        Identity(creds, BOT, "service_account"),
        folder,
        base_urls=fake.base_url,
        quota=NoQuota(),
        retry=RetryPolicy(sleep=ticks.sleep, monotonic=ticks.monotonic),
    )

    ref = backend.allocate("Báo cáo", {"unit": "STP", "period": PERIOD})

    assert backend.is_laid_out(ref) is False
    assert ref.url == f"https://docs.google.com/spreadsheets/d/{ref.id}/edit"


def test_it_builds_itself_from_the_configuration_when_a_job_opens_its_context(home):
    context = open_context(home)

    assert isinstance(context.backend, GoogleBackend)
    assert context.backend.unit_emails("STP") == ["vanthu@stp.example.vn", "phong.hc@stp.example.vn"]
    assert context.backend.coordinator_emails == (COORDINATOR,)
    context.close()


def test_it_explains_a_service_account_key_google_no_longer_accepts(tmp_path, fake, folder, ticks):
    home = write_home(tmp_path, fake, folder)
    revoked = mint_service_account(
        fake.token_uri, "bot-cu@fake-project.iam.gserviceaccount.com", key_slot=1
    ).info
    (home / "bot-key.json").write_text(json.dumps(revoked), encoding="utf-8")

    with pytest.raises(BackendStopped, match="Google từ chối khóa của tài khoản dịch vụ bot-cu@"):
        make_backend(home, ticks).find({"unit": "STP", "period": PERIOD})


def test_it_stops_the_whole_run_once_with_one_clean_message_when_the_key_is_revoked(
    tmp_path, fake, folder, ticks
):
    home = write_home(tmp_path, fake, folder)
    revoked = mint_service_account(
        fake.token_uri, "bot-cu@fake-project.iam.gserviceaccount.com", key_slot=1
    ).info
    (home / "bot-key.json").write_text(json.dumps(revoked), encoding="utf-8")
    context = open_context(home, backend=make_backend(home, ticks))

    with pytest.raises(BackendStopped) as caught:
        provision(context, context.period(PERIOD))  # three units: one refusal stops them all
    with pytest.raises(BackendStopped):
        context.backend.read(SheetRef("any", ""))  # and later calls fail without asking again

    assert fake.counts["oauth.token"] == 1
    message = str(caught.value)
    assert "invalid_grant" in message and "(" + "'" not in message and "{" not in message
    assert revoked["private_key_id"] not in message and "BEGIN PRIVATE KEY" not in message
    context.close()


def test_it_ends_poll_check_and_read_with_one_vietnamese_line_during_an_outage(
    home, fake, ticks, monkeypatch, capsys
):
    monkeypatch.setattr(
        google_backend,
        "RetryPolicy",
        functools.partial(RetryPolicy, sleep=ticks.sleep, monotonic=ticks.monotonic),
    )
    assert main(["--home", str(home), "provision", "--period", PERIOD]) == 0
    capsys.readouterr()
    fake.inject("503", times=10_000)

    for command in (
        ["poll", "--period", PERIOD],
        ["check", "--period", PERIOD],
        ["read", "--unit", "STP", "--period", PERIOD],
    ):
        code = main(["--home", str(home), *command])
        err = capsys.readouterr().err
        assert code == 3, command
        assert len(err.strip().splitlines()) == 1 and "Google" in err and "Traceback" not in err


def test_it_keeps_a_refused_address_listed_until_provision_shares_it_again(
    ctx, fake, home, monkeypatch, capsys
):
    refused = "phong.hc@stp.example.vn"
    grant = fake._permission_create

    def refuse_one_address(request, params, principal):
        if (request.body or {}).get("emailAddress") == refused:
            raise drive_error(
                400, 'Bad Request. User message: "Không có tài khoản Google"', "invalidSharingRequest"
            )
        return grant(request, params, principal)

    monkeypatch.setattr(fake, "_permission_create", refuse_one_address)
    provision(ctx, ctx.period(PERIOD))
    (row,) = ctx.store.sharing_problems(PERIOD)
    assert (row["unit"], row["email"]) == ("STP", refused)
    assert main(["--home", str(home), "status", "--period", PERIOD]) == 0
    assert refused in capsys.readouterr().out

    monkeypatch.setattr(fake, "_permission_create", grant)  # the address now has a Google account
    results = provision(ctx, ctx.period(PERIOD))

    assert {r.action for r in results} == {"existing"}
    assert refused in {p.get("emailAddress") for p in fake.permissions(sheet_id_of(ctx, "STP"))}
    assert ctx.store.sharing_problems(PERIOD) == []


@pytest.mark.parametrize("text", ["=SUM(A1)", "+84 912", "-5", "@chung", "\tthụt lề", "\rdòng"])
def test_it_sends_text_quoted_against_formulas_as_the_text_itself(text):
    from bot.sheets.backends.google.sheet_requests import set_cells_requests
    from bot.sheets.values import quote_formula_like

    requests_ = set_cells_requests(SetCells("Bảng", {(1, 1): quote_formula_like(text)}), 7)

    assert requests_[0]["updateCells"]["rows"][0]["values"][0]["userEnteredValue"] == {"stringValue": text}
