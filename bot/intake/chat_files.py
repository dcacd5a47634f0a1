"""A workbook dropped into a chat: taken through ``submit`` and answered in the same chat.

Who may send one (as for every chat command, ``bot.messages.chat.identify``):

* a unit's chat (units.csv, or linked with /dangky): the file is its unit's report;
* a coordinator's chat: the file may be any unit's, so the bot asks which one unless the
  caption says it (``/nop MA_DON_VI``); the file is remembered (its provider id, not its
  bytes) and a later ``/nop MA_DON_VI`` takes it;
* any other chat: refused before anything is downloaded or read.

Which chats can carry a file to the bot at all:

* Telegram: yes. A document message carries ``file_id`` and ``file_size``; ``getFile`` and
  ``/file/bot<token>/<file_path>`` give the bytes, at most 20 MB ("For the moment, bots can
  download files of up to 20MB in size", core.telegram.org/bots/api#getfile). Our own limit
  (``guard.MAX_BYTES``, 10 MB) is lower, so a bigger file is refused from its declared size
  without being downloaded.
* Zalo Bot Platform: no. Its updates are ``message.text.received``, ``message.image.received``,
  ``message.sticker.received`` and ``message.unsupported.received``, and a message carries
  text, photo, caption or sticker only; there is no document event and no getFile (the typed
  client of the platform in OpenClaw's Zalo extension, npm ``@gguf/claw``
  extensions/zalo/src/api.ts, written against https://bot.zaloplatforms.com/docs). A file sent
  there reaches the bot as an "unsupported" message without its bytes, so the bot answers
  with the other ways to hand it in (:data:`OTHER_WAYS`).
* Zalo OA: yes. The OA webhook (``POST /zalo-oa/webhook`` on the portal,
  ``bot.messages.chat.transports.zalo_oa_webhook``) posts ``event_name: "user_send_file"`` with
  ``sender.id`` (the user id the OA sends to) and ``message.attachments[]`` ``{"type": "file",
  "payload": {"url", "size", "name", "checksum", "type"}}``, ``size`` a string of bytes (the
  sample events of Zalo's PHP connector, and public webhook test suites; Zalo OA webhook docs
  via hainh.me/zalo-api-php-webhook-callback-official-account.html). The bot refuses from
  ``size`` before downloading and caps the download of ``url`` at 10 MB. The file event carries
  no caption, so a coordinator is always asked which unit and answers with ``/nop MA_DON_VI``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from bot.checks.completeness import STATE_LABELS
from bot.intake.diff import place_of_finding
from bot.intake.guard import MAX_BYTES, IntakeRefused
from bot.intake.links import portal_link
from bot.messages.reminders import _percent

OTHER_WAYS = "gửi tệp qua e-mail hoặc trang nộp báo cáo"
ZALO_NO_FILES = (
    "Zalo không chuyển tệp đính kèm cho bot nên bot chưa nhận được tệp (nếu bạn vừa gửi tệp báo cáo). "
    f"Hãy {OTHER_WAYS} của đơn vị."
)
NOT_REGISTERED_FILE = (
    "Chat này chưa được đăng ký với bot báo cáo nên bot không mở tệp vừa gửi. Để đăng ký, nhắn: "
    "/dangky <mã đơn vị> <mã xác nhận> (mã xác nhận do đầu mối cấp), rồi gửi lại tệp."
)
WHICH_UNIT = (
    "Tệp «{name}» là báo cáo của đơn vị nào? Trả lời bằng /nop <mã đơn vị> (ví dụ /nop STP), hoặc gửi "
    "lại tệp với chú thích /nop <mã đơn vị>."
)
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb")  # others are not reports: refused unread
MAX_FINDINGS = 10
PENDING = "chat-file:"  # settings key prefix: the file a coordinator's chat sent, waiting for /nop


@dataclass(frozen=True)
class ChatFile:
    name: str
    file_id: str  # the provider's id, enough to download it again later
    size: int | None = None  # as the provider declares it
    caption: str = ""


Download = Callable[[str], bytes]  # file_id -> bytes; raises TransportError
Submit = Callable[
    ..., object
]  # jobs.submit.submit, given by whoever runs the bot (the library never imports jobs)


def take_file(
    ctx, kind: str, chat_id: str, file: ChatFile, download: Download, submit: Submit | None
) -> list[str]:
    """The replies to a file sent by chat ``chat_id``; see the module for who may send one."""
    from bot.messages.chat import identify
    from bot.messages.outbox import chat_name

    caller = identify(ctx, kind, str(chat_id))
    if not caller.known:
        return [NOT_REGISTERED_FILE]
    code = _caption_unit(ctx, file.caption)
    if caller.coordinator and code is None:
        ctx.store.set_setting(PENDING + chat_name(kind, str(chat_id)), json.dumps(file.__dict__))
        return [WHICH_UNIT.format(name=file.name)]
    if code is None or not caller.coordinator:
        code = caller.unit.code
    return [
        _submit(
            ctx,
            code,
            file,
            download,
            submit,
            sender=f"{caller.coordinator or caller.unit.name} ({chat_name(kind, str(chat_id))})",
        )
    ]


def submit_pending(
    ctx, kind: str, chat_id: str, args: list[str], download: Download | None, submit: Submit | None
) -> list[str]:
    """``/nop MA_DON_VI`` from a coordinator's chat: take the file it sent last for that unit."""
    from bot.messages.outbox import chat_name

    key = PENDING + chat_name(kind, str(chat_id))
    saved = ctx.store.setting(key)
    if not saved:
        return ["Chưa có tệp nào chờ nộp. Gửi tệp báo cáo vào chat này, kèm chú thích /nop <mã đơn vị>."]
    code = _caption_unit(ctx, "/nop " + " ".join(args[:1]))
    if code is None:
        return [f"Cần ghi đúng mã đơn vị: /nop <mã đơn vị>. Không có đơn vị mã «{' '.join(args[:1])}»."]
    if download is None:
        return [f"Kênh chat này không tải được tệp; hãy {OTHER_WAYS}."]
    file = ChatFile(**json.loads(saved))
    ctx.store.set_setting(key, "")
    return [_submit(ctx, code, file, download, submit, sender=f"đầu mối ({chat_name(kind, str(chat_id))})")]


