"""What every channel shares: splitting text, the registry, secret redaction, Retry-After."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from datetime import UTC, datetime

import pytest
import time_machine

from bot.http import parse_retry_after, redact, register_secret
from bot.messages.channels import ChannelConfigError, build_channel
from bot.messages.channels.base import split_text


def test_it_keeps_short_text_whole_and_sends_nothing_for_blank_text():
    assert split_text("  Xin chào  ", 20) == ["Xin chào"]
    assert split_text(" \n\n ", 20) == []


def test_it_splits_on_paragraph_breaks_first():
    text = "Đoạn một có vài chữ.\n\nĐoạn hai.\nDòng ba của đoạn hai."

    assert split_text(text, 40) == ["Đoạn một có vài chữ.", "Đoạn hai.\nDòng ba của đoạn hai."]


def test_it_splits_on_line_breaks_then_spaces_when_paragraphs_are_too_long():
    assert split_text("một hai ba\nbốn năm sáu", 15) == ["một hai ba", "bốn năm sáu"]
    assert split_text("một hai ba bốn năm sáu", 12) == ["một hai ba", "bốn năm sáu"]


def test_it_cuts_inside_a_word_only_when_one_word_is_longer_than_the_limit():
    assert split_text("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", 20) == [
        "https://dichvucong.g",
        "ov.vn/p/home/dvc-tra",
        "ng-chu.html",
    ]


def test_it_counts_vietnamese_letters_typed_with_combining_marks_as_one():
    decomposed = unicodedata.normalize("NFD", "Tiếng Việt")
    assert len(decomposed) > 10

    assert split_text(decomposed, 10) == ["Tiếng Việt"]


def test_it_refuses_an_unknown_channel_kind_in_vietnamese():
    with pytest.raises(ChannelConfigError, match="Không có kênh gửi tin «fax»"):
        build_channel("fax", {})


def test_it_refuses_settings_the_channel_does_not_know():
    with pytest.raises(ChannelConfigError, match="zalo_bot"):
        build_channel("zalo_bot", {"token": "1:abc", "colour": "xanh"})


def test_it_hides_bot_tokens_in_urls_and_every_registered_secret():
    register_secret("refresh-token-value-42")

    hidden = redact("POST https://bot-api.zaloplatforms.com/bot1459:AbCd/sendMessage refresh-token-value-42")

    assert hidden == "POST https://bot-api.zaloplatforms.com/bot***/sendMessage ***"


def test_it_reads_retry_after_as_seconds_or_as_a_date():
    assert parse_retry_after("7") == 7.0
    with time_machine.travel(datetime(2025, 6, 30, 1, 0, 0, tzinfo=UTC), tick=False):
        assert parse_retry_after("Mon, 30 Jun 2025 01:00:30 GMT") == 30.0
    assert parse_retry_after("sớm thôi") is None


def test_it_keeps_the_http_helper_a_leaf_that_imports_no_channel():
    code = "import sys, bot.http; print(' '.join(sorted(m for m in sys.modules if m.startswith('bot.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.split() == ["bot.clock", "bot.http"]


def test_it_raises_one_transport_error_class_from_the_http_helper_and_the_channels():
    from bot.http import TransportError as from_http
    from bot.messages.channels import TransportError as from_channels

    assert from_http is from_channels


def test_it_reads_what_a_channel_is_from_its_class():
    from bot.messages.channels import CHANNELS, channel_label, chat_name, parse_chat, secret_variables

    for channel in CHANNELS:
        assert channel_label(channel.kind) == channel.label
        if channel.chat_prefix:
            assert chat_name(channel.kind, "42") == f"{channel.chat_prefix}:42"
            assert parse_chat(f"{channel.chat_prefix}:42") == (channel.kind, "42")
        for setting, variable in channel.secrets.items():
            assert secret_variables()[(channel.kind, setting)] == variable


def test_it_fills_a_channel_secret_from_the_variable_its_class_names(tmp_path):
    from bot.config import load_config

    config = load_config(tmp_path, environ={"SMTP_PASSWORD": "mật-khẩu", "ZALO_OA_APP_SECRET": "bí-mật"})

    assert config.channels["email"]["password"] == "mật-khẩu"
    assert config.channels["zalo_oa"]["app_secret"] == "bí-mật"


def test_it_accepts_in_the_unit_list_only_the_chats_of_channels_meant_for_units(schema):
    from bot.outline.units import UnitFileError, parse_units

    header = "code,name,kind,emails,chat_ids\n"
    units = parse_units(header + "STP,Sở Tư pháp,so_nganh,,zalo:1;zalo_oa:2;telegram:3\n", schema)
    assert units[0].chats == ("zalo:1", "zalo_oa:2", "telegram:3")

    with pytest.raises(UnitFileError) as refused:
        parse_units(header + "STP,Sở Tư pháp,so_nganh,,console:local;fax:1\n", schema)
    assert refused.value.problems == [
        "dòng 2: mã chat 'console:local' không hợp lệ (dạng zalo:…, zalo_oa:… hoặc telegram:…)",
        "dòng 2: mã chat 'fax:1' không hợp lệ (dạng zalo:…, zalo_oa:… hoặc telegram:…)",
    ]


def test_it_imports_python_telegram_bot_only_when_a_telegram_message_goes_out():
    code = "import sys, bot.messages.channels; print('telegram' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip() == "False"
