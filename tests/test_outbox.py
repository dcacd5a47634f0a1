"""The durable outbox: nothing decided is lost, nothing is sent twice except the one message in
flight when a process died, transient failures are retried later, permanent ones are flagged."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.clock import TZ
from bot.config import Config
from bot.messages.channels import TransportError, build_channel
from bot.messages.outbox import (
    Backoff,
    Outgoing,
    build_channels,
    channel_problems,
    deliver,
    messages,
    problems,
    queue,
    undelivered,
)
from bot.store import Store
from tests.helpers import RecordingChannel, make_context

T0 = datetime(2026, 3, 11, 8, 30, tzinfo=TZ)
NO_JITTER = Backoff(base=30, cap=3600, jitter=lambda: 0.0)  # waits exactly base·2^(n-1)/2


class Killed(BaseException):
    """The process dies here: not an error any code catches."""


def note(
    n: int, channel: str = "zalo_bot", emails: tuple[str, ...] = (), unit: str | None = None
) -> Outgoing:
    code = unit or f"U{n}"
    return Outgoing(
        code,
        f"Đơn vị {n}",
        "2026-Q1",
        "truoc-7",
        channel,
        f"chat-{n}",
        f"Nhắc hạn số {n}",
        "Nhắc hạn",
        None,
        emails,
    )


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "state.db")
    yield store
    store.close()


def states(store) -> dict[str, str]:
    return {row["address"]: row["state"] for row in messages(store)}


def test_it_sends_each_queued_message_once_and_records_it_sent(store):
    zalo = RecordingChannel()
    queue(store, [note(1), note(2)], now=T0)

    first = deliver(store, {"zalo_bot": zalo}, now=lambda: T0)
    again = deliver(store, {"zalo_bot": zalo}, now=lambda: T0 + timedelta(hours=1))

    assert zalo.addresses == ["chat-1", "chat-2"]
    assert len(first.sent) == 2 and again.sent == []
    assert states(store) == {"chat-1": "sent", "chat-2": "sent"}
    assert [row["provider_id"] for row in messages(store)] == ["zalo_bot-1", "zalo_bot-2"]


def test_it_inserts_nothing_when_the_same_decision_is_queued_again(store):
    first = queue(store, [note(1), note(2)], now=T0)
    second = queue(store, [note(1), note(2), note(3)], now=T0 + timedelta(minutes=15))

    assert first == [note(1), note(2)]
    assert second == [note(3)]
    assert len(messages(store)) == 3


def test_it_loses_nothing_when_the_process_stops_between_queueing_and_sending(tmp_path):
    before = Store(tmp_path / "state.db")
    queue(before, [note(1), note(2)], now=T0)
    before.close()  # the process ends here, before delivering anything

    after = Store(tmp_path / "state.db")
    zalo = RecordingChannel()
    deliver(after, {"zalo_bot": zalo}, now=lambda: T0 + timedelta(minutes=1))

    assert zalo.addresses == ["chat-1", "chat-2"]


def test_it_sends_a_message_interrupted_mid_send_once_more_and_nothing_else_twice(store):
    queue(store, [note(1), note(2), note(3)], now=T0)
    dying = RecordingChannel(script=[None, Killed()])
    with pytest.raises(Killed):
        deliver(store, {"zalo_bot": dying}, now=lambda: T0)
    assert states(store) == {"chat-1": "sent", "chat-2": "sending", "chat-3": "pending"}

    restarted = RecordingChannel()
    deliver(store, {"zalo_bot": restarted}, now=lambda: T0 + timedelta(minutes=1))  # lease still running
    deliver(store, {"zalo_bot": restarted}, now=lambda: T0 + timedelta(minutes=11))  # lease over

    assert restarted.addresses == ["chat-3", "chat-2"]
    calls = dying.addresses + restarted.addresses
    assert {address: calls.count(address) for address in calls} == {"chat-1": 1, "chat-2": 2, "chat-3": 1}
    assert states(store) == {"chat-1": "sent", "chat-2": "sent", "chat-3": "sent"}


def test_it_does_not_send_a_message_a_third_time_when_it_is_interrupted_twice(store):
    queue(store, [note(1, emails=("vanthu@u1.example.vn",))], now=T0)
    for minutes in (0, 11):
        with pytest.raises(Killed):
            deliver(
                store,
                {"zalo_bot": RecordingChannel(script=[Killed()])},
                now=lambda m=minutes: T0 + timedelta(minutes=m),
            )
    zalo, email = RecordingChannel(), RecordingChannel("email")

    deliver(store, {"zalo_bot": zalo, "email": email}, now=lambda: T0 + timedelta(minutes=30))

    assert zalo.calls == []
    chat = next(row for row in messages(store) if row["channel"] == "zalo_bot")
    assert chat["state"] == "failed" and chat["attempts"] == 2
    assert "gián đoạn" in chat["last_error"]
    assert email.addresses == ["vanthu@u1.example.vn"]  # the unit still hears about it, by e-mail


def test_it_retries_a_transient_failure_after_a_growing_wait_then_sends_it(store):
    zalo = RecordingChannel(
        script=[
            TransportError("Zalo Bot: máy chủ đang lỗi (500)", permanent=False),
            TransportError("Zalo Bot: gửi quá nhiều", permanent=False, retry_after=120),
        ]
    )
    queue(store, [note(1)], now=T0)
    channels = {"zalo_bot": zalo}

    def attempt_at(seconds):
        return deliver(store, channels, now=lambda: T0 + timedelta(seconds=seconds), backoff=NO_JITTER)

    assert attempt_at(0).retrying == [1]  # waits 15 s (30 s halved by the jitter floor)
    assert attempt_at(14).retrying == [] and len(zalo.calls) == 1
    assert attempt_at(15).retrying == [1]  # now waits max(30 s, retry_after 120 s)
    assert attempt_at(134).sent == [] and len(zalo.calls) == 2
    assert attempt_at(135).sent == [1]
    (row,) = messages(store)
    assert row["state"] == "sent" and row["attempts"] == 3


def test_it_keeps_the_backoff_bounded_and_never_shorter_than_retry_after():
    backoff = Backoff(base=30, cap=600, jitter=lambda: 1.0)

    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [30, 60, 120, 240, 480, 600, 600]
    assert backoff.delay(1, retry_after=900) == 900
    assert Backoff(base=30, jitter=lambda: 0.0).delay(3) == 60


def test_it_waits_for_a_quick_retry_within_the_patience_given(store):
    zalo = RecordingChannel(
        script=[TransportError("Zalo Bot: gửi quá nhiều", permanent=False, retry_after=3)]
    )
    queue(store, [note(1)], now=T0)
    moments, slept = [T0], []

    def sleep(seconds):
        slept.append(seconds)
        moments.append(moments[-1] + timedelta(seconds=seconds))

    result = deliver(
        store,
        {"zalo_bot": zalo},
        now=lambda: moments[-1],
        backoff=Backoff(base=1, jitter=lambda: 0.0),
        wait_up_to=10,
        sleep=sleep,
    )

    assert result.sent == [1] and slept == [3.0]


def test_it_gives_up_after_the_last_attempt_and_queues_the_email_copy(store):
    failures = [TransportError("Zalo Bot: máy chủ đang lỗi (500)", permanent=False)] * 3
    zalo, email = RecordingChannel(script=failures), RecordingChannel("email")
    queue(store, [note(1, emails=("vanthu@u1.example.vn",))], now=T0)

    for hour in range(4):
        deliver(
            store,
            {"zalo_bot": zalo, "email": email},
            now=lambda h=hour: T0 + timedelta(hours=h),
            max_attempts=3,
        )

    assert len(zalo.calls) == 3
    assert email.addresses == ["vanthu@u1.example.vn"]
    chat, mail = messages(store)
    assert chat["state"] == "failed" and "đã thử 3 lần" in chat["last_error"]
    assert (mail["channel"], mail["stage"], mail["state"]) == ("email", "truoc-7", "sent")
    assert problems(store) == []  # the server was down: nothing wrong with the contact itself


def test_it_flags_a_permanent_failure_for_the_coordinator_and_queues_the_email_copy(store):
    blocked = TransportError(
        "Zalo Bot: người nhận đã chặn bot hoặc không tồn tại (403: Forbidden)", permanent=True
    )
    zalo, email = RecordingChannel(script=[blocked]), RecordingChannel("email")
    queue(store, [note(1, emails=("vanthu@u1.example.vn", "lanhdao@u1.example.vn"))], now=T0)

    result = deliver(store, {"zalo_bot": zalo, "email": email}, now=lambda: T0)

    assert len(zalo.calls) == 1  # not retried
    assert result.failed == [1]
    assert sorted(email.addresses) == ["lanhdao@u1.example.vn", "vanthu@u1.example.vn"]
    assert [m.text for _, m in email.calls] == ["Nhắc hạn số 1"] * 2
    (flag,) = problems(store)
    assert (flag["channel"], flag["address"], flag["label"]) == ("zalo_bot", "chat-1", "Đơn vị 1")
    assert "chặn bot" in flag["problem"]


def test_it_clears_the_flag_once_the_contact_can_be_reached_again(store):
    zalo = RecordingChannel(script=[TransportError("Zalo Bot: bị chặn", permanent=True)])
    queue(store, [note(1)], now=T0)
    deliver(store, {"zalo_bot": zalo}, now=lambda: T0)
    assert len(problems(store)) == 1

    later = T0 + timedelta(days=2)
    queue(
        store, [Outgoing("U1", "Đơn vị 1", "2026-Q1", "truoc-3", "zalo_bot", "chat-1", "Lần sau")], now=later
    )
    deliver(store, {"zalo_bot": zalo}, now=lambda: later)

    assert problems(store) == []


def test_it_keeps_a_message_for_an_unconfigured_channel_waiting_with_the_reason(store):
    queue(store, [note(1, channel="telegram")], now=T0)

    result = deliver(store, {"zalo_bot": RecordingChannel()}, now=lambda: T0)

    (row,) = messages(store)
    assert result.no_channel == [1]
    assert row["state"] == "pending" and row["attempts"] == 0
    assert "Telegram chưa được cấu hình" in row["last_error"]


def test_it_treats_an_unexpected_error_in_a_channel_as_transient(store):
    zalo = RecordingChannel(script=[RuntimeError("socket closed")])
    queue(store, [note(1)], now=T0)

    result = deliver(store, {"zalo_bot": zalo}, now=lambda: T0)

    (row,) = messages(store)
    assert result.retrying == [1] and row["state"] == "pending"
    assert "RuntimeError: socket closed" in row["last_error"]


def test_it_skips_a_channel_without_its_settings_with_a_clear_log_line_and_keeps_the_console(
    tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    config = Config(home=tmp_path, channels={"telegram": {}, "zalo_bot": {"token": "1:abcdefgh"}})

    channels = build_channels(config)

    assert set(channels) == {"zalo_bot", "console"}
    assert "Bỏ qua kênh telegram" in caplog.text


def test_it_never_lets_a_secret_reach_the_logs_the_outbox_or_the_contacts(tmp_path, schema, caplog):
    from tests.fakes.telegram import FakeTelegram
    from tests.fakes.zalo_bot import FakeZaloBot

    caplog.set_level(logging.DEBUG)
    zalo_token, telegram_token = "1459232241454765289:RevokedZaloSecret", "123456789:RevokedTelegramSecretXyz"
    password = "Mật-khẩu-thư-Bí-Mật"
    with FakeZaloBot() as zalo, FakeTelegram() as telegram:
        settings = {
            "zalo_bot": {"token": zalo_token, "base_url": zalo.base_url},
            "telegram": {"token": telegram_token, "base_url": telegram.bot_base_url},
            "email": {
                "host": "127.0.0.1",
                "port": 9,
                "security": "none",
                "sender": "bot@tinh.example.vn",
                "username": "bot",
                "password": password,
                "timeout": 1,
            },
        }
        ctx = make_context(tmp_path, schema, [], channels=settings)
        channels = build_channels(ctx.config)
        queue(
            ctx.store,
            [note(1, "zalo_bot", ("a@u1.example.vn",)), note(2, "telegram"), note(3, "email")],
            now=T0,
        )
        for minutes in (0, 1, 60):
            deliver(ctx.store, channels, now=lambda m=minutes: T0 + timedelta(minutes=m))

    rows = [*messages(ctx.store), *problems(ctx.store), *channel_problems(ctx.store)]
    stored = json.dumps([dict(row) for row in rows], ensure_ascii=False)
    assert "token không hợp lệ" in stored and "pending" in stored  # the failures were recorded...
    for secret in (zalo_token, telegram_token, password, "RevokedZaloSecret", "RevokedTelegramSecretXyz"):
        assert secret not in stored  # ...without any secret
        assert secret not in caplog.text


MAIL_DOWN = TransportError(
    "Thư điện tử: không kết nối được máy chủ thư (Connection refused)", permanent=False
)


def test_it_keeps_a_reminder_through_a_two_hour_mail_outage_and_sends_it_when_the_server_is_back(store):
    email = RecordingChannel("email", script=[MAIL_DOWN] * 5)  # down from 08:30 to 10:30
    queue(store, [note(1, channel="email")], now=T0)

    for half_hours in range(6):  # the scheduler's pass every 30 minutes
        deliver(
            store,
            {"email": email},
            now=lambda m=half_hours: T0 + timedelta(minutes=30 * m),
            backoff=NO_JITTER,
        )

    assert len(email.calls) == 6
    assert states(store) == {"chat-1": "sent"}


def test_it_gives_up_on_a_message_once_its_moment_has_passed_and_lists_it_to_act_on(store):
    email = RecordingChannel("email", script=[MAIL_DOWN] * 100)
    queue(store, [replace(note(1, channel="email"), expires_at=T0 + timedelta(hours=3))], now=T0)

    for half_hours in range(8):
        deliver(
            store,
            {"email": email},
            now=lambda m=half_hours: T0 + timedelta(minutes=30 * m),
            backoff=NO_JITTER,
        )

    (row,) = messages(store)
    assert row["state"] == "failed" and "hết thời hạn gửi" in row["last_error"]
    assert len(email.calls) > 5  # retried over the whole time it was worth sending
    assert [r["id"] for r in undelivered(store)] == [row["id"]]


def test_it_does_not_list_a_failed_chat_whose_email_copy_went_out(store):
    blocked = TransportError("Zalo Bot: người nhận đã chặn bot", permanent=True)
    queue(store, [note(1, emails=("vanthu@u1.example.vn",))], now=T0)

    deliver(
        store,
        {"zalo_bot": RecordingChannel(script=[blocked]), "email": RecordingChannel("email")},
        now=lambda: T0,
    )

    assert undelivered(store) == []


def test_it_stops_a_channel_whose_token_is_revoked_without_blaming_the_recipients(store):
    from tests.fakes.zalo_bot import FakeZaloBot

    with FakeZaloBot() as fake:
        zalo = build_channel(
            "zalo_bot", {"token": "1459232241454765289:RevokedToken", "base_url": fake.base_url}
        )
        email = RecordingChannel("email")
        queue(store, [note(1, emails=("a@u1.example.vn",)), note(2, emails=("b@u2.example.vn",))], now=T0)
        for minutes in (0, 30):
            result = deliver(
                store, {"zalo_bot": zalo, "email": email}, now=lambda m=minutes: T0 + timedelta(minutes=m)
            )
        calls = len(fake.requests_to("sendMessage"))

    assert calls == 2  # one try per run, not one per recipient
    assert "zalo_bot" in result.stopped
    assert states(store) == {"chat-1": "pending", "chat-2": "pending"}  # kept queued
    assert problems(store) == [] and email.calls == []  # no healthy chat flagged or replaced by e-mail
    (broken,) = channel_problems(store)
    assert broken["channel"] == "zalo_bot" and "token" in broken["problem"]


def test_it_sends_a_stopped_channel_s_messages_once_its_token_works_again(store):
    revoked = TransportError("Zalo Bot: token không hợp lệ (401)", permanent=True, channel_wide=True)
    zalo = RecordingChannel(script=[revoked])
    queue(store, [note(1), note(2)], now=T0)

    deliver(store, {"zalo_bot": zalo}, now=lambda: T0)
    deliver(store, {"zalo_bot": zalo}, now=lambda: T0 + timedelta(minutes=30))

    assert states(store) == {"chat-1": "sent", "chat-2": "sent"}
    assert channel_problems(store) == []


def test_it_gives_every_attempt_at_one_message_the_same_key(store):
    zalo = RecordingChannel(script=[MAIL_DOWN])
    queue(store, [note(1), note(2)], now=T0)

    deliver(store, {"zalo_bot": zalo}, now=lambda: T0, backoff=NO_JITTER)
    deliver(store, {"zalo_bot": zalo}, now=lambda: T0 + timedelta(minutes=5), backoff=NO_JITTER)

    keys = [message.key for _, message in zalo.calls]
    assert zalo.addresses == ["chat-1", "chat-2", "chat-1"]
    assert keys[0] == keys[2] and keys[0] != keys[1] and all(keys)


def test_it_lists_a_message_no_channel_delivered_as_something_to_act_on(tmp_path, capsys):
    from cli.main import main

    store = Store(tmp_path / "state.db")
    queue(store, [replace(note(1, channel="email"), expires_at=T0 + timedelta(minutes=10))], now=T0)
    deliver(store, {"email": RecordingChannel("email", script=[MAIL_DOWN])}, now=lambda: T0)
    deliver(store, {"email": RecordingChannel("email")}, now=lambda: T0 + timedelta(minutes=11))
    store.close()

    assert main(["--home", str(tmp_path), "outbox"]) == 1
    listing = capsys.readouterr().out
    assert "Cần xử lý: tin #1 tới Đơn vị 1 (U1) (truoc-7) không gửi được qua kênh nào" in listing


@pytest.mark.parametrize(
    "stage, words",
    [
        ("truoc-7", "nhắc trước hạn 7 ngày"),
        ("han", "nhắc vào ngày hết hạn"),
        ("tre-2026-03-19", "nhắc quá hạn ngày 19/03/2026"),
        ("digest-2026-03-10", "bản tin tổng hợp ngày 10/03/2026"),
        ("thucong-20260310T081500", "nhắc thủ công lúc 08:15 10/03/2026"),
        ("thu-4f2a9c", "trả lời thư gửi báo cáo"),
        ("returned-2026-03-12T09:00:00+07:00", "thông báo trả lại báo cáo"),
        ("something-new", "something-new"),
    ],
)
def test_it_names_each_kind_of_message_in_words_for_the_coordinator(stage, words):
    from bot.messages.outbox import stage_label

    assert stage_label(stage) == words