def _caption_unit(ctx, caption: str) -> str | None:
    words = (caption or "").split()
    if len(words) < 2 or words[0].casefold().split("@")[0] != "/nop":
        return None
    return next((u.code for u in ctx.units if u.code.casefold() == words[1].casefold()), None)


def _submit(ctx, code: str, file: ChatFile, download: Download, submit: Submit | None, sender: str) -> str:
    from bot.messages.channels import TransportError

    refusal = _refuse_unread(file)
    if refusal:
        return refusal
    if submit is None:
        return f"Bot này chưa được bật chức năng nhận tệp; hãy {OTHER_WAYS}."
    try:
        data = download(file.file_id)
    except TransportError as exc:
        if "too big" in exc.reason.lower():
            return _too_big(file.name)
        return (
            f"Chưa tải được tệp «{file.name}» từ máy chủ chat (đường truyền bị gián đoạn); chưa có gì thay đổi. "
            "Hãy gửi lại tệp sau ít phút."
        )
    try:
        result = submit(ctx, data, file.name, unit=code, sender=sender, channel="chat")
    except IntakeRefused as exc:
        return refusal_reply(file.name, exc)
    return submission_reply(ctx, result, file.name)


def _refuse_unread(file: ChatFile) -> str | None:
    if PurePath(file.name or "").suffix.lower() not in SPREADSHEET_SUFFIXES:
        return (
            f"Tệp «{file.name}» không phải bảng tính Excel. Bot chỉ nhận tệp báo cáo .xlsx đã tải về từ hệ "
            "thống."
        )
    if file.size is not None and file.size > MAX_BYTES:
        return _too_big(file.name)
    return None


def _too_big(name: str) -> str:
    return (
        f"Tệp «{name}» lớn hơn 10 MB nên bot không nhận. Hãy xóa các trang, hình ảnh không thuộc biểu mẫu "
        "rồi gửi lại."
    )


def refusal_reply(filename: str, exc: IntakeRefused) -> str:
    return f"Chưa nhận tệp «{filename}»: {exc.user_message()}"


