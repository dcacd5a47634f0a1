"""Units' personal links to the portal: no account, a link that opens its own unit's page.

A link's token is HMAC-SHA256(home secret, unit | period | nonce): 256 bits no one can guess
without the secret (a random 32-byte key in ``<home>/secret.key``, readable by its owner
only, kept out of ``state.db``). Only the token's SHA-256 is stored (``unit_links``), so a copy
of the database gives no working link; the bot can still print the link again for reminders
because it can derive it. Rotating stores a new random nonce and revokes the old row, so the
old link answers 404 like any wrong link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = "secret.key"
ALL_PERIODS = ""


def home_secret(home: str | Path) -> bytes:
    """The home folder's secret, made once (owner-only file)."""
    path = Path(home) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token(secret: bytes, unit: str, period: str, nonce: str) -> str:
    mac = hmac.new(secret, f"link|{unit}|{period}|{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def unit_token(ctx, unit: str, period: str = ALL_PERIODS, *, rotate: bool = False) -> str:
    """The unit's link token (made on first use; a new one when ``rotate``)."""
    secret = home_secret(ctx.config.home)
    row = ctx.store.active_link(unit, period)
    if row is None or rotate:
        nonce = secrets.token_hex(16)
        token = _token(secret, unit, period, nonce)
        ctx.store.replace_link(unit, period, token_hash(token), nonce)
        return token
    return _token(secret, unit, period, row["nonce"])


def resolve(store, token: str):
    """The active link row of ``token``, or None (wrong, rotated or malformed)."""
    if not token or len(token) > 100:
        return None
    return store.link_by_hash(token_hash(token))


def base_url(config) -> str:
    web = config.web
    if web and web.public_base_url:
        return web.public_base_url.rstrip("/")
    host, port = (web.host, web.port) if web else ("127.0.0.1", 8080)
    return f"http://{host}:{port}"


def unit_url(ctx, unit: str, period: str = ALL_PERIODS, *, rotate: bool = False) -> str:
    return f"{base_url(ctx.config)}/u/{unit_token(ctx, unit, period, rotate=rotate)}"


def portal_link(ctx, unit: str, period_id: str) -> str | None:
    """The link reminders and chat replies carry, when the portal is configured."""
    if ctx.config.web is None:
        return None
    return f"{unit_url(ctx, unit)}?ky={period_id}"


def portal_sentence(ctx, unit: str) -> str:
    """ " Trang báo cáo của đơn vị: <link>" for a chat reply, or "" without a portal."""
    if ctx.config.web is None:
        return ""
    return f" Trang báo cáo của đơn vị (tải bảng tính, gửi lại, nộp báo cáo): {unit_url(ctx, unit)}"
