"""web, user: the portal for units and coordinators, and the coordinators' accounts."""

from __future__ import annotations

import sys

from bot.context import open_context
from cli.main import UsageError, arg, command


@arg("--port", type=int, help="cổng (mặc định 8080, hoặc web.port trong config.json)")
@arg("--host", help="địa chỉ lắng nghe (mặc định 127.0.0.1, hoặc web.host trong config.json)")
@command("web", "chạy cổng thông tin: trang của đơn vị (liên kết riêng) và trang điều hành của đầu mối")
def web_command(args):
    from web.app import serve

    ctx = open_context(args.home)
    web = ctx.config.web
    host = args.host or (web.host if web else "127.0.0.1")
    port = args.port or (web.port if web else 8080)
    ctx.close()
    print(f"Cổng thông tin: http://{host}:{port}/ (dừng bằng Ctrl-C)")
    serve(args.home, host, port)
    return 0


@arg(
    "action", choices=["add"], help="add: tạo tài khoản hoặc đặt lại mật khẩu (đọc mật khẩu từ đầu vào chuẩn)"
)
@arg("name", help="tên đăng nhập")
@command("user", "tài khoản đầu mối trên cổng thông tin")
def user_command(args):
    from web.auth import MIN_PASSWORD, set_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Mật khẩu: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
    ctx = open_context(args.home)
    set_password(ctx.store, args.name.strip(), password)
    print(f"Đã lưu tài khoản {args.name.strip()}.")
    return 0
