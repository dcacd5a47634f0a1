"""The main job: one long-running process that carries reporting periods by itself.

``schedule`` (its own ``Scheduler`` instance) only provides the heartbeat; *when* each job is
due is decided here, in Asia/Ho_Chi_Minh whatever the host's zone, from a "due key" per job
(the day for daily jobs, the time slot for polling). The job log in SQLite records each key
done, which gives what ``schedule`` lacks:

- catch-up: at start every job whose current key is not done runs once, so a reminder day
  that passed while the process was down is not replayed as several days;
- idempotence: a rerun, a second ``--once`` or a restart does the same key only once;
- failure: a job that raises is logged with its cause and recorded, the loop goes on, and
  the job runs again at its next key (never re-run on every pass).

One instance at a time: a lock file in the home folder. SIGTERM and Ctrl-C stop the loop
between jobs.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import schedule

from bot import clock
from bot.context import Context
from bot.outline.periods import Period, parse_period

log = logging.getLogger("bot.scheduler")
NIGHTLY_HOUR = 22
CLOSE_AFTER_DAYS = 45  # a period stays active (polls, reminders) this long after its deadline


class AlreadyRunning(Exception):
    def user_message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Job:
    name: str
    due_key: Callable[[Context, datetime], str | None]  # None: not due at this moment
    run: Callable[[Context, datetime], str]  # returns a short summary for the log


# --- which periods are live ------------------------------------------------------------------


def opening_periods(ctx: Context, today: date) -> list[Period]:
    """Periods open for provisioning today (from their opening day to their deadline)."""
    periods = [
        parse_period(f"{today.year}-{k.id}", ctx.schema, ctx.config.period_overrides())
        for k in ctx.schema.periods
    ]
    return [p for p in periods if p.opens <= today <= p.deadline]


def active_periods(ctx: Context, today: date) -> list[Period]:
    """Provisioned periods still being collected: opened, and not long past their deadline."""
    periods = [ctx.period(pid) for pid in ctx.store.periods()]
    return [p for p in periods if p.opens <= today <= p.deadline + timedelta(days=CLOSE_AFTER_DAYS)]


# --- the jobs ------------------------------------------------------------------------------------


def _daily_from(hour: int):
    def due(ctx: Context, now: datetime) -> str | None:
        return now.date().isoformat() if now.hour >= hour else None

    return due


def _provision_key(ctx: Context, now: datetime) -> str:
    """Daily, and again as soon as a period opens or a unit is added (configuration changed)."""
    periods = ",".join(p.id for p in opening_periods(ctx, now.date()))
    units = hashlib.sha256(",".join(sorted(ctx.unit_by_code)).encode()).hexdigest()[:8]
    return f"{now.date().isoformat()}:{periods or '-'}:{units}"


def _poll_slot(ctx: Context, now: datetime) -> str:
    minutes = ctx.config.poll_minutes
    slot = (now.hour * 60 + now.minute) // minutes * minutes
    return f"{now.date().isoformat()}T{slot // 60:02d}:{slot % 60:02d}"


def run_provision(ctx: Context, now: datetime) -> str:
    from bot.checks.carry_over import carried_values
    from jobs.provision import provision

    done = []
    for period in opening_periods(ctx, now.date()):
        results = provision(ctx, period, prefill=carried_values(ctx))
        done.append(f"{period.id}: {sum(r.action != 'existing' for r in results)} mới")
    return "; ".join(done) or "không có kỳ nào đang mở"


def run_poll_and_check(ctx: Context, now: datetime) -> str:
    from bot.intake.lock import intake_lock
    from jobs.check import check
    from jobs.poll import poll

    parts = []
    for period in active_periods(ctx, now.date()):
        with intake_lock(ctx):  # not interleaved with a unit's upload (bot/intake/lock.py)
            polled = poll(ctx, period)
            checked = check(ctx, period)
        if polled.read:
            _compile(ctx, period)
        parts.append(
            f"{period.id}: đọc {polled.reads}, thay đổi {len(polled.read)}, "
            f"ghi phản hồi {len(checked.feedback_written)}"
        )
    return "; ".join(parts) or "không có kỳ nào đang thu thập"


def run_reminders(ctx: Context, now: datetime) -> str:
    from jobs.remind import remind

    parts = []
    for period in active_periods(ctx, now.date()):
        sent = remind(ctx, period, now=now)
        parts.append(f"{period.id}: {len(sent)} tin")
    return "; ".join(parts) or "không có kỳ nào đang thu thập"


def run_compile(ctx: Context, now: datetime) -> str:
    """Nightly: the master sheet (exports are made when asked for, so they are never stale)."""
    return (
        "; ".join(f"{p.id}: {_compile(ctx, p)}" for p in active_periods(ctx, now.date())) or "không có kỳ nào"
    )


def _compile(ctx: Context, period: Period) -> str:
    from bot.reporting.gather import NothingPolled
    from jobs.compile import compile as compile_master

    try:
        return str(compile_master(ctx, period))
    except NothingPolled:
        return "chưa có số liệu để tổng hợp"


def run_sender(ctx: Context, now: datetime) -> str:
    """Deliver what the outbox holds that is due (retries included)."""
    from bot.messages.outbox import channels_for, deliver

    result = deliver(ctx.store, channels_for(ctx))
    return f"gửi {len(result.sent)}, chờ gửi lại {len(result.retrying)}, lỗi {len(result.failed)}"


def run_mail(ctx: Context, now: datetime) -> str:
    """Workbooks e-mailed to the report mailbox (bot/intake/mailbox.py)."""
    from jobs.mail import fetch_mail

    return fetch_mail(ctx).summary()


def default_jobs(ctx: Context) -> list[Job]:
    policy = ctx.config.reminders
    mail = [Job("mail", _poll_slot, run_mail)] if ctx.config.mailbox else []
    return mail + [
        Job("provision", _provision_key, run_provision),
        Job("poll", _poll_slot, run_poll_and_check),
        Job("send", _poll_slot, run_sender),
        Job("remind", _daily_from(min(policy.hour, policy.digest_hour)), run_reminders),
        Job("remind-digest", _daily_from(policy.digest_hour), run_reminders),
        Job("compile", _daily_from(NIGHTLY_HOUR), run_compile),
    ]


# --- running ---------------------------------------------------------------------------------------


def run_due(ctx: Context, jobs: list[Job], now: datetime | None = None) -> list[tuple[str, str, bool]]:
    """Run, once each, the jobs whose current due key is not yet done. Never raises."""
    ran = []
    for job in jobs:
        moment = clock.local(now) if now else clock.now()
        key = job.due_key(ctx, moment)
        if key is None or ctx.store.job_done(job.name, key):
            continue
        ran.append((job.name, key, run_one(ctx, job, key, moment)))
    return ran


def run_one(ctx: Context, job: Job, key: str, now: datetime) -> bool:
    started = clock.now()
    try:
        detail = job.run(ctx, now)
    except Exception as e:  # a failing job must not stop the loop; it runs again at its next key
        log.exception("Công việc %s (%s) lỗi: %s", job.name, key, e)
        ctx.store.log_job(job.name, key, started, ok=False, detail=f"{type(e).__name__}: {e}")
        return False
    log.info("Công việc %s (%s): %s", job.name, key, detail)
    ctx.store.log_job(job.name, key, started, ok=True, detail=detail)
    return True


class Runner:
    """The long-running loop: heartbeat from ``schedule``, stop on SIGTERM / Ctrl-C."""

    def __init__(self, ctx: Context, jobs: list[Job] | None = None, tick_seconds: int = 60):
        self.ctx = ctx
        self.jobs = jobs or default_jobs(ctx)
        self.stopping = False
        self.scheduler = schedule.Scheduler()
        self.scheduler.every(tick_seconds).seconds.do(self.tick)

    def tick(self) -> None:
        if not self.stopping:
            run_due(self.ctx, self.jobs)

    def stop(self, *_args) -> None:
        self.stopping = True

    def run_forever(self, sleep: Callable[[float], None] = time.sleep) -> None:
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.tick()  # catch up at start with what was missed while down
            while not self.stopping:
                self.scheduler.run_pending()
                sleep(1)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class InstanceLock:
    """An exclusive lock on ``<home>/bot.lock``, released when the process ends (even killed)."""

    def __init__(self, home: Path):
        self.path = Path(home) / "bot.lock"
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            pid = self.handle.read().strip() or "?"
            self.handle.close()
            raise AlreadyRunning(
                f"Bot đang chạy trong một tiến trình khác (PID {pid}) với thư mục {self.path.parent}; "
                "chỉ được chạy một tiến trình cho mỗi thư mục."
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
