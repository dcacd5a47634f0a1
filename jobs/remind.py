"""The reminder job: decide who is due which reminder now, queue it in the outbox, deliver.

Run it as often as you like (every few minutes is fine): stage keys are stable for a day and
the outbox ignores a message it already holds, so each unit gets each stage once, and each
run also delivers whatever is due to be retried.

Who gets a unit's message: each of its chats (units.csv and /dangky) on a configured channel,
in ``channel_order``, with its e-mails as the fallback should a chat fail for good; a unit
without a usable chat gets e-mail; with neither, the message goes to the console log, so
nothing is dropped silently. The coordinators' digest goes to each of their chats and e-mails
on working days from ``digest_hour``, once a day, with a chart when there are many units.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from bot import clock
from bot.channels import Channel
from bot.charts import state_chart
from bot.config import Config
from bot.context import Context
from bot.intake.links import portal_link
from bot.outbox import (
    COORDINATORS,
    Outgoing,
    channels_for,
    deliver,
    not_yet_queued,
    parse_chat,
    problems,
    queue,
)
from bot.periods import Period
from bot.registration import unit_chats
from bot.reminders import STATES, ReminderPolicy, UnitStatus, digest, due_reminders
from bot.units import Unit
from bot.workdays import WorkCalendar, calendar_from_config

CHART_ABOVE_UNITS = 12  # a digest about more units than this carries a chart
MAX_PROBLEMS_IN_DIGEST = 10


def remind(ctx: Context, period: Period, *, now: datetime, dry_run: bool = False,
           wait_up_to: float = 0.0) -> list[Outgoing]:
    """The messages newly queued (or, in a dry run, that would be): a rerun returns []."""
    channels = channels_for(ctx)
    statuses = unit_statuses(ctx, period)
    policy, calendar = reminder_policy(ctx.config), work_calendar(ctx.config)
    due = due_reminders(now, period_label(period), period.deadline, statuses, policy, calendar)
    planned = [message for reminder in due for message in unit_messages(
        ctx, period, ctx.unit_by_code[reminder.unit_code], reminder.stage, reminder.text, channels)]
    planned += digest_messages(ctx, period, statuses, now, policy, calendar, channels)
    fresh = not_yet_queued(ctx.store, planned)
    if dry_run:
        return fresh
    fresh = _with_chart(ctx, period, statuses, now, fresh)
    queued = queue(ctx.store, fresh, now=now)
    deliver(ctx.store, channels, wait_up_to=wait_up_to)
    return queued


# --- what the store says about each unit ------------------------------------------------------------

def unit_statuses(ctx: Context, period: Period) -> list[UnitStatus]:
    """Every unit's status from its last check; a unit never checked is "chua_mo"."""
    rows = {row["unit"]: row for row in ctx.store.unit_states(period.id)}
    return [_status(ctx, period, unit, rows.get(unit.code)) for unit in ctx.units]


def unit_status(ctx: Context, period: Period, unit: Unit) -> UnitStatus:
    return _status(ctx, period, unit, ctx.store.unit_state(unit.code, period.id))


def _status(ctx: Context, period: Period, unit: Unit, row) -> UnitStatus:
    url = sheet_link(ctx, ctx.store.sheet(unit.code, period.id))
    if row is None:
        return UnitStatus(unit.code, unit.name, unit.kind, "chua_mo", 0.0, 0, 0, (), url)
    return UnitStatus(
        code=unit.code, name=unit.name, kind=unit.kind,
        state=row["state"] if row["state"] in STATES else "chua_mo",
        completeness=row["filled"] / row["required"] if row["required"] else 0.0,
        errors=row["errors"], warnings=row["warnings"],
        incomplete_sections=tuple(str(s) for s in json.loads(row["incomplete_sections"] or "[]")),
        sheet_url=url, submitted_at=_moment(row["submitted_at"]), last_change=_moment(row["last_change"]),
    )


def sheet_link(ctx: Context, sheet) -> str | None:
    """A link a unit can open: the spreadsheet's own web address, or a local workbook as
    published under ``public_base_url`` (a file path on the bot's machine helps no one)."""
    if sheet is None:
        return None
    portal = portal_link(ctx, sheet.unit, sheet.period)
    if portal:  # the unit's page on the portal: download, upload, findings
        return portal
    if sheet.url.startswith(("https://", "http://")):
        return sheet.url
    base = ctx.config.public_base_url
    path = Path(sheet.sheet_id)
    return f"{base.rstrip('/')}/{path.parent.name}/{path.name}" if base else None


def _moment(text: str | None) -> datetime | None:
    return clock.local(datetime.fromisoformat(text)) if text else None


def reminder_policy(config: Config) -> ReminderPolicy:
    settings = config.reminders
    return ReminderPolicy(tuple(settings.days_before), settings.after_deadline, settings.hour, settings.digest_hour)


def work_calendar(config: Config) -> WorkCalendar:
    return calendar_from_config(config.calendar.model_dump())


