"""Workbooks e-mailed to the report mailbox: taken through ``submit``, answered in the thread.

``fetch_mail`` (the scheduler's "mail" job, and ``python -m bot mail --once``) reads the unseen
messages of ``config.mailbox`` with imap-tools, without marking them (``BODY.PEEK[]``):

* a message from a unit's address (units.csv ``emails``, or an address registered for the
  unit) with ``.xlsx`` attachments: each goes through ``submit`` (with that unit, so another
  unit's file is refused with the reason), one answer is queued in the outbox for the
  sender's address with ``In-Reply-To``/``References`` set to the message's Message-ID, and
  only then is the message marked ``\\Seen``;
* a message from anyone else, or without a workbook: left unread for a person and recorded
  in ``mail_held`` (listed in the coordinator's digest and on the portal's outbox page); it is
  never answered, so a forged or mistaken sender gets no mail from us (no backscatter).
  Once a person has read or moved it, it leaves that list at the next round.

Nothing lost, nothing counted twice: a process killed after ``submit`` recorded the version
but before the message was marked seen fetches the message again next time. The version is
recorded with the message's Message-ID in its sender, so the same attachment (same SHA-256)
of the same message is recognised and not submitted again; the answer is queued under a
stage derived from the message and the file, so the outbox's unique key keeps it single.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import PurePath

from bot import clock
from bot.http import redact, register_secret
from bot.intake.chat_files import Submit, refusal_reply, submission_reply
from bot.intake.guard import IntakeRefused
from bot.intake.versions import sha256
from bot.messages.outbox import Outgoing, channels_for, queue

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
UNKNOWN_SENDER = "người gửi không thuộc đơn vị nào"
NO_WORKBOOK = "không có tệp .xlsx đính kèm"


class MailboxError(Exception):
    """The mailbox could not be read (login, network); the Vietnamese reason has no secret."""

    def user_message(self) -> str:
        return str(self)


@dataclass
class MailRound:
    taken: list[str] = field(default_factory=list)  # Message-IDs answered and marked seen
    held: list[str] = field(default_factory=list)  # left unread for a person
    files: int = 0

    def summary(self) -> str:
        return f"nhận {self.files} tệp trong {len(self.taken)} thư, để lại {len(self.held)} thư cho người xem"


def open_mailbox(settings):
    """A logged-in imap-tools mailbox on the configured folder (use as a context manager)."""
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    register_secret(settings.password)
    port = settings.port or DEFAULT_PORTS[settings.security]
    context = ssl.create_default_context(cafile=settings.ca_file)
    try:
        if settings.security == "ssl":
            box = MailBox(settings.host, port, ssl_context=context, timeout=30)
        elif settings.security == "starttls":
            box = MailBoxStartTls(settings.host, port, ssl_context=context, timeout=30)
        else:
            box = MailBoxUnencrypted(settings.host, port, timeout=30)
        return box.login(settings.username, settings.password or "", settings.folder)
    except Exception as exc:  # imaplib, ssl and socket errors alike: say which, never the password
        raise MailboxError(
            f"Không đọc được hộp thư {settings.username} tại {settings.host}:{port} "
            f"({redact(type(exc).__name__ + ': ' + str(exc))})."
        ) from None


def fetch_mail(ctx, mailbox=None, *, submit: Submit) -> MailRound:
    """One round over the unseen messages; see the module. ``mailbox``: an open imap-tools box;
    ``submit``: the intake wired to the poll and the check (jobs.submit.submit)."""
    from imap_tools import AND, MailMessageFlags

    if mailbox is None:
        if ctx.config.mailbox is None:
            raise MailboxError('Chưa cấu hình hộp thư nhận báo cáo (mục "mailbox" trong config.json).')
        with open_mailbox(ctx.config.mailbox) as box:
            return fetch_mail(ctx, box, submit=submit)
    result = MailRound()
    for message in mailbox.fetch(AND(seen=False), mark_seen=False, bulk=True):
        if _take_message(ctx, message, result, submit):
            mailbox.flag(message.uid, MailMessageFlags.SEEN, True)  # only now: the versions are recorded
    _forget_handled(ctx, result.held)
    return result


def _forget_handled(ctx, still_unread: list[str]) -> None:
    """A held message no longer unread was dealt with by a person: it leaves the list."""
    ctx.store.forget_held_mail_except(still_unread)


def _take_message(ctx, message, result: MailRound, submit: Submit) -> bool:
    """True when the message was answered (then it may be marked seen)."""
    address = (message.from_ or "").strip().lower()
    key = _message_key(message)
    code = unit_of_address(ctx, address)
    files = [a for a in message.attachments if PurePath(a.filename or "").suffix.lower() == ".xlsx"]
    if code is None or not files:
        _hold(ctx, key, address, message, UNKNOWN_SENDER if code is None else NO_WORKBOOK)
        result.held.append(key)
        return False
    sender = f"{address} (thư {key})"
    replies = [
        _take_file(ctx, code, sender, attachment.filename, attachment.payload, submit) for attachment in files
    ]
    result.files += len(files)
    _answer(ctx, code, address, key, message, replies)
    result.taken.append(key)
    return True


def unit_of_address(ctx, address: str) -> str | None:
    """The unit whose address this is: units.csv ``emails``, then an address registered for it."""
    for unit in ctx.units:
        if address in (e.strip().lower() for e in unit.emails):
            return unit.code
    code = ctx.store.unit_of_registered_email(address)
    return code if code in ctx.unit_by_code else None


def _take_file(ctx, code: str, sender: str, filename: str, data: bytes, submit: Submit) -> tuple[str, str]:
    """(period, reply) for one attachment; a file this message already delivered is not taken twice."""
    earlier = ctx.store.version_from(sha256(data), sender)
    if earlier is not None:
        return earlier["period"], _recorded_reply(ctx, earlier, filename)
    try:
        result = submit(ctx, data, filename, unit=code, sender=sender, channel="email")
    except IntakeRefused as exc:
        return "", refusal_reply(filename, exc)
    return result.period, submission_reply(ctx, result, filename)


def _recorded_reply(ctx, row, filename: str) -> str:
    """The answer for a version recorded before a crash, rebuilt from what was stored."""
    from bot.intake.submit import Submission

    result = Submission(
        row["id"], row["unit"], row["period"], "unchanged", notes=json.loads(row["notes"] or "[]")
    )
    state = ctx.store.unit_state(row["unit"], row["period"])
    result.state = state["state"] if state else None
    result.findings = ctx.store.findings(row["period"], row["unit"])
    text = submission_reply(ctx, result, filename)
    return text.replace(result.summary(), "Tệp đã được nhận và ghi vào bảng tính.")


def _answer(ctx, code: str, address: str, key: str, message, replies: list[tuple[str, str]]) -> None:
    period = next((p for p, _ in replies if p), "")
    subject = message.subject or "Báo cáo"
    subject = subject if subject.lower().startswith(("re:", "trả lời:")) else f"Re: {subject}"
    stage = "thu-" + hashlib.sha256(key.encode()).hexdigest()[:20]
    message_id = _message_id(message)
    text = "\n\n".join(reply for _, reply in replies)
    # The configuration refuses a mailbox without an e-mail channel; only the demo's simulated
    # mailbox runs without one, and its answers go to the message log like the rest of its messages.
    kind = "email" if "email" in channels_for(ctx) else "console"
    queue(
        ctx.store,
        [
            Outgoing(
                code,
                ctx.unit_by_code[code].name,
                period,
                stage,
                kind,
                address,
                text,
                subject,
                in_reply_to=message_id,
            )
        ],
    )


def _hold(ctx, key: str, address: str, message, reason: str) -> None:
    received = message.date.isoformat() if message.date and message.date.year > 1900 else None
    ctx.store.hold_mail(
        {
            "message_key": key,
            "sender": address or "(không rõ)",
            "subject": message.subject or "",
            "reason": reason,
            "received_at": received,
            "first_seen_at": clock.now().isoformat(),
        }
    )


def held_messages(store) -> list:
    """Messages left unread for a person (newest first), for the digest and the outbox page."""
    return store.held_mail()


def held_lines(store, limit: int = 10) -> str:
    """The digest's paragraph on held mail, or "" when there is none."""
    rows = held_messages(store)
    if not rows:
        return ""
    lines = [f"Hộp thư báo cáo: {len(rows)} thư bot không tự xử lý, cần người xem:"]
    lines += [f"- {r['sender']}: «{r['subject']}» ({r['reason']})" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"- … và {len(rows) - limit} thư khác")
    return "\n".join(lines)


def _message_id(message) -> str | None:
    values = message.headers.get("message-id") or ()
    return values[0].strip() if values else None


def _message_key(message) -> str:
    return _message_id(message) or f"uid-{message.uid}"
