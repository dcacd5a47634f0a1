"""A workbook sent to the Zalo Official Account: the OA webhook's signed ``user_send_file`` event is
taken through ``submit`` and answered through the OA send API; an unsigned event, an unknown
user's file and a file over the limit are refused without downloading anything."""

from __future__ import annotations

import json

import pytest

from bot.context import open_context
from bot.intake.chat_files import NOT_REGISTERED_FILE
from bot.intake.download import download
from bot.messages.channels.zalo_oa import ZaloOAChannel
from bot.messages.chat import Jobs, zalo_oa_webhook
from jobs.provision import provision
from jobs.submit import submit
from tests.fakes.zalo_oa import FakeZaloOA
from tests.intake_helpers import PERIOD, TOTAL_KEY, cell_value, fill, filled_report

UNITS = (
    "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,vt@stp.example.vn,zalo_oa:4339761418830368433\n"
    "SNV,Sở Nội vụ,so_nganh,vt@snv.example.vn,\n"
)
UNIT_USER = "4339761418830368433"
COORDINATOR_USER = "5550001112223334445"


@pytest.fixture
def oa():
    with FakeZaloOA() as fake:
        yield fake


@pytest.fixture
def ctx(tmp_path, oa):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(UNITS, encoding="utf-8")
    coordinator = {"name": "Phòng CCHC", "chats": [f"zalo_oa:{COORDINATOR_USER}"]}
    (home / "config.json").write_text(
        json.dumps({"coordinators": [coordinator], "web": {"public_base_url": "https://baocao.example.vn"}})
    )
    ctx = open_context(home)
    provision(ctx, ctx.period(PERIOD))
    ctx.extras["channels"] = {"zalo_oa": channel_for(oa)}
    yield ctx
    ctx.close()


def channel_for(fake: FakeZaloOA) -> ZaloOAChannel:
    return ZaloOAChannel(
        access_token=fake.access_token,
        refresh_token=fake.refresh_token,
        app_id=fake.app_id,
        secret_key=fake.secret_key,
        oa_secret_key=fake.oa_secret_key,
        on_tokens=lambda access, refresh: None,
        base_url=fake.base_url,
        oauth_url=fake.oauth_url,
    )


def workbook(ctx, code: str = "STP") -> bytes:
    return fill(
        ctx, download(ctx, code, ctx.period(PERIOD))[0], filled_report(ctx, code, mistakes=True), code
    )


def post(ctx, oa, headers: dict[str, str], body: bytes) -> int:
    return zalo_oa_webhook(ctx, channel_for(oa), headers, body, jobs=Jobs(submit=submit))


def test_it_takes_a_registered_oa_users_workbook_and_answers_with_the_findings(ctx, oa):
    data = workbook(ctx)
    status = post(ctx, oa, *oa.file_event(UNIT_USER, oa.add_file(data), "Báo cáo quý 1.xlsx", len(data)))

    assert status == 200 and len(oa.downloads()) == 1
    (reply,) = oa.texts()
    assert [r.json["recipient"]["user_id"] for r in oa.requests_to("cs")] == [UNIT_USER]
    assert reply.startswith("Đã nhận tệp «Báo cáo quý 1.xlsx» của Sở Tư pháp (STP), kỳ 2026-Q1")
    assert "Mức độ hoàn thành:" in reply and "[Lỗi] Bảng" in reply
    assert cell_value(ctx, TOTAL_KEY) == 402
    (version,) = ctx.store.versions("STP", PERIOD)
    assert version["channel"] == "chat" and f"zalo_oa:{UNIT_USER}" in version["sender"]


def test_it_refuses_an_event_with_a_wrong_signature_before_reading_it(ctx, oa):
    data = workbook(ctx)
    headers, body = oa.file_event(UNIT_USER, oa.add_file(data), "STP.xlsx", len(data))
    forged = {**headers, "X-ZEvent-Signature": "0" * 64}

    assert post(ctx, oa, forged, body) == 403
    assert post(ctx, oa, {}, body) == 403
    assert post(ctx, oa, headers, body.replace(b"STP.xlsx", b"SNV.xlsx")) == 403  # tampered body
    assert oa.requests == [] and ctx.store.versions("STP", PERIOD) == []


