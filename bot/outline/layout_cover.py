"""The cover tab of a unit's workbook: who, which period, the status switch, the instructions."""

from __future__ import annotations

from bot.outline.layout import (
    COVER_TAB,
    STATUS_CHOICES,
    CellSpec,
    FieldSpec,
    TabLayout,
    Validation,
    WorkbookLayout,
    add_field,
    fit_row_heights,
)
from bot.outline.periods import Period
from bot.outline.schema import Schema


def cover_tab(schema: Schema, unit, period: Period, layout: WorkbookLayout, deadline_note: str) -> TabLayout:
    tab = TabLayout(name=COVER_TAB, col_widths={1: 34, 2: 60})
    lines = [
        (schema.title, "title"),
        (schema.subtitle, "subtitle"),
        (None, None),
        (("Đơn vị", unit.name), "pair"),
        (("Mã đơn vị", unit.code), "pair"),
        (("Loại đơn vị", schema.kind_by_id[unit.kind].label), "pair"),
        (("Kỳ báo cáo", period.label), "pair"),
        (
            ("Thời gian lấy số liệu", f"từ {period.cutoff_start:%d/%m/%Y} đến {period.cutoff_end:%d/%m/%Y}"),
            "pair",
        ),
        (
            (
                "Hạn gửi báo cáo",
                f"{period.deadline:%d/%m/%Y}" + (f" ({deadline_note})" if deadline_note else ""),
            ),
            "pair",
        ),
    ]
    row = 1
    for content, kind in lines:
        if kind in ("title", "subtitle"):
            tab.put(row, 1, CellSpec(content, style=kind))
            tab.merges.append((row, 1, row, 2))
        elif kind == "pair":
            tab.put(row, 1, CellSpec(content[0], style="label"))
            tab.put(row, 2, CellSpec(content[1], style="text"))
        row += 1
    row += 1
    tab.put(row, 1, CellSpec("Tình trạng báo cáo (đơn vị chọn khi đã hoàn thành)", style="label"))
    tab.put(
        row,
        2,
        CellSpec(
            "Chưa nộp", style="input", input=True, validation=Validation("list", choices=STATUS_CHOICES)
        ),
    )
    add_field(layout, FieldSpec("_cover/status", COVER_TAB, "_cover", row, 2, "choice", True))
    row += 1
    for key, label in (
        ("state", "Kết quả kiểm tra gần nhất"),
        ("checked_at", "Thời điểm kiểm tra"),
        ("comment", "Ý kiến của cơ quan tổng hợp"),
    ):
        tab.put(row, 1, CellSpec(label, style="label"))
        tab.put(row, 2, CellSpec("", style="status"))
        add_field(layout, FieldSpec(f"_cover/{key}", COVER_TAB, "_cover", row, 2, "text", False))
        row += 1
    row += 1
    tab.put(row, 1, CellSpec("Hướng dẫn", style="heading"))
    row += 1
    for text in INSTRUCTIONS:
        tab.put(row, 1, CellSpec(text, style="note"))
        tab.merges.append((row, 1, row, 2))
        row += 1
    fit_row_heights(tab)
    return tab


INSTRUCTIONS = (
    "1. Mỗi phần của đề cương nằm ở một trang tính riêng (các thẻ phía dưới). Chỉ nhập vào các ô nền vàng nhạt; các ô khác đã được khóa.",
    "2. Số liệu nhập dạng số (ví dụ 1234 hoặc 12,5). Ô để trống nghĩa là chưa có số liệu; nếu số liệu bằng không, hãy nhập 0.",
    "3. Các cột tỷ lệ và dòng Tổng được tính tự động, không cần nhập.",
    "4. Bảng có dòng trống để liệt kê: nhập lần lượt từ trên xuống; nếu thiếu dòng, chèn thêm dòng ngay phía trên dòng Tổng.",
    "5. Không xóa, không đổi tên trang tính và không xóa dòng của biểu mẫu.",
    '6. Trang "Kiểm tra" liệt kê các lỗi hệ thống phát hiện, kèm liên kết đến từng ô; trang này được cập nhật sau mỗi lần kiểm tra.',
    '7. Khi hoàn thành, chọn "Đã nộp" ở ô Tình trạng báo cáo phía trên.',
)
