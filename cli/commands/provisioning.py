"""provision, read: create the period's workbooks and read one back."""

from __future__ import annotations

from bot.checks.carry_over import carried_values
from bot.checks.reading import read_report
from bot.context import open_context
from bot.sheets.backends.base import SheetRef
from bot.sheets.document import to_json
from cli.main import UsageError, arg, command, print_json
from jobs.provision import provision

ACTIONS = {"created": "đã tạo", "resumed": "đã hoàn tất", "existing": "đã có, giữ nguyên", "failed": "LỖI"}


@arg("--json", action="store_true", help="in kết quả dạng JSON, mỗi đơn vị một đối tượng")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@command("provision", "tạo bảng tính báo cáo cho mọi đơn vị của một kỳ")
def provision_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    results = provision(ctx, period, prefill=carried_values(ctx))
    if args.json:
        print_json(
            [
                {
                    "unit": r.unit,
                    "period": r.period,
                    "location": r.location,
                    "action": r.action,
                    "error": r.error,
                }
                for r in results
            ]
        )
    else:
        for r in results:
            print(f"{r.unit:<14} {ACTIONS[r.action]:<18} {r.error or r.location}")
        count = lambda *actions: sum(r.action in actions for r in results)  # noqa: E731
        print(
            f"Kỳ {period.label}: {count('created', 'resumed')} bảng tính mới, {count('existing')} đã có, {count('failed')} lỗi."
        )
    return 1 if any(r.action == "failed" for r in results) else 0


@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@arg("--unit", required=True, help="mã đơn vị")
@command("read", "đọc bảng tính của một đơn vị và in các giá trị dạng JSON")
def read_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    unit = ctx.unit_by_code.get(args.unit)
    if unit is None:
        raise UsageError(f"Không có đơn vị mã '{args.unit}' trong danh sách đơn vị {ctx.config.units_file}.")
    record = ctx.store.sheet(unit.code, period.id)
    if record is None:
        raise UsageError(
            f"Chưa tạo bảng tính kỳ {period.id} cho đơn vị {unit.code}; hãy chạy: python -m bot provision --period {period.id}"
        )
    reading = read_report(ctx.backend, SheetRef(record.sheet_id, record.url), ctx.schema, unit, period)
    print_json(to_json(reading.document, ctx.schema, record.url))
