"""mail: read the report mailbox once (what the scheduler's "mail" job does every poll)."""

from __future__ import annotations

from bot.context import open_context
from bot.intake.mailbox import MailboxError
from bot.messages.outbox import channels_for, deliver
from cli.main import UsageError, arg, command
from jobs.mail import fetch_mail


@arg("--once", action="store_true", help="đọc hộp thư một lần rồi thoát (mặc định)")
@command(
    "mail", "đọc hộp thư nhận báo cáo: nhận bảng tính đơn vị gửi qua e-mail, trả lời trong cùng chuỗi thư"
)
def mail_command(args):
    ctx = open_context(args.home)
    try:
        result = fetch_mail(ctx)
    except MailboxError as e:
        raise UsageError(e.user_message()) from None
    sent = deliver(ctx.store, channels_for(ctx))  # the answers, now rather than at the next send job
    print(f"Hộp thư báo cáo: {result.summary()}; đã gửi {len(sent.sent)} thư trả lời.")
    return 0
