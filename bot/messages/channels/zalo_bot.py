"""Zalo Bot Platform: a Telegram-like bot API for 1:1 chats on Zalo.

``POST {base_url}/bot<TOKEN>/<method>`` with a JSON body; replies are
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``.
Text is 1-2000 characters. ``sendPhoto`` only takes a photo *URL*, there is no
``sendDocument``: an attachment goes out as a photo when ``photo_base_url`` says where the
home's files are published, otherwise as a text note that the file exists.
Sources are listed in ``tests/fakes/zalo_bot.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.http import DEFAULT_TIMEOUT, HttpClient, HttpReply, parse_retry_after, redact, register_secret
from bot.messages.channels.base import (
    IMAGE_SUFFIXES,
    Channel,
    ChannelConfigError,
    Message,
    TransportError,
    attachment_note,
)

# The platform's documentation moved from bot.zapps.me to bot.zaloplatforms.com in 2025;
# bot-api.zapps.me is the older host of the same API.
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
NO_UPDATES = 408  # getUpdates' long poll ended with nothing new


class ZaloBotChannel(Channel):
    kind = "zalo_bot"
    label = "Zalo"
    service = "Zalo Bot"
    chat_prefix = "zalo"
    secrets = {"token": "ZALO_BOT_TOKEN"}
    max_length = 2000

    def __init__(
        self,
        *,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        photo_base_url: str | None = None,
    ):
        if not token:
            raise ChannelConfigError("Thiếu token của Zalo Bot.")
        register_secret(token)
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._photo_base_url = photo_base_url.rstrip("/") if photo_base_url else None
        self._http = HttpClient("Zalo Bot", timeout=timeout)

    def send(self, address: str, message: Message) -> str | None:
        message_id = None
        for piece in self.split(message.text):
            message_id = self._call("sendMessage", {"chat_id": address, "text": piece}).get("message_id")
        if message.attachment is not None:
            message_id = self._send_attachment(address, message.attachment)
        return message_id

    def check(self) -> None:
        """Ask Zalo who the bot is: raises ``TransportError`` (channel_wide for a rejected token)."""
        self._call("getMe", {})

    def get_updates(self, timeout: int = 30) -> list[dict[str, Any]]:
        """Long-poll for incoming messages; the API hands back at most one update per call."""
        reply = self._post("getUpdates", {"timeout": str(timeout)}, read_timeout=timeout + DEFAULT_TIMEOUT)
        if reply.body.get("error_code") == NO_UPDATES:
            return []
        result = self._result(reply)
        return [result] if result else []

    def set_webhook(self, url: str, secret_token: str) -> dict[str, Any]:
        """Have Zalo push updates to ``url``; it echoes ``secret_token`` in X-Bot-Api-Secret-Token."""
        if not 8 <= len(secret_token) <= 256:
            raise ChannelConfigError("Khóa bí mật của webhook Zalo Bot phải dài từ 8 đến 256 ký tự.")
        register_secret(secret_token)
        return self._call("setWebhook", {"url": url, "secret_token": secret_token})

    def _send_attachment(self, address: str, path: Path) -> str | None:
        if self._photo_base_url and path.suffix.lower() in IMAGE_SUFFIXES:
            photo = f"{self._photo_base_url}/{quote(path.name)}"
            return self._call("sendPhoto", {"chat_id": address, "photo": photo}).get("message_id")
        return self._call("sendMessage", {"chat_id": address, "text": attachment_note(path)}).get(
            "message_id"
        )

    def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._result(self._post(method, payload))

    def _post(self, method: str, payload: dict[str, Any], read_timeout: float | None = None) -> HttpReply:
        return self._http.post(
            f"{self._base_url}/bot{self._token}/{method}", json=payload, timeout=read_timeout
        )

    def _result(self, reply: HttpReply) -> dict[str, Any]:
        if reply.body.get("ok") is True:
            result = reply.body.get("result")
            return result if isinstance(result, dict) else {}
        raise _failure(reply)


def _failure(reply: HttpReply) -> TransportError:
    """Judge an ``ok: false`` answer; the error_code mirrors the HTTP status, like Telegram's."""
    code = reply.body.get("error_code")
    code = code if isinstance(code, int) else reply.status
    detail = f"({code}: {redact(str(reply.body.get('description') or 'không rõ'))})"
    if code == 429:
        parameters = reply.body.get("parameters") or {}
        retry_after = parameters.get("retry_after") or parse_retry_after(reply.headers.get("Retry-After"))
        return TransportError(
            f"Zalo Bot: gửi quá nhiều, cần chờ rồi gửi lại {detail}",
            permanent=False,
            retry_after=float(retry_after) if retry_after else None,
        )
    if code >= 500 or code == NO_UPDATES:
        return TransportError(f"Zalo Bot: máy chủ đang lỗi {detail}", permanent=False)
    if code in (401, 404):
        return TransportError(
            f"Zalo Bot: token không hợp lệ hoặc đã bị thu hồi {detail}", permanent=True, channel_wide=True
        )
    if code == 403:
        return TransportError(f"Zalo Bot: người nhận đã chặn bot hoặc không tồn tại {detail}", permanent=True)
    return TransportError(f"Zalo Bot: yêu cầu bị từ chối {detail}", permanent=True)
