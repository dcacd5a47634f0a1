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
* A transient failure (``TransportError.permanent`` False) is retried after a bounded
  exponential backoff with jitter, never sooner than the provider's ``retry_after``, by
  setting ``next_attempt_at``: a pass never sleeps on one message. A permanent failure, or
  the last allowed attempt, marks the row failed, flags a permanent failure's address for the
  coordinator (table ``contacts``) and queues the e-mail copy for the unit (``fallback_emails``).

Long texts are split by the channels themselves (``Channel.send``).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot import clock
from bot.channels import Channel, ChannelConfigError, Message, TransportError, build_channel
from bot.http import redact

log = logging.getLogger(__name__)

COORDINATORS = "*"  # the ``unit`` of a message to coordinators
CHAT_KINDS = {"zalo": "zalo_bot", "zalo_oa": "zalo_oa", "telegram": "telegram", "console": "console"}
CHAT_PREFIXES = {kind: prefix for prefix, kind in CHAT_KINDS.items()}
CHANNEL_LABELS = {"zalo_bot": "Zalo", "zalo_oa": "Zalo OA", "telegram": "Telegram", "email": "Thư điện tử",
                  "console": "Tệp nhật ký"}
STATE_LABELS = {"pending": "chờ gửi", "sending": "đang gửi", "sent": "đã gửi", "failed": "thất bại"}
MAX_ROUNDS = 50  # of one deliver() call that waits for retries: a bound, whatever the clock does


def parse_chat(chat: str) -> tuple[str, str] | None:
    """``"zalo:123"`` -> ``("zalo_bot", "123")``; None for an unknown prefix."""
    prefix, _, address = chat.partition(":")
    kind = CHAT_KINDS.get(prefix)
    return (kind, address) if kind and address else None


def chat_name(kind: str, address: str) -> str:
    """``("zalo_bot", "123")`` -> ``"zalo:123"``, the form used in units.csv and config.json."""
    return f"{CHAT_PREFIXES.get(kind, kind)}:{address}"


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
    in_reply_to: str | None = None  # e-mail answers: the Message-ID answered

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return self.unit, self.period, self.stage, self.channel, self.address


# --- queueing ------------------------------------------------------------------------------------

def queue(store, messages: Iterable[Outgoing], *, now: datetime | None = None) -> list[Outgoing]:
    """Insert ``messages`` in one transaction (joining the caller's); returns the new ones."""
    stamp = _stamp(now or clock.now())
    with store.transaction() as conn:
        return [m for m in messages if _insert(conn, m, stamp)]


def not_yet_queued(store, messages: Iterable[Outgoing]) -> list[Outgoing]:
    """The messages ``queue`` would insert now (for a dry run): nothing is written."""
    return [m for m in messages if not store.conn.execute(
        "SELECT 1 FROM outbox WHERE unit = ? AND period = ? AND stage = ? AND channel = ? AND address = ?",
        m.key).fetchone()]


