"""What every request of the portal shares (:class:`Portal`), and who is asking: the signed-in
coordinator of a request, or a redirect to the login page."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import Request
from starlette.exceptions import HTTPException

from bot.context import Context, open_context
from bot.intake.links import home_secret
from bot.messages.outbox import build_channels
from bot.store import Store
from web.auth import SESSION_COOKIE, LoginLimiter, Sessions, same

MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "application/zip",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class Portal:
    """What every request shares: the home's configuration, schema, units and backend; each
    worker thread has its own SQLite connection."""

    def __init__(self, home: str | Path):
        self.base = open_context(home)
        self.base.store.close()
        self.secret = home_secret(self.base.config.home)
        self.sessions = Sessions(self.secret)
        self.limiter = LoginLimiter()
        self.secure = bool(
            self.base.config.web and (self.base.config.web.public_base_url or "").startswith("https")
        )
        self._local = threading.local()
        # Every write of a workbook (uploads, "Nộp báo cáo", decisions, reminders) runs on one
        # worker thread: they are one at a time anyway (bot/intake/lock.py), and one thread keeps
        # their memory in one malloc arena instead of one per request thread.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake")
        self._channels = None

    def channels(self) -> dict:
        """The bot's channels, built once (the OA webhook answers through them)."""
        if self._channels is None:
            self._channels = build_channels(self.base.config)
        return self._channels

    def write(self, action, *args, **kwargs):
        """``action(ctx, *args, **kwargs)`` on the writer thread; its result or its exception."""
        return self._writer.submit(lambda: action(self.ctx(), *args, **kwargs)).result()

    def ctx(self) -> Context:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.base.config.state_path)
        b = self.base
        return Context(b.config, b.schema, b.units, store, b.backend)


class Redirect(Exception):
    def __init__(self, location: str):
        self.location = location


def session(portal: Portal, request: Request) -> dict | None:
    data = portal.sessions.read(request.cookies.get(SESSION_COOKIE))
    return data if data and portal.ctx().store.user(data["u"]) else None


def coordinator(portal: Portal, request: Request) -> dict:
    data = session(portal, request)
    if data is None:
        raise Redirect("/dang-nhap")
    return data


def check_csrf(data: dict, token: str | None) -> None:
    if not same(data["c"], token):
        raise HTTPException(403)
