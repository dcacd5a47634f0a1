"""submit, history, diff, link: a unit's workbook handed back, its versions, and its portal link."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from bot.checks.completeness import STATE_LABELS
from bot.checks.report import SEVERITY_LABELS
from bot.context import open_context
from bot.intake import IntakeRefused
from bot.intake.diff import diff_versions, place_of_finding
from bot.intake.links import ALL_PERIODS, unit_url
from cli.main import UsageError, arg, command, print_json
from jobs.submit import submit

OUTCOME_LABELS = {
    "applied": "đã cập nhật",
    "merged": "đã gộp (giữ giá trị mới hơn)",
    "unchanged": "không thay đổi",
    "approved": "đã duyệt, không thay thế",
}


@arg("--json", action="store_true", help="in kết quả dạng JSON")
@arg("--period", help="kỳ báo cáo mà tệp phải thuộc về, ví dụ 2026-Q1")
@arg("--unit", help="mã đơn vị mà tệp phải thuộc về")
@arg("file", help="tệp .xlsx của đơn vị")
@command(
    "submit", "nhận bảng tính một đơn vị gửi lại: lưu phiên bản, kiểm tra, cập nhật vào bảng tính của đơn vị"
)
def submit_command(args):
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"Không tìm thấy tệp {path}.")
    ctx = open_context(args.home)
    try:
        result = submit(
            ctx,
            path.read_bytes(),
            path.name,
            unit=args.unit,
            period=args.period,
            sender=f"dòng lệnh ({getpass.getuser()})",
            channel="cli",
        )
    except IntakeRefused as e:
        raise UsageError(e.user_message()) from None
    if args.json:
        print_json(
            {
                "version": result.version_id,
                "unit": result.unit,
                "period": result.period,
                "outcome": result.outcome,
                "state": result.state,
                "written": result.written,
                "notes": result.notes,
                "findings": result.findings,
            }
        )
    else:
        print(f"Phiên bản {result.version_id} của {result.unit}, kỳ {result.period}: {result.summary()}")
        if result.state:
            print(f"Tình trạng: {STATE_LABELS.get(result.state, result.state)}.")
        for note in result.notes:
            print(f"  * {note}")
        for f in result.findings:
            place = place_of_finding(ctx.schema, f)
            print(
                f"  [{SEVERITY_LABELS.get(f['severity'], f['severity'])}] {place + ': ' if place else ''}{f['message']}"
            )
    return 1 if result.errors else 0


@arg("--json", action="store_true", help="in dạng JSON")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@arg("--unit", required=True, help="mã đơn vị")
@command("history", "các phiên bản bảng tính một đơn vị đã gửi trong kỳ: ai gửi, qua đâu, lúc nào, mã băm")
def history_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    rows = ctx.store.versions(args.unit, period.id)
    if args.json:
        print_json(
            [
                {
                    k: row[k]
                    for k in (
                        "id",
                        "filename",
                        "sender",
                        "channel",
                        "received_at",
                        "sha256",
                        "size",
                        "outcome",
                        "based_on",
                    )
                }
                | {"notes": json.loads(row["notes"])}
                for row in rows
            ]
        )
        return 0
    if not rows:
        print(f"Đơn vị {args.unit} chưa gửi phiên bản nào cho kỳ {period.id}.")
        return 0
    for row in rows:
        print(
            f"{row['id']:>5}  {row['received_at'][:16].replace('T', ' ')}  {row['channel']:<5} {row['sender']:<24} "
            f"{row['sha256'][:12]}  {OUTCOME_LABELS.get(row['outcome'], row['outcome'])}  {row['filename']}"
        )
    return 0


@arg("--json", action="store_true", help="in dạng JSON")
@arg("older", type=int, help="số phiên bản cũ hơn")
@arg("newer", type=int, help="số phiên bản mới hơn")
@command("diff", "các ô khác nhau giữa hai phiên bản (từ giá trị nào sang giá trị nào)")
def diff_command(args):
    ctx = open_context(args.home)
    older, newer = ctx.store.version(args.older), ctx.store.version(args.newer)
    for number, row in ((args.older, older), (args.newer, newer)):
        if row is None:
            raise UsageError(
                f"Không có phiên bản số {number}; xem danh sách bằng: python -m bot history --unit … --period …"
            )
    if (older["unit"], older["period"]) != (newer["unit"], newer["period"]):
        raise UsageError(
            "Hai phiên bản thuộc hai đơn vị hoặc hai kỳ khác nhau; chỉ so sánh được phiên bản của cùng một báo cáo."
        )
    changes = diff_versions(ctx.schema, older, newer)
    if args.json:
        print_json(
            [
                {"key": c.key, "place": c.place, "cell": c.cell, "before": c.before, "after": c.after}
                for c in changes
            ]
        )
        return 0
    if not changes:
        print(f"Phiên bản {args.older} và {args.newer} có cùng số liệu.")
    for c in changes:
        print(f"{c.place} (ô {c.cell}): «{c.before}» → «{c.after}»")
    return 0


@arg("--rotate", action="store_true", help="tạo liên kết mới; liên kết cũ không dùng được nữa")
@arg("--period", help="chỉ cho một kỳ (mặc định: mọi kỳ của đơn vị)")
@arg("--unit", required=True, help="mã đơn vị")
@command("link", "liên kết riêng của một đơn vị vào cổng thông tin (không cần tài khoản)")
def link_command(args):
    ctx = open_context(args.home)
    if args.unit not in ctx.unit_by_code:
        raise UsageError(f"Không có đơn vị mã '{args.unit}' trong danh sách đơn vị.")
    period = ctx.period(args.period).id if args.period else ALL_PERIODS
    url = unit_url(ctx, args.unit, period, rotate=args.rotate)
    if args.rotate:
        print("Đã tạo liên kết mới; liên kết cũ không còn dùng được.")
    print(url)
    return 0
