"""A local fake of the Zalo Bot Platform API, plus the small recording HTTP server it is built on.

What the real API looks like (looked up with the search tool):

- docs/ZALO_BOT_API.md in github.com/XuanNguyenNB/QuanLyThuChi_Bot_Telegram_Zalom (a copy of
  the official docs, updated 10/12/2025, pointing at https://bot.zaloplatforms.com/docs):
  base ``https://bot-api.zaloplatforms.com/bot${BOT_TOKEN}/<method>``, all methods POST with JSON;
  ``sendMessage {chat_id, text}`` with text of 1-2000 characters answers
  ``{"ok": true, "result": {"message_id": "82599fa32f56d00e8941", "date": 1749632637199}}``;
  ``sendPhoto {chat_id, photo: <image URL>, caption?}`` (a URL, no upload, and no sendDocument);
  ``getUpdates {timeout: "30"}`` answers ONE update ``{"ok": true, "result": {"message": {...}}}``;
  ``setWebhook {url, secret_token (8-256 chars, echoed in X-Bot-Api-Secret-Token)}``.
- Older copies use ``https://bot-api.zapps.me`` (tungedng2710/DMOM-RAG Bot_zalo/README.md), the
  OpenClaw Zalo extension (npm @gguf/claw, extensions/zalo/src/api.ts) types failures as
  ``{ok: false, error_code, description}``.
- lamdt1/ckvn-bot src/test_zalo_chat_id.py: an empty long poll answers ``ok: false`` with
  ``error_code`` 408 "Request timeout"; a bad token answers ``error_code`` 401.

Not documented, so assumed Telegram-like here: the HTTP status equals ``error_code``, 429
carries a ``Retry-After`` header, a blocked/unknown user is 403.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (or bytes of a file), extra headers
CUT_HEADER = "X-Fake-Cut-After"  # not sent: tells the server to stop the body after that many bytes


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (file name, bytes)


@dataclass
class Fault:
    kind: str
    params: dict[str, Any]


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (free port) that records requests.

    Subclasses implement ``respond``. Use as a context manager. Faults queued with
    ``fail_next`` are taken by ``take_fault`` from the requests the subclass chooses.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use the fake as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- what tests ask --------------------------------------------------------------------
    def fail_next(self, kind: str, times: int = 1, **params: Any) -> None:
        with self._lock:
            self._faults.extend(Fault(kind, params) for _ in range(times))

    def take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def calls(self, endpoint: str) -> int:
        return len(self.requests_to(endpoint))

    def requests_to(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/" + endpoint)]

    # --- for subclasses --------------------------------------------------------------------
    def respond(self, request: Recorded) -> Answer:
        raise NotImplementedError

    def _record_and_respond(self, request: Recorded) -> Answer:
        with self._lock:
            self.requests.append(request)
        return self.respond(request)


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            status, body, headers = fake._record_and_respond(self._read())
            raw = isinstance(body, bytes | bytearray)  # a file download rather than a JSON answer
            payload = bytes(body) if raw else json.dumps(body, ensure_ascii=False).encode("utf-8")
            cut = headers.pop(CUT_HEADER, None)  # send this many bytes of the body, then drop the line
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/octet-stream" if raw else "application/json; charset=utf-8"
            )
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(payload if cut is None else payload[: int(cut)])
            except (BrokenPipeError, ConnectionResetError):
                return  # the client hung up early (it refuses a file it was told is too big), as clients do
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True

        def _read(self) -> Recorded:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Recorded(
                self.command, url.path, dict(self.headers.items()), form=dict(parse_qsl(url.query))
            )
            _parse_body(request, self.headers.get("Content-Type") or "", raw)
            return request

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


def _parse_body(request: Recorded, content_type: str, raw: bytes) -> None:
    if not raw:
        return
    if content_type.startswith("application/json"):
        request.json = json.loads(raw)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        request.form.update(parse_qsl(raw.decode("utf-8")))
    elif content_type.startswith("multipart/form-data"):
        envelope = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        for part in BytesParser(policy=policy.HTTP).parsebytes(envelope).iter_parts():
            name = part.get_param("name", header="content-disposition")
            content = part.get_payload(decode=True) or b""
            if part.get_filename():
                request.files[name] = (part.get_filename(), content)
            else:
                request.form[name] = content.decode("utf-8")


# ---------------------------------------------------------------------------------------------
VALID_TOKEN = "1459232241454765289:ZaloBotSecretTokenAbc"


def bot_api_route(fake, request: Recorded, error) -> Answer:
    """The Telegram-style ``/bot<TOKEN>/<method>`` routing both bot APIs share: an unknown path
    is 404, so is a token not shaped like ``fake.token_format`` (when the fake has one), a wrong
    token 401, and injected faults hit the send methods only. ``fake`` answers
    with its ``_faulty(fault)`` and ``_method(method, request)``."""
    match = re.fullmatch(r"/bot(?P<token>[^/]+)/(?P<method>\w+)", request.path)
    if not match:
        return error(404, "Not Found")
    if not getattr(fake, "token_format", re.compile(".+")).fullmatch(match["token"]):
        return error(404, "Not Found")
    if match["token"] != fake.token:
        return error(401, "Unauthorized")
    method = match["method"]
    fault = fake.take_fault() if method.startswith("send") else None
    return fake._faulty(fault) if fault else fake._method(method, request)


class FakeZaloBot(FakeServer):
    """Speaks sendMessage, sendPhoto, getUpdates, setWebhook, getMe.

    Faults (``fail_next``) apply to send* methods: ``"rate_limit"`` (429, ``retry_after``
    seconds in the Retry-After header), ``"server_error"`` (500), ``"blocked"`` (403),
    ``"hang"`` (answer only after ``seconds``). A token other than ``token`` gets 401.
    """

    def __init__(self, token: str = VALID_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.updates: deque[dict[str, Any]] = deque()
        self.webhook: dict[str, Any] | None = None
        self._next_id = 0

    def push_update(self, chat_id: str, text: str) -> None:
        self.updates.append(
            {
                "event_name": "message.text.received",
                "message": {
                    "chat": {"id": chat_id, "chat_type": "PRIVATE"},
                    "text": text,
                    "message_id": f"in{len(self.updates)}",
                    "date": 1766619597466,
                    "from": {"id": chat_id, "display_name": "Người dùng"},
                },
            }
        )

    def push_file(self, chat_id: str) -> None:
        """A user sends a file. The platform has no document event and no getFile: the update types
        are message.text/.image/.sticker/.unsupported.received and a message carries text, photo,
        caption or sticker only (OpenClaw's typed client, npm @gguf/claw extensions/zalo/src/api.ts,
        ``ZaloUpdate``/``ZaloMessage``); a file therefore arrives as an unsupported message, bytes-less."""
        self.updates.append(
            {
                "event_name": "message.unsupported.received",
                "message": {
                    "chat": {"id": chat_id, "chat_type": "PRIVATE"},
                    "message_id": f"in{len(self.updates)}",
                    "date": 1766619597466,
                    "from": {"id": chat_id, "display_name": "Người dùng"},
                },
            }
        )

    def sent(self, endpoint: str = "sendMessage") -> list[dict[str, Any]]:
        return [r.json for r in self.requests_to(endpoint)]

    def respond(self, request: Recorded) -> Answer:
        return bot_api_route(self, request, _error)

    def _method(self, method: str, request: Recorded) -> Answer:
        body = request.json or {}
        if method in ("sendMessage", "sendPhoto"):
            text = body.get("text", body.get("caption", ""))
            if method == "sendMessage" and not 1 <= len(text) <= 2000:
                return _error(400, "Bad Request: text must be 1-2000 characters")
            self._next_id += 1
            return _ok({"message_id": f"zb{self._next_id:04d}", "date": 1749632637199})
        if method == "getUpdates":
            return _ok(self.updates.popleft()) if self.updates else _error(408, "Request timeout", status=200)
        if method == "setWebhook":
            self.webhook = body
            return _ok({"url": body.get("url"), "updated_at": 1749538250568})
        if method == "getMe":
            return _ok(
                {"id": "1459232241454765289", "account_name": "bot.VDKyGxQvc", "account_type": "BASIC"}
            )
        return _error(404, "Not Found")

    def _faulty(self, fault: Fault) -> Answer:
        if fault.kind == "rate_limit":
            seconds = fault.params.get("retry_after", 3)
            return _error(429, "Too Many Requests", headers={"Retry-After": str(seconds)})
        if fault.kind == "server_error":
            return _error(500, "Internal Server Error")
        if fault.kind == "blocked":
            return _error(403, "Forbidden: the user blocked the bot")
        if fault.kind == "hang":
            time.sleep(fault.params.get("seconds", 1.0))
            return _ok({"message_id": "late", "date": 0})
        raise ValueError(f"unknown fault {fault.kind!r}")


def _ok(result: Any) -> Answer:
    return 200, {"ok": True, "result": result}, {}


def _error(
    code: int, description: str, *, status: int | None = None, headers: dict[str, str] | None = None
) -> Answer:
    return status or code, {"ok": False, "error_code": code, "description": description}, headers or {}
