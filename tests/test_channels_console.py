"""Console channel: the embedded default that writes every message to a UTF-8 file."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import time_machine

from bot.messages.channels import Message, build_channel
from bot.messages.channels.console import ConsoleChannel


def test_it_appends_every_message_to_a_utf8_file_under_home(tmp_path):
    channel = build_channel("console", {"home": tmp_path})
    chart = tmp_path / "bieu_do.png"

    first = channel.send(
        "Phòng Tư pháp huyện Đông Hòa", Message("Đề nghị bổ sung biểu 2.", subject="Nhắc việc")
    )
    second = channel.send("0905123456", Message("Biểu đồ tiến độ tuần này.", attachment=chart))

    log = (tmp_path / "outbox" / "messages.log").read_text(encoding="utf-8")
    assert log.index("Đề nghị bổ sung biểu 2.") < log.index("Biểu đồ tiến độ tuần này.")
    assert "gửi tới: Phòng Tư pháp huyện Đông Hòa" in log
    assert "Tiêu đề: Nhắc việc" in log
    assert f"Tệp đính kèm: {chart}" in log
    assert first != second and first in log and second in log


def test_it_stamps_each_entry_with_vietnam_time(tmp_path):
    channel = ConsoleChannel(path=tmp_path / "log.txt")

    with time_machine.travel(datetime(2025, 6, 30, 1, 0, tzinfo=UTC), tick=False):
        channel.send("ai đó", Message("Xin chào"))

    assert "2025-06-30 08:00:00 +0700" in (tmp_path / "log.txt").read_text(encoding="utf-8")


def test_it_prints_the_message_too_when_asked(tmp_path):
    screen = io.StringIO()

    ConsoleChannel(home=tmp_path, echo=True, stream=screen).send("ai đó", Message("Hạn nộp là thứ Sáu."))

    assert "Hạn nộp là thứ Sáu." in screen.getvalue()


def test_it_never_fails_even_when_the_file_cannot_be_written(tmp_path, capsys):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the outbox folder should be", encoding="utf-8")
    screen = io.StringIO()

    message_id = ConsoleChannel(home=blocked, echo=True, stream=screen).send("ai đó", Message("Vẫn hiện ra"))

    assert message_id
    assert "Vẫn hiện ra" in screen.getvalue()
    assert "Không ghi được tin nhắn" in capsys.readouterr().err
