"""The report mailbox read once (the scheduler's "mail" job, and ``python -m bot mail``): each
workbook a unit e-mailed goes through the intake wired to the poll and the check."""

from __future__ import annotations

from bot.intake import mailbox
from bot.intake.mailbox import MailRound
from jobs.submit import submit


def fetch_mail(ctx, box=None) -> MailRound:
    return mailbox.fetch_mail(ctx, box, submit=submit)
