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
- Files a user sends (core.telegram.org/bots/api#getfile, quoted in alfem/telegram-downloader-bot#4 and
  nickoala/telepot#52): a message carries ``document`` {file_id, file_unique_id, file_name, mime_type,
  file_size}; ``getFile(file_id)`` answers a File with ``file_path``, and the bytes are fetched with
  ``GET https://api.telegram.org/file/bot<token>/<file_path>``. "For the moment, bots can download
  files of up to 20MB in size": a bigger one makes getFile answer 400 "Bad Request: file is too big"
  (tdlib/telegram-bot-api#51, pyTelegramBotAPI#2527). PTB downloads from ``base_file_url`` + token.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from typing import Any
from urllib.parse import unquote

from tests.fakes.zalo_bot import CUT_HEADER, Answer, FakeServer, Fault, Recorded, bot_api_route

VALID_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files


class FakeTelegram(FakeServer):
    """Speaks getMe, sendMessage, sendPhoto, sendDocument (multipart), getUpdates, deleteWebhook, getFile,
    and serves ``/file/bot<token>/<file_path>`` (``push_document``; ``cut_downloads`` drops it half-way).

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
        self.files: dict[
            str, tuple[str, bytes, int]
        ] = {}  # file_id -> (file_path, bytes, size Telegram knows)
        self.cut_downloads = 0  # the next downloads stop half-way (the connection drops)

    @property
    def bot_base_url(self) -> str:
        return f"{self.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.base_url}/file/bot"

    def push_document(
        self, chat_id: int, name: str, content: bytes, *, caption: str | None = None, size: int | None = None
    ) -> str:
        """A user sends a file; ``size`` overrides the size Telegram knows (a too-big file
        without the test holding 20 MB). Returns its file_id."""
        file_id = f"BQACAgIAAxkBAAI{len(self.files) + 1:04d}"
        known = len(content) if size is None else size
        self.files[file_id] = (f"documents/file_{len(self.files) + 1}.xlsx", content, known)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{len(self.files)}",
            "file_name": name,
            "mime_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "file_size": known,
        }
        extra = {"caption": caption} if caption else {}
        self.updates.append(
            {
                "update_id": next(self._update_ids),
                "message": self._message(chat_id, document=document, **extra),
            }
        )
        return file_id

    def push_update(self, chat_id: int, text: str) -> None:
        self.updates.append(
            {"update_id": next(self._update_ids), "message": self._message(chat_id, text=text)}
        )

    def texts(self) -> list[str]:
        return [r.form["text"] for r in self.requests_to("sendMessage")]

    def respond(self, request: Recorded) -> Answer:
        if request.path.startswith("/file/"):
            return self._download(request.path)
        return bot_api_route(self, request, _error)

    def _download(self, path: str) -> Answer:
        path = unquote(path)  # PTB quotes the token's colon
        prefix = f"/file/bot{self.token}/"
        found = (
            next((f for f in self.files.values() if path == prefix + f[0]), None)
            if path.startswith(prefix)
            else None
        )
        if found is None:
            return _error(404, "Not Found")
        content = found[1]
        if self.cut_downloads:
            self.cut_downloads -= 1
            return 200, content, {CUT_HEADER: str(len(content) // 2)}
        return 200, content, {}

    def _faulty(self, fault: Fault) -> Answer:
        return _faulty(fault)

    def _method(self, method: str, request: Recorded) -> Answer:
        form = request.form
        if method == "getMe":
            return _ok(
                {"id": 123456789, "is_bot": True, "first_name": "Bot báo cáo", "username": "baocao_bot"}
            )
        if method == "getUpdates":  # an offset confirms, and forgets, every earlier update
            offset = int(form.get("offset") or 0)
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
            return _ok(list(self.updates))
        if method == "getFile":
            if form.get("file_id") not in self.files:
                return _error(400, "Bad Request: invalid file_id")
            file_path, _, size = self.files[form["file_id"]]
            if size > MAX_DOWNLOAD:
                return _error(400, "Bad Request: file is too big")
            return _ok(
                {"file_id": form["file_id"], "file_unique_id": "u", "file_size": size, "file_path": file_path}
            )
        if method in ("deleteWebhook", "setWebhook"):  # Application.run_polling starts with deleteWebhook
            return _ok(True)
        if method == "sendMessage":
            if len(form.get("text", "")) > MAX_TEXT:
                return _error(400, "Bad Request: message is too long")
            return _ok(self._message(form["chat_id"], text=form["text"]))
        if method == "sendPhoto":
            name, content = request.files["photo"]
            photo = {
                "file_id": f"photo-{name}",
                "file_unique_id": "p1",
                "width": 1,
                "height": 1,
                "file_size": len(content),
            }
            return _ok(self._message(form["chat_id"], photo=[photo]))
        if method == "sendDocument":
            name, content = request.files["document"]
            document = {
                "file_id": f"doc-{name}",
                "file_unique_id": "d1",
                "file_name": name,
                "file_size": len(content),
            }
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
