"""Linking a chat to a unit with a one-time code the coordinator issued.

A code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I), shown as
``K7QH-M2XP`` and accepted with or without the dash, in any case. Only its SHA-256 is
stored; it expires after 7 days and works once. Redeeming it and linking the chat are one
transaction, so two chats racing with the same code cannot both win.

Guessing is slowed down per chat: every ``MAX_WRONG`` wrong codes in a row, the chat is refused
for a time that doubles each round (15 minutes, 30, 60… up to a day), kept in SQLite so that a
restart does not reset it. A code that works clears the count.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import clock
from bot.messages.channels import parse_chat

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
VALID_FOR = timedelta(days=7)
MAX_WRONG = 5
FIRST_REFUSAL = timedelta(minutes=15)
LONGEST_REFUSAL = timedelta(days=1)


class RegistrationError(Exception):
    """A code that cannot be used; the message is for the person who typed it."""

    def user_message(self) -> str:
        return str(self)


WRONG = "Mã đơn vị hoặc mã xác nhận không đúng. Vui lòng kiểm tra lại mã do đầu mối phụ trách cung cấp."
EXPIRED = "Mã xác nhận đã hết hạn. Đề nghị liên hệ đầu mối phụ trách để được cấp mã mới."
USED = (
    "Mã xác nhận này đã được sử dụng; mỗi mã chỉ dùng được một lần. "
    "Đề nghị liên hệ đầu mối phụ trách để được cấp mã mới."
)


@dataclass(frozen=True)
class IssuedCode:
    unit: str
    code: str  # as shown to people, e.g. "K7QH-M2XP"
    expires_at: datetime


def issue_code(store, unit_code: str, *, now: datetime | None = None) -> IssuedCode:
    moment = clock.local(now or clock.now())
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    expires_at = moment + VALID_FOR
    store.add_registration_code(_hash(raw), unit_code, _stamp(moment), _stamp(expires_at))
    return IssuedCode(unit_code, f"{raw[:4]}-{raw[4:]}", expires_at)


def redeem(
    store, unit_code: str, code: str, channel: str, address: str, *, now: datetime | None = None
) -> None:
    """Link the chat (channel kind, address) to the unit, spending the code; raises RegistrationError."""
    moment = clock.local(now or clock.now())
    with store.transaction():
        row = store.registration_code(_hash(code))
        if row is None or row["unit"].casefold() != unit_code.casefold():
            raise RegistrationError(WRONG)
        if row["used_at"]:
            raise RegistrationError(USED)
        if datetime.fromisoformat(row["expires_at"]) <= moment:
            raise RegistrationError(EXPIRED)
        store.spend_registration_code(row["code_hash"], f"{channel}:{address}", _stamp(moment))
        store.register_contact(channel, address, row["unit"], _stamp(moment))


def register(
    store, unit_code: str | None, code: str, channel: str, address: str, *, now: datetime | None = None
) -> None:
    """``redeem`` for a chat, slowed down after wrong codes; ``unit_code`` None is an unknown unit."""
    moment = clock.local(now or clock.now())
    refused_until = _refused_until(store, channel, address, moment)
    if refused_until:
        raise RegistrationError(_throttled(refused_until))
    try:
        if unit_code is None:
            raise RegistrationError(WRONG)
        redeem(store, unit_code, code, channel, address, now=moment)
    except RegistrationError as exc:
        refused_until = _note_failure(store, channel, address, moment)
        raise RegistrationError(_throttled(refused_until) if refused_until else str(exc)) from None
    store.forget_registration_failures(channel, address)


def _refused_until(store, channel: str, address: str, moment: datetime) -> datetime | None:
    blocked_until = store.registration_blocked_until(channel, address)
    until = datetime.fromisoformat(blocked_until) if blocked_until else None
    return until if until and until > moment else None


def _note_failure(store, channel: str, address: str, moment: datetime) -> datetime | None:
    """Count one more wrong code; returns until when the chat is now refused, if it is."""
    with store.transaction():
        failures = store.count_registration_failure(channel, address)
        if failures % MAX_WRONG:
            return None
        until = moment + min(FIRST_REFUSAL * 2 ** (failures // MAX_WRONG - 1), LONGEST_REFUSAL)
        store.block_registration(channel, address, _stamp(until))
        return until


def _throttled(until: datetime) -> str:
    return (
        f"Chat này đã nhập sai mã nhiều lần nên tạm thời chưa đăng ký được. "
        f"Vui lòng thử lại sau {until:%H:%M} ngày {until:%d/%m/%Y}, hoặc liên hệ đầu mối phụ trách để kiểm tra mã."
    )


def registered_unit(store, channel: str, address: str) -> str | None:
    return store.registered_unit(channel, address)


def unit_chats(store, unit) -> list[tuple[str, str]]:
    """The unit's chats as (channel kind, address): those in units.csv, then those registered."""
    listed = [parsed for chat in unit.chats if (parsed := parse_chat(chat))]
    return list(dict.fromkeys(listed + store.registered_chats(unit.code)))


def normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode("ascii", "ignore")).hexdigest()


def _stamp(moment: datetime) -> str:
    return clock.local(moment).isoformat(timespec="seconds")
