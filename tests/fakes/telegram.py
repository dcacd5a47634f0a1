"""A local fake of the Telegram Bot API, enough for python-telegram-bot 22.8's ``telegram.Bot``.

What the real API looks like (looked up with the search tool):

- core.telegram.org/bots/api (docs corpus): requests go to ``https://api.telegram.org/bot<token>/METHOD``;
  every answer has ``ok``; on success the value is in ``result``, on failure ``ok`` is false with
  ``description``, an integer ``error_code`` and optionally ``parameters`` (ResponseParameters:
  ``retry_after``, ``migrate_to_chat_id``; aiogram's ResponseParameters docs say the same).
- A real 429 as logged by pyTelegramBotAPI users (pastebin.com/cK9kmwfh):
  ``{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 15","parameters":{"retry_after":15}}``;
  dev.to "Telegram Bot API Error Codes" confirms error_code mirrors the HTTP status and
  descriptions are prefixed "Bad Request:", "Forbidden:"...; a blocked bot answers 403
  "Forbidden: bot was blocked by the user"; a valid-looking wrong token answers 401 "Unauthorized".
- Wrong tokens (issues corpus): a revoked or wrong token answers
  ``{"ok":false,"error_code":401,"description":"Unauthorized"}`` (eternnoir/pyTelegramBotAPI#168,
  nickoala/telepot#105: "/revoke in @BotFather disables the token"; tdlib/telegram-bot-api#80:
  "the only way to receive error with code 401 is to provide a wrong bot token"), and a
  mistyped token that is not ``<bot id>:<secret>`` answers ``{"ok":false,"error_code":404,
  "description":"Not Found"}`` (blt950/vPilot-Pushover#29, windkh/node-red-contrib-telegrambot#19).
- python-telegram-bot docs: ``Bot(token, base_url=...)`` appends the token to base_url (default
  ``https://api.telegram.org/bot``), so ``base_url=f"{fake.base_url}/bot"`` points a real Bot here.
  Its request layer (telegram/request/_baserequest.py) maps 403 to Forbidden, 401/404 to
  InvalidToken, 400 to BadRequest, ``parameters.retry_after`` to RetryAfter, others to NetworkError.
  It posts form-encoded parameters, and multipart/form-data when a file is uploaded.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from typing import Any

from tests.fakes.zalo_bot import Answer, FakeServer, Fault, Recorded, bot_api_route

VALID_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MAX_TEXT = 4096


class FakeTelegram(FakeServer):
    """Speaks getMe, sendMessage, sendPhoto, sendDocument (multipart), getUpdates, deleteWebhook.

    Faults (``fail_next``) apply to send* methods: ``"rate_limit"`` (429 with
    ``parameters.retry_after``), ``"server_error"`` (500), ``"blocked"`` (403),
    ``"chat_not_found"`` (400), ``"hang"`` (answer after ``seconds``).
    A token other than ``token`` gets 401 Unauthorized on every method, one not shaped like a
    bot token 404 Not Found.
    """

    token_format = re.compile(r"\d+:[\w-]+")

    def __init__(self, token: str = VALID_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.updates: deque[dict[str, Any]] = deque()
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)

    @property
    def bot_base_url(self) -> str:
        return f"{self.base_url}/bot"

    def push_update(self, chat_id: int, text: str) -> None:
        self.updates.append({"update_id": next(self._update_ids), "message": self._message(chat_id, text=text)})

    def texts(self) -> list[str]:
        return [r.form["text"] for r in self.requests_to("sendMessage")]

    def respond(self, request: Recorded) -> Answer:
        return bot_api_route(self, request, _error)

    def _faulty(self, fault: Fault) -> Answer:
        return _faulty(fault)

    def _method(self, method: str, request: Recorded) -> Answer:
        form = request.form
        if method == "getMe":
            return _ok({"id": 123456789, "is_bot": True, "first_name": "Bot báo cáo", "username": "baocao_bot"})
        if method == "getUpdates":  # an offset confirms, and forgets, every earlier update
            offset = int(form.get("offset") or 0)
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
            return _ok(list(self.updates))
        if method in ("deleteWebhook", "setWebhook"):  # Application.run_polling starts with deleteWebhook
            return _ok(True)
        if method == "sendMessage":
            if len(form.get("text", "")) > MAX_TEXT:
                return _error(400, "Bad Request: message is too long")
            return _ok(self._message(form["chat_id"], text=form["text"]))
        if method == "sendPhoto":
            name, content = request.files["photo"]
            photo = {"file_id": f"photo-{name}", "file_unique_id": "p1", "width": 1, "height": 1,
                     "file_size": len(content)}
            return _ok(self._message(form["chat_id"], photo=[photo]))
        if method == "sendDocument":
            name, content = request.files["document"]
            document = {"file_id": f"doc-{name}", "file_unique_id": "d1", "file_name": name, "file_size": len(content)}
            return _ok(self._message(form["chat_id"], document=document))
        return _error(404, "Not Found")

    def _message(self, chat_id: int | str, **content: Any) -> dict[str, Any]:
        chat = {"id": int(chat_id), "type": "private", "first_name": "Cán bộ"}
        return {"message_id": next(self._message_ids), "date": 1750000000, "chat": chat, **content}


def _faulty(fault: Fault) -> Answer:
    if fault.kind == "rate_limit":
        seconds = fault.params.get("retry_after", 3)
        return _error(429, f"Too Many Requests: retry after {seconds}", parameters={"retry_after": seconds})
    if fault.kind == "server_error":
        return _error(500, "Internal Server Error")
    if fault.kind == "blocked":
        return _error(403, "Forbidden: bot was blocked by the user")
    if fault.kind == "chat_not_found":
        return _error(400, "Bad Request: chat not found")
    if fault.kind == "hang":
        time.sleep(fault.params.get("seconds", 1.0))
        return _error(500, "Internal Server Error")
    raise ValueError(f"unknown fault {fault.kind!r}")


def _ok(result: Any) -> Answer:
    return 200, {"ok": True, "result": result}, {}


def _error(code: int, description: str, **extra: Any) -> Answer:
    return code, {"ok": False, "error_code": code, "description": description, **extra}, {}
