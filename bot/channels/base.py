"""The one interface every message channel implements.

A channel delivers one ``Message`` to one address and either returns the provider's
message id or raises ``TransportError`` saying whether trying again can help.
Retries and backoff are not done here: the outbox sender owns them.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})


@dataclass(frozen=True)
class Message:
    text: str  # Vietnamese plain text
    attachment: Path | None = None  # optional file (e.g. a PNG chart or an .xlsx export)
    subject: str | None = None  # used by e-mail
    in_reply_to: str | None = None  # e-mail: the Message-ID this answers (same thread)


class TransportError(Exception):
    """A message could not be delivered.

    ``permanent`` tells the outbox whether to give up (wrong token, user blocked the bot,
    bad address) or to try again later (timeout, 5xx, rate limit). ``retry_after`` is the
    provider's own "wait this many seconds", when it said so. ``reason`` never holds a
    secret: every channel builds it from redacted text.
    """

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"TransportError({self.reason!r}, permanent={self.permanent}, retry_after={self.retry_after})"
        )


class ChannelConfigError(ValueError):
    """The settings given for a channel cannot work (missing token, unknown kind...)."""


class Channel(ABC):
    kind: ClassVar[str]
    max_length: ClassVar[int]  # longest text one provider message can carry

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
