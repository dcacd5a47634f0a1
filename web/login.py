"""The coordinators' login and logout, and the home page that sends them to the last period."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from web.auth import SESSION_COOKIE, SESSION_SECONDS, same, verify
from web.portal import Portal, check_csrf, coordinator, session


def register(app: FastAPI, portal: Portal, render) -> None:
    """``/``, ``/dang-nhap`` and ``/dang-xuat``."""

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        coordinator(portal, request)
        periods = [p for p in portal.ctx().store.periods()]
        if not periods:
            return render(
                request,
                "message.html",
                title="Chưa có kỳ báo cáo",
                user=session(portal, request),
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
        check_csrf(coordinator(portal, request), csrf)
        response = RedirectResponse("/dang-nhap", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _login_csrf(portal: Portal, request: Request) -> str:
    """The login form's CSRF token: a signed, per-browser value in a short cookie-free form
    (the form has no session yet), bound to the client's address."""
    import hashlib
    import hmac

    host = request.client.host if request.client else "?"
    return hmac.new(portal.secret, f"login|{host}".encode(), hashlib.sha256).hexdigest()
