"""The one interface every message channel implements.

A channel delivers one ``Message`` to one address and either returns the provider's
message id or raises ``TransportError`` saying whether trying again can help.
Retries and backoff are not done here: the outbox sender owns them. ``TransportError`` lives
in the HTTP edge helper (:mod:`bot.http`, a leaf), and is re-exported here.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bot.http import TransportError

__all__ = [
    "Channel",
    "ChannelConfigError",
    "Message",
    "TransportError",
    "attachment_note",
    "require_attachment",
    "split_text",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})


@dataclass(frozen=True)
class Message:
    text: str  # Vietnamese plain text
    attachment: Path | None = None  # optional file (e.g. a PNG chart or an .xlsx export)
    subject: str | None = None  # used by e-mail
    key: str | None = (
        None  # the same for every attempt at one outbox row: an idempotency key where the API has one
    )
    in_reply_to: str | None = None  # e-mail: the Message-ID this answers (same thread)


class ChannelConfigError(ValueError):
    """The settings given for a channel cannot work (missing token, unknown kind...)."""


class Channel(ABC):
    """A way of delivering messages. What the rest of the bot knows of a channel are these class
    attributes and classmethods, so that a new channel is one module (plus one registry line in
    ``bot.messages.channels``)."""

    kind: ClassVar[str]  # the key in config.json's "channels" and in the outbox
    label: ClassVar[str]  # how coordinators see it named, in listings and reminders
    service: ClassVar[str] = ""  # the provider's name in messages about its credentials (default: label)
    max_length: ClassVar[int]  # longest text one provider message can carry
    chat_prefix: ClassVar[str | None] = None  # a chat address is written "<prefix>:<id>"; None: not a chat
    in_unit_list: ClassVar[bool] = True  # whether units.csv may list its chat addresses
    secrets: ClassVar[dict[str, str]] = {}  # setting → environment variable that may hold it instead

    @classmethod
    def chat_address(cls, address: str) -> str:
        """``"123"`` → ``"zalo:123"``, the form used in units.csv and config.json."""
        return f"{cls.chat_prefix or cls.kind}:{address}"

    @classmethod
    def settings_for(cls, settings: dict[str, Any], home: Path) -> dict[str, Any]:
        """The constructor's keywords from the channel's entry in config.json (``home`` is where the
        bot keeps its files); channels whose settings need more than a copy override this."""
        return dict(settings)

    @classmethod
    def token_rejected(cls) -> str:
        """What to fix when the provider refuses the channel's token (or password)."""
        setting, variable = next(iter(cls.secrets.items()))
        return (
            f"{cls.service or cls.label} từ chối token của bot (sai hoặc đã bị thu hồi): sửa "
            f"channels.{cls.kind}.{setting} trong config.json hoặc biến môi trường {variable}, rồi chạy lại."
        )

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Channel:
        """Build the channel from its settings dict (keys are the constructor's keywords)."""
        try:
            return cls(**settings)
        except TypeError as exc:  # unknown or missing keyword: a configuration mistake
            raise ChannelConfigError(f"Cấu hình kênh {cls.kind} không hợp lệ: {exc}") from None

    @abstractmethod
    def send(self, address: str, message: Message) -> str | None:
        """Deliver ``message`` to ``address``; returns the provider's message id.

        Text longer than ``max_length`` goes out as several provider messages, in order;
        the id returned is the last one's. Raises ``TransportError``.
        """

    def check(self) -> None:
        """Raise ``TransportError`` when the provider refuses this channel's credentials; a channel
        with nothing to check accepts."""
        return None

    def split(self, text: str) -> list[str]:
        return split_text(text, self.max_length)


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters.

    Cuts fall on a paragraph break if one is reasonably far in, else a line break, else a
    space; only a single unbroken word longer than the limit is cut mid-word. Text is put
    in NFC first so Vietnamese letters typed with combining marks count as one character.
    """
    rest = unicodedata.normalize("NFC", text).strip()
    pieces: list[str] = []
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _best_cut(text: str, limit: int) -> int:
    for separator, earliest in (("\n\n", limit // 3), ("\n", limit // 3), (" ", 1)):
        at = text.rfind(separator, 0, limit + 1)
        if at >= earliest:
            return at
    return limit


def require_attachment(path: Path) -> Path:
    """The attachment, readable; a missing file is permanent: waiting will not bring it back."""
    if not path.is_file():
        raise TransportError(f"Không tìm thấy tệp đính kèm «{path.name}» để gửi", permanent=True)
    return path


def attachment_note(path: Path) -> str:
    """What a text-only channel says instead of sending a file."""
    return (
        f"Kèm theo tin nhắn này có tệp «{path.name}». Kênh này không gửi được tệp, "
        "vui lòng nhận tệp qua thư điện tử hoặc liên hệ đầu mối phụ trách."
    )
