"""The durable outbox: every message is a row before it is a network call.

Whoever decides to send (the reminder job, the chat bot) inserts rows with ``queue`` in one
transaction; ``deliver`` then sends what is due. A row goes pending -> sending -> sent | failed:

* 'sending' (attempts + 1, a lease) is committed before ``channel.send`` is called and 'sent'
  after it returns, so a process killed between the two leaves the row 'sending'.
* Nothing is lost: a row is only ever left as 'sent' or 'failed'; any other row is taken up by
  a later pass (a 'sending' row once its lease has run out).
* At most once more: a row found 'sending' with an expired lease may or may not have reached
  the recipient; it is sent again once (``interruptions`` becomes 1). Interrupted a second
  time, it is marked failed instead of being sent a third time. So the only duplicates are
  the message(s) in flight when a process died, each delivered at most twice.
* A message is worth sending until its ``expires_at`` (a reminder: the end of the day it speaks
  of; anything else: a day after it was queued). A transient failure (``TransportError.permanent``
  False) is retried after a bounded exponential backoff with jitter (at most an hour apart), never
  sooner than the provider's ``retry_after``, by setting ``next_attempt_at``: a pass never sleeps
  on one message, and an outage of a few hours loses nothing. A permanent failure, or a message
  whose time has run out, is marked failed, flags a permanent failure's address for the
  coordinator (table ``contacts``) and queues the e-mail copy for the unit (``fallback_emails``);
  ``undelivered`` lists what no channel delivered, for the digest and ``outbox``.
* A failure of the channel itself (``TransportError.channel_wide``: a revoked token) is no
  recipient's fault: nobody is flagged, the channel is not used again in this call, its messages
  stay queued, and ``channel_problems`` records it once for the coordinator until a send through
  that channel succeeds again.
* Each attempt at a row carries the same ``Message.key`` (from the row's id), which a channel
  uses as the provider's idempotency key where there is one (the e-mail Message-ID).

Long texts are split by the channels themselves (``Channel.send``).
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot import clock
from bot.http import redact
from bot.messages.channels import (  # noqa: F401  (parse_chat, chat_name: re-exported for the jobs)
    CHANNELS,
    Channel,
    ChannelConfigError,
    Message,
    TransportError,
    build_channel,
    channel_class,
    channel_label,
    chat_name,
    parse_chat,
)

log = logging.getLogger(__name__)

COORDINATORS = "*"  # the ``unit`` of a message to coordinators
CHANNEL_LABELS = {c.kind: c.label for c in CHANNELS}  # read from the channel classes
STATE_LABELS = {"pending": "chờ gửi", "sending": "đang gửi", "sent": "đã gửi", "failed": "thất bại"}
DEFAULT_VALIDITY = timedelta(days=1)  # how long a message without its own expiry stays worth sending
MAX_ROUNDS = 50  # of one deliver() call that waits for retries: a bound, whatever the clock does


def stage_label(stage: str) -> str:
    """What a message was, in words, from its stage key (the key itself when it is unknown)."""
    kind, _, rest = stage.partition("-")
    moment = _stage_moment(rest)
    words = {
        "truoc": f"nhắc trước hạn {rest} ngày",
        "han": "nhắc vào ngày hết hạn",
        "tre": f"nhắc quá hạn ngày {moment}",
        "digest": f"bản tin tổng hợp ngày {moment}",
        "thucong": f"nhắc thủ công lúc {moment}",
        "manual": f"nhắc từ trang quản lý lúc {moment}",
        "xuat": f"tệp tổng hợp gửi lúc {moment}",
        "thu": "trả lời thư gửi báo cáo",
        "approved": "thông báo duyệt báo cáo",
        "returned": "thông báo trả lại báo cáo",
        "kenh": "thông báo kênh ngừng gửi",
    }
    return words.get(kind, stage)


def _stage_moment(text: str) -> str:
    """ "2026-03-19" or "20260310T081500" as the Vietnamese write them."""
    for pattern, shown in (("%Y-%m-%d", "%d/%m/%Y"), ("%Y%m%dT%H%M%S", "%H:%M %d/%m/%Y")):
        try:
            return datetime.strptime(text, pattern).strftime(shown)
        except ValueError:
            continue
    return text


@dataclass(frozen=True)
class Outgoing:
    unit: str  # unit code, or COORDINATORS
    recipient: str  # who reads it (unit or coordinator name), shown to people, not used to route
    period: str
    stage: str  # "truoc-7", "tre-2026-03-19", "digest-2026-03-10", "thucong-20260310T081500"...
    channel: str  # channel kind
    address: str
    text: str
    subject: str | None = None
    attachment: str | None = None
    fallback_emails: tuple[str, ...] = ()  # where the unit gets it when this chat fails for good
    expires_at: datetime | None = None  # not worth sending after this (None: DEFAULT_VALIDITY after queueing)
    in_reply_to: str | None = None  # e-mail answers: the Message-ID answered

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return self.unit, self.period, self.stage, self.channel, self.address


# --- queueing ------------------------------------------------------------------------------------


def queue(store, messages: Iterable[Outgoing], *, now: datetime | None = None) -> list[Outgoing]:
    """Insert ``messages`` in one transaction (joining the caller's); returns the new ones."""
    moment = now or clock.now()
    with store.transaction():
        return [m for m in messages if _insert(store, m, moment)]


def not_yet_queued(store, messages: Iterable[Outgoing]) -> list[Outgoing]:
    """The messages ``queue`` would insert now (for a dry run): nothing is written."""
    return [m for m in messages if not store.message_queued(m.key)]


def _insert(store, m: Outgoing, moment: datetime) -> bool:
    stamp, expires = _stamp(moment), _stamp(m.expires_at or moment + DEFAULT_VALIDITY)
    return store.add_message(
        {
            "unit": m.unit,
            "recipient": m.recipient,
            "period": m.period,
            "stage": m.stage,
            "channel": m.channel,
            "address": m.address,
            "subject": m.subject,
            "text": m.text,
            "attachment": m.attachment,
            "fallback_emails": json.dumps(list(m.fallback_emails)),
            "created_at": stamp,
            "updated_at": stamp,
            "expires_at": expires,
            "in_reply_to": m.in_reply_to,
        }
    )


# --- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before attempt n+1: base·2^(n-1), capped, times a jitter in [0.5, 1)."""

    base: float = 30.0
    cap: float = 3600.0
    jitter: Callable[[], float] = random.random

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        exponential = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return max(exponential * (0.5 + 0.5 * self.jitter()), retry_after or 0.0)


@dataclass
class Delivery:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)  # found interrupted and put back to be sent once more
    no_channel: list[int] = field(default_factory=list)  # its channel is not configured in this process
    stopped: dict[str, str] = field(default_factory=dict)  # channel kind -> why it failed as a whole


