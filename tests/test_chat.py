"""The chat bot: an unknown chat learns only how to register, a unit's chat sees its own report,
a coordinator's chat sees every unit; and the same handler answers over Zalo Bot and Telegram."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import time_machine

from bot.clock import TZ
from bot.context import open_context
from bot.messages.channels.telegram import TelegramChannel
from bot.messages.channels.zalo_bot import ZaloBotChannel
from bot.messages.chat import (
    COORDINATOR_ONLY,
    NO_DECISIONS,
    NOT_REGISTERED,
    Jobs,
    handle,
    run_console,
    serve_zalo_once,
    telegram_application,
    zalo_webhook,
)
from bot.messages.outbox import deliver, flag_problem, messages, problems
from bot.messages.registration import issue_code
from bot.outline.units import Unit
from cli.main import main
from jobs.approve import decide
from jobs.poll import poll
from jobs.provision import provision
from tests.fakes.telegram import VALID_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo_bot import VALID_TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import RecordingChannel, make_context, set_state

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

STP = Unit("STP", "Sở Tư pháp", "so_nganh", ("vanthu@stp.example.vn",), ("zalo:111",))
SNV = Unit("SNV", "Sở Nội vụ", "so_nganh", ("vanthu@snv.example.vn",), ("telegram:222",))
STC = Unit("STC", "Sở Tài chính", "so_nganh", ("vanthu@stc.example.vn",), ())
UNITS = [STP, SNV, STC]
COORDINATOR = {"name": "Phòng CCHC Sở Nội vụ", "chats": ["zalo:900", "telegram:901"]}
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=TZ)  # two days after the Q1 deadline (18/03)


@pytest.fixture
def ctx(tmp_path, schema):
    ctx = make_context(tmp_path, schema, UNITS, coordinators=[COORDINATOR])
    ctx.extras["channels"] = {
        kind: RecordingChannel(kind) for kind in ("zalo_bot", "telegram", "email", "console")
    }
    set_state(
        ctx.store, "STP", "dang_nhap", filled=4, required=10, errors=2, sections=["II.1 Công tác chỉ đạo"]
    )
    set_state(ctx.store, "SNV", "hop_le", filled=10, required=10)
    yield ctx
    ctx.close()


def ask(ctx, chat: str, text: str, now: datetime = NOW) -> str:
    kind, chat_id = {"zalo": "zalo_bot"}.get(chat.split(":")[0], chat.split(":")[0]), chat.split(":")[1]
    return "\n".join(handle(ctx, kind, chat_id, text, now=now))


def mentions_a_unit(reply: str) -> bool:
    return any(word in reply for unit in UNITS for word in (unit.code, unit.name))


def code_for(ctx, unit: str, now: datetime = NOW) -> str:
    return issue_code(ctx.store, unit, now=now).code


# --- who sees what ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/trangthai",
        "/start",
        "/huongdan",
        "/thieu",
        "/nhacnho",
        "/nhacnho STP",
        "/xuat",
        "xin chào",
        "/dangky STP ABCD-EFGH",
        "/dangky",
    ],
)
def test_it_tells_an_unregistered_chat_how_to_register_and_nothing_about_any_unit(ctx, text):
    reply = ask(ctx, "zalo:555", text)

    assert "/dangky <mã đơn vị> <mã xác nhận>" in reply or "không đúng" in reply
    assert not mentions_a_unit(reply)
    assert messages(ctx.store) == []


@pytest.mark.parametrize("text", ["/trangthai", "/trangthai SNV"])
def test_it_shows_a_unit_chat_its_own_report_only(ctx, text):
    reply = ask(ctx, "zalo:111", text)

    assert reply.splitlines()[0] == "Sở Tư pháp – báo cáo CCHC, kiểm soát TTHC Quý I năm 2026"
    assert "Hạn nộp: 18/03/2026 (đã quá hạn 2 ngày làm việc)" in reply
    assert "Tình trạng: đang nhập" in reply and "Mức độ hoàn thành: 40%" in reply
    assert "Lỗi: 2; cảnh báo: 0" in reply and "II.1 Công tác chỉ đạo" in reply
    assert "Sở Nội vụ" not in reply and "SNV" not in reply and "Sở Tài chính" not in reply


def test_it_keeps_coordinator_commands_from_unit_chats(ctx):
    for text in ("/thieu", "/nhacnho", "/nhacnho SNV", "/xuat", "/duyet SNV", "/tralai SNV sai"):
        assert ask(ctx, "telegram:222", text) == COORDINATOR_ONLY
    assert messages(ctx.store) == []


def test_it_shows_a_coordinator_every_unit(ctx):
    reply = ask(ctx, "zalo:900", "/trangthai")

    assert "Tổng hợp báo cáo CCHC, kiểm soát TTHC Quý I năm 2026 ngày 20/03/2026" in reply
    assert "hợp lệ: 1/3" in reply and "trễ hạn: 2" in reply
    assert "Sở Tư pháp" in reply and "Sở Tài chính" in reply
    assert "Theo tình trạng: chưa mở 1, đang nhập 1, hợp lệ 1" in reply


def test_it_lists_late_units_and_units_with_errors_for_a_coordinator(ctx):
    reply = ask(ctx, "telegram:901", "/thieu")

    late, errors = reply.split("\n\n")[1:]
    assert late.splitlines() == [
        "Trễ hạn (2 đơn vị):",
        "- Sở Tư pháp (STP): đang nhập, hoàn thành 40%",
        "- Sở Tài chính (STC): chưa mở, hoàn thành 0%",
    ]
    assert errors.splitlines() == ["Còn lỗi (1 đơn vị):", "- Sở Tư pháp (STP): 2 lỗi"]


def test_it_says_so_when_nothing_is_missing(ctx):
    reply = ask(ctx, "zalo:900", "/thieu", now=datetime(2026, 3, 10, 9, 0, tzinfo=TZ))

    assert "Trễ hạn" not in reply
    assert "Còn lỗi (1 đơn vị)" in reply  # before the deadline only errors count


def test_it_tells_a_unit_its_deadline_in_the_words_of_its_reminders(tmp_path, schema):
    """A deadline inside days off: the chat, as the reminder, says today is the last working day."""
    ctx = make_context(
        tmp_path, schema, UNITS, calendar={"extra_holidays": ["2026-03-16", "2026-03-17", "2026-03-18"]}
    )
    try:
        reply = ask(ctx, "zalo:111", "/trangthai", now=datetime(2026, 3, 13, 9, 0, tzinfo=TZ))
    finally:
        ctx.close()

    assert "Hạn nộp: 18/03/2026 (còn 5 ngày, hôm nay là ngày làm việc cuối cùng trước hạn)" in reply


def test_it_approves_and_returns_reports_from_a_coordinator_chat_through_the_approve_job(ctx):
    period = ctx.period("2026-Q1")
    provision(ctx, period)
    poll(ctx, period)

    def coordinator(text: str, **given) -> str:
        return "\n".join(handle(ctx, "zalo_bot", "900", text, now=NOW, **given))

    assert coordinator("/duyet STP") == NO_DECISIONS  # only when whoever runs the bot gives the job
    assert coordinator("/duyet stp", jobs=Jobs(decide=decide)).startswith(
        "Đã duyệt báo cáo Quý I năm 2026 của Sở Tư pháp (STP)"
    )
    assert "cần ghi rõ lý do" in coordinator("/tralai SNV", jobs=Jobs(decide=decide))
    assert coordinator("/tralai SNV Thiếu bảng 2", jobs=Jobs(decide=decide)).startswith("Đã trả lại báo cáo")
    assert ctx.store.unit_state("STP", period.id)["state"] == "da_duyet"
    assert ctx.store.unit_state("SNV", period.id)["approval_comment"] == "Thiếu bảng 2"


# --- registration -----------------------------------------------------------------------------------


def test_it_links_a_chat_with_the_code_the_coordinator_issued(ctx):
    code = code_for(ctx, "STC")

    reply = ask(ctx, "zalo:777", f"/dangky stc {code.lower().replace('-', '')}")

    assert reply.startswith("Đã liên kết chat này với Sở Tài chính (STC).")
    status = ask(ctx, "zalo:777", "/trangthai")
    assert "Sở Tài chính" in status and "Sở Tư pháp" not in status


@pytest.mark.parametrize("attempt", ["wrong", "other unit", "reused", "expired"])
def test_it_refuses_a_wrong_reused_or_expired_code(ctx, attempt):
    code = code_for(ctx, "STC")
    text, now, expected = f"/dangky STC {code}", NOW, "không đúng"
    if attempt == "wrong":
        text = "/dangky STC ABCD-EFGH"
    elif attempt == "other unit":
        text = f"/dangky STP {code}"
    elif attempt == "reused":
        ask(ctx, "zalo:777", text)
        expected = "đã được sử dụng"
    else:
        now, expected = NOW + timedelta(days=7, minutes=1), "đã hết hạn"

    reply = ask(ctx, "zalo:778", text, now=now)

    assert expected in reply
    assert ask(ctx, "zalo:778", "/trangthai", now=now) == NOT_REGISTERED


def test_it_keeps_only_a_hash_of_each_code(ctx):
    code = code_for(ctx, "STC")

    stored = json.dumps([dict(r) for r in ctx.store.conn.execute("SELECT * FROM registration_codes")])

    assert code not in stored and code.replace("-", "") not in stored


def test_it_issues_a_code_with_instructions_from_the_command_line(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()

    assert main(["--home", str(home), "code", "--unit", "STP"]) == 0

    out = capsys.readouterr().out
    code = re.search(r"/dangky STP (\S+)", out).group(1)
    assert "Mã xác nhận cho Sở Tư pháp (STP)" in out and "dùng được một lần" in out
    assert main(["--home", str(home), "code", "--unit", "KHONGCO"]) == 2
    assert "Không có đơn vị mã 'KHONGCO'" in capsys.readouterr().err
    ctx = open_context(home)
    assert "Đã liên kết" in handle(ctx, "telegram", "42", f"/dangky STP {code}")[0]
    ctx.close()


# --- coordinator actions ----------------------------------------------------------------------------


def test_it_queues_a_manual_reminder_for_one_unit(ctx):
    reply = ask(ctx, "zalo:900", "/nhacnho stp")

    (row,) = messages(ctx.store)
    assert reply == "Đã xếp 1 tin nhắc cho Sở Tư pháp (STP); tin sẽ được gửi ngay."
    assert (row["unit"], row["stage"], row["channel"], row["address"]) == (
        "STP",
        "thucong-20260320T090000",
        "zalo_bot",
        "111",
    )
    assert "đã quá hạn 2 ngày làm việc" in row["text"]


def test_it_queues_manual_reminders_for_every_unit_not_yet_valid(ctx):
    reply = ask(ctx, "zalo:900", "/nhacnho")

    assert reply.startswith("Đã xếp 2 tin nhắc cho 2 đơn vị chưa hợp lệ")
    assert sorted((r["unit"], r["channel"]) for r in messages(ctx.store)) == [
        ("STC", "email"),
        ("STP", "zalo_bot"),
    ]
    assert "không cần nhắc" in ask(ctx, "zalo:900", "/nhacnho SNV")
    assert "Không có đơn vị mã «XYZ»" in ask(ctx, "zalo:900", "/nhacnho XYZ")


def test_it_sends_a_fresh_export_to_the_coordinator_who_asked(ctx):
    assert "Chưa có tệp tổng hợp nào của kỳ Quý I năm 2026" in ask(ctx, "zalo:900", "/xuat")
    period = ctx.period("2026-Q1")
    provision(ctx, period)
    poll(ctx, period)

    reply = ask(ctx, "zalo:900", "/xuat")
    deliver(ctx.store, ctx.extras["channels"], now=lambda: NOW)

    assert reply.startswith("Đang gửi tệp «tong_hop_2026-Q1.xlsx»")
    ((address, message),) = ctx.extras["channels"]["zalo_bot"].calls
    assert address == "900" and message.attachment.name == "tong_hop_2026-Q1.xlsx"
    assert "Tình trạng" in openpyxl.load_workbook(message.attachment, read_only=True).sheetnames


def test_it_does_not_rebuild_an_export_whose_data_did_not_change(ctx):
    period = ctx.period("2026-Q1")
    provision(ctx, period)
    poll(ctx, period)
    ask(ctx, "zalo:900", "/xuat")
    export = ctx.config.exports_dir / "tong_hop_2026-Q1.xlsx"
    os.utime(export, (1, 1))
    ask(ctx, "zalo:900", "/xuat")
    assert export.stat().st_mtime == 1


def test_it_clears_a_delivery_problem_when_the_chat_writes_again(ctx):
    flag_problem(ctx.store, "zalo_bot", "111", "Sở Tư pháp", "bị chặn", NOW)

    ask(ctx, "zalo:111", "/start")

    assert problems(ctx.store) == []


# --- transports -------------------------------------------------------------------------------------


def test_it_answers_over_zalo_bot_end_to_end(ctx):
    with FakeZaloBot() as zalo:
        channel = ZaloBotChannel(token=ZALO_TOKEN, base_url=zalo.base_url)
        zalo.push_update("555", "/trangthai")
        zalo.push_update("111", "/trangthai")

        handled = serve_zalo_once(ctx, channel, timeout=1) + serve_zalo_once(ctx, channel, timeout=1)
        assert serve_zalo_once(ctx, channel, timeout=1) == 0

    assert handled == 2
    stranger, clerk = zalo.sent()
    assert stranger == {"chat_id": "555", "text": NOT_REGISTERED}
    assert clerk["chat_id"] == "111" and clerk["text"].startswith("Sở Tư pháp – báo cáo")


def test_it_takes_a_zalo_webhook_only_with_its_secret_token(ctx):
    body = json.dumps(
        {
            "ok": True,
            "result": {
                "event_name": "message.text.received",
                "message": {
                    "chat": {"id": "111", "chat_type": "PRIVATE"},
                    "text": "/trangthai",
                    "message_id": "m1",
                },
            },
        }
    ).encode()
    with FakeZaloBot() as zalo:
        channel = ZaloBotChannel(token=ZALO_TOKEN, base_url=zalo.base_url)

        refused = zalo_webhook(ctx, channel, "khoa-bi-mat-123", {"X-Bot-Api-Secret-Token": "doan-bua"}, body)
        missing = zalo_webhook(ctx, channel, "khoa-bi-mat-123", {}, body)
        assert zalo.sent() == []
        accepted = zalo_webhook(
            ctx, channel, "khoa-bi-mat-123", {"x-bot-api-secret-token": "khoa-bi-mat-123"}, body
        )

    assert (refused, missing, accepted) == (403, 403, 200)
    assert [m["chat_id"] for m in zalo.sent()] == ["111"]


def test_it_answers_over_telegram_end_to_end_through_an_application(ctx):
    with FakeTelegram() as telegram:
        settings = {"token": TELEGRAM_TOKEN, "base_url": telegram.bot_base_url}
        channel = TelegramChannel(**settings)
        telegram.push_update(222, "/trangthai")
        telegram.push_update(901, "/thieu")
        telegram.push_update(31337, "/trangthai")

        async def poll_once(application):
            async with application:
                for update in await application.bot.get_updates(timeout=0):
                    await application.process_update(update)

        with time_machine.travel(NOW, tick=True):
            asyncio.run(poll_once(telegram_application(ctx, channel, settings)))

    replies = {r.form["chat_id"]: r.form["text"] for r in telegram.requests_to("sendMessage")}
    assert replies["222"].startswith("Sở Nội vụ – báo cáo") and "Tình trạng: hợp lệ" in replies["222"]
    assert replies["901"].startswith("Báo cáo CCHC") and "Sở Tư pháp (STP)" in replies["901"]
    assert replies["31337"] == NOT_REGISTERED


def test_it_runs_the_bot_on_the_console_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("/start\n/trangthai\n"))

    assert main(["--home", str(tmp_path), "bot", "--console"]) == 0

    shown = capsys.readouterr().out
    assert "Xin chào! Đây là bot nhắc việc" in shown and NOT_REGISTERED in shown


def test_it_answers_on_the_console_for_trying_locally(ctx):
    screen = io.StringIO()

    run_console(ctx, io.StringIO("/huongdan\n\n/trangthai\n"), screen)

    shown = screen.getvalue()
    assert "chế độ thử" in shown and "/dangky <mã đơn vị> <mã xác nhận>" in shown
    assert not mentions_a_unit(shown)


@pytest.mark.parametrize("token", ["123456789:RevokedTelegramSecretXyz123", "RevokedTelegramSecretXyz123"])
def test_it_says_which_setting_to_fix_when_telegram_rejects_the_token_and_never_prints_it(tmp_path, token):
    """401 for a revoked token, 404 for one not shaped like a token (see tests/fakes/telegram.py)."""
    import subprocess
    import sys

    with FakeTelegram() as telegram:
        (tmp_path / "config.json").write_text(
            json.dumps({"channels": {"telegram": {"token": token, "base_url": telegram.bot_base_url}}}),
            encoding="utf-8",
        )
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--home", str(tmp_path), "bot"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
        )

    shown = done.stdout + done.stderr
    assert done.returncode != 0
    assert "RevokedTelegramSecretXyz123" not in shown
    assert "Traceback" not in shown
    assert "channels.telegram.token" in shown and "TELEGRAM_BOT_TOKEN" in shown


def test_it_refuses_a_chat_for_a_growing_time_after_five_wrong_codes_even_across_a_restart(ctx, tmp_path):
    from bot.store import Store

    code = code_for(ctx, "STC")
    replies = [ask(ctx, "zalo:666", f"/dangky STC SAI{n}-MAXX") for n in range(5)]
    assert all("không đúng" in reply for reply in replies[:4])
    assert "thử lại sau 09:15 ngày 20/03/2026" in replies[4]

    ctx.store.close()
    ctx.store = Store(tmp_path / "state.db")  # the bot restarts: the refusal is still there
    refused = ask(ctx, "zalo:666", f"/dangky STC {code}", now=NOW + timedelta(minutes=10))
    assert "thử lại sau 09:15 ngày 20/03/2026" in refused
    assert ask(ctx, "zalo:999", "/dangky STC SAI0-MAXX").startswith("Mã đơn vị")  # other chats are not slowed

    later = NOW + timedelta(minutes=16)
    replies = [ask(ctx, "zalo:666", f"/dangky STC SAI{n}-MAXY", now=later) for n in range(5)]
    assert "thử lại sau 09:46 ngày 20/03/2026" in replies[4]  # twice as long the second time

    assert ask(ctx, "zalo:666", f"/dangky STC {code}", now=later + timedelta(minutes=31)).startswith(
        "Đã liên kết"
    )
