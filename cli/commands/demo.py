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
    return 0
