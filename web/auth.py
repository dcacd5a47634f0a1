"""Coordinators' accounts, sessions, CSRF tokens and the login rate limit.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106's second recommended
profile); an unknown name costs the same verification as a wrong password. The session is a
cookie signed with itsdangerous (name and a random CSRF token, 12 hours), HttpOnly and
SameSite=Lax, Secure when the portal is served over https. Every form carries a CSRF token:
the session's for coordinators, an HMAC of the link for a unit's page (which has no session).
Logins are limited per address and per name: after 5 failures in 15 minutes, refused until
the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

MIN_PASSWORD = 8
SESSION_COOKIE = "phien"
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("không phải mật khẩu của ai")


def set_password(store, name: str, password: str) -> None:
    if not name:
        raise ValueError("empty name")
    store.set_user(name, _hasher.hash(password))


def verify(store, name: str, password: str) -> bool:
    row = store.user(name)
    try:
        return _hasher.verify(row["password_hash"] if row else _DUMMY, password) and row is not None
    except (VerificationError, InvalidHashError):
        return False


class Sessions:
    def __init__(self, secret: bytes):
        self._serializer = URLSafeTimedSerializer(secret, salt="phien-dau-moi")

    def issue(self, name: str) -> str:
        return self._serializer.dumps({"u": name, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> dict | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and "u" in data and "c" in data else None


def link_csrf(secret: bytes, token: str) -> str:
    """The CSRF token of a unit's page: tied to its link, unknown to other sites."""
    return hmac.new(
        secret, f"csrf|{hashlib.sha256(token.encode()).hexdigest()}".encode(), hashlib.sha256
    ).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class LoginLimiter:
    """Failures per key (address, name) in a sliding window; thread-safe."""

    def __init__(
        self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS, clock=time.monotonic
    ):
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        with self._lock:
            return any(len(self._recent(k)) >= self.max_failures for k in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._recent(k).append(self.clock())

    def _recent(self, key: str) -> deque:
        times = self._failures[key]
        while times and times[0] < self.clock() - self.window:
            times.popleft()
        return times
