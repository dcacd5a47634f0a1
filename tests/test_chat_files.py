"""A workbook dropped into a chat: a unit's chat gets it taken through ``submit`` and answered in
the same chat; an unknown chat's file is never downloaded; a coordinator is asked whose it is;
Zalo, which hands no file to a bot, is answered with the other ways to send it."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.context import open_context
from bot.intake.chat_files import MAX_FINDINGS, NOT_REGISTERED_FILE, OTHER_WAYS, ChatFile, take_file
from bot.intake.download import download
from bot.messages.channels import TransportError
from bot.messages.channels.telegram import TelegramChannel
from bot.messages.channels.zalo_bot import ZaloBotChannel
from bot.messages.chat import (
    NOT_REGISTERED,
    Jobs,
    handle,
    serve_zalo_once,
    telegram_application,
    zalo_webhook,
)
from jobs.provision import provision
from jobs.submit import submit
from tests.fakes.telegram import VALID_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo_bot import VALID_TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBot
from tests.intake_helpers import PERIOD, TOTAL_KEY, cell_value, fill, filled_report

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

UNITS = (
    "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,vt@stp.example.vn,telegram:222;zalo:111\n"
    "SNV,Sở Nội vụ,so_nganh,vt@snv.example.vn,\n"
)
COORDINATOR = {"name": "Phòng CCHC", "chats": ["telegram:901"]}


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def ctx(tmp_path, telegram):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(UNITS, encoding="utf-8")
    (home / "config.json").write_text(
        json.dumps({"coordinators": [COORDINATOR], "web": {"public_base_url": "https://baocao.example.vn"}})
    )
    ctx = open_context(home)
    provision(ctx, ctx.period(PERIOD))
    ctx.extras["channels"] = {"telegram": channel_for(telegram)}
    yield ctx
    ctx.close()


def channel_for(fake: FakeTelegram) -> TelegramChannel:
    return TelegramChannel(token=TELEGRAM_TOKEN, base_url=fake.bot_base_url, base_file_url=fake.file_base_url)


def workbook(ctx, mistakes: bool = True, code: str = "STP") -> bytes:
    return fill(
        ctx, download(ctx, code, ctx.period(PERIOD))[0], filled_report(ctx, code, mistakes=mistakes), code
    )


def send(ctx, telegram, chat: int, data: bytes, name: str = "STP.xlsx", **kwargs) -> str:
    """The file goes through the fake Bot API as a document message; the bot's replies."""
    file_id = telegram.push_document(chat, name, data, **kwargs)
    update = telegram.updates.pop()
    document = update["message"]["document"]
    file = ChatFile(
        document["file_name"], file_id, document["file_size"], update["message"].get("caption", "")
    )
    return "\n".join(take_file(ctx, "telegram", str(chat), file, channel_for(telegram).download, submit))


def test_it_takes_a_units_workbook_sent_over_telegram_and_answers_in_the_same_chat(ctx, telegram):
    telegram.push_document(222, "Báo cáo quý 1.xlsx", workbook(ctx))

    async def poll_once(application):
        async with application:
            for update in await application.bot.get_updates(timeout=0):
                await application.process_update(update)

    asyncio.run(
        poll_once(
            telegram_application(
                ctx,
                channel_for(telegram),
                {"token": TELEGRAM_TOKEN, "base_url": telegram.bot_base_url},
                jobs=Jobs(submit=submit),
            )
        )
    )

    (reply,) = [r.form["text"] for r in telegram.requests_to("sendMessage") if r.form["chat_id"] == "222"]
    assert reply.startswith("Đã nhận tệp «Báo cáo quý 1.xlsx» của Sở Tư pháp (STP), kỳ 2026-Q1")
    assert "Mức độ hoàn thành:" in reply and "[Lỗi] Bảng" in reply and "402" in reply
    assert "(ô '" in reply  # the cell, after its place in words
    assert "https://baocao.example.vn/u/" in reply
    assert cell_value(ctx, TOTAL_KEY) == 402
    (version,) = ctx.store.versions("STP", PERIOD)
    assert version["channel"] == "chat" and "telegram:222" in version["sender"]


