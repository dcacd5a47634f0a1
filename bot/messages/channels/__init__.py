"""Message channels behind one interface (see ``base.Channel``).

Adding a channel is one module defining a ``Channel`` subclass (its kind, label, chat prefix,
secrets… are class attributes) plus one line in ``CHANNELS``. The facts below are read from
those classes only; nothing else in the bot names a channel's kind, label or address form.
"""

from __future__ import annotations

from typing import Any

from bot.messages.channels.base import Channel, ChannelConfigError, Message, TransportError
from bot.messages.channels.console import ConsoleChannel
from bot.messages.channels.email import EmailChannel
from bot.messages.channels.telegram import TelegramChannel
from bot.messages.channels.zalo_bot import ZaloBotChannel
from bot.messages.channels.zalo_oa import ZaloOAChannel

__all__ = [
    "CHANNELS",
    "KINDS",
    "Channel",
    "ChannelConfigError",
    "Message",
    "TransportError",
    "build_channel",
    "channel_class",
    "channel_label",
    "chat_name",
    "parse_chat",
    "secret_variables",
    "unit_chat_problem",
]

CHANNELS: tuple[type[Channel], ...] = (
    ZaloBotChannel,
    ZaloOAChannel,
    TelegramChannel,
    EmailChannel,
    ConsoleChannel,
)
KINDS = tuple(c.kind for c in CHANNELS)
_BY_KIND = {c.kind: c for c in CHANNELS}
_BY_PREFIX = {c.chat_prefix: c for c in CHANNELS if c.chat_prefix}


def channel_class(kind: str) -> type[Channel]:
    if kind not in _BY_KIND:
        known = ", ".join(KINDS)
        raise ChannelConfigError(f"Không có kênh gửi tin «{kind}». Các kênh hỗ trợ: {known}.")
    return _BY_KIND[kind]


def build_channel(kind: str, settings: dict[str, Any]) -> Channel:
    """The channel of ``kind`` configured by ``settings`` (token, base_url, smtp host...)."""
    return channel_class(kind).from_settings(settings)


def channel_label(kind: str) -> str:
    """The channel's name for people; an unknown kind (an old outbox row) as it is."""
    return _BY_KIND[kind].label if kind in _BY_KIND else kind


def parse_chat(chat: str) -> tuple[str, str] | None:
    """``"zalo:123"`` -> ``("zalo_bot", "123")``; None for an unknown prefix."""
    prefix, _, address = chat.partition(":")
    channel = _BY_PREFIX.get(prefix)
    return (channel.kind, address) if channel and address else None


def chat_name(kind: str, address: str) -> str:
    """``("zalo_bot", "123")`` -> ``"zalo:123"``, the form used in units.csv and config.json."""
    return _BY_KIND[kind].chat_address(address) if kind in _BY_KIND else f"{kind}:{address}"


def unit_chat_problem(chat: str) -> str | None:
    """Why ``chat`` cannot stand in units.csv's chat_ids, or None when it can."""
    parsed = parse_chat(chat)
    if parsed and _BY_KIND[parsed[0]].in_unit_list and not any(c.isspace() or c == ";" for c in parsed[1]):
        return None
    forms = [f"{c.chat_prefix}:…" for c in CHANNELS if c.chat_prefix and c.in_unit_list]
    return f"mã chat '{chat}' không hợp lệ (dạng {', '.join(forms[:-1])} hoặc {forms[-1]})"


def secret_variables() -> dict[tuple[str, str], str]:
    """(kind, setting) → the environment variable that may hold that secret instead of config.json."""
    return {(c.kind, setting): variable for c in CHANNELS for setting, variable in c.secrets.items()}
