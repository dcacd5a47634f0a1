"""The reminder job: decide who is due which reminder now, queue it in the outbox, deliver.

Run it as often as you like (every few minutes is fine): stage keys are stable for a day and
the outbox ignores a message it already holds, so each unit gets each stage once, and each
run also delivers whatever is due to be retried.

Who gets a unit's message: :mod:`bot.messages.recipients`. The coordinators' digest
(:mod:`bot.messages.digest`) goes to each of their chats and e-mails on working days from
``digest_hour``, once a day, with a chart when there are many units.

A reminder speaks of its day ("còn 3 ngày", "hôm nay là hạn cuối"): it is retried through an
outage until the end of that day, then failed and listed in the digest as not delivered. A
channel that fails as a whole (revoked token) is reported to the coordinators once, by their
other channels.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from bot import clock
from bot.context import Context
from bot.messages.digest import channel_notices, digest_messages, with_chart
from bot.messages.outbox import Outgoing, channels_for, deliver, expire, not_yet_queued, queue
from bot.messages.recipients import unit_messages
from bot.messages.reminders import due_reminders
from bot.messages.status import period_label, reminder_policy, unit_statuses, work_calendar
from bot.outline.periods import Period


def remind(
    ctx: Context, period: Period, *, now: datetime, dry_run: bool = False, wait_up_to: float = 0.0
) -> list[Outgoing]:
    """The messages newly queued (or, in a dry run, that would be): a rerun returns []."""
    channels = channels_for(ctx)
    if not dry_run:
        expire(ctx.store, now)  # so that the digest lists what an outage made too late to send
    statuses = unit_statuses(ctx, period)
    policy, calendar = reminder_policy(ctx.config), work_calendar(ctx.config)
    due = due_reminders(now, period_label(period), period.deadline, statuses, policy, calendar)
    planned = [
        message
        for reminder in due
        for message in unit_messages(
            ctx,
            period,
            ctx.unit_by_code[reminder.unit_code],
            reminder.stage,
            reminder.text,
            channels,
            expires_at=end_of_day(now),
        )
    ]
    planned += digest_messages(ctx, period, statuses, now, policy, calendar, channels)
    fresh = not_yet_queued(ctx.store, planned)
    if dry_run:
        return fresh
    fresh = with_chart(ctx, period, statuses, now, fresh)
    queued = queue(ctx.store, fresh, now=now)
    ticking = running_from(now)
    delivery = deliver(ctx.store, channels, now=ticking, wait_up_to=wait_up_to)
    notices = queue(ctx.store, channel_notices(ctx, period, channels), now=now)
    if notices:
        working = {kind: channel for kind, channel in channels.items() if kind not in delivery.stopped}
        deliver(ctx.store, working, now=ticking)
    return queued + notices


def end_of_day(moment: datetime) -> datetime:
    """The last second of ``moment``'s day in Vietnam: when a reminder of that day stops being true."""
    return datetime.combine(clock.local(moment).date(), time(23, 59, 59), tzinfo=clock.TZ)


def running_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and runs on from there (``--now`` moves the job, not time)."""
    origin = clock.now()
    return lambda: start + (clock.now() - origin)
