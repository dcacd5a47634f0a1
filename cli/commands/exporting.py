"""compile, export: the master sheet of a period, and its exports (xlsx, csv, json, docx)."""

from __future__ import annotations

from pathlib import Path

from bot.context import open_context
from bot.reporting.export import FORMATS, ExportError, export
from bot.reporting.gather import NothingPolled, export_path, gather
from bot.sheets.backends.base import BackendError
from cli.main import UsageError, arg, command
from jobs.compile import compile


@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@command(
    "compile", "tổng hợp báo cáo của các đơn vị vào bảng tổng hợp của kỳ (tạo một lần, cập nhật các lần sau)"
)
def compile_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    try:
        location = compile(ctx, period)
    except NothingPolled as e:
        raise UsageError(e.user_message()) from None
    except BackendError as e:
        raise UsageError(f"Chưa ghi được bảng tổng hợp kỳ {period.id}: {e}") from None
    print(f"Đã cập nhật bảng tổng hợp {period.label}: {location}")
    return 0


@arg("--out", help="đường dẫn tệp kết quả (csv: thư mục, hoặc tệp .zip); mặc định trong thư mục exports")
@arg("--format", dest="fmt", choices=FORMATS, default="xlsx", help="định dạng: xlsx, csv, json hoặc docx")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@command("export", "xuất số liệu tổng hợp của một kỳ ra xlsx, csv, json hoặc báo cáo Word (docx)")
def export_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    try:
        master = gather(ctx, period)
    except NothingPolled as e:
        raise UsageError(e.user_message()) from None
    out = Path(args.out) if args.out else export_path(ctx, period, args.fmt)
    try:
        written = export(master, args.fmt, out)
    except ExportError as e:
        raise UsageError(e.user_message()) from None
    except OSError as e:
        raise UsageError(f"Không ghi được {out}: {e.strerror or e}") from None
    print(f"Đã xuất số liệu tổng hợp {period.label} ({master.units_reporting} đơn vị) ra {written}")
    return 0
