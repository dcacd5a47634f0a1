"""poll, check, status: read the units' sheets, check them, and show where each unit stands."""

from __future__ import annotations

from pathlib import Path

from bot.checks.completeness import STATE_LABELS, completeness, percent_filled, state_of
from bot.checks.findings import check_reports
from bot.checks.reading import read_report
from bot.checks.report import SEVERITY_LABELS
from bot.config import load_config
from bot.context import open_context
from bot.outline.periods import parse_period
from bot.outline.schema import load_schema
from bot.outline.units import Unit, UnitFileError, load_units
from bot.sheets.backends.base import BackendError, SheetRef
from bot.sheets.backends.workbook import WorkbookBackend
from bot.sheets.sharing import sharing_lines
from cli.main import UsageError, arg, command, print_json
from jobs.check import check
from jobs.poll import poll


@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@command("poll", "đọc các bảng tính đã thay đổi của một kỳ và lưu ảnh chụp số liệu")
def poll_command(args):
    ctx = open_context(args.home)
    result = poll(ctx, ctx.period(args.period))
    print(
        f"Đã đọc {result.reads} bảng tính; {len(result.read)} có thay đổi, {len(result.unchanged)} không đổi, "
        f"{len(result.failed)} không đọc được."
    )
    for unit, reason in result.failed.items():
        print(f"  {unit}: {reason}")
    return 0


@arg("--json", action="store_true", help="in các lỗi dạng JSON")
@arg("--period", help="kỳ báo cáo, ví dụ 2026-Q1 (kiểm tra mọi đơn vị của kỳ)")
@arg("file", nargs="?", help="một tệp .xlsx để tự kiểm tra trước khi nộp")
@command("check", "kiểm tra báo cáo theo các quy tắc của đề cương; mã thoát khác 0 khi còn lỗi")
def check_command(args):
    if args.file:
        return _check_file(args)
    if not args.period:
        raise UsageError("Cần --period (kiểm tra cả kỳ) hoặc đường dẫn một tệp .xlsx.")
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    poll(ctx, period)
    result = check(ctx, period)
    if args.json:
        print_json(
            [
                {
                    "unit": o.unit,
                    "state": o.state,
                    "completeness": round(o.completeness.ratio, 3),
                    "errors": o.errors,
                    "warnings": o.warnings,
                    "findings": [_finding_json(f) for f in o.findings],
                }
                for o in result.outcomes
            ]
        )
    else:
        _print_summary(ctx, result.outcomes)
        for unit, reason in result.feedback_pending.items():
            print(f"Chưa ghi được kết quả kiểm tra vào bảng tính của {unit} ({reason}); sẽ ghi lại lần sau.")
        _print_sharing(ctx.store, period.id)
    return 1 if any(o.errors for o in result.outcomes) else 0


@arg("--json", action="store_true", help="in dạng JSON")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@command("status", "tình trạng báo cáo của các đơn vị trong một kỳ (theo lần kiểm tra gần nhất)")
def status_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    rows = ctx.store.unit_states(period.id)
    if args.json:
        print_json(
            [
                {
                    k: row[k]
                    for k in (
                        "unit",
                        "state",
                        "filled",
                        "required",
                        "errors",
                        "warnings",
                        "last_change",
                        "submitted_at",
                        "checked_at",
                        "approval",
                    )
                }
                for row in rows
            ]
        )
        return 0
    if not rows:
        print(
            f"Chưa có kết quả kiểm tra cho kỳ {period.id}; hãy chạy: python -m bot check --period {period.id}"
        )
        _print_sharing(ctx.store, period.id)
        return 0
    print(
        f"{'Đơn vị':<14} {'Tình trạng':<24} {'Hoàn thành':>10} {'Lỗi':>5} {'Cảnh báo':>9}  Thay đổi gần nhất"
    )
    for row in rows:
        done = percent_filled(row["filled"], row["required"])
        print(
            f"{row['unit']:<14} {STATE_LABELS[row['state']]:<24} {done:>9}% {row['errors']:>5} {row['warnings']:>9}  "
            f"{(row['last_change'] or '')[:16].replace('T', ' ')}"
        )
    _print_sharing(ctx.store, period.id)
    return 0


