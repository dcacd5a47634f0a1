"""The one HTTP wrapper for the Zalo channels (and anything else speaking JSON over HTTP).

This module is a leaf: it imports nothing of the bot but the clock, and the channels take
``TransportError`` (and the redaction of secrets) from here.

Every request has a timeout (10 s unless told otherwise). Failures that waiting can fix
(timeouts, refused connections, 5xx, 429) become ``TransportError(permanent=False)``;
any other answer is handed back for the channel to judge, because each provider says
"wrong token" or "user blocked" its own way.

Secrets never leave this module in clear: the text of every error is redacted (``/bot<TOKEN>``
paths and every value given to ``register_secret``), original exceptions are not chained
(their text holds the full URL), and ``install_log_redaction`` redacts log records: those of
the HTTP libraries, which print request URLs at INFO/DEBUG level, and every record made after it
is installed, tracebacks included (python-telegram-bot's ``InvalidToken`` says "The token `…`
was rejected", and a logged exception carries that text in its traceback).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bot import clock

DEFAULT_TIMEOUT = 10.0
REDACTED = "***"

# Telegram and Zalo Bot tokens both look like "<bot id>:<secret>".
_TOKEN_IN_PATH = re.compile(r"/bot\d+:[\w-]+")
_secrets: set[str] = set()
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words
_LOGGERS_TO_FILTER = ("urllib3", "requests", "httpx", "httpcore", "telegram")


class TransportError(Exception):
    """A message could not be delivered.

    ``permanent`` tells the outbox whether to give up (wrong token, user blocked the bot,
    bad address) or to try again later (timeout, 5xx, rate limit). ``retry_after`` is the
    provider's own "wait this many seconds", when it said so. ``channel_wide`` says the
    channel itself is broken (a revoked token, a refused SMTP login), not this recipient: the
    outbox then stops the channel for the run and keeps its messages queued. ``reason`` never
    holds a secret: every channel builds it from redacted text.
    """

    def __init__(
        self, reason: str, *, permanent: bool, retry_after: float | None = None, channel_wide: bool = False
    ):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.channel_wide = channel_wide

    def __repr__(self) -> str:
        return (
            f"TransportError({self.reason!r}, permanent={self.permanent}, retry_after={self.retry_after}, "
            f"channel_wide={self.channel_wide})"
        )


def register_secret(value: str | None) -> None:
    """Remember a token/password so that ``redact`` hides it wherever it shows up."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        _secrets.add(value)


def redact(text: str) -> str:
    text = _TOKEN_IN_PATH.sub(f"/bot{REDACTED}", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message, traceback and stack with secrets hidden; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it for the handler to report, as logging does
            return True
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the text above is what any formatter prints; the live object is not kept
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
_FORMATTER = logging.Formatter()


def _redacting_factory(factory):
    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _FILTER.filter(record)
        return record

    make.redacting = True
    return make


def install_log_redaction() -> None:
    """Attach the redacting filter to the HTTP libraries' loggers that exist now.

    A logger's filters only see records logged on that very logger, not its children,
    so every existing logger under the known prefixes gets one. Idempotent.
    """
    names = [
        name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] in _LOGGERS_TO_FILTER
    ]
    for name in [*_LOGGERS_TO_FILTER, *names]:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    factory = logging.getLogRecordFactory()  # and every record of any logger, made from now on
    if not getattr(factory, "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(factory))


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: dict[str, Any]  # the JSON object answered ({} when the body was not JSON)
    headers: Mapping[str, str] = field(default_factory=dict)


class HttpClient:
    """A ``requests.Session`` that always times out and speaks in ``TransportError``."""

    def __init__(
        self, service: str, *, timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None
    ):
        self.service = service  # shown in error reasons, e.g. "Zalo Bot"
        self.timeout = timeout
        self._session = session or requests.Session()
        install_log_redaction()

    def post(
        self,
        url: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpReply:
        try:
            response = self._session.post(
                url, json=json, data=data, headers=dict(headers or {}), timeout=timeout or self.timeout
            )
        except requests.Timeout:
            raise self._error("máy chủ không trả lời kịp (hết thời gian chờ)") from None
        except requests.ConnectionError:
            raise self._error("không kết nối được tới máy chủ") from None
        except requests.RequestException as exc:
            raise self._error(f"lỗi khi gửi yêu cầu ({type(exc).__name__}: {redact(str(exc))})") from None
        return self._judge(response)

    def get_bytes(self, url: str, *, limit: int, timeout: float | None = None) -> bytes:
        """The body of ``GET url``, read at most ``limit`` bytes: a longer one (as declared by
        Content-Length or as it streams in) is refused with ``permanent=True`` ("too big"), a
        body cut short is a ``permanent=False`` failure. Nothing is kept of a failed download."""
        try:
            with self._session.get(url, stream=True, timeout=timeout or self.timeout) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    self._judge(response)
                if response.status_code != 200:
                    raise TransportError(
                        f"{self.service}: tải tệp bị từ chối ({response.status_code})", permanent=True
                    )
                return self._read_capped(response, limit)
        except requests.Timeout:
            raise self._error("máy chủ không trả lời kịp (hết thời gian chờ)") from None
        except requests.RequestException as exc:  # a connection dropped half-way lands here
            raise self._error(f"tải tệp bị gián đoạn ({type(exc).__name__})") from None

    def _read_capped(self, response: requests.Response, limit: int) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_big(limit)
        data = bytearray()
        for chunk in response.iter_content(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise self._too_big(limit)
        if declared.isdigit() and len(data) != int(declared):
            raise self._error("tải tệp bị gián đoạn (nhận thiếu dữ liệu)")
        return bytes(data)

    def _too_big(self, limit: int) -> TransportError:
        return TransportError(f"{self.service}: file is too big (over {limit} bytes)", permanent=True)

    def _judge(self, response: requests.Response) -> HttpReply:
        body = _json_object(response)
        if response.status_code == 429:
            retry_after = _retry_after(response.headers, body)
            raise self._error("máy chủ báo gửi quá nhiều, cần chờ rồi gửi lại (429)", retry_after=retry_after)
        if response.status_code >= 500:
            raise self._error(f"máy chủ đang lỗi ({response.status_code})")
        return HttpReply(response.status_code, body, dict(response.headers))

    def _error(self, what: str, *, retry_after: float | None = None) -> TransportError:
        return TransportError(f"{self.service}: {what}", permanent=False, retry_after=retry_after)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(headers: Mapping[str, str], body: Mapping[str, Any]) -> float | None:
    """Seconds to wait: Telegram-style ``parameters.retry_after`` first, then the header."""
    parameters = body.get("parameters")
    if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
        return float(parameters["retry_after"])
    return parse_retry_after(headers.get("Retry-After"))


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header value (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - clock.now()).total_seconds())
