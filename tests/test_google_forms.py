"""Google Forms intake: each unit's latest form answer lands in its own spreadsheet, once, and
never over something the unit typed later."""

# ruff: noqa: F811  (pytest fixtures imported from tests.google_rig are used as arguments)
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from google.oauth2 import credentials as user_credentials

from bot.clock import TZ
from bot.intake.google_forms import (
    FormsConfigError,
    FormSettings,
    intake_forms,
    last_processed,
    load_form_settings,
)
from bot.outline.layout import build_layout
from bot.sheets.backends.google import gspread_client
from jobs.poll import poll
from tests.google_rig import (  # noqa: F401  (fixtures)
    BOT,
    PERIOD,
    backend,
    clock,
    ctx,
    fake,
    folder,
    home,
    provisioned,
    ticks,
    type_in_browser,
)

TAB = "Câu trả lời biểu mẫu 1"
OWNER = "tonghop@sonoivu.example.vn"
EPOCH = datetime(1899, 12, 30, tzinfo=TZ)
QUESTIONS = ["Dấu thời gian", "Mã đơn vị", "Công tác chỉ đạo, điều hành", "Kết quả tuyên truyền"]


def serial(moment: datetime) -> float:
    """A timestamp as Google stores it in a response sheet: days since 30/12/1899."""
    return (moment - EPOCH).total_seconds() / 86400


def narratives_of_every_kind(ctx) -> list[str]:
    """Two narrative ids every unit kind of the test has."""
    period = ctx.period(PERIOD)
    per_unit = [
        {k for k, s in build_layout(ctx.schema, u, period).fields.items() if s.type == "narrative"}
        for u in ctx.units
    ]
    return sorted(set.intersection(*per_unit))[:2]


@pytest.fixture
def keys(ctx):
    return narratives_of_every_kind(ctx)


@pytest.fixture
def form_sheet(fake):
    """A response spreadsheet owned by the coordinator and shared with the bot to read."""
    info = fake.add_user(OWNER)
    client = gspread_client(
        user_credentials.Credentials.from_authorized_user_info(info), base_url=fake.base_url, timeout=5
    )
    spreadsheet = client.create("Báo cáo CCHC (Câu trả lời)")
    worksheet = spreadsheet.sheet1
    worksheet.update_title(TAB)
    worksheet.update([QUESTIONS], "A1", raw=True)
    client.insert_permission(spreadsheet.id, BOT, perm_type="user", role="reader", notify=False)
    return worksheet


def answer(form_sheet, row: int, moment: datetime, unit: str, *texts: str) -> None:
    form_sheet.update([[serial(moment), unit, *texts]], f"A{row}", raw=True)


def settings(form_sheet, keys, **extra) -> FormSettings:
    return FormSettings(
        form_sheet.spreadsheet_id,
        "Mã đơn vị",
        {QUESTIONS[2]: keys[0], QUESTIONS[3]: keys[1]},
        tab=TAB,
        **extra,
    )


@pytest.fixture
def polled(ctx, provisioned, clock):
    poll(ctx, provisioned)
    clock.advance(60)
    return provisioned


def cell_text(fake, ctx, code, key):
    spec = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD)).fields[key]
    row = fake.grid(ctx.store.sheet(code, PERIOD).sheet_id, spec.tab)[spec.row - 1]
    return row[spec.col - 1] if len(row) >= spec.col else None


def test_it_writes_each_units_latest_answer_with_one_read_and_one_write_per_unit(
    ctx, fake, clock, polled, form_sheet, keys
):
    now = clock.moment
    answer(form_sheet, 2, now - timedelta(hours=3), "STP", "Bản nháp cũ", "")
    answer(
        form_sheet,
        3,
        now - timedelta(hours=2),
        "H_A",
        "Huyện đã ban hành kế hoạch.",
        "Tuyên truyền trên đài huyện.",
    )
    answer(form_sheet, 4, now - timedelta(hours=1), "stp", "Sở đã ban hành Kế hoạch 12/KH-STP.", "")
    fake.reset_calls()

    result = intake_forms(ctx, polled, [settings(form_sheet, keys)])

    assert result.applied == {"STP": [keys[0]], "H_A": sorted(keys)}
    assert fake.counts == {"sheets.values.get": 1, "sheets.spreadsheets.batchUpdate": 2}
    assert cell_text(fake, ctx, "STP", keys[0]) == "Sở đã ban hành Kế hoạch 12/KH-STP."
    assert cell_text(fake, ctx, "H_A", keys[1]) == "Tuyên truyền trên đài huyện."
    assert result.findings == [] and result.failed == {}


def test_it_never_applies_an_answer_twice(ctx, fake, clock, polled, form_sheet, keys):
    answer(form_sheet, 2, clock.moment - timedelta(hours=1), "STP", "Nội dung từ biểu mẫu", "")
    intake_forms(ctx, polled, [settings(form_sheet, keys)])
    fake.reset_calls()

    again = intake_forms(ctx, polled, [settings(form_sheet, keys)])

    assert again.applied == {}
    assert fake.counts == {"sheets.values.get": 1}
    processed = last_processed(ctx.store, form_sheet.spreadsheet_id, PERIOD)
    assert (processed["unit"], processed["outcome"], processed["sheet_row"]) == ("STP", "applied", 2)