@dataclass(frozen=True)
class _Policy:
    max_attempts: int | None
    backoff: Backoff
    lease: timedelta


def deliver(
    store,
    channels: dict[str, Channel],
    *,
    now: Callable[[], datetime] = clock.now,
    max_attempts: int | None = None,
    backoff: Backoff = Backoff(),
    lease: timedelta = timedelta(minutes=10),
    wait_up_to: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send every due message (e-mail copies of failed chats included).

    Transient failures are retried until the message expires; ``max_attempts`` adds a bound on
    the number of attempts (None: none).

    With ``wait_up_to`` > 0, retries falling due within that many seconds are waited for (with
    ``sleep``) and tried in the same call; otherwise a later call takes them.
    """
    policy, result, waited = _Policy(max_attempts, backoff, lease), Delivery(), 0.0
    for _ in range(MAX_ROUNDS):
        _one_pass(store, channels, now, policy, result)
        wait = _seconds_to_next_due(store, _active(channels, result), now())
        if wait is None or waited + wait > wait_up_to:
            break
        if wait > 0:
            sleep(wait)
            waited += wait
    return result


def _one_pass(
    store, channels: dict[str, Channel], now: Callable[[], datetime], policy: _Policy, result: Delivery
) -> None:
    _resume_interrupted(store, now(), policy, result)
    _expire(store, now(), result)
    due = store.due_messages(_stamp(now()))
    for row in due:
        channel = channels.get(row["channel"])
        if row["channel"] in result.stopped:
            continue  # the channel failed as a whole in this call: its messages wait for the next one
        if channel is None:
            _note_no_channel(store, row, result)
        elif claimed := _claim(
            store, row["id"], moment := now(), policy.lease
        ):  # lease from the claim itself
            _send(store, channel, claimed, moment, policy, result)


def _active(channels: dict[str, Channel], result: Delivery) -> dict[str, Channel]:
    return {kind: channel for kind, channel in channels.items() if kind not in result.stopped}


def expire(store, moment: datetime) -> list[int]:
    """Fail the pending messages whose moment has passed (before a digest lists what was lost)."""
    result = Delivery()
    _expire(store, moment, result)
    return result.failed


def _expire(store, moment: datetime, result: Delivery) -> None:
    """Pending messages whose moment has passed are failed, not sent late (a stale reminder misleads)."""
    rows = store.expired_messages(_stamp(moment))
    for row in rows:
        reason = (row["last_error"] + "; " if row["last_error"] else "") + "hết thời hạn gửi, không gửi nữa"
        _fail(store, row, reason, moment, flag_contact=False)
        result.failed.append(row["id"])


def _claim(store, message_id: int, moment: datetime, lease: timedelta) -> sqlite3.Row | None:
    """Mark the message 'sending' in its own committed transaction; None if another process took it."""
    return store.claim_message(message_id, _stamp(moment + lease), _stamp(moment))


def _send(
    store, channel: Channel, row: sqlite3.Row, moment: datetime, policy: _Policy, result: Delivery
) -> None:
    attempts = row["attempts"]
    try:
        provider_id = channel.send(row["address"], _message(row))
    except TransportError as exc:
        if exc.channel_wide:
            _stop_channel(store, row, redact(exc.reason), moment, result)
            return
        _failed_attempt(
            store, row, attempts, redact(exc.reason), exc.permanent, exc.retry_after, moment, policy, result
        )
    except Exception as exc:  # a bug or an unexpected library error: retry, and say what it was
        reason = redact(f"lỗi không lường trước khi gửi ({type(exc).__name__}: {exc})")
        _failed_attempt(store, row, attempts, reason, False, None, moment, policy, result)
    else:
        store.mark_message_sent(row, provider_id, _stamp(clock.local(moment)))
        result.sent.append(row["id"])


def _message(row: sqlite3.Row) -> Message:
    attachment = Path(row["attachment"]) if row["attachment"] else None
    created = "".join(ch for ch in row["created_at"] if ch.isdigit())[:14]
    return Message(
        row["text"],
        attachment=attachment,
        subject=row["subject"],
        key=f"{row['id']}.{created}",
        in_reply_to=row["in_reply_to"],
    )


def _stop_channel(store, row: sqlite3.Row, reason: str, moment: datetime, result: Delivery) -> None:
    """The channel failed as a whole: put the message back untouched and record the channel's problem."""
    label = channel_label(row["channel"])
    with store.transaction():
        store.unclaim_message(row["id"], f"kênh {label} đang lỗi, tin chờ gửi lại: {reason}", _stamp(moment))
        new = store.add_channel_problem(row["channel"], reason, _stamp(moment))
    if new:
        log.error("Ngừng gửi qua kênh %s: %s. Các tin vẫn nằm trong hàng đợi.", label, reason)
    result.stopped[row["channel"]] = reason


def _failed_attempt(
    store,
    row,
    attempts: int,
    reason: str,
    permanent: bool,
    retry_after: float | None,
    moment: datetime,
    policy: _Policy,
    result: Delivery,
) -> None:
    log.warning(
        "Gửi tin #%s (%s, %s) không thành công lần %s: %s",
        row["id"],
        row["recipient"],
        channel_label(row["channel"]),
        attempts,
        reason,
    )
    next_at = moment + timedelta(seconds=policy.backoff.delay(attempts, retry_after))
    out_of_attempts = policy.max_attempts is not None and attempts >= policy.max_attempts
    out_of_time = row["expires_at"] is not None and _stamp(next_at) >= row["expires_at"]
    if permanent or out_of_attempts or out_of_time:
        final = (
            reason
            if permanent
            else f"{reason} (đã thử {attempts} lần"
            + (", hết thời hạn gửi)" if out_of_time and not out_of_attempts else ")")
        )
        _fail(store, row, final, moment, flag_contact=permanent)
        result.failed.append(row["id"])
        return
    store.retry_message(row["id"], _stamp(next_at), reason, _stamp(moment))
    result.retrying.append(row["id"])


def _fail(store, row: sqlite3.Row, reason: str, moment: datetime, *, flag_contact: bool) -> None:
    """Mark failed, flag the address, and queue the unit's e-mail copy, all at once."""
    with store.transaction():
        store.mark_message_failed(row["id"], reason, _stamp(moment))
        if flag_contact:
            flag_problem(store, row["channel"], row["address"], row["recipient"], reason, moment)
        for email in json.loads(row["fallback_emails"] or "[]"):
            _insert(store, _email_copy(row, email), moment)


def _email_copy(row: sqlite3.Row, email: str) -> Outgoing:
    expires = datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None
    return Outgoing(
        row["unit"],
        row["recipient"],
        row["period"],
        row["stage"],
        "email",
        email,
        row["text"],
        row["subject"],
        row["attachment"],
        expires_at=expires,
    )


def _resume_interrupted(store, moment: datetime, policy: _Policy, result: Delivery) -> None:
    rows = store.interrupted_messages(_stamp(moment))
    for row in rows:
        if row["interruptions"] == 0 and (
            policy.max_attempts is None or row["attempts"] < policy.max_attempts
        ):
            _resume(store, row, moment)
            result.resumed.append(row["id"])
        else:
            reason = (
                "việc gửi bị gián đoạn thêm một lần nữa; không gửi lại để tránh người nhận nhận trùng "
                "(có thể tin đã đến nơi)"
            )
            _fail(store, row, reason, moment, flag_contact=False)
            result.failed.append(row["id"])


def _resume(store, row: sqlite3.Row, moment: datetime) -> None:
    store.resume_message(
        row["id"], "việc gửi bị gián đoạn (chương trình dừng giữa chừng); gửi lại một lần", _stamp(moment)
    )
    log.warning("Tin #%s (%s) bị gián đoạn khi đang gửi; sẽ gửi lại một lần.", row["id"], row["recipient"])


def _note_no_channel(store, row: sqlite3.Row, result: Delivery) -> None:
    reason = f"kênh {channel_label(row['channel'])} chưa được cấu hình"  # the row stays pending until it is
    if row["last_error"] != reason:
        store.note_message_error(row["id"], reason)
    result.no_channel.append(row["id"])


def _seconds_to_next_due(store, channels: dict[str, Channel], moment: datetime) -> float | None:
    """Seconds until the next pending message this process can send is due (0: one is due now)."""
    pending, due_now, earliest = store.next_due(list(channels))
    if not pending:
        return None
    if due_now:
        return 0.0
    return max(0.0, (datetime.fromisoformat(earliest) - moment).total_seconds())


# --- contacts with problems ----------------------------------------------------------------------


def flag_problem(store, channel: str, address: str, label: str, reason: str, moment: datetime) -> None:
    store.flag_contact(channel, address, label, reason, _stamp(moment))


def clear_problem(store, channel: str, address: str) -> None:
    store.clear_contact_problem(channel, address)


def problems(store) -> list[sqlite3.Row]:
    """Addresses whose last delivery failed for good, for the coordinator's attention."""
    return store.contact_problems()


def undelivered(store, period: str | None = None) -> list[sqlite3.Row]:
    """Failed messages whose content reached the recipient through no other channel: to act on."""
    return store.undelivered_messages(period)


def channel_problems(store) -> list[sqlite3.Row]:
    """Channels that failed as a whole (revoked token...), until a send through them succeeds."""
    return store.channel_problems()


def messages(store, state: str | None = None) -> list[sqlite3.Row]:
    return store.messages(state)


def counts(store) -> dict[str, int]:
    return {state: 0 for state in STATE_LABELS} | store.message_counts()


# --- channels ------------------------------------------------------------------------------------


def build_channels(config) -> dict[str, Channel]:
    """Every channel whose settings work, by kind; the console is always there.

    A channel whose settings are missing or wrong is left out with a log line saying why.
    """
    channels: dict[str, Channel] = {}
    for kind, settings in config.channels.items():
        try:
            channels[kind] = build_channel(kind, channel_class(kind).settings_for(settings, config.home))
        except ChannelConfigError as exc:
            log.warning("Bỏ qua kênh %s: %s", kind, redact(str(exc)))
    if "console" not in channels:
        channels["console"] = build_channel("console", channel_class("console").settings_for({}, config.home))
    return channels


def channels_for(ctx) -> dict[str, Channel]:
    """The channels of this process, built once per context (tests may put their own there)."""
    if "channels" not in ctx.extras:
        ctx.extras["channels"] = build_channels(ctx.config)
    return ctx.extras["channels"]


def _stamp(moment: datetime) -> str:
    """One text form for every time in the outbox, so that comparing texts compares times."""
    return clock.local(moment).isoformat(timespec="seconds")
