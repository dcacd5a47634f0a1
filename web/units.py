"""A unit's pages, behind its personal link: its page, the download, the upload and "Nộp báo cáo"."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from bot.intake import IntakeRefused
from bot.intake.download import download
from bot.intake.guard import MAX_BYTES
from bot.intake.links import resolve
from jobs.submit import mark_submitted, submit
from web import pages
from web.auth import link_csrf, same
from web.portal import MEDIA, Portal


def register(app: FastAPI, portal: Portal, render) -> None:
    """``/u/<token>`` and below: a wrong, rotated or malformed link is a 404."""

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