def test_it_lists_the_first_ten_findings_and_says_how_many_more(ctx, telegram):
    empty = download(ctx, "STP", ctx.period(PERIOD))[0]  # an untouched workbook: every required cell missing

    reply = send(ctx, telegram, 222, fill(ctx, empty, {TOTAL_KEY: 402}))

    numbered = [line for line in reply.splitlines() if line.split(".")[0].isdigit()]
    assert len(numbered) == MAX_FINDINGS
    assert "… và " in reply and "mục khác" in reply


def test_it_refuses_an_unregistered_chats_file_without_downloading_it(ctx, telegram):
    reply = send(ctx, telegram, 31337, workbook(ctx))

    assert reply == NOT_REGISTERED_FILE
    assert telegram.calls("getFile") == 0 and not [
        r for r in telegram.requests if r.path.startswith("/file/")
    ]
    assert ctx.store.versions("STP", PERIOD) == []


def test_it_asks_a_coordinator_whose_file_it_is_then_takes_it_on_nop(ctx, telegram):
    asked = send(ctx, telegram, 901, workbook(ctx, code="SNV"), name="snv.xlsx")
    assert "là báo cáo của đơn vị nào" in asked and "/nop" in asked
    assert telegram.calls("getFile") == 0

    taken = "\n".join(handle(ctx, "telegram", "901", "/nop snv", jobs=Jobs(submit=submit)))

    assert taken.startswith("Đã nhận tệp «snv.xlsx» của Sở Nội vụ (SNV)")
    assert len(ctx.store.versions("SNV", PERIOD)) == 1
    assert "Chưa có tệp nào chờ nộp" in "\n".join(
        handle(ctx, "telegram", "901", "/nop SNV", jobs=Jobs(submit=submit))
    )


def test_it_takes_a_coordinators_file_at_once_when_the_caption_names_the_unit(ctx, telegram):
    reply = send(ctx, telegram, 901, workbook(ctx, code="SNV"), caption="/nop SNV")

    assert reply.startswith("Đã nhận tệp «STP.xlsx» của Sở Nội vụ (SNV)")


def test_it_refuses_a_file_bigger_than_the_limit_from_its_declared_size_without_downloading(ctx, telegram):
    reply = send(ctx, telegram, 222, b"x" * 100, size=25 * 1024 * 1024)

    assert "lớn hơn 10 MB" in reply and telegram.calls("getFile") == 0
    file_id = next(iter(telegram.files))
    with pytest.raises(
        TransportError, match="(?i)file is too big"
    ) as caught:  # what the Bot API says past 20 MB
        channel_for(telegram).download(file_id)
    assert caught.value.permanent


def test_it_tells_the_sender_when_the_download_breaks_half_way_and_keeps_nothing(ctx, telegram):
    telegram.cut_downloads = 1

    reply = send(ctx, telegram, 222, workbook(ctx))

    assert "Chưa tải được tệp «STP.xlsx»" in reply and "gửi lại" in reply
    assert ctx.store.versions("STP", PERIOD) == []
    assert not (ctx.config.home / "versions").exists()


def test_it_says_why_a_file_of_another_unit_is_refused(ctx, telegram):
    reply = send(ctx, telegram, 222, workbook(ctx, code="SNV"))

    assert reply.startswith("Chưa nhận tệp «STP.xlsx»: ") and "không phải của đơn vị STP" in reply


def test_it_tells_a_zalo_chat_that_files_go_by_email_or_the_portal(ctx):
    with FakeZaloBot() as zalo:
        channel = ZaloBotChannel(token=ZALO_TOKEN, base_url=zalo.base_url)
        zalo.push_file("111")
        zalo.push_file("999")
        serve_zalo_once(ctx, channel, timeout=1)
        serve_zalo_once(ctx, channel, timeout=1)

        update = {"event_name": "message.unsupported.received", "message": {"chat": {"id": "111"}}}
        by_webhook = zalo_webhook(
            ctx,
            channel,
            "khoa-bi-mat-123",
            {"X-Bot-Api-Secret-Token": "khoa-bi-mat-123"},
            json.dumps(update).encode(),
        )

    replies = [(body["chat_id"], body["text"]) for body in zalo.sent()]
    assert [chat for chat, _ in replies] == ["111", "999", "111"] and by_webhook == 200
    assert OTHER_WAYS in replies[0][1] and OTHER_WAYS in replies[2][1]
    assert replies[1][1] == NOT_REGISTERED
