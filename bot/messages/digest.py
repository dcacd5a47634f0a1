"""The coordinators' daily digest and the notices of a failing channel.

The digest goes on working days from ``digest_hour`` while a report is not valid: the counts,
the addresses that could not be reached, the channels that stopped, the reminders no channel
delivered, the sharing that failed; with a chart when there are many units.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from bot import clock
from bot.context import Context
from bot.intake.mailbox import held_lines
from bot.messages.channels import Channel
from bot.messages.outbox import (
    CHANNEL_LABELS,
    COORDINATORS,
    Outgoing,
    channel_problems,
    problems,
    stage_label,
    undelivered,
)
from bot.messages.recipients import coordinator_messages
from bot.messages.reminders import ReminderPolicy, UnitStatus, digest
from bot.messages.status import period_label
from bot.messages.workdays import WorkCalendar
from bot.outline.periods import Period
from bot.reporting.charts import state_chart
from bot.sheets.sharing import sharing_text

CHART_ABOVE_UNITS = 12  # a digest about more units than this carries a chart
MAX_PROBLEMS_IN_DIGEST = 10
MAX_UNDELIVERED_IN_DIGEST = 10


def digest_messages(
    ctx: Context,
    period: Period,
    statuses: list[UnitStatus],
    now: datetime,
    policy: ReminderPolicy,
    calendar: WorkCalendar,
    channels: dict[str, Channel],
) -> list[Outgoing]:
    today = clock.local(now).date()
    if not _digest_due(clock.local(now), period, statuses, policy, calendar):
        return []
    text = (
        digest(now, period_label(period), period.deadline, statuses, calendar)
        + _problems_text(ctx)
        + _channels_text(ctx)
        + _undelivered_text(ctx, period)
        + sharing_text(ctx.store, period.id)
    )
    held = held_lines(ctx.store)  # e-mails the bot left unread for a person
    text += f"\n{held}" if held else ""
    subject = f"Tổng hợp báo cáo {period_label(period)} ngày {today:%d/%m/%Y}"
    return coordinator_messages(ctx, period, f"digest-{today.isoformat()}", text, channels, subject)


def _digest_due(
    moment: datetime,
    period: Period,
    statuses: list[UnitStatus],
    policy: ReminderPolicy,
    calendar: WorkCalendar,
) -> bool:
    """On working days from digest_hour, from the day the period opens while a report is not valid."""
    today = moment.date()
    return (
        moment.hour >= policy.digest_hour
        and calendar.is_working_day(today)
        and today >= period.opens
        and any(not status.is_valid for status in statuses)
    )


def _problems_text(ctx: Context) -> str:
    flagged = problems(ctx.store)
    if not flagged:
        return ""
    shown = [
        f"{row['label'] or row['address']} ({row['problem']})" for row in flagged[:MAX_PROBLEMS_IN_DIGEST]
    ]
    more = len(flagged) - len(shown)
    return (
        f"\nKhông gửi được tin tới {len(flagged)} địa chỉ, đề nghị kiểm tra: "
        + "; ".join(shown)
        + (f" và {more} địa chỉ khác" if more > 0 else "")
    )


def _channels_text(ctx: Context) -> str:
    broken = channel_problems(ctx.store)
    return "".join(
        f"\nKênh {CHANNEL_LABELS.get(row['channel'], row['channel'])} đang ngừng gửi: {row['problem']}. "
        "Các tin của kênh này vẫn chờ trong hàng đợi."
        for row in broken
    )


def _undelivered_text(ctx: Context, period: Period) -> str:
    """Messages no channel delivered (an outage that outlasted them): the coordinator must act."""
    lost = [row for row in undelivered(ctx.store, period.id) if row["unit"] != COORDINATORS]
    if not lost:
        return ""
    shown = [
        f"{row['recipient']} – {stage_label(row['stage'])}, {CHANNEL_LABELS.get(row['channel'], row['channel'])}: "
        f"{row['last_error']}"
        for row in lost[:MAX_UNDELIVERED_IN_DIGEST]
    ]
    more = len(lost) - len(shown)
    return (
        f"\nCó {len(lost)} tin nhắc không gửi được, đề nghị báo trực tiếp cho đơn vị: "
        + "; ".join(shown)
        + (f" và {more} tin khác" if more > 0 else "")
    )


def channel_notices(ctx: Context, period: Period, channels: dict[str, Channel]) -> list[Outgoing]:
    """One notice per channel failure, to the coordinators by their other channels (the stage names
    the moment the failure began, so each failure is told once however many runs see it)."""
    broken = channel_problems(ctx.store)
    working = {
        kind: channel for kind, channel in channels.items() if kind not in {r["channel"] for r in broken}
    }
    notices = []
    for row in broken:
        label = CHANNEL_LABELS.get(row["channel"], row["channel"])
        text = (
            f"Bot không gửi được tin qua kênh {label}: {row['problem']}. Các tin của kênh này vẫn chờ trong "
            "hàng đợi và sẽ được gửi khi kênh hoạt động lại; đề nghị kiểm tra cấu hình (token) của kênh."
        )
        stage = f"kenh-{row['channel']}-{row['problem_at']}"
        notices += coordinator_messages(ctx, period, stage, text, working, f"Kênh {label} ngừng gửi tin")
    return notices


def with_chart(
    ctx: Context, period: Period, statuses: list[UnitStatus], now: datetime, messages: list[Outgoing]
) -> list[Outgoing]:
    """Draw the chart only for a digest about to be queued, and attach it to every copy."""
    digests = [m for m in messages if m.unit == COORDINATORS and m.stage.startswith("digest-")]
    if not digests or len(statuses) <= CHART_ABOVE_UNITS:
        return messages
    today: date = clock.local(now).date()
    path = ctx.config.outbox_dir / "charts" / f"tien-do-{period.id}-{today.isoformat()}.png"
    state_chart(statuses, path, f"Tình trạng báo cáo {period.label} ngày {today:%d/%m/%Y}")
    return [replace(m, attachment=str(path)) if m in digests else m for m in messages]
