"""Telegram through python-telegram-bot 22.8.

PTB's API is async; each ``send`` runs one private event loop (``asyncio.run``) for its
batch of calls (getMe, the text pieces, the file) and closes the HTTP client after, so
the channel can be called from ordinary threads. It must not be called from inside a
running event loop.

Text goes out as plain text, without ``parse_mode``: messages carry what clerks and
coordinators typed (unit names, notes with ``<``, ``*``, ``_``), and with Markdown or HTML
one stray character makes Telegram reject the whole message ("can't parse entities").
Plain text cannot break, so nothing needs escaping.

Limits: 4096 characters of text per message (counted by Telegram in UTF-16 code units;
Vietnamese letters are one unit each, emoji two). Images (.png, .jpg...) go as photos,
anything else as a document.
"""

from __future__ import annotations

import asyncio
import warnings
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.http import DEFAULT_TIMEOUT, install_log_redaction, redact, register_secret
from bot.messages.channels.base import (
    IMAGE_SUFFIXES,
    Channel,
    ChannelConfigError,
    Message,
    TransportError,
    require_attachment,
)

if TYPE_CHECKING:  # python-telegram-bot is imported when a message goes out, not with the registry
    from telegram import Bot
    from telegram.error import RetryAfter, TelegramError
    from telegram.request import HTTPXRequest

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class TelegramChannel(Channel):
    kind = "telegram"
    label = "Telegram"
    chat_prefix = "telegram"
    secrets = {"token": "TELEGRAM_BOT_TOKEN"}
    max_length = 4096

    def __init__(
        self,
        *,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        base_file_url: str = DEFAULT_BASE_FILE_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        if not token:
            raise ChannelConfigError("Thiếu token của bot Telegram.")
        register_secret(token)
        install_log_redaction()  # httpx logs every request URL, token included, at INFO
        self._token = token
        self._base_url, self._base_file_url = base_url, base_file_url
        self._timeout = timeout

    def send(self, address: str, message: Message) -> str | None:
        from telegram.error import TelegramError

        try:
            return asyncio.run(self._deliver(address, message))
        except TelegramError as exc:
            raise _transport_error(exc) from None

    def check(self) -> None:
        """Ask Telegram who the bot is: raises ``TransportError`` (channel_wide for a rejected token)."""
        from telegram.error import TelegramError

        try:
            asyncio.run(self._get_me())
        except TelegramError as exc:
            raise _transport_error(exc) from None

    async def _get_me(self) -> None:
        async with self._bot() as bot:  # entering the Bot calls getMe
            await bot.get_me()

    def get_updates(self, offset: int | None = None, timeout: int = 0) -> list[dict[str, Any]]:
        """Incoming updates as Bot API dicts (``update_id``, ``message``...), oldest first."""
        from telegram.error import TelegramError

        try:
            return asyncio.run(self._poll(offset, timeout))
        except TelegramError as exc:
            raise _transport_error(exc) from None

    def download(self, file_id: str) -> bytes:
        """The bytes of a file a user sent: getFile, then GET ``base_file_url`` + token + file_path.
        The Bot API serves at most 20 MB this way (getFile answers "file is too big")."""
        from telegram.error import TelegramError

        try:
            return asyncio.run(self._download(file_id))
        except TelegramError as exc:
            raise _transport_error(exc) from None

    async def _download(self, file_id: str) -> bytes:
        async with self._bot() as bot:
            file = await bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())

    async def _poll(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        async with self._bot() as bot:
            updates = await bot.get_updates(
                offset=offset, timeout=timeout, read_timeout=timeout + self._timeout
            )
        return [update.to_dict() for update in updates]

    async def _deliver(self, chat_id: str, message: Message) -> str | None:
        sent = None
        async with self._bot() as bot:
            for piece in self.split(message.text):
                sent = await bot.send_message(chat_id=chat_id, text=piece)
            if message.attachment is not None:
                sent = await _send_file(bot, chat_id, message.attachment)
        return str(sent.message_id) if sent else None

    def _bot(self) -> Bot:
        from telegram import Bot

        return Bot(
            self._token,
            base_url=self._base_url,
            base_file_url=self._base_file_url,
            request=self._http(),
            get_updates_request=self._http(),
        )

    def _http(self) -> HTTPXRequest:
        from telegram.request import HTTPXRequest

        t = self._timeout
        return HTTPXRequest(connect_timeout=t, read_timeout=t, write_timeout=t, pool_timeout=t)


async def _send_file(bot: Bot, chat_id: str, path: Path):
    with require_attachment(path).open("rb") as content:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return await bot.send_photo(chat_id=chat_id, photo=content, filename=path.name)
        return await bot.send_document(chat_id=chat_id, document=content, filename=path.name)


def _transport_error(exc: TelegramError) -> TransportError:
    from telegram.error import (
        BadRequest,
        ChatMigrated,
        Forbidden,
        InvalidToken,
        NetworkError,
        RetryAfter,
        TimedOut,
    )

    # BadRequest and TimedOut are NetworkError subclasses: test them before it.
    detail = redact(str(exc))
    if isinstance(exc, RetryAfter):
        return TransportError(
            f"Telegram: gửi quá nhiều, cần chờ rồi gửi lại ({detail})",
            permanent=False,
            retry_after=_seconds(exc),
        )
    if isinstance(exc, Forbidden):
        return TransportError(
            f"Telegram: người nhận đã chặn bot hoặc chưa bắt đầu trò chuyện với bot ({detail})",
            permanent=True,
        )
    if isinstance(exc, InvalidToken):
        return TransportError(
            f"Telegram: token của bot không hợp lệ ({detail})", permanent=True, channel_wide=True
        )
    if isinstance(exc, ChatMigrated):
        return TransportError(
            f"Telegram: nhóm đã đổi sang mã mới {exc.new_chat_id}, cần cập nhật địa chỉ", permanent=True
        )
    if isinstance(exc, BadRequest):
        return TransportError(f"Telegram: yêu cầu bị từ chối ({detail})", permanent=True)
    if isinstance(exc, TimedOut):
        return TransportError("Telegram: máy chủ không trả lời kịp (hết thời gian chờ)", permanent=False)
    if isinstance(exc, NetworkError):
        return TransportError(f"Telegram: lỗi mạng hoặc máy chủ ({detail})", permanent=False)
    return TransportError(f"Telegram: lỗi không rõ ({detail})", permanent=False)


def _seconds(exc: RetryAfter) -> float:
    from telegram.warnings import PTBDeprecationWarning

    with warnings.catch_warnings():  # PTB 22 warns that the int form will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
