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
"""

from __future__ import annotations

from typing import Any

from tests.fakes.zalo_bot import Answer, FakeServer, Fault, Recorded

MESSAGE_PATH = "/v3.0/oa/message/cs"
OAUTH_PATH = "/v4/oa/access_token"


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
    ) -> None:
        super().__init__()
        self.access_token, self.refresh_token = access_token, refresh_token
        self.app_id, self.secret_key = app_id, secret_key
        self._issued = 1
        self._sent = 0

    @property
    def oauth_url(self) -> str:
        return self.base_url + OAUTH_PATH

    def texts(self) -> list[str]:
        return [r.json["message"]["text"] for r in self.requests if r.path == MESSAGE_PATH]

    def respond(self, request: Recorded) -> Answer:
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
