"""The portal's app (FastAPI), served by uvicorn. See :mod:`web` for what it is.

The routes are registered by :mod:`web.login`, :mod:`web.coordinators`, :mod:`web.units` and
:mod:`web.zalo_oa`; what they share is in :mod:`web.portal`.

Units: ``/u/<token>`` (their page), ``/u/<token>/tai-ve`` (download), ``/u/<token>/gui-tep``
(upload), ``/u/<token>/nop`` (submit). Coordinators: ``/dang-nhap``, ``/ky/<period>`` (the
board), ``/ky/<period>/don-vi/<unit>`` (a unit: findings, versions, diff, decisions), the
master and exports under ``/ky/<period>/``, ``/hop-thu`` (the outbox). A wrong, rotated or
malformed link answers the same 404 page as any unknown address. Zalo OA: ``POST /zalo-oa/webhook``
(the OA's events; only when the zalo_oa channel is configured).
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException

from web import coordinators, login, units, zalo_oa
from web.portal import Portal, Redirect

HERE = Path(__file__).parent
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # a unit's link is in its URL: never sent to another site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def create_app(home: str | Path) -> FastAPI:
    portal = Portal(home)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    templates = Jinja2Templates(env=env)
    app.mount("/tinh", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(HTTPException)
    async def not_found(request: Request, exc: HTTPException):
        status = exc.status_code
        text = {
            404: "Không tìm thấy trang này.",
            403: "Yêu cầu bị từ chối: biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang rồi thử lại.",
            429: "Đăng nhập sai quá nhiều lần; hãy thử lại sau 15 phút.",
        }
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": "Thông báo", "user": None, "text": text.get(status, "Có lỗi xảy ra.")},
            status_code=status,
        )

    def render(request, name: str, status: int = 200, **data):
        return templates.TemplateResponse(request, name, data, status_code=status)

    @app.exception_handler(Redirect)
    async def redirect(request: Request, exc: Redirect):
        return RedirectResponse(exc.location, status_code=303)

    login.register(app, portal, render)
    coordinators.register(app, portal, render)
    units.register(app, portal, render)
    if "zalo_oa" in portal.base.config.channels:
        zalo_oa.mount(app, portal)
    app.state.portal = portal
    return app


def serve(home: str | Path, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(home), host=host, port=port, log_level="warning", proxy_headers=False)


def start_in_thread(home: str | Path, host: str, port: int):
    """Serve the portal from a background thread (``run`` with ``web`` configured, the tests,
    the benchmarks); returns the uvicorn server, whose ``should_exit`` stops it."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(create_app(home), log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="portal")
    thread.start()
    server.bound_port = sock.getsockname()[1]
    server.thread = thread
    return server
