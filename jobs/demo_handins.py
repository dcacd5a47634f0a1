"""The demo's clerks who hand their workbook in as a file rather than typing in place.

Simulated in the demo's own process, without any network: a clerk whose unit has a Telegram
chat in units.csv drops the file into that chat (``chat_files.take_file``, the download being
the file itself); any other sends it by e-mail from the unit's address (``mailbox.fetch_mail``
over an in-memory mailbox holding the message, parsed by imap-tools as from a server). Both
then go through the same ``submit`` as the portal. The tests run the same paths against the
local fakes of the Telegram Bot API and of an IMAP server (tests/test_chat_files.py,
tests/test_mailbox.py).
"""

from __future__ import annotations

import io
from email.message import EmailMessage

import openpyxl

from bot.intake.chat_files import ChatFile, take_file
from bot.intake.download import download
from bot.intake.mailbox import fetch_mail
from bot.outline.layout import build_layout
from bot.sheets.backends import xlsx_parts
from bot.sheets.backends.base import field_edits
from jobs.submit import submit

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def hand_in(ctx, code: str, period_id: str, values: dict) -> str:
    """The unit's clerk fills a downloaded copy with ``values`` and sends it; the way it went."""
    data = _filled(ctx, code, period_id, values)
    unit = ctx.unit_by_code[code]
    chat = next((c.partition(":")[2] for c in unit.chats if c.startswith("telegram:")), None)
    if chat:
        take_file(ctx, "telegram", chat, ChatFile(f"{code}.xlsx", "demo", len(data)), lambda _: data, submit)
        return "Telegram"
    if unit.emails:
        fetch_mail(ctx, _Mailbox(_mail(unit.emails[0], code, data)), submit=submit)
        return "e-mail"
    return ""


def _filled(ctx, code: str, period_id: str, values: dict) -> bytes:
    """The downloaded copy with ``values`` typed in, saved by the bot's own part-level writer
    (openpyxl where it is unsure), so the demo's time is the bot's, not the simulated clerk's."""
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(period_id))
    data = download(ctx, code, ctx.period(period_id))[0]
    edits = field_edits(layout, values)
    out = io.BytesIO()
    if xlsx_parts.attempt("write", lambda: xlsx_parts.apply_edits(io.BytesIO(data), out, edits) or True):
        return out.getvalue()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for edit in edits:
        for (row, col), value in edit.cells.items():
            wb[edit.tab].cell(row=row, column=col).value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _mail(sender: str, code: str, data: bytes) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = sender, f"Báo cáo của đơn vị {code}"
    message["Message-ID"] = f"<demo-{code}@donvi.example.vn>"
    message.set_content("Kính gửi Sở Nội vụ, đơn vị gửi báo cáo.")
    message.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=f"{code}.xlsx")
    return message.as_bytes()


class _Mailbox:
    """What ``fetch_mail`` uses of an imap-tools mailbox, holding one unseen message."""

    def __init__(self, raw: bytes):
        from imap_tools import MailMessage

        self.messages, self.seen = [MailMessage.from_bytes(raw)], False

    def fetch(self, *args, **kwargs):
        return [] if self.seen else list(self.messages)

    def flag(self, *args, **kwargs):
        self.seen = True


def handed_in_line(ctx) -> str:
    """The demo's closing line on who handed a file in by chat or e-mail."""
    rows = ctx.store.units_handed_in_by(("chat", "email"))
    ways = ", ".join(f"{r['unit']} qua {'Telegram' if r['channel'] == 'chat' else 'e-mail'}" for r in rows)
    return "Đơn vị gửi tệp báo cáo qua chat hoặc e-mail (mô phỏng trong tiến trình, không qua mạng): " + (
        ways or "không có"
    )