def test_it_refuses_an_unregistered_users_file_without_downloading_it(ctx, oa):
    data = workbook(ctx)

    assert post(ctx, oa, *oa.file_event("999", oa.add_file(data), "STP.xlsx", len(data))) == 200

    assert oa.texts() == [NOT_REGISTERED_FILE] and oa.downloads() == []
    assert ctx.store.versions("STP", PERIOD) == []


def test_it_refuses_a_file_over_the_limit_from_its_declared_size_without_downloading(ctx, oa):
    url = oa.add_file(b"x" * 100)

    post(ctx, oa, *oa.file_event(UNIT_USER, url, "STP.xlsx", 25 * 1024 * 1024))

    (reply,) = oa.texts()
    assert "lớn hơn 10 MB" in reply and oa.downloads() == []


def test_it_stops_a_download_that_grows_past_the_limit_whatever_the_event_declared(ctx, oa):
    url = oa.add_file(b"x" * (10 * 1024 * 1024 + 1))

    post(ctx, oa, *oa.file_event(UNIT_USER, url, "STP.xlsx", 9999))

    (reply,) = oa.texts()
    assert "lớn hơn 10 MB" in reply and ctx.store.versions("STP", PERIOD) == []


def test_it_tells_the_sender_when_the_download_breaks_half_way_and_keeps_nothing(ctx, oa):
    data = workbook(ctx)

    post(ctx, oa, *oa.file_event(UNIT_USER, oa.add_file(data, cut=True), "STP.xlsx", len(data)))

    (reply,) = oa.texts()
    assert "Chưa tải được tệp «STP.xlsx»" in reply and "gửi lại" in reply
    assert ctx.store.versions("STP", PERIOD) == []


def test_it_asks_a_coordinator_which_unit_then_takes_the_file_on_nop(ctx, oa):
    data = workbook(ctx, code="SNV")
    url = oa.add_file(data)

    post(ctx, oa, *oa.file_event(COORDINATOR_USER, url, "snv.xlsx", len(data)))
    assert "là báo cáo của đơn vị nào" in oa.texts()[0] and oa.downloads() == []
    post(ctx, oa, *oa.text_event(COORDINATOR_USER, "/nop SNV"))

    assert oa.texts()[1].startswith("Đã nhận tệp «snv.xlsx» của Sở Nội vụ (SNV)")
    assert len(ctx.store.versions("SNV", PERIOD)) == 1


def test_it_serves_the_oa_webhook_on_the_portal_when_the_channel_is_configured(ctx, oa):
    from fastapi.testclient import TestClient

    from web.app import create_app

    config = json.loads((ctx.config.home / "config.json").read_text())
    config["channels"] = {
        "zalo_oa": {
            "access_token": oa.access_token,
            "refresh_token": oa.refresh_token,
            "app_id": oa.app_id,
            "app_secret": oa.secret_key,
            "oa_secret_key": oa.oa_secret_key,
            "base_url": oa.base_url,
            "oauth_url": oa.oauth_url,
        }
    }
    (ctx.config.home / "config.json").write_text(json.dumps(config))
    data = workbook(ctx)
    headers, body = oa.file_event(UNIT_USER, oa.add_file(data), "STP.xlsx", len(data))

    with TestClient(create_app(ctx.config.home)) as client:
        forged = client.post(
            "/zalo-oa/webhook", content=body, headers={**headers, "X-ZEvent-Signature": "f" * 64}
        )
        assert forged.status_code == 403 and oa.requests == []
        assert client.post("/zalo-oa/webhook", content=body, headers=headers).status_code == 200

    (reply,) = oa.texts()
    assert reply.startswith("Đã nhận tệp «STP.xlsx» của Sở Tư pháp (STP)")
    assert len(ctx.store.versions("STP", PERIOD)) == 1


def test_it_serves_no_oa_webhook_without_the_zalo_oa_channel(ctx):
    from fastapi.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(ctx.config.home)) as client:
        assert client.post("/zalo-oa/webhook", content=b"{}").status_code in (404, 405)
