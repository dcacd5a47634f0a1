"""Zalo Official Account channel, driven against a local fake of the OA and OAuth APIs."""

from __future__ import annotations

import logging

import pytest

from bot.messages.channels import Message, TransportError, build_channel
from bot.messages.channels.zalo_oa import ZaloOAChannel
from tests.fakes.zalo_oa import FakeZaloOA


class TokenStore:
    """Stands in for the SQLite row the caller keeps the token pair in."""

    def __init__(self, fake: FakeZaloOA):
        self.fake = fake
        self.saved: list[tuple[str, str]] = []
        self.sends_seen_when_saved: list[int] = []

    def __call__(self, access_token: str, refresh_token: str) -> None:
        self.saved.append((access_token, refresh_token))
        self.sends_seen_when_saved.append(self.fake.calls("cs"))


@pytest.fixture
def oa():
    with FakeZaloOA() as fake:
        yield fake


def channel_for(fake: FakeZaloOA, store=None, **overrides) -> ZaloOAChannel:
    settings = {
        "access_token": fake.access_token,
        "refresh_token": fake.refresh_token,
        "app_id": fake.app_id,
        "secret_key": fake.secret_key,
        "on_tokens": store or TokenStore(fake),
        "base_url": fake.base_url,
        "oauth_url": fake.oauth_url,
        **overrides,
    }
    return ZaloOAChannel(**settings)


def test_it_delivers_text_with_the_token_in_the_header(oa):
    message_id = channel_for(oa).send("2512475366345187654", Message("Đề nghị đơn vị bổ sung biểu 3."))

    request = oa.requests_to("cs")[0]
    assert request.json == {
        "recipient": {"user_id": "2512475366345187654"},
        "message": {"text": "Đề nghị đơn vị bổ sung biểu 3."},
    }
    assert request.headers["access_token"] == "oa-access-1"
    assert message_id == "oa-msg-1"


def test_it_is_built_from_the_registry_by_kind(oa):
    settings = {
        "access_token": oa.access_token,
        "refresh_token": oa.refresh_token,
        "app_id": oa.app_id,
        "secret_key": oa.secret_key,
        "on_tokens": TokenStore(oa),
        "base_url": oa.base_url,
    }

    build_channel("zalo_oa", settings).send("u1", Message("Xin chào"))

    assert oa.calls("cs") == 1


def test_it_splits_long_text_into_messages_under_2000_characters(oa):
    text = "\n".join(
        f"{i}. Xã {i} chưa cập nhật số hồ sơ tiếp nhận trực tuyến trong kỳ báo cáo." for i in range(120)
    )

    channel_for(oa).send("u1", Message(text))

    assert len(oa.texts()) > 1
    assert all(len(piece) <= 2000 for piece in oa.texts())
    assert "\n".join(oa.texts()) == text


@pytest.mark.parametrize("fault", ["token_invalid", "token_expired"])
def test_it_renews_a_rejected_token_once_saves_the_new_pair_first_then_resends(oa, fault):
    store = TokenStore(oa)
    channel = channel_for(oa, store)
    oa.fail_next(fault)

    message_id = channel.send("u1", Message("Nhắc hạn nộp báo cáo quý"))

    refresh = oa.requests_to("access_token")
    assert len(refresh) == 1
    assert refresh[0].form == {
        "refresh_token": "oa-refresh-1",
        "app_id": oa.app_id,
        "grant_type": "refresh_token",
    }
    assert refresh[0].headers["secret_key"] == oa.secret_key
    assert store.saved == [("oa-access-2", "oa-refresh-2")]
    assert store.sends_seen_when_saved == [1]  # saved before the resend went out
    assert [r.headers["access_token"] for r in oa.requests_to("cs")] == ["oa-access-1", "oa-access-2"]
    assert message_id == "oa-msg-1"


