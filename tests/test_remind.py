"""The reminder job: the right units get the right stage on the right working day, once, on the
right channel; and end to end through the real clients against local fake servers."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import time_machine

from bot import clock
from bot.messages.outbox import messages
from bot.messages.registration import issue_code, redeem
from bot.outline.units import Unit
from cli.main import main
from jobs.remind import remind
from tests.fakes.smtp import Inbox, serve
from tests.fakes.telegram import VALID_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo_bot import VALID_TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import SMALL_UNITS_CSV, RecordingChannel, at, make_context, set_state

STP = Unit("STP", "Sở Tư pháp", "so_nganh", ("vanthu@stp.example.vn",), ("zalo:111",))
SNV = Unit("SNV", "Sở Nội vụ", "so_nganh", ("vanthu@snv.example.vn",), ("zalo:222",))
STC = Unit("STC", "Sở Tài chính", "so_nganh", ("vanthu@stc.example.vn",), ("zalo:333",))
SYT = Unit("SYT", "Sở Y tế", "so_nganh", ("vanthu@syt.example.vn",), ())
XA = Unit("X_LOCAN", "UBND xã Lộc An", "xa", (), ())


@pytest.fixture
def ctx(tmp_path, schema):
    ctx = make_context(tmp_path, schema, [STP, SNV, STC], channels={"zalo_bot": {"token": "x"}})
    ctx.extras["channels"] = {
        "zalo_bot": RecordingChannel("zalo_bot"),
        "console": RecordingChannel("console"),
    }
    yield ctx
    ctx.close()


def sent(ctx, kind: str = "zalo_bot") -> RecordingChannel:
    return ctx.extras["channels"][kind]


def test_it_reminds_the_right_units_on_the_right_working_days_once_each_over_a_month(ctx, period):
    set_state(ctx.store, "SNV", "dang_nhap")
    set_state(ctx.store, "STC", "hop_le", filled=10)
    received: dict[str, list[tuple[date, str]]] = {"111": [], "222": [], "333": []}
    day = date(2026, 3, 1)
    while day <= date(2026, 3, 31):
        if day == date(2026, 3, 20):
            set_state(ctx.store, "SNV", "hop_le", filled=10)  # Sở Nội vụ finishes before the 20th's run
        for moment in (at(day, 7, 50), at(day, 8, 5), at(day, 8, 5), at(day, 16, 30)):  # reruns on purpose
            before = len(sent(ctx).calls)
            with time_machine.travel(moment, tick=False):
                remind(ctx, period, now=clock.now())
            for address, _ in sent(ctx).calls[before:]:
                received[address].append((day, _stage_of(ctx, address, day)))
        day += timedelta(days=1)

    late_days = [19, 20, 23, 24, 25, 26, 27, 30, 31]  # working days after Wednesday 18/03
    before_deadline = [
        (date(2026, 3, 11), "truoc-7"),
        (date(2026, 3, 13), "truoc-3"),  # 15/03 is a Sunday
        (date(2026, 3, 17), "truoc-1"),
        (date(2026, 3, 18), "han"),
    ]
    assert received["111"] == before_deadline + [
        (date(2026, 3, d), f"tre-2026-03-{d:02d}") for d in late_days
    ]
    assert received["222"] == before_deadline + [(date(2026, 3, 19), "tre-2026-03-19")]
    assert received["333"] == []  # valid all along


def _stage_of(ctx, address: str, day: date) -> str:
    rows = [
        r for r in messages(ctx.store) if r["address"] == address and r["sent_at"].startswith(day.isoformat())
    ]
    return rows[-1]["stage"]


def test_it_counts_a_unit_never_checked_as_not_started(ctx, period):
    set_state(ctx.store, "STC", "dang_nhap", sections=["II.1 Công tác chỉ đạo"])

    remind(ctx, period, now=at(date(2026, 3, 11), 9))

    texts = {address: message.text for address, message in sent(ctx).calls}
    assert "Mức độ hoàn thành: 0%" in texts["111"] and "chưa bắt đầu nhập báo cáo" in texts["111"]
    assert "Mức độ hoàn thành: 40%" in texts["333"] and "II.1 Công tác chỉ đạo" in texts["333"]


def test_it_returns_what_it_queued_and_nothing_on_a_rerun(ctx, period):
    first = remind(ctx, period, now=at(date(2026, 3, 11), 9))
    second = remind(ctx, period, now=at(date(2026, 3, 11), 10))

    assert sorted((m.unit, m.stage, m.channel, m.address) for m in first) == [
        ("SNV", "truoc-7", "zalo_bot", "222"),
        ("STC", "truoc-7", "zalo_bot", "333"),
        ("STP", "truoc-7", "zalo_bot", "111"),
    ]
    assert second == []


def test_it_writes_and_sends_nothing_in_a_dry_run(ctx, period):
    planned = remind(ctx, period, now=at(date(2026, 3, 18), 16, 30), dry_run=True)

    assert {(m.unit, m.stage) for m in planned} >= {("STP", "han"), ("SNV", "han"), ("STC", "han")}
    assert any(m.stage == "digest-2026-03-18" for m in planned)
    assert messages(ctx.store) == [] and sent(ctx).calls == [] and sent(ctx, "console").calls == []
    assert not (ctx.config.outbox_dir / "charts").exists()


def test_it_picks_chats_in_channel_order_then_email_then_the_console(tmp_path, schema, period):
    both = Unit("SVH", "Sở Văn hóa", "so_nganh", ("vanthu@svh.example.vn",), ("telegram:55", "zalo:44"))
    ctx = make_context(tmp_path, schema, [both, SYT, XA], channel_order=["zalo_bot", "telegram", "email"])
    ctx.extras["channels"] = {
        kind: RecordingChannel(kind) for kind in ("zalo_bot", "telegram", "email", "console")
    }

    planned = remind(ctx, period, now=at(date(2026, 3, 11), 9))

    routes = [(m.unit, m.channel, m.address, m.fallback_emails) for m in planned if m.unit != "*"]
    assert routes == [
        ("SVH", "zalo_bot", "44", ("vanthu@svh.example.vn",)),
        ("SVH", "telegram", "55", ("vanthu@svh.example.vn",)),
        ("SYT", "email", "vanthu@syt.example.vn", ()),
        ("X_LOCAN", "console", "UBND xã Lộc An (X_LOCAN)", ()),
    ]
    assert sent(ctx, "email").calls[0][1].subject == "Nhắc hạn báo cáo CCHC, kiểm soát TTHC Quý I năm 2026"


def test_it_reminds_chats_linked_by_registration_too(ctx, period):
    issued = issue_code(ctx.store, "SNV", now=at(date(2026, 3, 10), 9))
    redeem(ctx.store, "SNV", issued.code, "zalo_bot", "999", now=at(date(2026, 3, 10), 10))

    remind(ctx, period, now=at(date(2026, 3, 11), 9))

    assert sorted(sent(ctx).addresses) == ["111", "222", "333", "999"]


def test_it_rehearses_a_moment_from_the_command_line_without_writing(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()

    code = main(
        ["--home", str(home), "remind", "--period", "2026-Q1", "--now", "2026-03-13T08:30", "--dry-run"]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "Chạy thử lúc 08:30 ngày 13/03/2026" in out and "truoc-3" in out and "Sở Tư pháp" in out
    assert not (home / "outbox" / "messages.log").exists()
    assert main(["--home", str(home), "outbox", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "messages": [],
        "problems": [],
        "undelivered": [],
        "channels": [],
    }


def test_it_sends_and_lists_from_the_command_line(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()

    assert main(["--home", str(home), "remind", "--period", "2026-Q1", "--now", "2026-03-11T08:30"]) == 0
    assert "Đã xếp 48 tin mới" in capsys.readouterr().out
    assert main(["--home", str(home), "remind", "--period", "2026-Q1", "--now", "2026-03-11T09:30"]) == 0
    assert "không có tin nhắc mới" in capsys.readouterr().out
    assert main(["--home", str(home), "outbox"]) == 0
    listing = capsys.readouterr().out
    assert "Sở Tư pháp (STP)" in listing and "đã gửi 48" in listing
    assert "Kính gửi Sở Tư pháp" in (home / "outbox" / "messages.log").read_text(encoding="utf-8")


def test_it_links_a_local_workbook_only_where_units_can_open_it(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(SMALL_UNITS_CSV, encoding="utf-8")
    assert main(["--home", str(home), "provision", "--period", "2026-Q1"]) == 0
    main(["--home", str(home), "remind", "--period", "2026-Q1", "--now", "2026-03-11T08:30", "--dry-run"])
    assert "Bảng báo cáo:" not in capsys.readouterr().out  # a path on the bot's machine helps no one
    (home / "config.json").write_text(
        '{"public_base_url": "https://snv.example.vn/baocao/"}', encoding="utf-8"
    )
    main(["--home", str(home), "remind", "--period", "2026-Q1", "--now", "2026-03-11T08:30", "--dry-run"])
    assert "Bảng báo cáo: https://snv.example.vn/baocao/2026-Q1/STP.xlsx" in capsys.readouterr().out


def test_it_refuses_a_moment_it_cannot_read(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "remind", "--period", "2026-Q1", "--now", "mai"]) == 2
    assert "--now 'mai' không hợp lệ" in capsys.readouterr().err


# --- end to end: real clients, local servers ---------------------------------------------------------


@pytest.fixture
def servers():
    inbox = Inbox()
    smtp = serve(inbox, auth_require_tls=False)
    with FakeZaloBot() as zalo, FakeTelegram() as telegram:
        yield zalo, telegram, smtp, inbox
    smtp.stop()


def test_it_delivers_through_zalo_telegram_and_smtp_and_falls_back_to_email(
    tmp_path, schema, period, servers
):
    zalo, telegram, smtp, inbox = servers
    units = [
        Unit("STP", "Sở Tư pháp", "so_nganh", ("vanthu@stp.example.vn",), ("zalo:user-1",)),
        Unit("SNV", "Sở Nội vụ", "so_nganh", ("vanthu@snv.example.vn",), ("telegram:100027",)),
        Unit("SYT", "Sở Y tế", "so_nganh", ("vanthu@syt.example.vn",), ()),
        Unit("SXD", "Sở Xây dựng", "so_nganh", ("vanthu@sxd.example.vn",), ("zalo:user-2",)),
    ]
    ctx = make_context(
        tmp_path,
        schema,
        units,
        channels={
            "zalo_bot": {"token": ZALO_TOKEN, "base_url": zalo.base_url},
            "telegram": {"token": TELEGRAM_TOKEN, "base_url": telegram.bot_base_url},
            "email": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "sender": "baocao@tinh.example.vn",
            },
        },
    )
    zalo.fail_next("server_error")  # STP's first try
    zalo.fail_next("blocked")  # SXD has blocked the bot

    for moment in (at(date(2026, 3, 17), 8, 30), at(date(2026, 3, 17), 9, 0)):  # STP's retry is due by 9:00
        with time_machine.travel(moment, tick=True):
            remind(ctx, period, now=clock.now())

    assert [body["chat_id"] for body in zalo.sent()] == ["user-1", "user-2", "user-1"]
    assert "còn 1 ngày" in zalo.sent()[-1]["text"]
    assert [r.form["chat_id"] for r in telegram.requests_to("sendMessage")] == ["100027"]
    recipients = sorted(rcpt for rcpts in inbox.recipients for rcpt in rcpts)
    assert recipients == ["vanthu@sxd.example.vn", "vanthu@syt.example.vn"]  # no chat; chat blocked
    states = {(r["unit"], r["channel"]): r["state"] for r in messages(ctx.store)}
    assert states == {
        ("STP", "zalo_bot"): "sent",
        ("SNV", "telegram"): "sent",
        ("SYT", "email"): "sent",
        ("SXD", "zalo_bot"): "failed",
        ("SXD", "email"): "sent",
    }
    ctx.close()
