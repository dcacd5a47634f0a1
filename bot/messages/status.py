"""Where each unit stands, as the store's last check says, in the words reminders and chat use."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bot import clock
from bot.config import Config
from bot.context import Context
from bot.intake.links import portal_link
from bot.messages.reminders import STATES, ReminderPolicy, UnitStatus
from bot.messages.workdays import WorkCalendar, calendar_from_config
from bot.outline.periods import Period
from bot.outline.units import Unit


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
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        state=row["state"] if row["state"] in STATES else "chua_mo",
        completeness=row["filled"] / row["required"] if row["required"] else 0.0,
        errors=row["errors"],
        warnings=row["warnings"],
        incomplete_sections=tuple(str(s) for s in json.loads(row["incomplete_sections"] or "[]")),
        sheet_url=url,
        submitted_at=_moment(row["submitted_at"]),
        last_change=_moment(row["last_change"]),
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
    return ReminderPolicy(
        tuple(settings.days_before), settings.after_deadline, settings.hour, settings.digest_hour
    )


def work_calendar(config: Config) -> WorkCalendar:
    return calendar_from_config(config.calendar.model_dump())


def period_label(period: Period) -> str:
    """Reads after "báo cáo": "CCHC, kiểm soát TTHC Quý I năm 2026"."""
    return f"CCHC, kiểm soát TTHC {period.label}"
