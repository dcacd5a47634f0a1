"""The coordinators' pages of a period: the board, a unit (findings, versions, diff, decisions),
the master, the exports, and the outbox."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from bot.checks.approval import ApprovalError
from bot.intake.versions import version_path
from bot.messages.outbox import CHANNEL_LABELS, STATE_LABELS, counts, messages, problems
from bot.outline.periods import PeriodError
from bot.reporting.export import FORMATS, ExportError, export
from bot.reporting.gather import NothingPolled, export_path, gather
from bot.reporting.master_layout import MASTER_UNIT
from jobs.approve import decide
from jobs.compile import compile
from web import pages
from web.actions import remind_now
from web.portal import MEDIA, Portal, check_csrf, coordinator, session

DONE = {
    "duyet": "Đã duyệt báo cáo.",
    "tra-lai": "Đã trả lại báo cáo kèm ý kiến.",
    "nhac": "Đã gửi tin nhắc tới đơn vị (xem Hộp thư đi).",
}


def period_of(ctx, period_id: str):
    try:
        return ctx.period(period_id)
    except PeriodError:
        raise HTTPException(404) from None


def unit_of(ctx, code: str) -> str:
    if code not in ctx.unit_by_code:
        raise HTTPException(404)
    return code


def register(app: FastAPI, portal: Portal, render) -> None:
    """``/ky/<period>`` and below, and ``/hop-thu``: every one for a signed-in coordinator."""

    @app.get("/ky/{period_id}", response_class=HTMLResponse)
    def board(request: Request, period_id: str, trang_thai: str = "", loai: str = ""):
        user = coordinator(portal, request)
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

    def refusal(request, title: str, error):
        """The page that says why a file cannot be made yet (the error's own message)."""
        user = session(portal, request)
        return render(request, "message.html", 409, title=title, user=user, text=error.user_message())

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
        user = coordinator(portal, request)
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
        user = coordinator(portal, request)
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
        coordinator(portal, request)
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
        coordinator(portal, request)
        ctx = portal.ctx()
        period = period_of(ctx, period_id)
        try:
            url = compile(ctx, period)
        except NothingPolled as e:
            return refusal(request, "Chưa có số liệu", e)
        record = ctx.store.sheet(MASTER_UNIT, period.id)
        if ctx.backend.name != "workbook":
            return RedirectResponse(url, status_code=303)
        return FileResponse(record.sheet_id, media_type=MEDIA["xlsx"], filename=f"tong_hop_{period.id}.xlsx")

    @app.get("/ky/{period_id}/xuat/{fmt}")
    def export_file(request: Request, period_id: str, fmt: str):
        coordinator(portal, request)
        ctx = portal.ctx()
        period = period_of(ctx, period_id)
        if fmt not in FORMATS:
            raise HTTPException(404)
        try:
            out = export(gather(ctx, period), fmt, export_path(ctx, period, fmt))
        except (NothingPolled, ExportError) as e:
            return refusal(request, "Chưa xuất được", e)
        return FileResponse(out, media_type=MEDIA[fmt], filename=Path(out).name)

    @app.get("/hop-thu", response_class=HTMLResponse)
    def outbox(request: Request):
        user = coordinator(portal, request)
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
