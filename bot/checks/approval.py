"""The coordinator's decision on a unit's report: when it can be taken, and what the unit is told.

The decision itself (store it, bring the workbook up to date, tell the unit) is the approve
job's: ``jobs.approve.decide``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.outline.periods import Period


class ApprovalError(Exception):
    def user_message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Decision:
    unit: str
    period: str
    approval: str  # "approved" or "returned"
    written: bool  # the workbook already shows it (False: it will at the next check)


def refuse_unless_possible(ctx, unit_code: str, period: Period, approval: str, comment: str | None) -> None:
    """Raise ApprovalError when the decision cannot be taken: no such unit, no workbook yet, or a
    return without its reason."""
    if ctx.unit_by_code.get(unit_code) is None:
        raise ApprovalError(f"Không có đơn vị mã '{unit_code}' trong danh sách đơn vị.")
    if ctx.store.sheet(unit_code, period.id) is None:
        raise ApprovalError(f"Đơn vị {unit_code} chưa có bảng tính kỳ {period.id}.")
    if approval == "returned" and not (comment or "").strip():
        raise ApprovalError('Khi trả lại báo cáo cần ghi rõ lý do (--comment "…").')


def approval_message(unit, period: Period, approval: str, comment: str | None) -> str:
    if approval == "approved":
        return (
            f"Kính gửi {unit.name}: báo cáo CCHC {period.label} của đơn vị đã được cơ quan tổng hợp duyệt. "
            "Bảng tính đã được khóa; nếu cần sửa, vui lòng liên hệ đầu mối phụ trách."
        )
    return (
        f"Kính gửi {unit.name}: báo cáo CCHC {period.label} của đơn vị được trả lại để chỉnh sửa. "
        f'Ý kiến của cơ quan tổng hợp: {comment}. Sau khi sửa, vui lòng chọn lại "Đã nộp" ở trang bìa.'
    )