def submission_reply(ctx, result, filename: str) -> str:
    """What the sender is told: the outcome, completeness, the first findings with their place
    in words, how many more, notes, and the portal link when there is a portal."""
    unit = ctx.unit_by_code[result.unit]
    lines = [
        f"Đã nhận tệp «{filename}» của {unit.name} ({unit.code}), kỳ {result.period} "
        f"(phiên bản {result.version_id}). {result.summary()}"
    ]
    lines.append(_standing(ctx, result))
    findings = _ordered(result.findings)
    if findings:
        lines.append("Kết quả kiểm tra:")
        lines += [f"{i}. {_finding_line(ctx, f)}" for i, f in enumerate(findings[:MAX_FINDINGS], 1)]
        if len(findings) > MAX_FINDINGS:
            lines.append(
                f"… và {len(findings) - MAX_FINDINGS} mục khác (xem trang «Kiểm tra» của bảng tính)."
            )
    lines += [f"Lưu ý: {note}" for note in result.notes]
    link = portal_link(ctx, unit.code, result.period)
    if link:
        lines.append(f"Xem chi tiết, tải bảng tính, nộp báo cáo: {link}")
    return "\n".join(lines)


def _standing(ctx, result) -> str:
    from bot.messages.status import unit_status

    status = unit_status(ctx, ctx.period(result.period), ctx.unit_by_code[result.unit])
    state = STATE_LABELS.get(result.state or status.state, result.state or status.state)
    return f"Mức độ hoàn thành: {_percent(status.completeness)}%. Tình trạng: {state}."


SEVERITY_ORDER = ("error", "warning", "missing")
SEVERITY_WORDS = {"error": "Lỗi", "warning": "Cảnh báo", "missing": "Thiếu"}


def _ordered(findings: list[dict]) -> list[dict]:
    return sorted(
        findings,
        key=lambda f: (
            SEVERITY_ORDER.index(f["severity"]) if f["severity"] in SEVERITY_ORDER else len(SEVERITY_ORDER)
        ),
    )


def _finding_line(ctx, finding: dict) -> str:
    place = place_of_finding(ctx.schema, finding)
    cell = f" (ô {finding['cell']})" if finding.get("cell") else ""
    where = f"{place}{cell}: " if place else (f"Ô {finding['cell']}: " if cell else "")
    return f"[{SEVERITY_WORDS.get(finding['severity'], finding['severity'])}] {where}{finding['message']}"


# --- glue for the transports ------------------------------------------------------------------------


def coordinator_nop(ctx, caller, args: list[str], submit: Submit | None) -> list[str]:
    """``/nop`` as a coordinator command of ``bot.messages.chat.handle``: downloads through the chat's channel."""
    from bot.messages.outbox import channels_for

    channel = channels_for(ctx).get(caller.channel)
    return submit_pending(
        ctx, caller.channel, caller.address, args, getattr(channel, "download", None), submit
    )


def zalo_file_chat(update: dict) -> str | None:
    """The chat id of a Zalo Bot update that may be a file (unsupported or image message), else None."""
    if isinstance(update.get("result"), dict):
        update = update["result"]
    if update.get("event_name") not in ("message.unsupported.received", "message.image.received"):
        return None
    chat_id = ((update.get("message") or {}).get("chat") or {}).get("id")
    return str(chat_id) if chat_id is not None else None


def zalo_file_replies(ctx, chat_id: str) -> list[str]:
    from bot.messages.chat import NOT_REGISTERED, identify

    return [ZALO_NO_FILES] if identify(ctx, "zalo_bot", chat_id).known else [NOT_REGISTERED]


def telegram_file(message) -> ChatFile | None:
    """The ChatFile of a python-telegram-bot Message carrying a document, else None."""
    document = getattr(message, "document", None)
    if document is None:
        return None
    return ChatFile(
        document.file_name or "bao-cao.xlsx", document.file_id, document.file_size, message.caption or ""
    )


def zalo_oa_file(event: dict) -> tuple[str, ChatFile] | None:
    """(user id, ChatFile) of a Zalo OA ``user_send_file`` event, else None (see the module)."""
    if event.get("event_name") != "user_send_file":
        return None
    sender = (event.get("sender") or {}).get("id")
    message = event.get("message") or {}
    attachment = next((a for a in message.get("attachments") or [] if isinstance(a, dict)), None)
    payload = (attachment or {}).get("payload") or {}
    if sender is None or not payload.get("url"):
        return None
    size = str(payload.get("size", ""))
    return str(sender), ChatFile(
        str(payload.get("name") or "bao-cao.xlsx"),
        str(payload["url"]),
        int(size) if size.isdigit() else None,
        str(message.get("text") or ""),
    )
