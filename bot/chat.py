"""The chat bot: one handler for every chat channel, and thin glue to Zalo Bot and Telegram.

``handle`` answers one incoming text with the replies to send back. Who may see what:

* a coordinator's chat (listed in ``config.coordinators[].chats``) sees every unit;
* a unit's chat (in units.csv, or linked with /dangky) sees its own unit's report only;
* any other chat learns how to register, and nothing about any unit.

Messages that are more than a reply (a reminder queued by /nhacnho, the export file of /xuat)
go through the outbox, so they are retried like any other message.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TextIO

from bot import clock
from bot.channels import Channel, Message, TransportError
from bot.completeness import STATE_LABELS
from bot.http import redact
from bot.intake.chat_files import take_file, telegram_file, zalo_file_chat, zalo_file_replies
from bot.intake.links import portal_sentence
from bot.outbox import (
    COORDINATORS,
    Outgoing,
    build_channels,
    channels_for,
    chat_name,
    clear_problem,
    deliver,
    queue,
)
from bot.periods import Period
from bot.registration import WRONG as WRONG_CODE
from bot.registration import RegistrationError, redeem, registered_unit
from bot.reminders import STATES, UnitStatus, digest, reminder_text
from bot.store import Store
from bot.units import Unit
from bot.workdays import WorkCalendar
from jobs.compile import NothingPolled, export_files
from jobs.remind import period_label, unit_messages, unit_status, unit_statuses, work_calendar

log = logging.getLogger(__name__)

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
    "/huongdan – xem lại hướng dẫn này\n"
    "Mỗi ngày làm việc bot gửi bản tổng hợp tiến độ tới đầu mối."
)
COORDINATOR_ONLY = "Lệnh này chỉ dành cho đầu mối phụ trách báo cáo."
NO_PERIOD = "Hiện chưa có kỳ báo cáo nào đang mở."
TROUBLE = "Xin lỗi, bot đang gặp sự cố nên chưa trả lời được. Vui lòng thử lại sau ít phút."
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


def handle(ctx, channel_kind: str, chat_id: str, text: str, *, now: datetime | None = None) -> list[str]:
    """The replies to one incoming text from chat ``chat_id`` on channel ``channel_kind``."""
    moment = clock.local(now or clock.now())
    caller = identify(ctx, channel_kind, str(chat_id))
    clear_problem(ctx.store, caller.channel, caller.address)  # it wrote to us: it can be reached again
    command, args = _parse(text)
    if command in OPEN:
        return OPEN[command](ctx, caller, args, moment)
    if not caller.known:
        return [NOT_REGISTERED]
    if command in COORDINATOR_COMMANDS:
        return COORDINATOR_COMMANDS[command](ctx, caller, args, moment) if caller.coordinator else [COORDINATOR_ONLY]
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
    opened = [period for year in (today.year - 1, today.year) for kind in ctx.schema.periods
              if (period := ctx.period(f"{year}-{kind.id}")).opens <= today]
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
        return [f"Xin chào {caller.coordinator}! Chat này được nhận là của đầu mối phụ trách.\n\n{COORDINATOR_GUIDE}"]
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
        return ["Cú pháp: /dangky <mã đơn vị> <mã xác nhận>\n"
                "Mã xác nhận do đầu mối phụ trách báo cáo cấp cho đơn vị."]
    unit = next((u for u in ctx.units if u.code.casefold() == args[0].casefold()), None)
    try:
        if unit is None:
            raise RegistrationError(WRONG_CODE)
        redeem(ctx.store, unit.code, "".join(args[1:]), caller.channel, caller.address, now=moment)
    except RegistrationError as exc:
        return [exc.user_message()]
    return [f"Đã liên kết chat này với {unit.name} ({unit.code}). Từ nay bot gửi nhắc hạn báo cáo của đơn vị "
            "tới đây. Nhắn /trangthai để xem tình trạng báo cáo." + portal_sentence(ctx, unit.code)]


OPEN = {"/start": _start, "/huongdan": _guide, "/dangky": _register}


# --- a unit's own report, or every unit for a coordinator -----------------------------------------

def _status(ctx, caller: Caller, args, moment: datetime) -> list[str]:
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    calendar = work_calendar(ctx.config)
    if caller.coordinator:
        statuses = unit_statuses(ctx, period)
        return [digest(moment, period_label(period), period.deadline, statuses, calendar)
                + "\nTheo tình trạng: " + _state_counts(statuses)]
    return [_unit_report(ctx, period, caller.unit, moment.date(), calendar)]


def _unit_report(ctx, period: Period, unit: Unit, today: date, calendar: WorkCalendar) -> str:
    status = unit_status(ctx, period, unit)
    lines = [
        f"{unit.name} – báo cáo {period_label(period)}",
        f"Hạn nộp: {period.deadline:%d/%m/%Y} ({_timing(today, period.deadline, calendar)})",
        f"Tình trạng: {STATE_LABELS[status.state]}",
        f"Mức độ hoàn thành: {_percent(status.completeness)}%",
        f"Lỗi: {status.errors}; cảnh báo: {status.warnings}",
    ]
    if status.incomplete_sections:
        lines.append("Các phần chưa hoàn thành: " + _cut(list(status.incomplete_sections), MAX_SECTIONS, "phần"))
    row = ctx.store.unit_state(unit.code, period.id)
    if row and row["approval"] == "returned" and row["approval_comment"]:
        lines.append(f"Ý kiến của đầu mối khi trả lại: {row['approval_comment']}")
    if status.sheet_url:
        lines.append(f"Bảng báo cáo: {status.sheet_url}")
    return "\n".join(lines)


def _timing(today: date, deadline: date, calendar: WorkCalendar) -> str:
    if today > deadline:
        return f"đã quá hạn {calendar.working_days_between(deadline, today)} ngày làm việc"
    if today == deadline:
        return "hôm nay là hạn cuối"
    return f"còn {(deadline - today).days} ngày"


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
        return [f"Báo cáo {period_label(period)}: chưa có đơn vị nào trễ hạn hoặc còn lỗi "
                f"(hạn nộp {period.deadline:%d/%m/%Y})."]
    parts = [f"Báo cáo {period_label(period)}, hạn nộp {period.deadline:%d/%m/%Y}"]
    if late:
        parts.append(f"Trễ hạn ({len(late)} đơn vị):\n" + "\n".join(
            f"- {s.name} ({s.code}): {STATE_LABELS[s.state]}, hoàn thành {_percent(s.completeness)}%" for s in late))
    if with_errors:
        parts.append(f"Còn lỗi ({len(with_errors)} đơn vị):\n" + "\n".join(
            f"- {s.name} ({s.code}): {s.errors} lỗi" for s in with_errors))
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
    return [message for status in statuses for message in unit_messages(
        ctx, period, ctx.unit_by_code[status.code], stage,
        reminder_text(status, label, period.deadline, moment.date(), calendar), channels, subject)]


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
    queue(ctx.store, [Outgoing(COORDINATORS, caller.coordinator, period.id, f"xuat-{moment:%Y%m%dT%H%M%S}",
                               caller.channel, caller.address, text, text, str(latest))], now=moment)
    updated = datetime.fromtimestamp(latest.stat().st_mtime, clock.TZ)
    return [f"Đang gửi tệp «{latest.name}» (cập nhật lúc {updated:%H:%M ngày %d/%m/%Y})."]


def latest_export(exports_dir, period_id: str):
    """The newest export of the period: in ``exports/<period>/``, or ``exports/*<period>*`` (as
    ``python -m bot export`` names them, e.g. tong_hop_2026-Q1.xlsx)."""
    candidates = [*exports_dir.glob(f"{period_id}/*"), *exports_dir.glob(f"*{period_id}*")]
    files = [path for path in candidates if path.is_file()]
    return max(files, key=lambda path: (path.stat().st_mtime, path.name), default=None)


def _approve(ctx, caller: Caller, args: list[str], moment: datetime) -> list[str]:
    return _decide(ctx, args, moment, "approved")


def _return(ctx, caller: Caller, args: list[str], moment: datetime) -> list[str]:
    return _decide(ctx, args, moment, "returned")


def _decide(ctx, args: list[str], moment: datetime, approval: str) -> list[str]:
    from jobs.approve import ApprovalError, decide

    usage = "/duyet <mã đơn vị>" if approval == "approved" else "/tralai <mã đơn vị> <ý kiến>"
    period = current_period(ctx, moment.date())
    if period is None:
        return [NO_PERIOD]
    if not args:
        return [f"Cần ghi mã đơn vị: {usage}"]
    code = next((u.code for u in ctx.units if u.code.casefold() == args[0].casefold()), args[0])
    try:
        decision = decide(ctx, code, period, approval, " ".join(args[1:]) or None)
    except ApprovalError as e:
        return [f"{e.user_message()} Cú pháp: {usage}"]
    name = ctx.unit_by_code[code].name
    done = "Đã duyệt" if approval == "approved" else "Đã trả lại"
    later = "" if decision.written else " Bảng tính đang bận; kết quả sẽ được ghi vào bảng tính ở lần kiểm tra sau."
    return [f"{done} báo cáo {period.label} của {name} ({code}); đơn vị đã được báo tin.{later}"]


def _submit_file(ctx, caller: Caller, args: list[str], moment: datetime) -> list[str]:
    from bot.intake.chat_files import coordinator_nop  # a file sent earlier, for a unit named now

    return coordinator_nop(ctx, caller, args, moment)


COORDINATOR_COMMANDS = {"/thieu": _missing, "/nhacnho": _remind_now, "/xuat": _export,
                        "/duyet": _approve, "/tralai": _return, "/nop": _submit_file}


def _percent(ratio: float) -> int:
    return math.floor(max(0.0, min(1.0, ratio)) * 100 + 1e-9)  # floor: unfinished never shows 100%


def _cut(items: list[str], limit: int, noun: str) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} và {len(items) - limit} {noun} khác"


# =================================================================================================
# Transport glue: each just turns an incoming update into handle() and sends the replies back.
# =================================================================================================

def answer(ctx, channel: Channel, chat_id: str, text: str) -> None:
    """Handle one incoming text and send the replies through ``channel``."""
    _send_replies(channel, chat_id, _replies(ctx, channel.kind, chat_id, text))


def _replies(ctx, kind: str, chat_id: str, text: str) -> list[str]:
    try:
        return handle(ctx, kind, chat_id, text)
    except Exception as exc:  # one bad message must not stop the bot; the sender gets a polite word
        log.error("Lỗi khi xử lý tin nhắn từ %s: %s", chat_name(kind, chat_id), redact(repr(exc)))
        return [TROUBLE]


def _send_replies(channel: Channel, chat_id: str, replies: list[str]) -> None:
    for reply in replies:
        try:
            channel.send(chat_id, Message(reply))
        except TransportError as exc:
            log.warning("Không trả lời được %s: %s", chat_name(channel.kind, chat_id), exc.reason)


# --- Zalo Bot: long polling, or a webhook ----------------------------------------------------------

def zalo_text(update: dict[str, Any]) -> tuple[str, str] | None:
    """(chat id, text) of a Zalo Bot update, wrapped in ``result`` or not; None for non-text events."""
    if isinstance(update.get("result"), dict):
        update = update["result"]
    message = update.get("message") if isinstance(update.get("message"), dict) else {}
    chat_id = (message.get("chat") or {}).get("id")
    text = message.get("text")
    return (str(chat_id), text) if chat_id is not None and isinstance(text, str) else None


def serve_zalo_once(ctx, channel, *, timeout: int = 30, on_handled: Callable[[], None] | None = None) -> int:
    """One long poll: answer what came in; returns the number of updates."""
    updates = channel.get_updates(timeout=timeout)
    for update in updates:
        if incoming := zalo_text(update):
            answer(ctx, channel, *incoming)
        elif chat := zalo_file_chat(update):  # Zalo hands no file to a bot: say how else to send it
            _send_replies(channel, chat, zalo_file_replies(ctx, chat))
    if updates and on_handled:
        on_handled()
    return len(updates)


def run_zalo(ctx, channel, stop: threading.Event, on_handled: Callable[[], None] | None = None) -> None:
    failures = 0
    while not stop.is_set():
        try:
            serve_zalo_once(ctx, channel, on_handled=on_handled)
            failures = 0
        except TransportError as exc:
            if exc.permanent:
                log.error("Ngừng nhận tin qua Zalo: %s", exc.reason)
                return
            failures += 1
            log.warning("Chưa nhận được tin qua Zalo (%s); thử lại sau.", exc.reason)
            stop.wait(min(60, 2 ** failures))


def zalo_webhook(ctx, channel, secret_token: str, headers: dict[str, str], body: bytes) -> int:
    """Handle one webhook POST from Zalo Bot; returns the HTTP status to answer with.

    Zalo echoes the ``secret_token`` given to setWebhook in ``X-Bot-Api-Secret-Token``; a
    request without the right one is refused (403) before anything is read.
    """
    given = next((value for name, value in headers.items() if name.lower() == "x-bot-api-secret-token"), "")
    if not hmac.compare_digest(given.encode(), secret_token.encode()):
        return 403
    try:
        update = json.loads(body)
    except ValueError:
        return 400
    if isinstance(update, dict) and (incoming := zalo_text(update)):
        answer(ctx, channel, *incoming)
    elif isinstance(update, dict) and (chat := zalo_file_chat(update)):
        _send_replies(channel, chat, zalo_file_replies(ctx, chat))
    return 200


# --- Telegram: a python-telegram-bot Application ----------------------------------------------------

def telegram_application(ctx, channel: Channel, settings: dict, on_handled: Callable[[], None] | None = None):
    """An Application whose one handler passes every text to ``handle``.

    Replies go out through the channel in a worker thread (the channel runs its own event
    loop and must not be called from this one).
    """
    from telegram.ext import Application, MessageHandler, filters

    from bot.channels.telegram import DEFAULT_BASE_URL

    async def on_text(update, context) -> None:
        if update.effective_message is None or update.effective_chat is None or not update.effective_message.text:
            return
        chat_id = str(update.effective_chat.id)
        replies = _replies(ctx, "telegram", chat_id, update.effective_message.text)
        await asyncio.to_thread(_send_replies, channel, chat_id, replies)
        if on_handled:
            on_handled()

    async def on_document(update, context) -> None:  # a workbook handed in (bot/intake/chat_files.py)
        if update.effective_chat is None or (file := telegram_file(update.effective_message)) is None:
            return
        chat_id = str(update.effective_chat.id)
        replies = await asyncio.to_thread(_file_replies, ctx, chat_id, file, channel)
        await asyncio.to_thread(_send_replies, channel, chat_id, replies)
        if on_handled:
            on_handled()

    application = Application.builder().token(settings["token"]).base_url(
        settings.get("base_url", DEFAULT_BASE_URL)).build()
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.add_handler(MessageHandler(filters.Document.ALL, on_document))
    return application


def _file_replies(ctx, chat_id: str, file, channel: Channel) -> list[str]:
    try:
        own = replace(ctx, store=Store(ctx.config.state_path))  # this runs in a worker thread
        try:
            return take_file(own, "telegram", chat_id, file, channel.download)
        finally:
            own.store.close()
    except Exception as exc:  # one bad file must not stop the bot; the sender gets a polite word
        log.error("Lỗi khi nhận tệp từ %s: %s", chat_name("telegram", chat_id), redact(repr(exc)))
        return [TROUBLE]


# --- running it all ----------------------------------------------------------------------------------

class OutboxSender(threading.Thread):
    """Delivers the outbox every ``every`` seconds, and at once when woken (after a command)."""

    def __init__(self, config, every: float = 30.0):
        super().__init__(name="outbox", daemon=True)
        self._config, self._every = config, every
        self._wake, self._stop = threading.Event(), threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        store, channels = Store(self._config.state_path), build_channels(self._config)
        try:
            while not self._stop.is_set():
                try:
                    deliver(store, channels)
                except Exception as exc:  # keep sending later; the outbox still holds everything
                    log.error("Lỗi khi gửi tin trong hàng đợi: %s", redact(repr(exc)))
                self._wake.wait(self._every)
                self._wake.clear()
        finally:
            store.close()


CONSOLE_WELCOME = (
    "Bot báo cáo đang chạy ở chế độ thử trên máy này (chat «console:local»). Gõ lệnh như trong Zalo "
    "hoặc Telegram, ví dụ /huongdan; Ctrl+D để thoát.\nĐể thử các lệnh của đầu mối, thêm «console:local» "
    "vào coordinators[].chats trong config.json."
)


def run(ctx, *, console: bool = False, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Run the bot on the configured chat transports, or on the console when there is none."""
    channels = channels_for(ctx)
    transports = [] if console else [kind for kind in ("telegram", "zalo_bot") if kind in channels]
    sender, stop = OutboxSender(ctx.config), threading.Event()
    sender.start()
    try:
        zalo = _start_zalo(ctx, channels["zalo_bot"], stop, sender.wake) if "zalo_bot" in transports else None
        if "telegram" in transports:
            telegram_application(ctx, channels["telegram"], ctx.config.channels["telegram"], sender.wake).run_polling(
                allowed_updates=["message"])
        elif zalo:
            while zalo.is_alive():
                zalo.join(1.0)
        else:
            run_console(ctx, stdin, stdout, sender.wake)
    finally:
        stop.set()
        sender.stop()


def _start_zalo(ctx, channel, stop: threading.Event, on_handled) -> threading.Thread:
    def serve() -> None:
        own = replace(ctx, store=Store(ctx.config.state_path))  # a SQLite connection per thread
        try:
            run_zalo(own, channel, stop, on_handled)
        finally:
            own.store.close()

    thread = threading.Thread(target=serve, name="zalo", daemon=True)
    thread.start()
    return thread


def run_console(ctx, stdin: TextIO, stdout: TextIO, on_handled: Callable[[], None] | None = None) -> None:
    print(CONSOLE_WELCOME, file=stdout, flush=True)
    for line in stdin:
        if line.strip():
            for reply in _replies(ctx, "console", "local", line.strip()):
                print(reply + "\n", file=stdout, flush=True)
            if on_handled:
                on_handled()
