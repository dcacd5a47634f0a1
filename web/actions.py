"""The coordinator's "send a reminder now": the reminder job's own text and recipients, for one
unit, queued in the durable outbox under a stage of its own (so it never stands in for a
scheduled reminder) and delivered at once."""

from __future__ import annotations

from bot import clock
from bot.messages.outbox import channels_for, deliver, queue
from bot.messages.recipients import unit_messages
from bot.messages.reminders import reminder_text
from bot.messages.status import period_label, unit_status, work_calendar


def remind_now(ctx, period, code: str) -> int:
    """Queue and send the reminder; how many messages were queued."""
    unit = ctx.unit_by_code[code]
    now = clock.now()
    text = reminder_text(
        unit_status(ctx, period, unit),
        period_label(period),
        period.deadline,
        now.date(),
        work_calendar(ctx.config),
    )
    channels = channels_for(ctx)
    queued = queue(ctx.store, unit_messages(ctx, period, unit, f"manual-{now:%Y%m%dT%H%M%S}", text, channels))
    deliver(ctx.store, channels)
    return len(queued)
