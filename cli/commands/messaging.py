"""remind, outbox, code, bot: deadline reminders, the message queue, chat registration, the chat bot."""

from __future__ import annotations

import sys
from datetime import datetime

from bot import clock
from bot.context import open_context
from bot.messages import chat
from bot.messages.chat import Jobs
from bot.messages.outbox import (
    CHANNEL_LABELS,
    COORDINATORS,
    STATE_LABELS,
    Outgoing,
    channel_problems,
    channels_for,
    counts,
    deliver,
    messages,
    problems,
    stage_label,
    undelivered,
)
from bot.messages.registration import issue_code
from cli.main import UsageError, arg, command, print_json
from jobs.approve import decide
from jobs.remind import remind
from jobs.submit import submit

RETRY_WAIT_SECONDS = 60  # a command run waits this long for quick retries (e.g. "retry after 3 s")


@arg("--now", help="chạy thử tại một thời điểm khác, giờ Việt Nam, ví dụ 2026-03-10T08:00")
@arg("--dry-run", action="store_true", help="chỉ in các tin sẽ gửi, không gửi và không ghi gì")
@arg("--period", required=True, help="kỳ báo cáo, ví dụ 2026-Q1")
@command("remind", "gửi các tin nhắc hạn đến lượt và bản tổng hợp hằng ngày cho đầu mối")
def remind_command(args):
    ctx = open_context(args.home)
    period = ctx.period(args.period)
    moment = _moment(args.now) if args.now else clock.now()
    planned = remind(
        ctx, period, now=moment, dry_run=args.dry_run, wait_up_to=0 if args.dry_run else RETRY_WAIT_SECONDS
    )
    when = f"{moment:%H:%M ngày %d/%m/%Y}"
    if args.dry_run:
        print(f"Chạy thử lúc {when}: {len(planned)} tin sẽ được gửi (không gửi, không ghi gì).")
        for message in planned:
            _print_planned(message, with_text=True)
        return 0
    if not planned:
        print(f"Lúc {when} không có tin nhắc mới nào đến hạn (hoặc đã gửi trước đó).")
    else:
        print(f"Đã xếp {len(planned)} tin mới vào hàng đợi:")
        for message in planned:
            _print_planned(message)
    _print_counts(ctx.store)
    return 0


@arg("--send", action="store_true", help="gửi ngay các tin đến lượt trước khi in")
@arg("--json", action="store_true", help="in dạng JSON")
@command("outbox", "hàng đợi tin nhắn: chờ gửi, đã gửi, thất bại, và các địa chỉ cần kiểm tra")
def outbox_command(args):
    ctx = open_context(args.home)
    if args.send:
        deliver(ctx.store, channels_for(ctx), wait_up_to=RETRY_WAIT_SECONDS)
    rows, flagged = messages(ctx.store), problems(ctx.store)
    lost, broken = undelivered(ctx.store), channel_problems(ctx.store)
    if args.json:
        print_json(
            {
                "messages": [_row_json(r) for r in rows],
                "problems": [
                    {k: r[k] for k in ("channel", "address", "label", "problem", "problem_at")}
                    for r in flagged
                ],
                "undelivered": [r["id"] for r in lost],
                "channels": [{k: r[k] for k in ("channel", "problem", "problem_at")} for r in broken],
            }
        )
        return 0
    if not rows:
        print("Hàng đợi trống: chưa có tin nhắn nào.")
    for r in rows:
        print(
            f"#{r['id']:<5} {STATE_LABELS[r['state']]:<9} {_who(r):<32} {CHANNEL_LABELS.get(r['channel'], r['channel']):<12} "
            f"{stage_label(r['stage']):<32} lần thử: {r['attempts']}"
            + (f"  lỗi: {r['last_error']}" if r["last_error"] else "")
        )
    for r in flagged:
        print(
            f"Cần kiểm tra: {r['label'] or ''} – {CHANNEL_LABELS.get(r['channel'], r['channel'])} {r['address']}: "
            f"{r['problem']}"
        )
    for r in broken:
        print(
            f"Cần xử lý: kênh {CHANNEL_LABELS.get(r['channel'], r['channel'])} ngừng gửi từ {r['problem_at']}: "
            f"{r['problem']} (các tin của kênh vẫn chờ trong hàng đợi)"
        )
    for r in lost:
        print(
            f"Cần xử lý: tin #{r['id']} tới {_who(r)} ({r['stage']}) không gửi được qua kênh nào: "
            f"{r['last_error']}; đề nghị báo trực tiếp cho người nhận"
        )
    _print_counts(ctx.store)
    return 1 if any(r["state"] == "failed" for r in rows) else 0


@arg("--unit", required=True, help="mã đơn vị, ví dụ STP")
@command("code", "cấp mã xác nhận để đơn vị liên kết chat Zalo/Telegram với bot")
def code_command(args):
    ctx = open_context(args.home)
    unit = ctx.unit_by_code.get(args.unit)
    if unit is None:
        raise UsageError(f"Không có đơn vị mã '{args.unit}' trong danh sách đơn vị {ctx.config.units_file}.")
    issued = issue_code(ctx.store, unit.code)
    print(f"Mã xác nhận cho {unit.name} ({unit.code}): {issued.code}")
    print(f"Mã dùng được một lần, hiệu lực đến {issued.expires_at:%H:%M ngày %d/%m/%Y}.")
    print("Hướng dẫn gửi đơn vị: mở Zalo hoặc Telegram, tìm bot báo cáo của tỉnh và nhắn:")
    print(f"  /dangky {unit.code} {issued.code}")
    return 0


@arg(
    "--console", action="store_true", help="thử bot trên máy này: đọc lệnh từ bàn phím thay vì Zalo/Telegram"
)
@command("bot", "chạy bot trò chuyện trên Zalo và/hoặc Telegram theo cấu hình (hoặc trên màn hình)")
def bot_command(args):
    ctx = open_context(args.home)
    try:
        chat.run(
            ctx,
            console=args.console,
            stdin=sys.stdin,
            stdout=sys.stdout,
            jobs=Jobs(decide=decide, submit=submit),
        )
    except KeyboardInterrupt:
        pass
    return 0


def _moment(text: str) -> datetime:
    try:
        return clock.local(datetime.fromisoformat(text))
    except ValueError:
        raise UsageError(f"Thời điểm --now '{text}' không hợp lệ; dùng dạng 2026-03-10T08:00.") from None


def _print_planned(message: Outgoing, *, with_text: bool = False) -> None:
    attachment = f" (kèm tệp {message.attachment})" if message.attachment else ""
    print(
        f"  {message.recipient:<32} {CHANNEL_LABELS.get(message.channel, message.channel):<12} "
        f"{message.address:<30} {message.stage}{attachment}"
    )
    if with_text:
        print("    " + message.text.replace("\n", "\n    "))


def _print_counts(store) -> None:
    total = counts(store)
    print(
        "Hàng đợi: "
        + ", ".join(f"{STATE_LABELS[state]} {n}" for state, n in total.items())
        + ". Xem chi tiết: python -m bot outbox"
    )


def _who(row) -> str:
    return row["recipient"] if row["unit"] == COORDINATORS else f"{row['recipient']} ({row['unit']})"


def _row_json(row) -> dict:
    keys = (
        "id",
        "state",
        "unit",
        "recipient",
        "period",
        "stage",
        "channel",
        "address",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "sent_at",
    )
    return {k: row[k] for k in keys}
