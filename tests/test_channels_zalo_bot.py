"""Zalo Bot channel, driven against a local fake of the Zalo Bot Platform API."""

from __future__ import annotations

import logging

import pytest

from bot.messages.channels import Message, TransportError, build_channel
from bot.messages.channels.zalo_bot import ZaloBotChannel
from tests.fakes.zalo_bot import VALID_TOKEN, FakeZaloBot


@pytest.fixture
def zalo():
    with FakeZaloBot() as fake:
        yield fake


def channel_for(fake: FakeZaloBot, **settings) -> ZaloBotChannel:
    return ZaloBotChannel(token=settings.pop("token", VALID_TOKEN), base_url=fake.base_url, **settings)


def test_it_delivers_text_to_the_chat_and_returns_the_message_id(zalo):
    message_id = channel_for(zalo).send("e4ea2cd5189df1c3a88c", Message("Báo cáo tháng 6 đã đủ số liệu."))

    assert zalo.sent() == [{"chat_id": "e4ea2cd5189df1c3a88c", "text": "Báo cáo tháng 6 đã đủ số liệu."}]
    assert zalo.requests_to("sendMessage")[0].path == f"/bot{VALID_TOKEN}/sendMessage"
    assert message_id == "zb0001"


def test_it_is_built_from_the_registry_by_kind(zalo):
    channel = build_channel("zalo_bot", {"token": VALID_TOKEN, "base_url": zalo.base_url})

    channel.send("chat-1", Message("Xin chào"))

    assert zalo.calls("sendMessage") == 1


def test_it_splits_long_text_into_messages_under_2000_characters(zalo):
    paragraphs = [
        f"Đơn vị {i}: đã nộp báo cáo kiểm soát thủ tục hành chính đúng hạn. " * 8 for i in range(12)
    ]
    text = "\n\n".join(p.strip() for p in paragraphs)

    channel_for(zalo).send("chat-1", Message(text))

    sent = [body["text"] for body in zalo.sent()]
    assert len(sent) > 1
    assert all(len(piece) <= 2000 for piece in sent)
    assert "\n\n".join(sent) == text  # cut on paragraph breaks, nothing lost or reordered


def test_it_reports_rate_limiting_as_retryable_with_the_wait(zalo):
    zalo.fail_next("rate_limit", retry_after=7)

    with pytest.raises(TransportError) as caught:
        channel_for(zalo).send("chat-1", Message("Nhắc hạn nộp báo cáo"))

    assert caught.value.permanent is False
    assert caught.value.retry_after == 7


def test_it_reports_a_server_error_as_retryable(zalo):
    zalo.fail_next("server_error")

    with pytest.raises(TransportError) as caught:
        channel_for(zalo).send("chat-1", Message("Nhắc hạn nộp báo cáo"))

    assert caught.value.permanent is False


def test_it_reports_a_slow_server_as_retryable(zalo):
    zalo.fail_next("hang", seconds=1.0)

    with pytest.raises(TransportError) as caught:
        channel_for(zalo, timeout=0.2).send("chat-1", Message("Nhắc hạn nộp báo cáo"))

    assert caught.value.permanent is False
    assert "hết thời gian chờ" in caught.value.reason


def test_it_reports_an_unreachable_server_as_retryable():
    with FakeZaloBot() as fake:
        closed_url = fake.base_url

    with pytest.raises(TransportError) as caught:
        ZaloBotChannel(token=VALID_TOKEN, base_url=closed_url).send("chat-1", Message("Xin chào"))

    assert caught.value.permanent is False


def test_it_reports_a_user_who_blocked_the_bot_as_permanent(zalo):
    zalo.fail_next("blocked")

    with pytest.raises(TransportError) as caught:
        channel_for(zalo).send("chat-1", Message("Xin chào"))

    assert caught.value.permanent is True
    assert "chặn" in caught.value.reason


def test_it_reports_an_invalid_token_as_permanent(zalo):
    with pytest.raises(TransportError) as caught:
        channel_for(zalo, token="1459232241454765289:RevokedToken").send("chat-1", Message("Xin chào"))

    assert caught.value.permanent is True
    assert "token" in caught.value.reason


def test_it_never_shows_the_token_in_errors_or_logs(zalo, caplog):
    caplog.set_level(logging.DEBUG)
    wrong_token = "999:WrongTokenNobodyMaySee"
    errors = []
    for token, fault in ((VALID_TOKEN, "server_error"), (VALID_TOKEN, "rate_limit"), (wrong_token, None)):
        if fault:
            zalo.fail_next(fault)
        with pytest.raises(TransportError) as caught:
            channel_for(zalo, token=token).send("chat-1", Message("Xin chào"))
        errors.append(caught.value)
    with pytest.raises(TransportError) as caught:
        ZaloBotChannel(token=VALID_TOKEN, base_url="http://127.0.0.1:1").send("chat-1", Message("x"))
    errors.append(caught.value)

    assert "/bot" in caplog.text  # the HTTP library did log the requests...
    for secret in (VALID_TOKEN, wrong_token, "ZaloBotSecretTokenAbc", "WrongTokenNobodyMaySee"):
        assert secret not in caplog.text  # ...with the token hidden
        assert all(secret not in str(e) and secret not in repr(e) for e in errors)


def test_it_sends_a_note_when_the_file_itself_cannot_be_sent(zalo, tmp_path):
    export = tmp_path / "tong_hop_quy_2.xlsx"
    export.write_bytes(b"PK\x03\x04")

    channel_for(zalo).send("chat-1", Message("Tổng hợp quý 2", attachment=export))

    texts = [body["text"] for body in zalo.sent()]
    assert texts[0] == "Tổng hợp quý 2"
    assert "tong_hop_quy_2.xlsx" in texts[1]


def test_it_sends_a_chart_as_a_photo_link_when_files_are_published(zalo, tmp_path):
    chart = tmp_path / "bieu do.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n")

    channel_for(zalo, photo_base_url="https://bot.tinh.gov.vn/files/").send(
        "chat-1", Message("Biểu đồ tiến độ", attachment=chart)
    )

    assert zalo.sent("sendPhoto") == [
        {"chat_id": "chat-1", "photo": "https://bot.tinh.gov.vn/files/bieu%20do.png"}
    ]


def test_it_reads_incoming_messages_and_an_empty_poll_means_none(zalo):
    channel = channel_for(zalo)
    zalo.push_update("user-7", "/baocao")

    first = channel.get_updates(timeout=1)
    second = channel.get_updates(timeout=1)

    assert [u["message"]["text"] for u in first] == ["/baocao"]
    assert second == []


def test_it_sets_a_webhook_with_its_secret_token(zalo):
    channel_for(zalo).set_webhook("https://bot.tinh.gov.vn/zalo", "khoa-bi-mat-123")

    assert zalo.webhook == {"url": "https://bot.tinh.gov.vn/zalo", "secret_token": "khoa-bi-mat-123"}
