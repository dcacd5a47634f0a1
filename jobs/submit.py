"""A workbook handed in (portal, chat, e-mail, command line), wired to the poll and the check:
its values land in the unit's workbook and are read, checked and shown back exactly as if the
clerk had typed them in place. The intake itself is :mod:`bot.intake.submit`."""

from __future__ import annotations

from bot.intake import submit as intake
from bot.intake.submit import Submission
from jobs.check import check
from jobs.poll import poll

__all__ = ["Submission", "mark_submitted", "refresh", "submit"]


def refresh(ctx, period, unit: str) -> None:
    """The poll, then the check of the unit handed in (and of any other unit the poll found
    changed); the rest of the period is left to the scheduler's next check."""
    polled = poll(ctx, period)
    check(ctx, period, units=sorted({unit, *polled.read}))


def submit(ctx, data: bytes, filename: str, **options) -> Submission:
    return intake.submit(ctx, data, filename, refresh=refresh, **options)


def mark_submitted(ctx, code: str, period) -> Submission:
    return intake.mark_submitted(ctx, code, period, refresh=refresh)
