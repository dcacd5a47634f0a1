"""The coordinators' daily digest: once a working day from digest_hour, to every coordinator contact,
with a bar chart of units per state when there are more than 12 units."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.messages.outbox import flag_problem, messages
from bot.outline.units import Unit
from bot.reporting.charts import state_labels
from jobs.remind import remind
from tests.helpers import RecordingChannel, at, make_context, set_state

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COORDINATORS = [
    {
        "name": "Phòng CCHC Sở Nội vụ",
        "emails": ["cchc@snv.example.vn"],
        "chats": ["zalo:900", "telegram:901"],
    },
    {"name": "Văn phòng UBND tỉnh", "emails": [], "chats": ["zalo:902"]},
]


def units(n: int) -> list[Unit]:
    return [Unit(f"U{i:02d}", f"UBND xã số {i}", "xa", (), (f"zalo:{i}",)) for i in range(n)]


def context(tmp_path, schema, n_units: int, coordinators=COORDINATORS):
    ctx = make_context(tmp_path, schema, units(n_units), coordinators=coordinators)
    ctx.extras["channels"] = {
        kind: RecordingChannel(kind) for kind in ("zalo_bot", "telegram", "email", "console")
    }
    return ctx


def digests(ctx) -> list[tuple[str, str, object]]:
    return [
        (kind, address, message)
        for kind, channel in ctx.extras["channels"].items()
        for address, message in channel.calls
        if message.subject and message.subject.startswith("Tổng hợp")
    ]


def test_it_sends_the_digest_to_every_coordinator_contact_once_a_day(tmp_path, schema, period):
    ctx = context(tmp_path, schema, 3)
    set_state(ctx.store, "U01", "da_nop_con_loi", errors=3)

    for moment in (
        at(date(2026, 3, 19), 15, 59),
        at(date(2026, 3, 19), 16, 0),
        at(date(2026, 3, 19), 17, 30),
    ):
        remind(ctx, period, now=moment)

    sent = digests(ctx)
    assert sorted((kind, address) for kind, address, _ in sent) == [
        ("email", "cchc@snv.example.vn"),
        ("telegram", "901"),
        ("zalo_bot", "900"),
        ("zalo_bot", "902"),
    ]
    text = sent[0][2].text
    assert text.startswith("Tổng hợp báo cáo CCHC, kiểm soát TTHC Quý I năm 2026 ngày 19/03/2026")
    assert "trễ hạn: 3" in text and "UBND xã số 1 (3 lỗi)" in text
    assert {row["stage"] for row in messages(ctx.store) if row["unit"] == "*"} == {"digest-2026-03-19"}


def test_it_attaches_a_png_chart_when_there_are_more_than_12_units(tmp_path, schema, period):
    ctx = context(tmp_path, schema, 13)

    remind(ctx, period, now=at(date(2026, 3, 12), 16, 30))

    attachments = {message.attachment for _, _, message in digests(ctx)}
    (chart,) = attachments
    assert isinstance(chart, Path) and chart.read_bytes().startswith(PNG_SIGNATURE)
    assert chart.stat().st_size > 5_000


def test_it_sends_no_chart_for_12_units_or_fewer(tmp_path, schema, period):
    ctx = context(tmp_path, schema, 12)

    remind(ctx, period, now=at(date(2026, 3, 12), 16, 30))

    assert digests(ctx) and all(message.attachment is None for _, _, message in digests(ctx))
    assert not (ctx.config.outbox_dir / "charts").exists()


def test_it_labels_the_chart_bars_in_vietnamese():
    assert state_labels() == [
        "Chưa mở",
        "Đang nhập",
        "Đã nộp",
        "Đã nộp nhưng còn lỗi",
        "Hợp lệ",
        "Đã duyệt",
        "Trả lại",
    ]


@pytest.mark.parametrize(
    "moment",
    [
        at(date(2026, 3, 12), 15, 0),  # before digest_hour
        at(date(2026, 3, 14), 16, 30),  # a Saturday
        at(date(2026, 2, 27), 16, 30),  # before the period opens (01/03)
    ],
    ids=["before-the-hour", "saturday", "before-the-period-opens"],
)
def test_it_sends_no_digest_outside_working_hours_days_and_the_period(tmp_path, schema, period, moment):
    ctx = context(tmp_path, schema, 3)

    remind(ctx, period, now=moment)

    assert digests(ctx) == []


def test_it_stops_once_every_report_is_valid(tmp_path, schema, period):
    ctx = context(tmp_path, schema, 2)
    for code in ("U00", "U01"):
        set_state(ctx.store, code, "hop_le", filled=10)

    remind(ctx, period, now=at(date(2026, 3, 12), 16, 30))

    assert digests(ctx) == []


def test_it_goes_to_the_console_when_no_coordinator_is_configured(tmp_path, schema, period):
    ctx = context(tmp_path, schema, 2, coordinators=[])

    remind(ctx, period, now=at(date(2026, 3, 12), 16, 30))

    assert [(kind, address) for kind, address, _ in digests(ctx)] == [("console", "đầu mối")]


def test_it_tells_coordinators_which_addresses_failed_for_good(tmp_path, schema, period):
    ctx = context(tmp_path, schema, 2)
    flag_problem(
        ctx.store,
        "zalo_bot",
        "1",
        "UBND xã số 1",
        "Zalo Bot: người nhận đã chặn bot",
        at(date(2026, 3, 11), 9),
    )

    remind(ctx, period, now=at(date(2026, 3, 12), 16, 30))

    text = digests(ctx)[0][2].text
    assert (
        "Không gửi được tin tới 1 địa chỉ" in text
        and "UBND xã số 1 (Zalo Bot: người nhận đã chặn bot)" in text
    )


def test_it_tells_coordinators_once_by_their_other_channels_when_a_channel_token_is_revoked(
    tmp_path, schema, period
):
    from bot.messages.channels import TransportError

    ctx = context(tmp_path, schema, 3)
    revoked = TransportError(
        "Zalo Bot: token không hợp lệ hoặc đã bị thu hồi (401)", permanent=True, channel_wide=True
    )
    ctx.extras["channels"]["zalo_bot"] = RecordingChannel("zalo_bot", script=[revoked] * 10)

    for hour in (8, 9, 10):
        remind(ctx, period, now=at(date(2026, 3, 11), hour))

    notices = [
        (kind, address)
        for kind, channel in ctx.extras["channels"].items()
        for address, message in channel.calls
        if message.subject == "Kênh Zalo ngừng gửi tin"
    ]
    assert sorted(notices) == [("email", "cchc@snv.example.vn"), ("telegram", "901")]
    assert not [flag for flag in ctx.store.conn.execute("SELECT * FROM contacts WHERE problem IS NOT NULL")]


def test_it_lists_reminders_no_channel_could_deliver_as_something_to_act_on(tmp_path, schema, period):
    from bot.messages.channels import TransportError

    ctx = context(tmp_path, schema, 2)
    down = TransportError("Zalo Bot: máy chủ đang lỗi (500)", permanent=False)
    ctx.extras["channels"]["zalo_bot"] = RecordingChannel("zalo_bot", script=[down] * 100)
    day = date(2026, 3, 11)
    for hour, minute in ((8, 0), (12, 0), (16, 0), (20, 0)):
        remind(ctx, period, now=at(day, hour, minute))

    remind(ctx, period, now=at(date(2026, 3, 12), 16, 30))  # the next day's digest

    text = digests(ctx)[-1][2].text
    assert "Có 2 tin nhắc không gửi được" in text and "UBND xã số 1 – nhắc trước hạn 7 ngày, Zalo" in text
