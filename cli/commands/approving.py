"""approve, return: the coordinator's decision on a unit's report."""

from __future__ import annotations

from bot.checks.approval import ApprovalError
from bot.context import open_context
from cli.main import UsageError, arg, command
from jobs.approve import decide


def _decide(args, approval: str) -> int:
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    try:
        decision = decide(ctx, args.unit, period, approval, args.comment)
    except ApprovalError as e:
        raise UsageError(e.user_message()) from None
    verb = "Đã duyệt" if approval == "approved" else "Đã trả lại"
    print(f"{verb} báo cáo {period.label} của {args.unit}.")
    if not decision.written:
        print(
            "Bảng tính đang bận (đang được mở ở nơi khác); kết quả sẽ được ghi vào bảng tính ở lần kiểm tra sau."
        )
    return 0


@arg("--comment", help="ghi chú kèm theo")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@arg("--unit", required=True, help="mã đơn vị")
@command("approve", "duyệt báo cáo của một đơn vị (khóa bảng tính, tính là số liệu chính thức)")
def approve_command(args):
    return _decide(args, "approved")


@arg("--comment", required=True, help="lý do trả lại, gửi kèm cho đơn vị")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@arg("--unit", required=True, help="mã đơn vị")
@command("return", "trả lại báo cáo cho đơn vị sửa, kèm ý kiến")
def return_command(args):
    return _decide(args, "returned")