def period_label(period: Period) -> str:
    """Reads after "báo cáo": "CCHC, kiểm soát TTHC Quý I năm 2026"."""
    return f"CCHC, kiểm soát TTHC {period.label}"


# --- who receives what ------------------------------------------------------------------------------

def unit_messages(ctx: Context, period: Period, unit: Unit, stage: str, text: str,
                  channels: dict[str, Channel], subject: str | None = None) -> list[Outgoing]:
    subject = subject or f"Nhắc hạn báo cáo {period_label(period)}"
    emails = list(unit.emails) if "email" in channels else []
    chats = _usable(unit_chats(ctx.store, unit), channels, ctx.config.channel_order)

    def outgoing(kind: str, address: str, fallback: tuple[str, ...] = ()) -> Outgoing:
        return Outgoing(unit.code, unit.name, period.id, stage, kind, address, text, subject, None, fallback)

    if chats:
        return [outgoing(kind, address, tuple(emails)) for kind, address in chats]
    if emails:
        return [outgoing("email", email) for email in emails]
    return [outgoing("console", f"{unit.name} ({unit.code})")]


def coordinator_messages(ctx: Context, period: Period, stage: str, text: str, channels: dict[str, Channel],
                         subject: str) -> list[Outgoing]:
    """One message per coordinator contact; without any coordinator contact, one to the console."""
    messages = []
    for coordinator in ctx.config.coordinators:
        chats = _usable([p for chat in coordinator.chats if (p := parse_chat(chat))], channels,
                        ctx.config.channel_order)
        emails = [("email", e) for e in coordinator.emails] if "email" in channels else []
        messages += [Outgoing(COORDINATORS, coordinator.name, period.id, stage, kind, address, text, subject)
                     for kind, address in chats + emails]
    if not messages:
        messages.append(Outgoing(COORDINATORS, "Đầu mối phụ trách", period.id, stage, "console", "đầu mối",
                                 text, subject))
    return messages


def _usable(chats: list[tuple[str, str]], channels: dict[str, Channel], order: list[str]) -> list[tuple[str, str]]:
    usable = [(kind, address) for kind, address in chats if kind in channels and kind != "console"]
    rank = {kind: i for i, kind in enumerate(order)}
    return sorted(usable, key=lambda chat: rank.get(chat[0], len(rank)))


# --- the coordinators' digest -----------------------------------------------------------------------

def digest_messages(ctx: Context, period: Period, statuses: list[UnitStatus], now: datetime,
                    policy: ReminderPolicy, calendar: WorkCalendar, channels: dict[str, Channel]) -> list[Outgoing]:
    today = clock.local(now).date()
    if not _digest_due(clock.local(now), period, statuses, policy, calendar):
        return []
    from bot.intake.mailbox import held_lines

    held = held_lines(ctx.store)  # e-mails the bot left unread for a person
    text = digest(now, period_label(period), period.deadline, statuses, calendar) + _problems_text(ctx)
    text += f"\n{held}" if held else ""
    subject = f"Tổng hợp báo cáo {period_label(period)} ngày {today:%d/%m/%Y}"
    return coordinator_messages(ctx, period, f"digest-{today.isoformat()}", text, channels, subject)


def _digest_due(moment: datetime, period: Period, statuses: list[UnitStatus], policy: ReminderPolicy,
                calendar: WorkCalendar) -> bool:
    """On working days from digest_hour, from the day the period opens while a report is not valid."""
    today = moment.date()
    return (moment.hour >= policy.digest_hour and calendar.is_working_day(today) and today >= period.opens
            and any(not status.is_valid for status in statuses))


def _problems_text(ctx: Context) -> str:
    flagged = problems(ctx.store)
    if not flagged:
        return ""
    shown = [f"{row['label'] or row['address']} ({row['problem']})" for row in flagged[:MAX_PROBLEMS_IN_DIGEST]]
    more = len(flagged) - len(shown)
    return (f"\nKhông gửi được tin tới {len(flagged)} địa chỉ, đề nghị kiểm tra: " + "; ".join(shown)
            + (f" và {more} địa chỉ khác" if more > 0 else ""))


def _with_chart(ctx: Context, period: Period, statuses: list[UnitStatus], now: datetime,
                messages: list[Outgoing]) -> list[Outgoing]:
    """Draw the chart only for a digest about to be queued, and attach it to every copy."""
    digests = [m for m in messages if m.unit == COORDINATORS and m.stage.startswith("digest-")]
    if not digests or len(statuses) <= CHART_ABOVE_UNITS:
        return messages
    today: date = clock.local(now).date()
    path = ctx.config.outbox_dir / "charts" / f"tien-do-{period.id}-{today.isoformat()}.png"
    state_chart(statuses, path, f"Tình trạng báo cáo {period.label} ngày {today:%d/%m/%Y}")
    return [replace(m, attachment=str(path)) if m in digests else m for m in messages]