def test_it_keeps_what_the_unit_typed_after_the_answer_and_replaces_what_came_before(
    ctx, fake, clock, polled, form_sheet, keys
):
    layout = build_layout(ctx.schema, ctx.unit_by_code["STP"], polled)
    spreadsheet = ctx.store.sheet("STP", PERIOD).sheet_id
    type_in_browser(fake, spreadsheet, layout, {keys[0]: "Đơn vị tự nhập lúc 9 giờ."})
    poll(ctx, polled)
    typed_at = clock.moment
    answer(form_sheet, 2, typed_at - timedelta(minutes=30), "STP", "Câu trả lời gửi trước đó", "")

    older = intake_forms(ctx, polled, [settings(form_sheet, keys)])
    answer(form_sheet, 3, typed_at + timedelta(minutes=30), "STP", "Câu trả lời gửi sau đó", "")
    newer = intake_forms(ctx, polled, [settings(form_sheet, keys)])

    assert [f.rule for f in older.findings] == ["form_kept"] and older.applied == {}
    assert newer.applied == {"STP": [keys[0]]}
    assert cell_text(fake, ctx, "STP", keys[0]) == "Câu trả lời gửi sau đó"


def test_it_reports_an_answer_for_an_unknown_unit_at_every_poll(ctx, clock, polled, form_sheet, keys):
    answer(form_sheet, 2, clock.moment - timedelta(hours=1), "SO_KHONG_CO", "Nội dung", "")

    first = intake_forms(ctx, polled, [settings(form_sheet, keys)])
    second = intake_forms(ctx, polled, [settings(form_sheet, keys)])

    for result in (first, second):
        (finding,) = result.findings
        assert (
            finding.rule == "form_unknown_unit"
            and "SO_KHONG_CO" in finding.message
            and "dòng 2" in finding.message
        )
    assert last_processed(ctx.store, form_sheet.spreadsheet_id, PERIOD) is None


def test_it_knows_a_unit_by_its_name_or_by_code_and_name(ctx, fake, clock, polled, form_sheet, keys):
    answer(form_sheet, 2, clock.moment - timedelta(hours=1), "UBND huyện A", "Theo tên đơn vị", "")
    answer(form_sheet, 3, clock.moment - timedelta(hours=1), "X_B - UBND xã B", "Theo mã và tên", "")

    result = intake_forms(ctx, polled, [settings(form_sheet, keys)])

    assert sorted(result.applied) == ["H_A", "X_B"]


def test_it_writes_only_into_the_units_input_cells(ctx, fake, clock, polled, form_sheet, keys):
    layout = build_layout(ctx.schema, ctx.unit_by_code["STP"], polled)
    computed = next(k for k, s in layout.fields.items() if s.computed)
    form = FormSettings(
        form_sheet.spreadsheet_id,
        "Mã đơn vị",
        {QUESTIONS[2]: computed, QUESTIONS[3]: "_cover/status"},
        tab=TAB,
    )
    answer(form_sheet, 2, clock.moment - timedelta(hours=1), "STP", "ghi đè công thức", "Đã nộp")
    fake.reset_calls()

    result = intake_forms(ctx, polled, [form])

    assert result.applied == {}
    assert fake.counts.get("sheets.spreadsheets.batchUpdate", 0) == 0


def test_it_takes_only_answers_naming_the_polled_period(ctx, clock, polled, form_sheet, keys):
    form_sheet.update([QUESTIONS + ["Kỳ báo cáo"]], "A1", raw=True)
    answer(form_sheet, 2, clock.moment - timedelta(hours=1), "STP", "Quý trước", "", "Quý IV năm 2025")
    answer(form_sheet, 3, clock.moment - timedelta(hours=1), "H_A", "Quý này", "", polled.label)

    result = intake_forms(ctx, polled, [settings(form_sheet, keys, period_question="Kỳ báo cáo")])

    assert list(result.applied) == ["H_A"]


def test_it_says_which_question_is_missing(ctx, polled, form_sheet, keys):
    form = FormSettings(form_sheet.spreadsheet_id, "Đơn vị báo cáo", {QUESTIONS[2]: keys[0]}, tab=TAB)

    with pytest.raises(FormsConfigError, match="Đơn vị báo cáo"):
        intake_forms(ctx, polled, [form])


def test_it_reports_a_response_sheet_the_bot_cannot_open(ctx, polled, keys):
    form = FormSettings("1khongduocchiase", "Mã đơn vị", {QUESTIONS[2]: keys[0]}, tab=TAB)

    result = intake_forms(ctx, polled, [form])

    assert "biểu mẫu" in result.failed["1khongduocchiase"]


def test_it_loads_the_forms_from_the_home_folder(tmp_path):
    assert load_form_settings(tmp_path) == []
    (tmp_path / "google_forms.json").write_text(
        json.dumps(
            {
                "forms": [
                    {
                        "response_spreadsheet_id": "1AbC",
                        "unit_question": "Mã đơn vị",
                        "fields": {"Câu 1": "i1_chi_dao"},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )

    (form,) = load_form_settings(tmp_path)

    assert (form.response_spreadsheet_id, form.tab, form.fields) == ("1AbC", TAB, {"Câu 1": "i1_chi_dao"})
    (tmp_path / "google_forms.json").write_text(json.dumps({"forms": [{"fields": {}}]}), encoding="utf-8")
    with pytest.raises(FormsConfigError, match="thiếu response_spreadsheet_id"):
        load_form_settings(tmp_path)
