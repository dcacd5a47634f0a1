"""A local fake of the Zalo Official Account message API v3 and its OAuth v4 token endpoint.

What the real API looks like (looked up with the search tool):

- letrungtin123/zalo-chatbot zaloApi.js and daihoangnguyen-duancongty/homenest-webcare-fork
  backend/test/test-zalo-message.js: ``POST https://openapi.zalo.me/v3.0/oa/message/cs`` with
  header ``access_token`` ("V3 yêu cầu token trong HEADER") and JSON
  ``{"recipient": {"user_id": ...}, "message": {"text": ...}}``; failures are HTTP 200 with
  ``{"error": <negative>, "message": ...}``, success ``{"error": 0, "message": "Success", "data":
  {"message_id": ..., "user_id": ...}}``.
- Several public test suites answer an invalid token with
  ``{"error": -216, "message": "Access token is invalid"}`` and refresh once before resending.
  -220 (expired token) comes from the task brief; the search found no public page confirming it.
- Token refresh (e.g. an OA token cron route and zaloOAuth.js modules in public repos):
  ``POST https://oauth.zaloapp.com/v4/oa/access_token``, form-encoded ``refresh_token``,
  ``app_id``, ``grant_type=refresh_token``, header ``secret_key: <app secret>``; answers
  ``{"access_token", "refresh_token", "expires_in": "90000"}`` (expires_in is a string).
  A rejected refresh token answers a negative ``error`` (-14014 "Invalid refresh token" in a
  public test suite; OAuth v4 errors are in the -14000 range, e.g. -14003 invalid parameter).
- OA text messages hold at most 2,000 characters (eSMS docs for OA "tin tư vấn dạng văn bản").

The OA webhook (what Zalo POSTs to the bot), built here by ``file_event``/``text_event``:

- Events are JSON with ``app_id``, ``user_id_by_app``, ``event_name``, ``timestamp`` (a string of
  milliseconds), ``sender.id``, ``recipient.id`` (the OA) and ``message``; ``user_send_file``
  carries ``message.attachments[0] = {"type": "file", "payload": {"url", "size", "name",
  "checksum", "type"}}`` with ``size`` a string (sample events of Zalo's PHP connector found with
  the search tool; a public webhook test suite uses the same payload, e.g. size "233947").
  ``user_send_text`` carries ``message.text``.
- Signature: header ``X-ZEvent-Signature`` = hex ``sha256(app_id + raw body + timestamp from the
  body + OA secret key)``; the OA secret key is not the app secret
  (hainh.me/zalo-api-php-webhook-callback-official-account.html; the n8n Zalo OA trigger docs
  give the same formula).
- The attachment ``url`` is fetched with a plain GET (no token, as the public handlers do).
  ``add_file`` serves bytes at such a URL; ``cut=True`` drops the connection half-way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.fakes.zalo_bot import CUT_HEADER, Answer, FakeServer, Fault, Recorded

MESSAGE_PATH = "/v3.0/oa/message/cs"
OAUTH_PATH = "/v4/oa/access_token"
FILES_PATH = "/files/"
OA_ID = "2197174064623873199"


class FakeZaloOA(FakeServer):
    """Serves both the message endpoint and the OAuth endpoint.

    Only the current access token is accepted (others get -216). A refresh with the
    current refresh token issues a new pair and spends the old one, as Zalo does.
    Faults (``fail_next``) apply to message sends: ``"token_invalid"`` (-216),
    ``"token_expired"`` (-220), ``"not_interacted"`` (-230), ``"server_error"`` (500),
    ``"rate_limit"`` (429 with ``retry_after`` in Retry-After).
    """

    def __init__(
        self,
        *,
        access_token: str = "oa-access-1",
        refresh_token: str = "oa-refresh-1",
        app_id: str = "4291763606161179100",
        secret_key: str = "OaAppSecretKey",
        oa_secret_key: str = "OaWebhookSecretKey",
    ) -> None:
        super().__init__()
        self.access_token, self.refresh_token = access_token, refresh_token
        self.app_id, self.secret_key, self.oa_secret_key = app_id, secret_key, oa_secret_key
        self.files: dict[str, tuple[bytes, bool]] = {}  # path -> (bytes, cut half-way)
        self._issued = 1
        self._sent = 0

    @property
    def oauth_url(self) -> str:
        return self.base_url + OAUTH_PATH

    def texts(self) -> list[str]:
        return [r.json["message"]["text"] for r in self.requests if r.path == MESSAGE_PATH]

    def downloads(self) -> list[str]:
        return [r.path for r in self.requests if r.path.startswith(FILES_PATH)]

    # --- the webhook side: files to fetch, and signed events ---------------------------------
    def add_file(self, data: bytes, *, cut: bool = False) -> str:
        """Serve ``data`` at a new attachment URL; ``cut`` drops the connection half-way."""
        path = f"{FILES_PATH}{len(self.files) + 1}/{hashlib.sha256(data).hexdigest()[:16]}"
        self.files[path] = (data, cut)
        return self.base_url + path

    def file_event(self, user_id: str, url: str, name: str, size: int) -> tuple[dict[str, str], bytes]:
        payload = {"url": url, "size": str(size), "name": name, "checksum": "c0ffee", "type": "xlsx"}
        message = {"msg_id": "oa-in-1", "attachments": [{"payload": payload, "type": "file"}]}
        return self.signed_event("user_send_file", user_id, message)

    def text_event(self, user_id: str, text: str) -> tuple[dict[str, str], bytes]:
        return self.signed_event("user_send_text", user_id, {"msg_id": "oa-in-2", "text": text})

    def signed_event(self, event_name: str, user_id: str, message: dict) -> tuple[dict[str, str], bytes]:
        """(headers, body) of a webhook POST as Zalo sends it (see the module)."""
        event = {
            "app_id": self.app_id,
            "user_id_by_app": "2372735685249892743",
            "event_name": event_name,
            "timestamp": "1775000000000",
            "sender": {"id": user_id},
            "recipient": {"id": OA_ID},
            "message": message,
        }
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        mac = hashlib.sha256(
            (self.app_id + body.decode("utf-8") + event["timestamp"] + self.oa_secret_key).encode("utf-8")
        ).hexdigest()
        return {"Content-Type": "application/json", "X-ZEvent-Signature": mac}, body

    def respond(self, request: Recorded) -> Answer:
        if request.path in self.files:
            data, cut = self.files[request.path]
            return 200, data, ({CUT_HEADER: str(len(data) // 2)} if cut else {})
        if request.path == MESSAGE_PATH:
            return self._message(request)
        if request.path == OAUTH_PATH:
            return self._refresh(request)
        return 404, {"error": 404, "message": "Not found"}, {}

    def _message(self, request: Recorded) -> Answer:
        fault = self.take_fault()
        if fault:
            return _faulty(fault)
        if request.headers.get("access_token") != self.access_token:
            return 200, {"error": -216, "message": "Access token is invalid"}, {}
        self._sent += 1
        user_id = request.json["recipient"]["user_id"]
        data = {"message_id": f"oa-msg-{self._sent}", "user_id": user_id}
        return 200, {"error": 0, "message": "Success", "data": data}, {}

    def _refresh(self, request: Recorded) -> Answer:
        if request.headers.get("secret_key") != self.secret_key or request.form.get("app_id") != self.app_id:
            return 200, {"error": -14003, "error_name": "Invalid parameter"}, {}
        if (
            request.form.get("grant_type") != "refresh_token"
            or request.form.get("refresh_token") != self.refresh_token
        ):
            return 200, {"error": -14014, "error_name": "Invalid refresh token"}, {}
        self._issued += 1
        self.access_token, self.refresh_token = f"oa-access-{self._issued}", f"oa-refresh-{self._issued}"
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": "90000",
        }
        return 200, body, {}


def _faulty(fault: Fault) -> Answer:
    if fault.kind == "token_invalid":
        return 200, {"error": -216, "message": "Access token is invalid"}, {}
    if fault.kind == "token_expired":
        return 200, {"error": -220, "message": "Access token has expired"}, {}
    if fault.kind == "not_interacted":
        return 200, {"error": -230, "message": "User has not interacted with the OA in the past 7 days"}, {}
    if fault.kind == "server_error":
        return 500, {"error": -500, "message": "Internal Server Error"}, {}
    if fault.kind == "rate_limit":
        # Not documented for the OA API; modelled on a gateway's plain 429 with Retry-After.
        return 429, {"message": "Too many requests"}, {"Retry-After": str(fault.params.get("retry_after", 3))}
    raise ValueError(f"unknown fault {fault.kind!r}")
