"""The chat commands: who is asking, and the replies to what they ask.

Who may see what:

* a coordinator's chat (listed in ``config.coordinators[].chats``) sees every unit;
* a unit's chat (in units.csv, or linked with /dangky) sees its own unit's report only;
* any other chat learns how to register, and nothing about any unit.

Messages that are more than a reply (a reminder queued by /nhacnho, the export file of /xuat)
go through the outbox, so they are retried like any other message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from bot import clock
from bot.checks.approval import ApprovalError, Decision
from bot.checks.completeness import STATE_LABELS
from bot.intake.chat_files import coordinator_nop
from bot.intake.links import portal_sentence
from bot.messages.outbox import COORDINATORS, Outgoing, channels_for, chat_name, clear_problem, queue
from bot.messages.recipients import unit_messages
from bot.messages.registration import RegistrationError, register, registered_unit
from bot.messages.reminders import STATES, UnitStatus, deadline_phrase, digest, reminder_text
from bot.messages.status import period_label, unit_status, unit_statuses, work_calendar
from bot.messages.workdays import WorkCalendar
from bot.outline.periods import Period
from bot.outline.units import Unit
from bot.reporting.gather import NothingPolled, export_files


@dataclass(frozen=True)
class Jobs:
    """The jobs a chat can start, given by whoever runs the bot (cli/commands/messaging.py), since
    the library never imports jobs/. ``decide(ctx, unit code, period, "approved" or "returned",
    comment)`` is the approve job; ``submit(ctx, data, filename, **options)`` the intake wired to
    the poll and the check (jobs.submit)."""

    decide: Callable[..., Decision] | None = None
    submit: Callable[..., object] | None = None


NOT_REGISTERED = (
    "Chat này chưa được đăng ký với bot báo cáo CCHC, kiểm soát TTHC.\n"
    "Để đăng ký, nhắn: /dangky <mã đơn vị> <mã xác nhận>\n"
    "Mã xác nhận do đầu mối phụ trách báo cáo cấp cho đơn vị, dùng được một lần trong 7 ngày."
)
UNIT_GUIDE = (
    "Hướng dẫn sử dụng bot báo cáo:\n"
    "/trangthai – tình trạng báo cáo của đơn vị trong kỳ hiện tại: mức độ hoàn thành, số lỗi, các phần còn thiếu\n"
    "/dangky <mã đơn vị> <mã xác nhận> – liên kết chat này với đơn vị\n"
    "/huongdan – xem lại hướng dẫn này\n"
    "Bot tự nhắc hạn nộp báo cáo qua chat này; số liệu vẫn nhập vào bảng báo cáo của đơn vị như thường lệ."
)
COORDINATOR_GUIDE = (
    "Hướng dẫn sử dụng bot báo cáo (dành cho đầu mối):\n"
    "/trangthai – tổng hợp tình trạng báo cáo của các đơn vị trong kỳ hiện tại\n"
    "/thieu – các đơn vị trễ hạn hoặc còn lỗi\n"
    "/nhacnho [mã đơn vị] – gửi nhắc nhở ngay cho một đơn vị, hoặc cho mọi đơn vị chưa hợp lệ\n"
    "/xuat – nhận tệp tổng hợp mới nhất của kỳ\n"
    "/duyet <mã đơn vị> – duyệt báo cáo của đơn vị (khóa bảng tính)\n"
    "/tralai <mã đơn vị> <ý kiến> – trả lại báo cáo để đơn vị sửa, kèm ý kiến\n"
    "/nop <mã đơn vị> – nộp thay đơn vị tệp bảng tính vừa gửi vào chat (hoặc ghi /nop <mã> ở chú thích tệp)\n"
    "/huongdan – xem lại hướng dẫn này\n"
    "Mỗi ngày làm việc bot gửi bản tổng hợp tiến độ tới đầu mối."
)
COORDINATOR_ONLY = "Lệnh này chỉ dành cho đầu mối phụ trách báo cáo."
NO_PERIOD = "Hiện chưa có kỳ báo cáo nào đang mở."
NO_DECISIONS = (
    "Bot này chưa được bật chức năng duyệt báo cáo; hãy dùng lệnh python -m bot approve hoặc return."
)
MAX_SECTIONS = 8


@dataclass(frozen=True)
class Caller:
    channel: str  # channel kind, e.g. "zalo_bot"
    address: str  # chat id on that channel
    coordinator: str | None  # the coordinator's name, for an allowlisted chat
    unit: Unit | None  # the unit this chat belongs to

    @property
    def known(self) -> bool:
        return bool(self.coordinator or self.unit)


def handle(
    ctx, channel_kind: str, chat_id: str, text: str, *, now: datetime | None = None, jobs: Jobs | None = None
) -> list[str]:
    """The replies to one incoming text from chat ``chat_id`` on channel ``channel_kind``.

    ``jobs`` takes a coordinator's /duyet or /tralai (the approve job) and files (given by whoever runs
    the bot); without it those commands say they are not available here.
    """
    moment = clock.local(now or clock.now())
    caller = identify(ctx, channel_kind, str(chat_id))
    clear_problem(ctx.store, caller.channel, caller.address)  # it wrote to us: it can be reached again
    command, args = _parse(text)
    if command in OPEN:
        return OPEN[command](ctx, caller, args, moment)
    if not caller.known:
        return [NOT_REGISTERED]
    if command in COORDINATOR_COMMANDS or command in DECISIONS or command == "/nop":
        if not caller.coordinator:
            return [COORDINATOR_ONLY]
        if command in DECISIONS:
            return _decide(ctx, args, moment, DECISIONS[command], jobs)
        if command == "/nop":  # a file this coordinator sent earlier, for the unit named now
            return coordinator_nop(ctx, caller, args, jobs.submit if jobs else None)
        return COORDINATOR_COMMANDS[command](ctx, caller, args, moment)
    if command == "/trangthai":
        return _status(ctx, caller, args, moment)
    return ["Bot chưa hiểu tin nhắn này.\n" + _guide_for(caller)]


def identify(ctx, channel_kind: str, chat_id: str) -> Caller:
    name = chat_name(channel_kind, chat_id)
    coordinator = next((c.name for c in ctx.config.coordinators if name in c.chats), None)
    code = registered_unit(ctx.store, channel_kind, chat_id)
    unit = ctx.unit_by_code.get(code) if code else next((u for u in ctx.units if name in u.chats), None)
    return Caller(channel_kind, chat_id, coordinator, unit)


def current_period(ctx, today: date) -> Period | None:
    """The period being reported on: the last one opened (late reports still count toward it)."""
    opened = [
        period
        for year in (today.year - 1, today.year)
        for kind in ctx.schema.periods
        if (period := ctx.period(f"{year}-{kind.id}")).opens <= today
    ]
    return max(opened, key=lambda period: period.opens, default=None)


def _parse(text: str) -> tuple[str, list[str]]:
    words = (text or "").split()
    if not words:
        return "", []
    command = words[0].casefold().split("@")[0]  # Telegram groups send "/trangthai@ten_bot"
    return command, words[1:]


# --- open to every chat --------------------------------------------------------------------------


def _start(ctx, caller: Caller, args, moment) -> list[str]:
    if caller.coordinator:
        return [
            f"Xin chào {caller.coordinator}! Chat này được nhận là của đầu mối phụ trách.\n\n{COORDINATOR_GUIDE}"
        ]
    if caller.unit:
        return [f"Xin chào {caller.unit.name}!\n\n{UNIT_GUIDE}"]
    return ["Xin chào! Đây là bot nhắc việc và theo dõi báo cáo CCHC, kiểm soát TTHC.\n\n" + NOT_REGISTERED]


def _guide(ctx, caller: Caller, args, moment) -> list[str]:
    return [_guide_for(caller)]


def _guide_for(caller: Caller) -> str:
    if caller.coordinator:
        return COORDINATOR_GUIDE
    return UNIT_GUIDE if caller.unit else NOT_REGISTERED


def _register(ctx, caller: Caller, args: list[str], moment) -> list[str]:
    if len(args) < 2:
        return [
            "Cú pháp: /dangky <mã đơn vị> <mã xác nhận>\n"
            "Mã xác nhận do đầu mối phụ trách báo cáo cấp cho đơn vị."
        ]
    unit = next((u for u in ctx.units if u.code.casefold() == args[0].casefold()), None)
    try:
        register(
            ctx.store,
            unit.code if unit else None,
            "".join(args[1:]),
            caller.channel,
            caller.address,
            now=moment,
        )
    except RegistrationError as exc:
        return [exc.user_message()]
    return [
        f"Đã liên kết chat này với {unit.name} ({unit.code}). Từ nay bot gửi nhắc hạn báo cáo của đơn vị "
        "tới đây. Nhắn /trangthai để xem tình trạng báo cáo." + portal_sentence(ctx, unit.code)
    ]


OPEN = {"/start": _start, "/huongdan": _guide, "/dangky": _register}


# --- a unit's own report, or every unit for a coordinator -----------------------------------------


def _status(ctx, caller: Caller, args, moment: datetime) -> list[str]:
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    calendar = work_calendar(ctx.config)
    if caller.coordinator:
        statuses = unit_statuses(ctx, period)
        return [
            digest(moment, period_label(period), period.deadline, statuses, calendar)
            + "\nTheo tình trạng: "
            + _state_counts(statuses)
        ]
    return [_unit_report(ctx, period, caller.unit, moment.date(), calendar)]


def _unit_report(ctx, period: Period, unit: Unit, today: date, calendar: WorkCalendar) -> str:
    status = unit_status(ctx, period, unit)
    lines = [
        f"{unit.name} – báo cáo {period_label(period)}",
        f"Hạn nộp: {period.deadline:%d/%m/%Y} ({deadline_phrase(today, period.deadline, calendar)})",
        f"Tình trạng: {STATE_LABELS[status.state]}",
        f"Mức độ hoàn thành: {_percent(status.completeness)}%",
        f"Lỗi: {status.errors}; cảnh báo: {status.warnings}",
    ]
    if status.incomplete_sections:
        lines.append(
            "Các phần chưa hoàn thành: " + _cut(list(status.incomplete_sections), MAX_SECTIONS, "phần")
        )
    row = ctx.store.unit_state(unit.code, period.id)
    if row and row["approval"] == "returned" and row["approval_comment"]:
        lines.append(f"Ý kiến của đầu mối khi trả lại: {row['approval_comment']}")
    if status.sheet_url:
        lines.append(f"Bảng báo cáo: {status.sheet_url}")
    return "\n".join(lines)


def _state_counts(statuses: list[UnitStatus]) -> str:
    counts = {state: sum(s.state == state for s in statuses) for state in STATES}
    return ", ".join(f"{STATE_LABELS[state]} {n}" for state, n in counts.items() if n)


# --- coordinator only ------------------------------------------------------------------------------


def _missing(ctx, caller: Caller, args, moment: datetime) -> list[str]:
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    statuses = [s for s in unit_statuses(ctx, period) if not s.is_valid]
    late = [s for s in statuses if moment.date() > period.deadline]
    with_errors = [s for s in statuses if s.errors]
    if not late and not with_errors:
        return [
            f"Báo cáo {period_label(period)}: chưa có đơn vị nào trễ hạn hoặc còn lỗi "
            f"(hạn nộp {period.deadline:%d/%m/%Y})."
        ]
    parts = [f"Báo cáo {period_label(period)}, hạn nộp {period.deadline:%d/%m/%Y}"]
    if late:
        parts.append(
            f"Trễ hạn ({len(late)} đơn vị):\n"
            + "\n".join(
                f"- {s.name} ({s.code}): {STATE_LABELS[s.state]}, hoàn thành {_percent(s.completeness)}%"
                for s in late
            )
        )
    if with_errors:
        parts.append(
            f"Còn lỗi ({len(with_errors)} đơn vị):\n"
            + "\n".join(f"- {s.name} ({s.code}): {s.errors} lỗi" for s in with_errors)
        )
    return ["\n\n".join(parts)]


def _remind_now(ctx, caller: Caller, args: list[str], moment: datetime) -> list[str]:
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    statuses = unit_statuses(ctx, period)
    if args:
        chosen = [s for s in statuses if s.code.casefold() == args[0].casefold()]
        if not chosen:
            return [f"Không có đơn vị mã «{args[0]}» trong danh sách đơn vị."]
        if chosen[0].is_valid:
            return [f"Báo cáo của {chosen[0].name} đã hợp lệ, không cần nhắc."]
    else:
        chosen = [s for s in statuses if not s.is_valid]
        if not chosen:
            return ["Mọi đơn vị đều đã có báo cáo hợp lệ; không có đơn vị nào cần nhắc."]
    queued = queue(ctx.store, _manual_reminders(ctx, period, chosen, moment), now=moment)
    who = f"{chosen[0].name} ({chosen[0].code})" if args else f"{len(chosen)} đơn vị chưa hợp lệ"
    return [f"Đã xếp {len(queued)} tin nhắc cho {who}; tin sẽ được gửi ngay."]


def _manual_reminders(ctx, period: Period, statuses: list[UnitStatus], moment: datetime) -> list[Outgoing]:
    stage = f"thucong-{moment:%Y%m%dT%H%M%S}"
    calendar, label, channels = work_calendar(ctx.config), period_label(period), channels_for(ctx)
    subject = f"Nhắc nộp báo cáo {label}"
    return [
        message
        for status in statuses
        for message in unit_messages(
            ctx,
            period,
            ctx.unit_by_code[status.code],
            stage,
            reminder_text(status, label, period.deadline, moment.date(), calendar),
            channels,
            subject,
        )
    ]


def _export(ctx, caller: Caller, args, moment: datetime) -> list[str]:
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    try:
        export_files(ctx, period, ("xlsx",), force=False)  # rewritten only when the data changed
    except NothingPolled:
        return [f"Chưa có tệp tổng hợp nào của kỳ {period.label}: chưa đọc được bảng tính của đơn vị nào."]
    latest = latest_export(ctx.config.exports_dir, period.id)
    text = f"Tệp tổng hợp báo cáo {period_label(period)}: {latest.name}"
    queue(
        ctx.store,
        [
            Outgoing(
                COORDINATORS,
                caller.coordinator,
                period.id,
                f"xuat-{moment:%Y%m%dT%H%M%S}",
                caller.channel,
                caller.address,
                text,
                text,
                str(latest),
            )
        ],
        now=moment,
    )
    updated = datetime.fromtimestamp(latest.stat().st_mtime, clock.TZ)
    return [f"Đang gửi tệp «{latest.name}» (cập nhật lúc {updated:%H:%M ngày %d/%m/%Y})."]


def latest_export(exports_dir, period_id: str):
    """The newest export of the period: in ``exports/<period>/``, or ``exports/*<period>*`` (as
    ``python -m bot export`` names them, e.g. tong_hop_2026-Q1.xlsx)."""
    candidates = [*exports_dir.glob(f"{period_id}/*"), *exports_dir.glob(f"*{period_id}*")]
    files = [path for path in candidates if path.is_file()]
    return max(files, key=lambda path: (path.stat().st_mtime, path.name), default=None)


def _decide(ctx, args: list[str], moment: datetime, approval: str, jobs: Jobs | None) -> list[str]:
    usage = "/duyet <mã đơn vị>" if approval == "approved" else "/tralai <mã đơn vị> <ý kiến>"
    if jobs is None or jobs.decide is None:
        return [NO_DECISIONS]
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    if not args:
        return [f"Cần ghi mã đơn vị: {usage}"]
    code = next((u.code for u in ctx.units if u.code.casefold() == args[0].casefold()), args[0])
    try:
        decision = jobs.decide(ctx, code, period, approval, " ".join(args[1:]) or None)
    except ApprovalError as e:
        return [f"{e.user_message()} Cú pháp: {usage}"]
    name = ctx.unit_by_code[code].name
    done = "Đã duyệt" if approval == "approved" else "Đã trả lại"
    later = (
        ""
        if decision.written
        else " Bảng tính đang bận; kết quả sẽ được ghi vào bảng tính ở lần kiểm tra sau."
    )
    return [f"{done} báo cáo {period.label} của {name} ({code}); đơn vị đã được báo tin.{later}"]


COORDINATOR_COMMANDS = {"/thieu": _missing, "/nhacnho": _remind_now, "/xuat": _export}
DECISIONS = {"/duyet": "approved", "/tralai": "returned"}


def _percent(ratio: float) -> int:
    return math.floor(max(0.0, min(1.0, ratio)) * 100 + 1e-9)  # floor: unfinished never shows 100%


def _cut(items: list[str], limit: int, noun: str) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} và {len(items) - limit} {noun} khác"