def _print_sharing(store, period: str) -> None:
    lines = sharing_lines(store, period)
    if lines:
        print(f"Chưa chia sẻ được bảng tính tới {len(lines)} địa chỉ (provision sẽ thử lại):")
        for line in lines:
            print(f"  {line}")


def _print_summary(ctx, outcomes) -> None:
    print(f"{'Đơn vị':<14} {'Tình trạng':<24} {'Hoàn thành':>10} {'Lỗi':>5} {'Cảnh báo':>9}")
    for o in outcomes:
        done = percent_filled(o.completeness.filled, o.completeness.required)
        print(f"{o.unit:<14} {STATE_LABELS[o.state]:<24} {done:>9}% {o.errors:>5} {o.warnings:>9}")
    counts = {}
    for o in outcomes:
        counts[o.state] = counts.get(o.state, 0) + 1
    print("Tổng: " + ", ".join(f"{STATE_LABELS[s]} {n}" for s, n in counts.items()))


def _finding_json(f) -> dict:
    return {
        "table": f.table,
        "row": f.row,
        "column": f.column,
        "cell": f.cell,
        "severity": f.severity,
        "message": f.message,
        "rule": f.rule,
    }


def _check_file(args) -> int:
    """Check one workbook offline, as a unit would before submitting."""
    path = Path(args.file)
    if not path.exists():
        raise UsageError(f"Không tìm thấy tệp {path}.")
    schema, units = _schema_and_units(args.home)
    backend = WorkbookBackend(path.parent)
    try:
        tags = backend.tags(path)
    except BackendError as e:
        raise UsageError(str(e)) from None
    if "unit" not in tags or "period" not in tags:
        raise UsageError(
            f"Tệp {path.name} không phải bảng tính do hệ thống tạo (thiếu thông tin đơn vị, kỳ báo cáo)."
        )
    unit = units.get(tags["unit"]) or Unit(
        tags["unit"], tags.get("unit_name", tags["unit"]), tags.get("unit_kind", "")
    )
    if unit.kind not in schema.kind_by_id:
        raise UsageError(f"Không xác định được loại đơn vị của tệp {path.name}.")
    period = parse_period(tags["period"], schema)
    try:
        reading = read_report(backend, SheetRef(str(path), path.resolve().as_uri()), schema, unit, period)
    except BackendError as e:
        raise UsageError(str(e)) from None
    report = reading.report
    findings = check_reports(schema, [report], {unit.code: reading.findings}).get(unit.code, [])
    comp = completeness(schema, report)
    errors = sum(f.severity == "error" for f in findings)
    state = state_of(report, comp, errors, opened=True)
    if args.json:
        print_json(
            {
                "unit": unit.code,
                "period": period.id,
                "state": state,
                "completeness": round(comp.ratio, 3),
                "findings": [_finding_json(f) for f in findings],
            }
        )
    else:
        warnings = sum(f.severity == "warning" for f in findings)
        print(
            f"{unit.name} — {period.label}: {STATE_LABELS[state]}, hoàn thành {percent_filled(comp.filled, comp.required)}%, "
            f"{errors} lỗi, {warnings} cảnh báo."
        )
        for f in findings:
            where = f" (ô {f.cell})" if f.cell and f.cell not in f.message else ""
            print(f"  [{SEVERITY_LABELS[f.severity]}] {f.message}{where}")
    return 1 if errors else 0


def _schema_and_units(home) -> tuple:
    """The schema and the unit list, without opening (or creating) any state: a clerk checking
    a file on their own machine has no home folder."""
    config = load_config(home)
    schema = load_schema(config.schema_path)
    try:
        return schema, {u.code: u for u in load_units(config.units_file, schema)}
    except UnitFileError:
        return schema, {}
