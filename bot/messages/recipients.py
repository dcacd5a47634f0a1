"""Who receives a message: a unit's chats (e-mail as the fallback), or the coordinators.

A unit's message goes to each of its chats (units.csv and /dangky) on a configured channel, in
``channel_order``, with its e-mails as the fallback should a chat fail for good; a unit without
a usable chat gets e-mail; with neither, the message goes to the console log, so nothing is
dropped silently.
"""

from __future__ import annotations

from datetime import datetime

from bot.context import Context
from bot.messages.channels import Channel
from bot.messages.outbox import COORDINATORS, Outgoing, parse_chat
from bot.messages.registration import unit_chats
from bot.messages.status import period_label
from bot.outline.periods import Period
from bot.outline.units import Unit


def unit_messages(
    ctx: Context,
    period: Period,
    unit: Unit,
    stage: str,
    text: str,
    channels: dict[str, Channel],
    subject: str | None = None,
    expires_at: datetime | None = None,
) -> list[Outgoing]:
    subject = subject or f"Nhắc hạn báo cáo {period_label(period)}"
    emails = list(unit.emails) if "email" in channels else []
    chats = _usable(unit_chats(ctx.store, unit), channels, ctx.config.channel_order)

    def outgoing(kind: str, address: str, fallback: tuple[str, ...] = ()) -> Outgoing:
        return Outgoing(
            unit.code, unit.name, period.id, stage, kind, address, text, subject, None, fallback, expires_at
        )

    if chats:
        return [outgoing(kind, address, tuple(emails)) for kind, address in chats]
    if emails:
        return [outgoing("email", email) for email in emails]
    return [outgoing("console", f"{unit.name} ({unit.code})")]


def coordinator_messages(
    ctx: Context, period: Period, stage: str, text: str, channels: dict[str, Channel], subject: str
) -> list[Outgoing]:
    """One message per coordinator contact; without any coordinator contact, one to the console."""
    messages = []
    for coordinator in ctx.config.coordinators:
        chats = _usable(
            [p for chat in coordinator.chats if (p := parse_chat(chat))], channels, ctx.config.channel_order
        )
        emails = [("email", e) for e in coordinator.emails] if "email" in channels else []
        messages += [
            Outgoing(COORDINATORS, coordinator.name, period.id, stage, kind, address, text, subject)
            for kind, address in chats + emails
        ]
    if not messages:
        messages.append(
            Outgoing(COORDINATORS, "Đầu mối phụ trách", period.id, stage, "console", "đầu mối", text, subject)
        )
    return messages


def _usable(
    chats: list[tuple[str, str]], channels: dict[str, Channel], order: list[str]
) -> list[tuple[str, str]]:
    usable = [(kind, address) for kind, address in chats if kind in channels and kind != "console"]
    rank = {kind: i for i, kind in enumerate(order)}
    return sorted(usable, key=lambda chat: rank.get(chat[0], len(rank)))