def _insert(conn: sqlite3.Connection, m: Outgoing, stamp: str) -> bool:
    cursor = conn.execute(
        """INSERT OR IGNORE INTO outbox (unit, recipient, period, stage, channel, address, subject, text,
               attachment, fallback_emails, created_at, updated_at, in_reply_to)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (m.unit, m.recipient, m.period, m.stage, m.channel, m.address, m.subject, m.text, m.attachment,
         json.dumps(list(m.fallback_emails)), stamp, stamp, m.in_reply_to),
    )
    return cursor.rowcount == 1


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


@dataclass(frozen=True)
class _Policy:
    max_attempts: int
    backoff: Backoff
    lease: timedelta


def deliver(
    store,
    channels: dict[str, Channel],
    *,
    now: Callable[[], datetime] = clock.now,
    max_attempts: int = 5,
    backoff: Backoff = Backoff(),
    lease: timedelta = timedelta(minutes=10),
    wait_up_to: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send every due message (e-mail copies of failed chats included).

    With ``wait_up_to`` > 0, retries falling due within that many seconds are waited for (with
    ``sleep``) and tried in the same call; otherwise a later call takes them.
    """
    policy, result, waited = _Policy(max_attempts, backoff, lease), Delivery(), 0.0
    for _ in range(MAX_ROUNDS):
        _one_pass(store, channels, now, policy, result)
        wait = _seconds_to_next_due(store, channels, now())
        if wait is None or waited + wait > wait_up_to:
            break
        if wait > 0:
            sleep(wait)
            waited += wait
    return result


def _one_pass(store, channels: dict[str, Channel], now: Callable[[], datetime], policy: _Policy,
              result: Delivery) -> None:
    _resume_interrupted(store, now(), policy, result)
    due = store.conn.execute(
        """SELECT * FROM outbox WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
           ORDER BY id""", (_stamp(now()),)).fetchall()
    for row in due:
        channel = channels.get(row["channel"])
        if channel is None:
            _note_no_channel(store, row, result)
        elif claimed := _claim(store, row["id"], moment := now(), policy.lease):  # lease from the claim itself
            _send(store, channel, claimed, moment, policy, result)


def _claim(store, message_id: int, moment: datetime, lease: timedelta) -> sqlite3.Row | None:
    """Mark the message 'sending' in its own committed transaction; None if another process took it."""
    with store.transaction() as conn:
        return conn.execute(
            """UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
               WHERE id = ? AND state = 'pending' RETURNING *""",
            (_stamp(moment + lease), _stamp(moment), message_id)).fetchone()


def _send(store, channel: Channel, row: sqlite3.Row, moment: datetime, policy: _Policy, result: Delivery) -> None:
    attempts = row["attempts"]
    try:
        provider_id = channel.send(row["address"], _message(row))
    except TransportError as exc:
        _failed_attempt(store, row, attempts, redact(exc.reason), exc.permanent, exc.retry_after, moment, policy,
                        result)
    except Exception as exc:  # a bug or an unexpected library error: retry, and say what it was
        reason = redact(f"lỗi không lường trước khi gửi ({type(exc).__name__}: {exc})")
        _failed_attempt(store, row, attempts, reason, False, None, moment, policy, result)
    else:
        _mark_sent(store, row, provider_id, clock.local(moment))
        result.sent.append(row["id"])


def _message(row: sqlite3.Row) -> Message:
    attachment = Path(row["attachment"]) if row["attachment"] else None
    return Message(row["text"], attachment=attachment, subject=row["subject"], in_reply_to=row["in_reply_to"])


def _mark_sent(store, row: sqlite3.Row, provider_id: str | None, moment: datetime) -> None:
    with store.transaction() as conn:
        conn.execute(
            """UPDATE outbox SET state = 'sent', provider_id = ?, sent_at = ?, lease_until = NULL, updated_at = ?
               WHERE id = ?""", (provider_id, _stamp(moment), _stamp(moment), row["id"]))
        conn.execute("UPDATE contacts SET problem = NULL, problem_at = NULL WHERE channel = ? AND address = ?",
                     (row["channel"], row["address"]))


def _failed_attempt(store, row, attempts: int, reason: str, permanent: bool, retry_after: float | None,
                    moment: datetime, policy: _Policy, result: Delivery) -> None:
    log.warning("Gửi tin #%s (%s, %s) không thành công lần %s: %s",
                row["id"], row["recipient"], CHANNEL_LABELS.get(row["channel"], row["channel"]), attempts, reason)
    if permanent or attempts >= policy.max_attempts:
        final = reason if permanent else f"{reason} (đã thử {attempts} lần)"
        _fail(store, row, final, moment, flag_contact=permanent)
        result.failed.append(row["id"])
        return
    next_at = moment + timedelta(seconds=policy.backoff.delay(attempts, retry_after))
    with store.transaction() as conn:
        conn.execute(
            """UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?, lease_until = NULL,
               updated_at = ? WHERE id = ?""", (_stamp(next_at), reason, _stamp(moment), row["id"]))
    result.retrying.append(row["id"])


def _fail(store, row: sqlite3.Row, reason: str, moment: datetime, *, flag_contact: bool) -> None:
    """Mark failed, flag the address, and queue the unit's e-mail copy, all at once."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET state = 'failed', last_error = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
            (reason, _stamp(moment), row["id"]))
        if flag_contact:
            flag_problem(conn, row["channel"], row["address"], row["recipient"], reason, moment)
        for email in json.loads(row["fallback_emails"] or "[]"):
            _insert(conn, _email_copy(row, email), _stamp(moment))


def _email_copy(row: sqlite3.Row, email: str) -> Outgoing:
    return Outgoing(row["unit"], row["recipient"], row["period"], row["stage"], "email", email, row["text"],
                    row["subject"], row["attachment"])


def _resume_interrupted(store, moment: datetime, policy: _Policy, result: Delivery) -> None:
    rows = store.conn.execute("SELECT * FROM outbox WHERE state = 'sending' AND lease_until < ?",
                              (_stamp(moment),)).fetchall()
    for row in rows:
        if row["interruptions"] == 0 and row["attempts"] < policy.max_attempts:
            _resume(store, row, moment)
            result.resumed.append(row["id"])
        else:
            reason = ("việc gửi bị gián đoạn thêm một lần nữa; không gửi lại để tránh người nhận nhận trùng "
                      "(có thể tin đã đến nơi)")
            _fail(store, row, reason, moment, flag_contact=False)
            result.failed.append(row["id"])


def _resume(store, row: sqlite3.Row, moment: datetime) -> None:
    with store.transaction() as conn:
        conn.execute(
            """UPDATE outbox SET state = 'pending', interruptions = interruptions + 1, next_attempt_at = NULL,
               lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND state = 'sending'""",
            ("việc gửi bị gián đoạn (chương trình dừng giữa chừng); gửi lại một lần",
             _stamp(moment), row["id"]))
    log.warning("Tin #%s (%s) bị gián đoạn khi đang gửi; sẽ gửi lại một lần.", row["id"], row["recipient"])


def _note_no_channel(store, row: sqlite3.Row, result: Delivery) -> None:
    reason = f"kênh {CHANNEL_LABELS.get(row['channel'], row['channel'])} chưa được cấu hình; tin chờ đến khi có"
    if row["last_error"] != reason:
        with store.transaction() as conn:
            conn.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (reason, row["id"]))
    result.no_channel.append(row["id"])


def _seconds_to_next_due(store, channels: dict[str, Channel], moment: datetime) -> float | None:
    """Seconds until the next pending message this process can send is due (0: one is due now)."""
    kinds = list(channels)
    row = store.conn.execute(
        f"""SELECT COUNT(*), MAX(next_attempt_at IS NULL), MIN(next_attempt_at) FROM outbox
            WHERE state = 'pending' AND channel IN ({",".join("?" * len(kinds))})""", kinds).fetchone()
    if not row[0]:
        return None
    if row[1]:
        return 0.0
    return max(0.0, (datetime.fromisoformat(row[2]) - moment).total_seconds())


# --- contacts with problems ----------------------------------------------------------------------

def flag_problem(conn: sqlite3.Connection, channel: str, address: str, label: str, reason: str,
                 moment: datetime) -> None:
    conn.execute(
        """INSERT INTO contacts (channel, address, label, problem, problem_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (channel, address) DO UPDATE SET label = excluded.label, problem = excluded.problem,
               problem_at = excluded.problem_at""",
        (channel, address, label, reason, _stamp(moment)))


def clear_problem(store, channel: str, address: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE contacts SET problem = NULL, problem_at = NULL WHERE channel = ? AND address = ? "
                     "AND problem IS NOT NULL", (channel, address))


def problems(store) -> list[sqlite3.Row]:
    """Addresses whose last delivery failed for good, for the coordinator's attention."""
    return store.conn.execute(
        "SELECT * FROM contacts WHERE problem IS NOT NULL ORDER BY problem_at DESC").fetchall()


def messages(store, state: str | None = None) -> list[sqlite3.Row]:
    if state:
        return store.conn.execute("SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,)).fetchall()
    return store.conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()


def counts(store) -> dict[str, int]:
    rows = store.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
    return {state: 0 for state in STATE_LABELS} | {r[0]: r[1] for r in rows}


# --- channels ------------------------------------------------------------------------------------

def build_channels(config) -> dict[str, Channel]:
    """Every channel whose settings work, by kind; the console is always there.

    A channel whose settings are missing or wrong is left out with a log line saying why.
    """
    channels: dict[str, Channel] = {}
    for kind, settings in config.channels.items():
        try:
            channels[kind] = build_channel(kind, _settings_for(kind, settings, config.home))
        except ChannelConfigError as exc:
            log.warning("Bỏ qua kênh %s: %s", kind, redact(str(exc)))
    if "console" not in channels:
        channels["console"] = build_channel("console", {"home": config.home})
    return channels


def channels_for(ctx) -> dict[str, Channel]:
    """The channels of this process, built once per context (tests may put their own there)."""
    if "channels" not in ctx.extras:
        ctx.extras["channels"] = build_channels(ctx.config)
    return ctx.extras["channels"]


def _settings_for(kind: str, settings: dict, home: Path) -> dict:
    settings = dict(settings)
    if kind == "console":
        settings.setdefault("home", home)
    if kind == "zalo_oa":  # config.py names the secret app_secret; the channel calls it secret_key
        if "app_secret" in settings:
            settings.setdefault("secret_key", settings.pop("app_secret"))
        settings.update(_load_zalo_oa_tokens(home))
        settings["on_tokens"] = lambda access, refresh: _save_zalo_oa_tokens(home, access, refresh)
        settings["load_tokens"] = lambda: _load_zalo_oa_tokens(home)
    return settings


def _zalo_oa_tokens_path(home: Path) -> Path:
    return Path(home) / "secrets" / "zalo_oa_tokens.json"


def _load_zalo_oa_tokens(home: Path) -> dict:
    """The last renewed token pair, which replaces the (spent) one in config.json."""
    path = _zalo_oa_tokens_path(home)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: stored[k] for k in ("access_token", "refresh_token") if stored.get(k)}


def _save_zalo_oa_tokens(home: Path, access_token: str, refresh_token: str) -> None:
    path = _zalo_oa_tokens_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"access_token": access_token, "refresh_token": refresh_token}, out)
    os.replace(temporary, path)


def _stamp(moment: datetime) -> str:
    """One text form for every time in the outbox, so that comparing texts compares times."""
    return clock.local(moment).isoformat(timespec="seconds")
