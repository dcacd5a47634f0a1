"""Zalo Official Account, message API v3 (customer-service messages).

``POST {base_url}/v3.0/oa/message/cs`` with header ``access_token`` and JSON
``{"recipient": {"user_id": ...}, "message": {"text": ...}}``. Failures come back as
HTTP 200 with a negative ``error``. An invalid (-216) or expired (-220) access token is
renewed once through the OAuth endpoint, which answers a new access token AND a new
refresh token: the old refresh token is spent, so the new pair is handed to
``on_tokens(access_token, refresh_token)`` at once (the caller stores it) before the
send is tried again. An exception from ``on_tokens`` is not a transport problem and
propagates as is (the channel keeps the new pair in memory either way).
Sources are listed in ``tests/fakes/zalo_oa.py``.

Receiving (the OA webhook, served by the portal at ``POST /zalo-oa/webhook``): Zalo signs each
event with ``X-ZEvent-Signature: sha256(app_id + raw JSON body + the body's "timestamp" + OA
secret key)`` in hex, where the OA secret key is the OA's own key shown on the webhook page of
the app, NOT the app secret used for the OAuth renewal above (hainh.me/zalo-api-php-webhook-
callback-official-account.html, "Các vấn đề khi xây dựng Webhook"; the same formula in the n8n
Zalo OA trigger's documentation). :meth:`ZaloOAChannel.signed` checks it; :meth:`download`
fetches an attachment's ``payload.url`` with the intake's size cap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from bot.http import DEFAULT_TIMEOUT, HttpClient, HttpReply, redact, register_secret
from bot.messages.channels.base import Channel, ChannelConfigError, Message, TransportError, attachment_note

DEFAULT_BASE_URL = "https://openapi.zalo.me"
DEFAULT_OAUTH_URL = "https://oauth.zaloapp.com/v4/oa/access_token"
TOKEN_ERRORS = {-216: "access token không hợp lệ", -220: "access token đã hết hạn"}

TokensCallback = Callable[[str, str], None]


class ZaloOAChannel(Channel):
    kind = "zalo_oa"
    label = "Zalo OA"
    chat_prefix = "zalo_oa"
    secrets = {"app_secret": "ZALO_OA_APP_SECRET", "oa_secret_key": "ZALO_OA_SECRET_KEY"}
    max_length = 2000

    @classmethod
    def settings_for(cls, settings, home):
        """config.json names the secret ``app_secret`` (the channel calls it ``secret_key``); the
        last renewed token pair, kept under ``home``, replaces the (spent) one in config.json."""
        settings = dict(settings)
        if "app_secret" in settings:
            settings.setdefault("secret_key", settings.pop("app_secret"))
        settings.update(load_tokens(home))
        settings["on_tokens"] = lambda access, refresh: save_tokens(home, access, refresh)
        settings["load_tokens"] = lambda: load_tokens(home)
        return settings

    def __init__(
        self,
        *,
        access_token: str,
        refresh_token: str,
        app_id: str,
        secret_key: str,
        on_tokens: TokensCallback,
        load_tokens: Callable[[], dict] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        oauth_url: str = DEFAULT_OAUTH_URL,
        timeout: float = DEFAULT_TIMEOUT,
        oa_secret_key: str = "",
    ):
        if not (access_token and refresh_token and app_id and secret_key):
            raise ChannelConfigError("Zalo OA cần đủ access_token, refresh_token, app_id và secret_key.")
        for secret in (access_token, refresh_token, secret_key, oa_secret_key):
            register_secret(secret)
        self._oa_secret_key = oa_secret_key  # signs the webhook's events; without it none is accepted
        self._access_token, self._refresh_token = access_token, refresh_token
        self._app_id, self._secret_key = app_id, secret_key
        self._on_tokens = on_tokens
        self._load_tokens = load_tokens  # the pair as last saved, by this or another process
        self._message_url = f"{base_url.rstrip('/')}/v3.0/oa/message/cs"
        self._oauth_url = oauth_url
        self._http = HttpClient("Zalo OA", timeout=timeout)
        self._refresh_lock = threading.Lock()  # one refresh at a time: the refresh token is single-use

    @property
    def receives(self) -> bool:
        """Whether webhook events can be checked (the OA secret key is configured)."""
        return bool(self._oa_secret_key)

    def signed(self, headers: dict[str, str], body: bytes) -> bool:
        """Whether ``body`` carries Zalo's signature (see the module); False without the OA key."""
        given = next((v for k, v in headers.items() if k.lower() == "x-zevent-signature"), "").strip()
        if given.lower().startswith("mac="):  # some deliveries are reported to prefix it so
            given = given[4:]
        if not (self._oa_secret_key and given):
            return False
        try:
            event = json.loads(body)
            text = body.decode("utf-8")
        except ValueError:
            return False
        timestamp = str(event.get("timestamp", "")) if isinstance(event, dict) else ""
        signed = (self._app_id + text + timestamp + self._oa_secret_key).encode("utf-8")
        return hmac.compare_digest(given.lower().encode(), hashlib.sha256(signed).hexdigest().encode())

    def download(self, url: str) -> bytes:
        """An attachment's bytes from its ``payload.url``, at most the intake's 10 MB."""
        from bot.intake.guard import MAX_BYTES

        return self._http.get_bytes(url, limit=MAX_BYTES, timeout=60)

    def send(self, address: str, message: Message) -> str | None:
        texts = self.split(message.text)
        if message.attachment is not None:
            texts.append(attachment_note(message.attachment))
        message_id = None
        for text in texts:
            message_id = self._send_text(address, text)
        return message_id

    def _send_text(self, user_id: str, text: str) -> str | None:
        token = self._access_token
        reply = self._post_text(token, user_id, text)
        if _error_code(reply) in TOKEN_ERRORS:
            self._refresh(stale_token=token)
            reply = self._post_text(self._access_token, user_id, text)
            if _error_code(reply) in TOKEN_ERRORS:
                raise _failure(
                    reply,
                    "vẫn bị từ chối sau khi làm mới token, cần cấp quyền lại cho ứng dụng",
                    channel_wide=True,
                )
        if _error_code(reply) is None:  # 200 without Zalo's JSON: a proxy in between hiccuped
            raise TransportError("Zalo OA: phản hồi của máy chủ không đọc được", permanent=False)
        if _error_code(reply) != 0:
            raise _failure(reply, "tin nhắn bị từ chối")
        data = reply.body.get("data") or {}
        return data.get("message_id")

    def _post_text(self, token: str, user_id: str, text: str) -> HttpReply:
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        return self._http.post(self._message_url, json=body, headers={"access_token": token})

    def _refresh(self, *, stale_token: str) -> None:
        with self._refresh_lock:
            if self._access_token != stale_token:
                return  # another send renewed it while this one waited
            if self._adopt_saved_tokens(stale_token):
                return  # another process (the chat bot, the scheduler) renewed it already
            form = {
                "refresh_token": self._refresh_token,
                "app_id": self._app_id,
                "grant_type": "refresh_token",
            }
            reply = self._http.post(self._oauth_url, data=form, headers={"secret_key": self._secret_key})
            access_token, refresh_token = reply.body.get("access_token"), reply.body.get("refresh_token")
            if not (access_token and refresh_token):
                raise _failure(
                    reply, "không làm mới được token, cần cấp quyền lại cho ứng dụng", channel_wide=True
                )
            register_secret(access_token)
            register_secret(refresh_token)
            self._access_token, self._refresh_token = access_token, refresh_token
            self._on_tokens(access_token, refresh_token)

    def _adopt_saved_tokens(self, stale_token: str) -> bool:
        """The refresh token is single-use: before spending ours, take a newer saved pair."""
        saved = self._load_tokens() if self._load_tokens else {}
        access_token, refresh_token = saved.get("access_token"), saved.get("refresh_token")
        if not (access_token and refresh_token) or access_token == stale_token:
            return False
        register_secret(access_token)
        register_secret(refresh_token)
        self._access_token, self._refresh_token = access_token, refresh_token
        return True


def _error_code(reply: HttpReply) -> int | None:
    if reply.status != 200:
        return reply.status
    code = reply.body.get("error")
    return int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None


def _failure(reply: HttpReply, what: str, *, channel_wide: bool = False) -> TransportError:
    """Everything reaching here is permanent: transient HTTP failures were raised by HttpClient."""
    code = _error_code(reply)
    said = reply.body.get("message") or reply.body.get("error_name") or reply.body.get("error_description")
    detail = TOKEN_ERRORS.get(code) or redact(str(said or "không rõ"))
    return TransportError(f"Zalo OA: {what} ({code}: {detail})", permanent=True, channel_wide=channel_wide)


def tokens_path(home: Path) -> Path:
    return Path(home) / "secrets" / "zalo_oa_tokens.json"


def load_tokens(home: Path) -> dict:
    """The last renewed token pair, which replaces the (spent) one in config.json."""
    path = tokens_path(home)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: stored[k] for k in ("access_token", "refresh_token") if stored.get(k)}


def save_tokens(home: Path, access_token: str, refresh_token: str) -> None:
    path = tokens_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"access_token": access_token, "refresh_token": refresh_token}, out)
    os.replace(temporary, path)
