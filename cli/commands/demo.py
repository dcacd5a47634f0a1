"""demo: the whole job over two simulated weeks, on the embedded default."""

from __future__ import annotations

import time
from pathlib import Path

from cli.main import UsageError, arg, command


@arg("--dir", default="demo-home", help="thư mục mới cho bản chạy thử (mặc định: ./demo-home)")
@command("demo", "chạy thử toàn bộ một kỳ báo cáo trên dữ liệu mẫu, với đồng hồ mô phỏng")
def demo_command(args):
    from jobs.demo import run_demo

    started = time.monotonic()
    print(f"Chạy thử kỳ báo cáo Quý I năm 2026 cho các đơn vị mẫu, trong thư mục {args.dir} …")
    try:
        run_demo(Path(args.dir))
    except FileExistsError as e:
        raise UsageError(str(e)) from None
    print(f"Xong sau {time.monotonic() - started:.0f} giây.")
    _portal_hint(Path(args.dir))
    return 0


def _portal_hint(home: Path) -> None:
    """How to open the portal on the demo's home: a coordinator account, the server, a unit's link."""
    from bot.context import open_context
    from bot.intake.links import base_url, unit_url

    ctx = open_context(home)
    try:
        code = ctx.units[0].code
        print("\nCổng thông tin trên thư mục chạy thử (đơn vị nộp tệp, đầu mối theo dõi và duyệt):")
        print(f"  echo 'mat-khau-cua-ban' | python -m bot --home {home} user add cchc")
        print(f"  python -m bot --home {home} web")
        print(f"  Trang của đầu mối: {base_url(ctx.config)}/  (đăng nhập: cchc)")
        print(f"  Liên kết riêng của {ctx.unit_by_code[code].name}: {unit_url(ctx, code)}")
    finally:
        ctx.close()
