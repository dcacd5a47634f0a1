"""The scheduler: each job at its time in Vietnam, once per time, through failures and restarts."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime

import pytest
import time_machine

from bot.clock import TZ
from bot.config import PeriodSettings
from bot.context import open_context
from jobs.scheduler import (
    AlreadyRunning,
    InstanceLock,
    Job,
    Runner,
    _daily_from,
    _poll_slot,
    default_jobs,
    run_due,
)


@pytest.fixture
def ctx(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(
        "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\n", encoding="utf-8"
    )
    context = open_context(home)
    yield context
    context.close()


def vn(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def recording_jobs(calls: list, fail: set = frozenset()):
    def runner(name):
        def run(ctx, now):
            calls.append((name, now.strftime("%Y-%m-%d %H:%M")))
            if name in fail:
                raise RuntimeError(f"{name} hỏng")
            return "ok"

        return run

    return [Job("remind", _daily_from(8), runner("remind")), Job("poll", _poll_slot, runner("poll"))]


def test_it_runs_each_job_at_its_times(ctx):
    calls = []
    jobs = recording_jobs(calls)
    for moment in (
        vn(2026, 3, 10, 7, 0),
        vn(2026, 3, 10, 7, 10),
        vn(2026, 3, 10, 8, 5),
        vn(2026, 3, 10, 8, 20),
        vn(2026, 3, 10, 8, 40),
        vn(2026, 3, 11, 8, 1),
    ):
        with time_machine.travel(moment, tick=False):
            run_due(ctx, jobs)
    assert [c for c in calls if c[0] == "remind"] == [
        ("remind", "2026-03-10 08:05"),
        ("remind", "2026-03-11 08:01"),
    ]
    # poll every 30 minutes by default: 07:00, 08:05 (slot 08:00), 08:40 (slot 08:30), next day
    assert [c[1] for c in calls if c[0] == "poll"] == [
        "2026-03-10 07:00",
        "2026-03-10 08:05",
        "2026-03-10 08:40",
        "2026-03-11 08:01",
    ]


def test_it_survives_a_job_that_raises_and_runs_it_again_at_its_next_time(ctx):
    calls = []
    jobs = recording_jobs(calls, fail={"remind"})
    with time_machine.travel(vn(2026, 3, 10, 9, 0), tick=False):
        ran = run_due(ctx, jobs)
        assert ran == [("remind", "2026-03-10", False), ("poll", "2026-03-10T09:00", True)]
        assert run_due(ctx, jobs) == []  # not re-run on every pass
    failed = ctx.store.last_job("remind", ok_only=False)
    assert failed["ok"] == 0 and "remind hỏng" in failed["detail"]
    with time_machine.travel(vn(2026, 3, 11, 9, 0), tick=False):
        assert ("remind", "2026-03-11", False) in run_due(ctx, jobs)


def test_it_catches_up_once_after_a_gap_without_replaying_missed_days(ctx):
    calls = []
    jobs = recording_jobs(calls)
    with time_machine.travel(vn(2026, 3, 9, 8, 30), tick=False):
        run_due(ctx, jobs)
    calls.clear()
    with time_machine.travel(vn(2026, 3, 13, 10, 15), tick=False):  # down from the 9th to the 13th
        run_due(ctx, jobs)
        run_due(ctx, jobs)
    assert calls == [("remind", "2026-03-13 10:15"), ("poll", "2026-03-13 10:15")]


def test_it_keeps_vietnam_time_whatever_the_hosts_zone(ctx, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        calls = []
        with time_machine.travel(
            datetime.fromisoformat("2026-03-10T01:30:00+00:00"), tick=False
        ):  # 08:30 in Hà Nội
            run_due(ctx, recording_jobs(calls))
        assert ("remind", "2026-03-10 08:30") in calls
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_it_refuses_a_second_instance(ctx):
    with InstanceLock(ctx.config.home):
        with pytest.raises(AlreadyRunning) as err:
            with InstanceLock(ctx.config.home):
                pass
        assert str(os.getpid()) in err.value.user_message()
    with InstanceLock(ctx.config.home):  # released: a later start works
        pass


def test_it_stops_cleanly_on_sigterm_between_jobs(ctx):
    calls = []
    runner = Runner(ctx, recording_jobs(calls))
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with time_machine.travel(vn(2026, 3, 10, 9, 0)):
        timer.start()
        runner.run_forever(sleep=lambda s: time.sleep(0.05))
    timer.join()
    assert runner.stopping
    assert sorted(c[0] for c in calls) == ["poll", "remind"]  # caught up at start, then stopped
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_it_provisions_a_period_as_soon_as_it_opens_not_the_next_day(ctx):
    with time_machine.travel(vn(2026, 11, 27, 9, 0), tick=False):
        run_due(ctx, default_jobs(ctx))
        assert ctx.store.sheets("2026-N") == []
        ctx.config.periods["2026-N"] = PeriodSettings(opens="2026-11-20")  # the coordinator opens it today
        ran = [name for name, _, ok in run_due(ctx, default_jobs(ctx)) if ok]
    assert "provision" in ran
    assert len(ctx.store.sheets("2026-N")) == 1
