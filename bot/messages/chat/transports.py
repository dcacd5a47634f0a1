"""The transports' glue: each turns an incoming update into :func:`handle` and sends the replies back.

Zalo Bot by long polling or a webhook; Zalo OA by its webhook (served by the portal); Telegram
through a python-telegram-bot Application.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.http import redact
from bot.intake.chat_files import take_file, telegram_file, zalo_file_chat, zalo_file_replies, zalo_oa_file
from bot.messages.channels import Channel, Message, TransportError
from bot.messages.chat.handlers import Jobs, handle
from bot.messages.outbox import chat_name
from bot.store import Store

log = logging.getLogger(__name__)

TROUBLE = "Xin lỗi, bot đang gặp sự cố nên chưa trả lời được. Vui lòng thử lại sau ít phút."


def answer(ctx, channel: Channel, chat_id: str, text: str, *, jobs: Jobs | None = None) -> None:
    """Handle one incoming text and send the replies through ``channel``."""
    send_replies(channel, chat_id, replies(ctx, channel.kind, chat_id, text, jobs))


def replies(ctx, kind: str, chat_id: str, text: str, jobs: Jobs | None = None) -> list[str]:
    try:
        return handle(ctx, kind, chat_id, text, jobs=jobs)
    except Exception as exc:  # one bad message must not stop the bot; the sender gets a polite word
        log.error("Lỗi khi xử lý tin nhắn từ %s: %s", chat_name(kind, chat_id), redact(repr(exc)))
        return [TROUBLE]


def send_replies(channel: Channel, chat_id: str, replies: list[str]) -> None:
    for reply in replies:
        try:
            channel.send(chat_id, Message(reply))
        except TransportError as exc:
            log.warning("Không trả lời được %s: %s", chat_name(channel.kind, chat_id), exc.reason)


# --- Zalo Bot: long polling, or a webhook ----------------------------------------------------------


def zalo_text(update: dict[str, Any]) -> tuple[str, str] | None:
    """(chat id, text) of a Zalo Bot update, wrapped in ``result`` or not; None for non-text events."""
    if isinstance(update.get("result"), dict):
        update = update["result"]
    message = update.get("message") if isinstance(update.get("message"), dict) else {}
    chat_id = (message.get("chat") or {}).get("id")
    text = message.get("text")
    return (str(chat_id), text) if chat_id is not None and isinstance(text, str) else None


def serve_zalo_once(
    ctx, channel, *, timeout: int = 30, on_handled: Callable[[], None] | None = None, jobs: Jobs | None = None
) -> int:
    """One long poll: answer what came in; returns the number of updates."""
    updates = channel.get_updates(timeout=timeout)
    for update in updates:
        if incoming := zalo_text(update):
            answer(ctx, channel, *incoming, jobs=jobs)
        elif chat := zalo_file_chat(update):  # Zalo hands no file to a bot: say how else to send it
            send_replies(channel, chat, zalo_file_replies(ctx, chat))
    if updates and on_handled:
        on_handled()
    return len(updates)


def run_zalo(
    ctx,
    channel,
    stop: threading.Event,
    on_handled: Callable[[], None] | None = None,
    jobs: Jobs | None = None,
) -> None:
    failures = 0
    while not stop.is_set():
        try:
            serve_zalo_once(ctx, channel, on_handled=on_handled, jobs=jobs)
            failures = 0
        except TransportError as exc:
            if exc.permanent:
                log.error("Ngừng nhận tin qua Zalo: %s", exc.reason)
                return
            failures += 1
            log.warning("Chưa nhận được tin qua Zalo (%s); thử lại sau.", exc.reason)
            stop.wait(min(60, 2**failures))


def zalo_webhook(
    ctx, channel, secret_token: str, headers: dict[str, str], body: bytes, *, jobs: Jobs | None = None
) -> int:
    """Handle one webhook POST from Zalo Bot; returns the HTTP status to answer with.

    Zalo echoes the ``secret_token`` given to setWebhook in ``X-Bot-Api-Secret-Token``; a
    request without the right one is refused (403) before anything is read.
    """
    given = next((value for name, value in headers.items() if name.lower() == "x-bot-api-secret-token"), "")
    if not hmac.compare_digest(given.encode(), secret_token.encode()):
        return 403
    try:
        update = json.loads(body)
    except ValueError:
        return 400
    if isinstance(update, dict) and (incoming := zalo_text(update)):
        answer(ctx, channel, *incoming, jobs=jobs)
    elif isinstance(update, dict) and (chat := zalo_file_chat(update)):
        send_replies(channel, chat, zalo_file_replies(ctx, chat))
    return 200


# --- Zalo OA: its webhook, served by the portal ----------------------------------------------------


def zalo_oa_webhook(ctx, channel, headers: dict[str, str], body: bytes, *, jobs: Jobs | None = None) -> int:
    """Handle one webhook POST from Zalo OA; returns the HTTP status to answer with.

    An event without the right ``X-ZEvent-Signature`` (``ZaloOAChannel.signed``) is refused (403)
    before anything in it is acted on. A ``user_send_file`` event is taken like a Telegram
    document (``bot.intake.chat_files``: its declared size is checked before its URL is
    downloaded); a ``user_send_text`` event is answered by ``handle`` like any chat's text;
    other events are acknowledged and ignored.
    """
    if not channel.signed(headers, body):
        return 403
    event = json.loads(body)  # signed() parsed it already
    if not isinstance(event, dict):
        return 400
    if found := zalo_oa_file(event):
        user_id, file = found
        send_replies(channel, user_id, _oa_file_replies(ctx, user_id, file, channel, jobs))
    elif event.get("event_name") == "user_send_text":
        user_id = (event.get("sender") or {}).get("id")
        text = (event.get("message") or {}).get("text")
        if user_id is not None and isinstance(text, str):
            answer(ctx, channel, str(user_id), text, jobs=jobs)
    return 200


def _oa_file_replies(ctx, user_id: str, file, channel, jobs: Jobs | None) -> list[str]:
    try:
        return take_file(ctx, "zalo_oa", user_id, file, channel.download, jobs.submit if jobs else None)
    except Exception as exc:  # one bad file must not stop the bot; the sender gets a polite word
        log.error("Lỗi khi nhận tệp từ %s: %s", chat_name("zalo_oa", user_id), redact(repr(exc)))
        return [TROUBLE]


# --- Telegram: a python-telegram-bot Application ----------------------------------------------------


def telegram_application(
    ctx,
    channel: Channel,
    settings: dict,
    on_handled: Callable[[], None] | None = None,
    jobs: Jobs | None = None,
):
    """An Application whose one handler passes every text to ``handle``.

    Replies go out through the channel in a worker thread (the channel runs its own event
    loop and must not be called from this one).
    """
    from telegram.ext import Application, MessageHandler, filters

    from bot.messages.channels.telegram import DEFAULT_BASE_URL

    async def on_text(update, context) -> None:
        if (
            update.effective_message is None
            or update.effective_chat is None
            or not update.effective_message.text
        ):
            return
        chat_id = str(update.effective_chat.id)
        texts = replies(ctx, "telegram", chat_id, update.effective_message.text, jobs)
        await asyncio.to_thread(send_replies, channel, chat_id, texts)
        if on_handled:
            on_handled()

    async def on_document(update, context) -> None:  # a workbook handed in (bot/intake/chat_files.py)
        if update.effective_chat is None or (file := telegram_file(update.effective_message)) is None:
            return
        chat_id = str(update.effective_chat.id)
        texts = await asyncio.to_thread(_file_replies, ctx, chat_id, file, channel, jobs)
        await asyncio.to_thread(send_replies, channel, chat_id, texts)
        if on_handled:
            on_handled()

    application = (
        Application.builder()
        .token(settings["token"])
        .base_url(settings.get("base_url", DEFAULT_BASE_URL))
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.add_handler(MessageHandler(filters.Document.ALL, on_document))
    return application


def _file_replies(ctx, chat_id: str, file, channel: Channel, jobs: Jobs | None) -> list[str]:
    try:
        own = replace(ctx, store=Store(ctx.config.state_path))  # this runs in a worker thread
        try:
            return take_file(own, "telegram", chat_id, file, channel.download, jobs.submit if jobs else None)
        finally:
            own.store.close()
    except Exception as exc:  # one bad file must not stop the bot; the sender gets a polite word
        log.error("Lỗi khi nhận tệp từ %s: %s", chat_name("telegram", chat_id), redact(repr(exc)))
        return [TROUBLE]
