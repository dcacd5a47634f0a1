"""The HTTP side of the Google backend: pointing google-auth and gspread at another base URL
(a proxy or the local test fake), retrying with backoff, and keeping Sheets calls under quota."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import gspread
import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession, Request
from gspread.exceptions import APIError
from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

T = TypeVar("T")
GOOGLE_ORIGINS = {
    "sheets": "https://sheets.googleapis.com",
    "drive": "https://www.googleapis.com",
    "oauth2": "https://oauth2.googleapis.com",
}
LOCALE, TIME_ZONE = "vi_VN", "Asia/Ho_Chi_Minh"
REQUEST_TIMEOUT = 20.0  # seconds per HTTP call: well inside RetryPolicy.budget, so a timeout is retried


def _bases(base_urls: Mapping[str, str] | str | None) -> dict[str, str]:
    if not base_urls:
        return {}
    if isinstance(base_urls, str):
        return {GOOGLE_ORIGINS[name]: base_urls.rstrip("/") for name in GOOGLE_ORIGINS}
    return {GOOGLE_ORIGINS[name]: url.rstrip("/") for name, url in base_urls.items() if url}


def rewrite_google_url(url: str, base_urls: Mapping[str, str] | str | None) -> str:
    """``https://sheets.googleapis.com/v4/…`` → ``<sheets base>/v4/…`` (same for Drive, OAuth).

    ``base_urls`` is one base for all three services, or {"oauth2"|"drive"|"sheets": base}."""
    for origin, base in _bases(base_urls).items():
        if url.startswith(origin + "/"):
            return base + url[len(origin) :]
    return url


class _RewritingSession(requests.Session):
    """A plain session for token requests that sends Google's URLs to the configured bases."""

    def __init__(self, base_urls) -> None:
        super().__init__()
        self.base_urls = base_urls

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        return super().request(method, rewrite_google_url(url, self.base_urls), *args, **kwargs)


class GoogleApiSession(AuthorizedSession):
    """An ``AuthorizedSession`` answering Google's URLs from ``base_urls`` (None = Google itself).

    gspread builds absolute URLs from ``gspread.urls`` and sends every request through the
    session it is given (``gspread.Client(auth, session=...)``), so rewriting here reaches every
    call without patching gspread. Token requests go through ``auth_request``, rewritten too."""

    def __init__(self, credentials, base_urls: Mapping[str, str] | str | None = None, **kwargs) -> None:
        if base_urls:
            kwargs.setdefault("auth_request", Request(_RewritingSession(base_urls)))
        super().__init__(credentials, **kwargs)
        self.base_urls = base_urls

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        return super().request(method, rewrite_google_url(url, self.base_urls), *args, **kwargs)


def gspread_client(
    credentials, base_url: Mapping[str, str] | str | None = None, timeout: float | None = None
) -> gspread.Client:
    """A real gspread Client whose every request goes to ``base_url`` with Google's paths."""
    session = GoogleApiSession(credentials, base_urls=base_url, refresh_timeout=timeout or REQUEST_TIMEOUT)
    client = gspread.Client(auth=credentials, session=session)
    client.http_client.auth = credentials  # HTTPClient skips storing auth when handed a session
    if timeout is not None:
        client.set_timeout(timeout)
    return client


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in total seconds.

    ``sleep`` and ``monotonic`` are injectable so tests wait no real time."""

    attempts: int = 5
    budget: float = 60.0  # seconds from the first attempt after which no retry starts
    initial: float = 1.0
    max_wait: float = 32.0
    jitter: float = 1.0
    breaker: int = 3  # calls giving up in a row (on different spreadsheets) that mean an outage
    cooldown: float = 60.0  # then every call fails fast for this long
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def retrying(self) -> Retrying:
        started = self.monotonic()

        def stop(state: RetryCallState) -> bool:
            spent = self.monotonic() - started
            return state.attempt_number >= self.attempts or spent + state.upcoming_sleep > self.budget

        return Retrying(
            stop=stop,
            wait=wait_exponential_jitter(multiplier=self.initial, max=self.max_wait, jitter=self.jitter),
            retry=retry_if_exception(is_transient),
            sleep=self.sleep,
            reraise=True,
        )


class Quota:
    """Keeps Sheets calls under ``reads`` and ``writes`` per minute (pyrate-limiter sliding
    windows). Waits with the injected ``sleep``; ``waited`` adds up the seconds spent waiting."""

    def __init__(
        self,
        reads_per_minute: int = 60,
        writes_per_minute: int = 60,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.buckets = {
            "read": InMemoryBucket([Rate(reads_per_minute, Duration.MINUTE)]),
            "write": InMemoryBucket([Rate(writes_per_minute, Duration.MINUTE)]),
        }
        self.sleep, self.monotonic = sleep, monotonic
        self.waited = 0.0

    def acquire(self, kind: str) -> None:
        bucket = self.buckets[kind]
        while True:
            now_ms = int(self.monotonic() * 1000)
            bucket.leak(now_ms)
            item = RateItem(kind, now_ms)
            if bucket.put(item):
                return
            wait = max(int(bucket.waiting(item)), 1) / 1000
            self.waited += wait
            self.sleep(wait)


class NoQuota(Quota):
    """No client-side limit (tests that count calls, not time)."""

    def acquire(self, kind: str) -> None:
        return None


TRANSIENT_STATUS = {429, 500, 502, 503, 504}
# Drive refusing one address (no Google account, outside the domain…): reported, not fatal
SHARING_REFUSALS = {
    "invalidSharingRequest",
    "cannotShareTeamDriveWithNonGoogleAccounts",
    "shareOutNotPermitted",
    "shareInNotPermitted",
    "sharingRateLimitExceeded",
}
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}


def is_transient(error: BaseException) -> bool:
    """Whether the same call may succeed if tried again a little later."""
    if isinstance(error, APIError):
        if error.code in TRANSIENT_STATUS:
            return True
        return error.code == 403 and bool(RATE_LIMIT_REASONS & set(_reasons(error)))
    if isinstance(error, auth_exceptions.RefreshError):
        return bool(getattr(error, "retryable", False))
    return isinstance(
        error,
        requests.exceptions.ConnectionError | requests.exceptions.Timeout | auth_exceptions.TransportError,
    )


def _reasons(error: APIError) -> list[str]:
    body = error.error or {}
    found = [e.get("reason", "") for e in body.get("errors") or [] if isinstance(e, dict)]
    found += [d.get("reason", "") for d in body.get("details") or [] if isinstance(d, dict)]
    return found
