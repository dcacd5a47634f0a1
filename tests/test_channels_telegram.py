"""Telegram channel: the real python-telegram-bot client against a local fake Bot API."""

from __future__ import annotations

import logging

import pytest

from bot.messages.channels import Message, TransportError, build_channel
from bot.messages.channels.telegram import TelegramChannel
from tests.fakes.telegram import VALID_TOKEN, FakeTelegram

CHAT = "987654321"

# PTB 22 itself warns, while building RetryAfter, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


def channel_for(fake: FakeTelegram, **settings) -> TelegramChannel:
    return TelegramChannel(token=settings.pop("token", VALID_TOKEN), base_url=fake.bot_base_url, **settings)


def test_it_delivers_plain_text_and_returns_the_message_id(telegram):
    text = "Đơn vị <Phòng Tư pháp> còn thiếu *biểu 2* & biểu_3"

    message_id = channel_for(telegram).send(CHAT, Message(text))

    (request,) = telegram.requests_to("sendMessage")
    assert request.path == f"/bot{VALID_TOKEN}/sendMessage"
    assert request.form == {"chat_id": CHAT, "text": text}  # no parse_mode: markup characters stay text
    assert message_id == "1"


def test_it_is_built_from_the_registry_by_kind(telegram):
    build_channel("telegram", {"token": VALID_TOKEN, "base_url": telegram.bot_base_url}).send(
        CHAT, Message("Chào")
    )

    assert telegram.texts() == ["Chào"]


def test_it_splits_long_text_into_messages_under_4096_characters(telegram):
    paragraph = " ".join(["Tỷ lệ hồ sơ giải quyết đúng hạn đạt yêu cầu."] * 20)
    text = "\n\n".join(f"Mục {i}. {paragraph}" for i in range(10))

    channel_for(telegram).send(CHAT, Message(text))

    assert len(telegram.texts()) > 1
    assert all(len(piece) <= 4096 for piece in telegram.texts())
    assert "\n\n".join(telegram.texts()) == text


def test_it_sends_a_chart_as_a_photo_after_the_text(telegram, tmp_path):
    chart = tmp_path / "tien_do.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))

    channel_for(telegram).send(CHAT, Message("Biểu đồ tiến độ", attachment=chart))

    (photo,) = telegram.requests_to("sendPhoto")
    assert photo.files["photo"] == ("tien_do.png", chart.read_bytes())
    assert photo.form["chat_id"] == CHAT
    assert telegram.texts() == ["Biểu đồ tiến độ"]


def test_it_sends_a_workbook_as_a_document(telegram, tmp_path):
    export = tmp_path / "tong_hop.xlsx"
    export.write_bytes(b"PK\x03\x04 workbook bytes")

    message_id = channel_for(telegram).send(CHAT, Message("", attachment=export))

    (document,) = telegram.requests_to("sendDocument")
    assert document.files["document"] == ("tong_hop.xlsx", export.read_bytes())
    assert telegram.texts() == []
    assert message_id == "1"


def test_it_reports_flood_control_as_retryable_with_the_wait(telegram):
    telegram.fail_next("rate_limit", retry_after=3)

    with pytest.raises(TransportError) as caught:
        channel_for(telegram).send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is False
    assert caught.value.retry_after == 3


def test_it_reports_a_server_error_as_retryable(telegram):
    telegram.fail_next("server_error")

    with pytest.raises(TransportError) as caught:
        channel_for(telegram).send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is False


def test_it_reports_a_slow_server_as_retryable(telegram):
    telegram.fail_next("hang", seconds=1.0)

    with pytest.raises(TransportError) as caught:
        channel_for(telegram, timeout=0.2).send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is False


def test_it_reports_an_unreachable_server_as_retryable():
    with FakeTelegram() as fake:
        closed_url = fake.bot_base_url

    with pytest.raises(TransportError) as caught:
        TelegramChannel(token=VALID_TOKEN, base_url=closed_url).send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is False


def test_it_reports_a_user_who_blocked_the_bot_as_permanent(telegram):
    telegram.fail_next("blocked")

    with pytest.raises(TransportError) as caught:
        channel_for(telegram).send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is True
    assert "chặn bot" in caught.value.reason


def test_it_reports_an_unknown_chat_as_permanent(telegram):
    telegram.fail_next("chat_not_found")

    with pytest.raises(TransportError) as caught:
        channel_for(telegram).send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is True


def test_it_reports_an_invalid_token_as_permanent(telegram):
    with pytest.raises(TransportError) as caught:
        channel_for(telegram, token="123456789:RevokedTokenRevokedToken").send(CHAT, Message("Xin chào"))

    assert caught.value.permanent is True
    assert telegram.calls("sendMessage") == 0


def test_it_never_shows_the_token_in_errors_or_logs(telegram, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "123456789:WrongTokenThatMustStayHidden"
    telegram.fail_next("server_error")
    errors = []
    for token in (VALID_TOKEN, wrong):
        with pytest.raises(TransportError) as caught:
            channel_for(telegram, token=token).send(CHAT, Message("Xin chào"))
        errors.append(caught.value)

    assert "sendMessage" in caplog.text  # requests were logged...
    for secret in (VALID_TOKEN, wrong, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "WrongTokenThatMustStayHidden"):
        assert secret not in caplog.text  # ...without the token
        assert all(secret not in str(e) and secret not in repr(e) for e in errors)


def test_it_reports_a_missing_attachment_as_permanent(telegram, tmp_path):
    with pytest.raises(TransportError) as caught:
        channel_for(telegram).send(CHAT, Message("Xem tệp", attachment=tmp_path / "da_xoa.xlsx"))

    assert caught.value.permanent is True
    assert "da_xoa.xlsx" in caught.value.reason


def test_it_reads_incoming_messages(telegram):
    telegram.push_update(int(CHAT), "/baocao thang 6")

    channel = channel_for(telegram)

    updates = channel.get_updates()
    again = channel.get_updates()
    after_confirming = channel.get_updates(offset=2)

    assert [(u["update_id"], u["message"]["text"]) for u in updates] == [(1, "/baocao thang 6")]
    assert again == updates
    assert after_confirming == []


def test_it_hides_the_token_in_logged_tracebacks_too(telegram, caplog):
    channel_for(telegram)  # registers the token and installs the redaction
    caplog.set_level(logging.ERROR)
    try:
        raise RuntimeError(f"The token `{VALID_TOKEN}` was rejected by the server.")
    except RuntimeError:
        logging.getLogger("telegram.ext.Updater").exception("Network Retry Loop: Invalid token")
        logging.getLogger("bot.anything").error("Stopped", exc_info=True, stack_info=True)

    assert "rejected by the server" in caplog.text
    assert VALID_TOKEN not in caplog.text and VALID_TOKEN.split(":")[1] not in caplog.text
