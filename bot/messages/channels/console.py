"""The embedded default channel: every message is appended to a UTF-8 file, and printed if asked.

It needs no account and never fails, so a fresh installation can run every job and
show what would have been sent. The address is whatever the contact's address is.
"""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path
from typing import TextIO

from bot import clock
from bot.messages.channels.base import Channel, Message


class ConsoleChannel(Channel):
    kind = "console"
    label = "Tệp nhật ký"
    chat_prefix = "console"
    in_unit_list = False  # for trying the bot on this machine, never a unit's address
    max_length = 1_000_000  # a file has no message size; nothing to split

    @classmethod
    def settings_for(cls, settings, home):
        return {"home": home} | dict(settings)

    def __init__(
        self,
        *,
        home: str | Path = ".",
        path: str | Path | None = None,
        echo: bool = False,
        stream: TextIO | None = None,
    ):
        self.path = Path(path) if path else Path(home) / "outbox" / "messages.log"
        self._echo = echo
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, address: str, message: Message) -> str | None:
        message_id = f"console-{uuid.uuid4().hex[:12]}"
        entry = _entry(message_id, address, message)
        with self._lock:
            self._append(entry)
            if self._echo:
                self._print(entry)
        return message_id

    def _append(self, entry: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as log:
                log.write(entry)
        except OSError as exc:  # never fail: say so where someone may see it, and go on
            print(f"Không ghi được tin nhắn vào {self.path}: {exc}", file=sys.stderr)

    def _print(self, entry: str) -> None:
        try:
            print(entry, end="", file=self._stream or sys.stdout, flush=True)
        except (OSError, UnicodeError):  # e.g. a console that cannot show Vietnamese
            pass


def _entry(message_id: str, address: str, message: Message) -> str:
    lines = [f"===== {clock.now():%Y-%m-%d %H:%M:%S %z} · gửi tới: {address} · mã: {message_id} ====="]
    if message.subject:
        lines.append(f"Tiêu đề: {message.subject}")
    lines.append(message.text)
    if message.attachment is not None:
        lines.append(f"Tệp đính kèm: {message.attachment}")
    return "\n".join(lines) + "\n\n"
