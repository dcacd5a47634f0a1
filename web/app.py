"""The portal's routes (FastAPI), served by uvicorn. See :mod:`web` for what it is.

Units: ``/u/<token>`` (their page), ``/u/<token>/tai-ve`` (download), ``/u/<token>/gui-tep``
(upload), ``/u/<token>/nop`` (submit). Coordinators: ``/dang-nhap``, ``/ky/<period>`` (the
board), ``/ky/<period>/don-vi/<unit>`` (a unit: findings, versions, diff, decisions), the
master and exports under ``/ky/<period>/``, ``/hop-thu`` (the outbox). A wrong, rotated or
malformed link answers the same 404 page as any unknown address. Zalo OA: ``POST /zalo-oa/webhook``
(the OA's events; only when the zalo_oa channel is configured).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import BackgroundTasks, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException

from bot.checks.approval import ApprovalError
from bot.context import Context, open_context
from bot.intake import IntakeRefused
from bot.intake.download import download
from bot.intake.guard import MAX_BYTES
from bot.intake.links import home_secret, resolve
from bot.intake.versions import version_path
from bot.messages.chat import Jobs, zalo_oa_webhook
from bot.messages.outbox import CHANNEL_LABELS, STATE_LABELS, build_channels, counts, messages, problems
from bot.outline.periods import PeriodError
from bot.reporting.export import FORMATS, ExportError, export
from bot.reporting.gather import NothingPolled, export_path, gather
from bot.reporting.master_layout import MASTER_UNIT
from bot.store import Store
from jobs.approve import decide
from jobs.compile import compile
from jobs.submit import mark_submitted, submit
from web import pages
from web.actions import remind_now
from web.auth import SESSION_COOKIE, SESSION_SECONDS, LoginLimiter, Sessions, link_csrf, same, verify

HERE = Path(__file__).parent
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "application/zip",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
DONE = {
    "duyet": "Đã duyệt báo cáo.",
    "tra-lai": "Đã trả lại báo cáo kèm ý kiến.",
    "nhac": "Đã gửi tin nhắc tới đơn vị (xem Hộp thư đi).",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # a unit's link is in its URL: never sent to another site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
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

    # --- coordinators: who is asking ------------------------------------------------------------

    def session(request: Request) -> dict | None:
        data = portal.sessions.read(request.cookies.get(SESSION_COOKIE))
        return data if data and portal.ctx().store.user(data["u"]) else None

    def coordinator(request: Request) -> dict:
        data = session(request)
        if data is None:
            raise _Redirect("/dang-nhap")
        return data

    def check_csrf(data: dict, token: str | None) -> None:
        if not same(data["c"], token):
            raise HTTPException(403)

    def period_of(ctx, period_id: str):
        try:
            return ctx.period(period_id)
        except PeriodError:
            raise HTTPException(404) from None

    def unit_of(ctx, code: str) -> str:
        if code not in ctx.unit_by_code:
            raise HTTPException(404)
        return code

    @app.exception_handler(_Redirect)
    async def redirect(request: Request, exc: _Redirect):
        return RedirectResponse(exc.location, status_code=303)

    # --- login -------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        coordinator(request)
        periods = [p for p in portal.ctx().store.periods()]
        if not periods:
            return render(
                request,
                "message.html",
                title="Chưa có kỳ báo cáo",
                user=session(request),
                text="Chưa có kỳ báo cáo nào được tạo bảng tính (python -m bot provision --period …).",
            )
        return RedirectResponse(f"/ky/{quote(periods[-1])}", status_code=303)

    @app.get("/dang-nhap", response_class=HTMLResponse)
    def login_page(request: Request):
        return render(request, "login.html", user=None, error=None, csrf=_login_csrf(portal, request))

    @app.post("/dang-nhap", response_class=HTMLResponse)
    def login(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form("")):
        if not same(csrf, _login_csrf(portal, request)):
            raise HTTPException(403)
        keys = (f"ip:{request.client.host if request.client else '?'}", f"user:{name.strip().casefold()}")
        if portal.limiter.blocked(*keys):
            raise HTTPException(429)
        if not verify(portal.ctx().store, name.strip(), password):
            portal.limiter.failed(*keys)
            return render(
                request,
                "login.html",
                401,
                user=None,
                csrf=_login_csrf(portal, request),
                error="Tên đăng nhập hoặc mật khẩu không đúng.",
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            portal.sessions.issue(name.strip()),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=portal.secure,
            path="/",
        )
        return response

    @app.post("/dang-xuat")
    def logout(request: Request, csrf: str = Form("")):
        check_csrf(coordinator(request), csrf)
        response = RedirectResponse("/dang-nhap", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- the coordinator's pages ------------------------------------------------------------------

    @app.get("/ky/{period_id}", response_class=HTMLResponse)
    def board(request: Request, period_id: str, trang_thai: str = "", loai: str = ""):
        user = coordinator(request)
        ctx = portal.ctx()
        period = period_of(ctx, period_id)
        data = pages.board(ctx, period, trang_thai, loai)
        return render(
            request,
            "board.html",
            user=user,
            period=period,
            periods=ctx.store.periods(),
            formats=FORMATS,
            **data,
        )

    def unit_admin(request, user, ctx, period, code, a=None, b=None, msg="", error="", status=200):
        versions = pages.versions(ctx, period, code)
        if (a is None or b is None) and len(versions) >= 2:  # the last change, unless asked otherwise
            a, b = versions[1]["id"], versions[0]["id"]
        return render(
            request,
            "unit_admin.html",
            status,
            user=user,
            unit=pages.unit_page(ctx, period, code),
            versions=versions,
            diff=pages.version_diff(ctx, period, code, a, b),
            a=a,
            b=b,
            msg=msg,
            error=error,
        )

    @app.get("/ky/{period_id}/don-vi/{code}", response_class=HTMLResponse)
    def unit_detail(
        request: Request,
        period_id: str,
        code: str,
        a: int | None = None,
        b: int | None = None,
        xong: str = "",
    ):
        user = coordinator(request)
        ctx = portal.ctx()
        period, code = period_of(ctx, period_id), unit_of(ctx, code)
        return unit_admin(request, user, ctx, period, code, a, b, msg=DONE.get(xong, ""))

    @app.post("/ky/{period_id}/don-vi/{code}/quyet-dinh")
    def decision(
        request: Request,
        period_id: str,
        code: str,
        action: str = Form(""),
        comment: str = Form(""),
        csrf: str = Form(""),
    ):
        user = coordinator(request)
        check_csrf(user, csrf)
        ctx = portal.ctx()
        period, code = period_of(ctx, period_id), unit_of(ctx, code)
        if action not in DONE:
            raise HTTPException(404)
        if action == "nhac":
            portal.write(remind_now, period, code)
        else:
            try:
                portal.write(decide, code, period, "approved" if action == "duyet" else "returned", comment)
            except ApprovalError as e:
                return unit_admin(request, user, ctx, period, code, error=e.user_message(), status=422)
        return RedirectResponse(f"/ky/{quote(period.id)}/don-vi/{quote(code)}?xong={action}", status_code=303)

    @app.get("/ky/{period_id}/don-vi/{code}/phien-ban/{version_id}")
    def version_file(request: Request, period_id: str, code: str, version_id: int):
        coordinator(request)
        ctx = portal.ctx()
        row = ctx.store.version(version_id)
        if row is None or row["unit"] != code or row["period"] != period_id:
            raise HTTPException(404)
        return FileResponse(
            version_path(ctx.config.home, row["sha256"]),
            media_type=MEDIA["xlsx"],
            filename=f"{code}_{period_id}_phien-ban-{version_id}.xlsx",
        )

    @app.get("/ky/{period_id}/tong-hop")
    def master(request: Request, period_id: str):
        coordinator(request)
        ctx = portal.ctx()
        period = period_of(ctx, period_id)
        try:
            url = compile(ctx, period)
        except NothingPolled as e:
            return render(
                request,
                "message.html",
                409,
                title="Chưa có số liệu",
                user=session(request),
                text=e.user_message(),
            )
        record = ctx.store.sheet(MASTER_UNIT, period.id)
        if ctx.backend.name != "workbook":
            return RedirectResponse(url, status_code=303)
        return FileResponse(record.sheet_id, media_type=MEDIA["xlsx"], filename=f"tong_hop_{period.id}.xlsx")

    @app.get("/ky/{period_id}/xuat/{fmt}")
    def export_file(request: Request, period_id: str, fmt: str):
        coordinator(request)
        ctx = portal.ctx()
        period = period_of(ctx, period_id)
        if fmt not in FORMATS:
            raise HTTPException(404)
        try:
            out = export(gather(ctx, period), fmt, export_path(ctx, period, fmt))
        except (NothingPolled, ExportError) as e:
            return render(
                request,
                "message.html",
                409,
                title="Chưa xuất được",
                user=session(request),
                text=e.user_message(),
            )
        return FileResponse(out, media_type=MEDIA[fmt], filename=Path(out).name)

    @app.get("/hop-thu", response_class=HTMLResponse)
    def outbox(request: Request):
        user = coordinator(request)
        ctx = portal.ctx()
        store = ctx.store
        rows = [r for r in messages(store) if r["state"] in ("pending", "sending", "failed")]
        from bot.intake.mailbox import held_messages  # e-mails left unread for a person

        return render(
            request,
            "outbox.html",
            user=user,
            rows=rows,
            problems=problems(store),
            counts=counts(store),
            states=STATE_LABELS,
            channels=CHANNEL_LABELS,
            held=held_messages(store),
            unshared=store.sharing_problems(),
            unit_names={u.code: u.name for u in ctx.units},
        )

    # --- a unit's page, behind its link --------------------------------------------------------------

    def linked(token: str, ky: str = ""):
        ctx = portal.ctx()
        row = resolve(ctx.store, token)
        if row is None or row["unit"] not in ctx.unit_by_code:
            raise HTTPException(404)
        periods = [p for p in ctx.store.periods() if ctx.store.sheet(row["unit"], p)]
        period_id = row["period"] or (ky if ky in periods else (periods[-1] if periods else ""))
        if not period_id or ctx.store.sheet(row["unit"], period_id) is None:
            raise HTTPException(404)
        return ctx, row["unit"], ctx.period(period_id), ([] if row["period"] else periods)

    def unit_view(request, token, ctx, code, period, periods, result=None, error=None, status=200):
        return render(
            request,
            "unit.html",
            status,
            user=None,
            token=token,
            unit=pages.unit_page(ctx, period, code),
            periods=periods,
            csrf=link_csrf(portal.secret, token),
            result=result,
            error=error,
        )

    @app.get("/u/{token}", response_class=HTMLResponse)
    def unit_home(request: Request, token: str, ky: str = ""):
        ctx, code, period, periods = linked(token, ky)
        return unit_view(request, token, ctx, code, period, periods)

    @app.get("/u/{token}/tai-ve")
    def unit_download(token: str, ky: str = ""):
        ctx, code, period, _ = linked(token, ky)
        data, name = download(ctx, code, period)
        return Response(
            data, media_type=MEDIA["xlsx"], headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @app.post("/u/{token}/gui-tep", response_class=HTMLResponse)
    def unit_upload(
        request: Request,
        token: str,
        ky: str = Form(""),
        csrf: str = Form(""),
        tep: Annotated[UploadFile, File()] = None,
    ):
        ctx, code, period, periods = linked(token, ky)
        if not same(csrf, link_csrf(portal.secret, token)):
            raise HTTPException(403)
        data = tep.file.read(MAX_BYTES + 1)
        try:
            result = portal.write(
                submit,
                data,
                tep.filename or "bao-cao.xlsx",
                unit=code,
                period=period.id,
                sender=f"liên kết của đơn vị {code}",
                channel="web",
            )
        except IntakeRefused as e:
            return unit_view(request, token, ctx, code, period, periods, error=e.user_message(), status=422)
        return unit_view(request, token, ctx, code, period, periods, result=result)

    @app.post("/u/{token}/nop", response_class=HTMLResponse)
    def unit_submit(request: Request, token: str, ky: str = Form(""), csrf: str = Form("")):
        ctx, code, period, periods = linked(token, ky)
        if not same(csrf, link_csrf(portal.secret, token)):
            raise HTTPException(403)
        try:
            result = portal.write(mark_submitted, code, period)
        except IntakeRefused as e:
            return unit_view(request, token, ctx, code, period, periods, error=e.user_message(), status=422)
        return unit_view(request, token, ctx, code, period, periods, result=result)

    if "zalo_oa" in portal.base.config.channels:
        _mount_zalo_oa(app, portal)
    app.state.portal = portal
    return app


MAX_EVENT_BYTES = 1024 * 1024  # an OA event is a small JSON object; its files come by URL


def _mount_zalo_oa(app: FastAPI, portal: Portal) -> None:
    """``POST /zalo-oa/webhook``: the address to give Zalo as the OA's webhook URL.

    The signature is checked at once (403 otherwise); the event is then handled after the answer,
    on the writer thread, because Zalo wants its 200 within 2 seconds and resends otherwise
    (hainh.me/zalo-api-php-webhook-callback-official-account.html) while a workbook takes longer.
    """

    @app.post("/zalo-oa/webhook")
    async def zalo_oa_event(request: Request, background: BackgroundTasks):
        channel = portal.channels().get("zalo_oa")
        if channel is None or not channel.receives:
            raise HTTPException(404)
        if int(request.headers.get("content-length") or 0) > MAX_EVENT_BYTES:
            return Response(status_code=413)
        headers, body = dict(request.headers), await request.body()
        if not channel.signed(headers, body):
            return Response(status_code=403)
        background.add_task(portal.write, _zalo_oa_event, portal.channels(), headers, body)
        return Response(status_code=200)


def _zalo_oa_event(ctx, channels: dict, headers: dict[str, str], body: bytes) -> None:
    ctx.extras["channels"] = channels  # /nop and the replies go through the portal's channels
    zalo_oa_webhook(ctx, channels["zalo_oa"], headers, body, jobs=Jobs(decide=decide, submit=submit))


class _Redirect(Exception):
    def __init__(self, location: str):
        self.location = location


def _login_csrf(portal: Portal, request: Request) -> str:
    """The login form's CSRF token: a signed, per-browser value in a short cookie-free form
    (the form has no session yet), bound to the client's address."""
    import hashlib
    import hmac

    host = request.client.host if request.client else "?"
    return hmac.new(portal.secret, f"login|{host}".encode(), hashlib.sha256).hexdigest()


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