def test_it_keeps_using_the_renewed_token_without_refreshing_again(oa):
    channel = channel_for(oa)
    oa.fail_next("token_expired")
    channel.send("u1", Message("Lần một"))

    channel.send("u1", Message("Lần hai"))

    assert oa.calls("access_token") == 1
    assert oa.requests_to("cs")[-1].headers["access_token"] == "oa-access-2"


def test_it_takes_a_pair_another_process_renewed_instead_of_spending_its_own(oa):
    other = channel_for(oa)  # e.g. the chat bot, renewing first and saving the new pair
    oa.fail_next("token_expired")
    other.send("u1", Message("Lần một"))
    saved = {"access_token": oa.access_token, "refresh_token": oa.refresh_token}
    stale = channel_for(
        oa, access_token="oa-access-1", refresh_token="oa-refresh-1", load_tokens=lambda: saved
    )

    stale.send("u1", Message("Lần hai"))

    assert oa.calls("access_token") == 1  # the spent refresh token was never sent again
    assert oa.requests_to("cs")[-1].headers["access_token"] == saved["access_token"]


def test_it_gives_up_when_the_renewed_token_is_rejected_too(oa):
    oa.fail_next("token_invalid", times=2)

    with pytest.raises(TransportError) as caught:
        channel_for(oa).send("u1", Message("Xin chào"))

    assert caught.value.permanent is True
    assert oa.calls("access_token") == 1
    assert oa.calls("cs") == 2


def test_it_gives_up_when_the_refresh_token_was_already_spent(oa):
    store = TokenStore(oa)
    channel = channel_for(oa, store, access_token="oa-access-old", refresh_token="oa-refresh-old")

    with pytest.raises(TransportError) as caught:
        channel.send("u1", Message("Xin chào"))

    assert caught.value.permanent is True
    assert "cấp quyền lại" in caught.value.reason
    assert store.saved == []


def test_it_reports_a_user_out_of_the_messaging_window_as_permanent(oa):
    oa.fail_next("not_interacted")

    with pytest.raises(TransportError) as caught:
        channel_for(oa).send("u1", Message("Xin chào"))

    assert caught.value.permanent is True
    assert "-230" in caught.value.reason


def test_it_reports_server_errors_and_rate_limits_as_retryable(oa):
    oa.fail_next("server_error")
    oa.fail_next("rate_limit", retry_after=20)
    channel = channel_for(oa)

    with pytest.raises(TransportError) as server_error:
        channel.send("u1", Message("Xin chào"))
    with pytest.raises(TransportError) as rate_limit:
        channel.send("u1", Message("Xin chào"))

    assert server_error.value.permanent is False
    assert rate_limit.value.permanent is False
    assert rate_limit.value.retry_after == 20


def test_it_sends_a_note_instead_of_a_file(oa, tmp_path):
    export = tmp_path / "danh_sach_don_vi_cham.xlsx"
    export.write_bytes(b"PK\x03\x04")

    channel_for(oa).send("u1", Message("Danh sách đơn vị chậm nộp", attachment=export))

    assert oa.texts()[0] == "Danh sách đơn vị chậm nộp"
    assert "danh_sach_don_vi_cham.xlsx" in oa.texts()[1]


def test_it_never_shows_tokens_or_the_app_secret_in_errors_or_logs(oa, caplog):
    caplog.set_level(logging.DEBUG)
    oa.fail_next("token_invalid", times=2)
    with pytest.raises(TransportError) as after_refresh:
        channel_for(oa).send("u1", Message("Xin chào"))
    with pytest.raises(TransportError) as spent:
        channel_for(oa, access_token="stale-access-token", refresh_token="stale-refresh-token").send(
            "u1", Message("Xin chào")
        )

    errors = f"{after_refresh.value} {after_refresh.value!r} {spent.value} {spent.value!r}"
    for secret in (
        "oa-access-1",
        "oa-refresh-1",
        "oa-access-2",
        "oa-refresh-2",
        "OaAppSecretKey",
        "stale-access-token",
        "stale-refresh-token",
    ):
        assert secret not in errors
        assert secret not in caplog.text
