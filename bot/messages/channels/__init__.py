"""Message channels behind one interface (see ``base.Channel``).

Adding a channel is one module defining a ``Channel`` subclass plus one line in
``_REGISTRY``. Modules are imported only when their channel is built, so a deployment
that only writes to the console never imports python-telegram-bot.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from bot.messages.channels.base import Channel, ChannelConfigError, Message, TransportError

__all__ = ["Channel", "ChannelConfigError", "Message", "TransportError", "build_channel", "KINDS"]

_REGISTRY: dict[str, str] = {
    "zalo_bot": "bot.messages.channels.zalo_bot:ZaloBotChannel",
    "zalo_oa": "bot.messages.channels.zalo_oa:ZaloOAChannel",
    "telegram": "bot.messages.channels.telegram:TelegramChannel",
    "email": "bot.messages.channels.email:EmailChannel",
    "console": "bot.messages.channels.console:ConsoleChannel",
}
KINDS = tuple(_REGISTRY)


def build_channel(kind: str, settings: dict[str, Any]) -> Channel:
    """The channel of ``kind`` configured by ``settings`` (token, base_url, smtp host...)."""
    if kind not in _REGISTRY:
        known = ", ".join(KINDS)
        raise ChannelConfigError(f"Không có kênh gửi tin «{kind}». Các kênh hỗ trợ: {known}.")
    module_name, class_name = _REGISTRY[kind].split(":")
    channel_class: type[Channel] = getattr(import_module(module_name), class_name)
    return channel_class.from_settings(settings)
