"""Running the chat bot: the transports' threads, the outbox sender beside them, the console.

``run`` checks each configured transport's token first (a rejected one stops at once with the
setting to fix), starts the outbox sender, then serves Telegram, Zalo Bot or the console.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from bot.http import redact
from bot.messages.channels import Channel, ChannelConfigError, TransportError
from bot.messages.chat.handlers import Jobs
from bot.messages.chat.transports import replies, run_zalo, telegram_application
from bot.messages.outbox import build_channels, channels_for, deliver
from bot.store import Store

log = logging.getLogger(__name__)

TOKEN_SETTINGS = {
    "telegram": ("Telegram", "channels.telegram.token", "TELEGRAM_BOT_TOKEN"),
    "zalo_bot": ("Zalo Bot", "channels.zalo_bot.token", "ZALO_BOT_TOKEN"),
}


class OutboxSender(threading.Thread):
    """Delivers the outbox every ``every`` seconds, and at once when woken (after a command)."""

    def __init__(self, config, every: float = 30.0):
        super().__init__(name="outbox", daemon=True)
        self._config, self._every = config, every
        self._wake, self._stop = threading.Event(), threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        store, channels = Store(self._config.state_path), build_channels(self._config)
        try:
            while not self._stop.is_set():
                try:
                    deliver(store, channels)
                except Exception as exc:  # keep sending later; the outbox still holds everything
                    log.error("Lỗi khi gửi tin trong hàng đợi: %s", redact(repr(exc)))
                self._wake.wait(self._every)
                self._wake.clear()
        finally:
            store.close()


CONSOLE_WELCOME = (
    "Bot báo cáo đang chạy ở chế độ thử trên máy này (chat «console:local»). Gõ lệnh như trong Zalo "
    "hoặc Telegram, ví dụ /huongdan; Ctrl+D để thoát.\nĐể thử các lệnh của đầu mối, thêm «console:local» "
    "vào coordinators[].chats trong config.json."
)


def run(
    ctx,
    *,
    console: bool = False,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    jobs: Jobs | None = None,
) -> None:
    """Run the bot on the configured chat transports, or on the console when there is none.

    ``jobs`` takes the coordinators' /duyet and /tralai (the approve job) and the workbooks sent in chat (submit).
    """
    channels = channels_for(ctx)
    transports = [] if console else [kind for kind in ("telegram", "zalo_bot") if kind in channels]
    for kind in transports:
        check_token(channels[kind])
    sender, stop = OutboxSender(ctx.config), threading.Event()
    sender.start()
    try:
        zalo = (
            _start_zalo(ctx, channels["zalo_bot"], stop, sender.wake, jobs)
            if "zalo_bot" in transports
            else None
        )
        if "telegram" in transports:
            _poll_telegram(ctx, channels["telegram"], sender.wake, jobs)
        elif zalo:
            while zalo.is_alive():
                zalo.join(1.0)
        else:
            run_console(ctx, stdin, stdout, sender.wake, jobs=jobs)
    finally:
        stop.set()
        sender.stop()


def check_token(channel: Channel) -> None:
    """Fail at once, in one line saying which setting to fix, when the provider rejects the token.

    Only a rejected token stops here: a network problem is left to the transport's own retries.
    """
    try:
        channel.check()
    except TransportError as exc:
        if exc.channel_wide:
            raise ChannelConfigError(token_rejected(channel.kind)) from None
        log.warning("Chưa kiểm tra được token %s: %s", channel.kind, exc.reason)


def token_rejected(kind: str) -> str:
    name, setting, variable = TOKEN_SETTINGS[kind]
    return (
        f"{name} từ chối token của bot (sai hoặc đã bị thu hồi): sửa {setting} trong config.json "
        f"hoặc biến môi trường {variable}, rồi chạy lại."
    )


def _poll_telegram(ctx, channel: Channel, on_handled, jobs: Jobs | None) -> None:
    from telegram.error import InvalidToken

    application = telegram_application(ctx, channel, ctx.config.channels["telegram"], on_handled, jobs)
    try:
        application.run_polling(allowed_updates=["message"])
    except InvalidToken:  # revoked while running: PTB's text holds the token, so it is not shown
        raise ChannelConfigError(token_rejected("telegram")) from None


def _start_zalo(ctx, channel, stop: threading.Event, on_handled, jobs: Jobs | None) -> threading.Thread:
    def serve() -> None:
        own = replace(ctx, store=Store(ctx.config.state_path))  # a SQLite connection per thread
        try:
            run_zalo(own, channel, stop, on_handled, jobs)
        finally:
            own.store.close()

    thread = threading.Thread(target=serve, name="zalo", daemon=True)
    thread.start()
    return thread


def run_console(
    ctx,
    stdin: TextIO,
    stdout: TextIO,
    on_handled: Callable[[], None] | None = None,
    *,
    jobs: Jobs | None = None,
) -> None:
    print(CONSOLE_WELCOME, file=stdout, flush=True)
    for line in stdin:
        if line.strip():
            for reply in replies(ctx, "console", "local", line.strip(), jobs):
                print(reply + "\n", file=stdout, flush=True)
            if on_handled:
                on_handled()
