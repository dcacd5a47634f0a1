"""The Zalo OA's webhook on the portal: the OA's events (messages, workbooks sent to the OA)."""

from __future__ import annotations

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from bot.messages.chat import Jobs, zalo_oa_webhook
from jobs.approve import decide
from jobs.submit import submit
from web.portal import Portal

MAX_EVENT_BYTES = 1024 * 1024  # an OA event is a small JSON object; its files come by URL


def mount(app: FastAPI, portal: Portal) -> None:
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
