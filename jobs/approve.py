"""The coordinator approves a unit's report, or returns it with a comment.

An approved report is locked for the unit (every cell protected) and counted as final in the
master sheet; a returned one is unlocked again and goes back with the comment on its cover and
in a message. The decision is stored first; the workbook is brought up to date by the check
that follows (now, or at the next pass when the workbook is busy), so nothing is lost.
"""

from __future__ import annotations

from bot.checks.approval import Decision, approval_message, refuse_unless_possible
from bot.context import Context
from bot.intake.lock import intake_lock
from bot.messages.outbox import channels_for, deliver, queue
from bot.messages.recipients import unit_messages
from bot.outline.periods import Period
from jobs.check import check


def decide(
    ctx: Context, unit_code: str, period: Period, approval: str, comment: str | None = None
) -> Decision:
    return decide_many(ctx, period, [(unit_code, approval, comment)])[0]


def decide_many(ctx: Context, period: Period, decisions: list[tuple[str, str, str | None]]) -> list[Decision]:
    """Record every decision, then bring the workbooks up to date in one check."""
    for unit_code, approval, comment in decisions:
        refuse_unless_possible(ctx, unit_code, period, approval, comment)
    with intake_lock(ctx):  # the check's feedback write is not interleaved with an upload
        for unit_code, approval, comment in decisions:
            ctx.store.set_approval(unit_code, period.id, approval, (comment or "").strip() or None)
        result = check(ctx, period)
    for unit_code, approval, comment in decisions:
        _notify(ctx, ctx.unit_by_code[unit_code], period, approval, comment)
    return [
        Decision(code, period.id, approval, code not in result.feedback_pending)
        for code, approval, _ in decisions
    ]


def _notify(ctx: Context, unit, period: Period, approval: str, comment: str | None) -> None:
    """Tell the unit in the chats it uses (e-mail as fallback), through the durable outbox."""
    channels = channels_for(ctx)
    stage = f"{approval}-{ctx.store.unit_state(unit.code, period.id)['approval_at']}"
    subject = f"Kết quả xem xét báo cáo CCHC {period.label}"
    queue(
        ctx.store,
        unit_messages(
            ctx,
            period,
            unit,
            stage,
            approval_message(unit, period, approval, comment),
            channels,
            subject=subject,
        ),
    )
    deliver(ctx.store, channels)
