"""The web portal's rules, at the HTTP level: links, accounts, CSRF, escaping, decisions."""

from __future__ import annotations

import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from bot.intake.links import token_hash, unit_token
from bot.messages.status import unit_status
from cli.main import main
from tests.helpers import PORTAL_PASSWORD as PASSWORD
from tests.helpers import csrf_of, log_in
from tests.intake_helpers import PERIOD, TWO_UNITS, fill
from web.app import create_app
from web.auth import set_password


@pytest.fixture
def ctx(provisioned):
    context = provisioned(TWO_UNITS)
    set_password(context.store, "cchc", PASSWORD)
    return context


@pytest.fixture
def client(ctx):
    with TestClient(create_app(ctx.config.home)) as c:
        yield c


def test_it_answers_a_wrong_or_rotated_link_with_the_same_404_as_any_unknown_page(ctx, client):
    old = unit_token(ctx, "STP")
    assert client.get(f"/u/{old}").status_code == 200
    unit_token(ctx, "STP", rotate=True)
    unknown = client.get("/khong-co-trang-nay")
    for url in (f"/u/{old}", f"/u/{old}/tai-ve", "/u/" + "A" * 43, "/u/x"):
        answer = client.get(url)
        assert answer.status_code == 404
        assert answer.text == unknown.text and "Sở Tư pháp" not in answer.text


def test_it_shows_a_unit_link_its_own_unit_and_nothing_else(ctx, client):
    token = unit_token(ctx, "STP")
    page = client.get(f"/u/{token}").text
    assert "Sở Tư pháp" in page and "Sở Nội vụ" not in page
    for url in (
        f"/ky/{PERIOD}",
        f"/ky/{PERIOD}/don-vi/SNV",
        "/hop-thu",
        f"/ky/{PERIOD}/tong-hop",
        f"/u/{token}/../SNV",
    ):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code in (303, 404) and "Sở Nội vụ" not in answer.text
        if answer.status_code == 303:
            assert answer.headers["location"] == "/dang-nhap"


def test_it_refuses_forms_posted_without_their_csrf_token(ctx, client):
    token = unit_token(ctx, "STP")
    data = fill(ctx, client.get(f"/u/{token}/tai-ve").content, {"i1_chi_dao": "Đã ban hành kế hoạch"})
    refused = client.post(f"/u/{token}/gui-tep", files={"tep": ("STP.xlsx", data)}, data={"ky": PERIOD})
    assert refused.status_code == 403 and ctx.store.versions("STP", PERIOD) == []
    assert client.post(f"/u/{token}/nop", data={"csrf": "sai"}).status_code == 403
    assert client.post("/dang-nhap", data={"name": "cchc", "password": PASSWORD}).status_code == 403
    log_in(client)
    decided = client.post(f"/ky/{PERIOD}/don-vi/STP/quyet-dinh", data={"action": "duyet"})
    assert decided.status_code == 403 and ctx.store.unit_state("STP", PERIOD) is None


def test_it_shows_a_filename_or_typed_text_holding_a_script_as_text(ctx, client):
    token = unit_token(ctx, "STP")
    page = client.get(f"/u/{token}").text
    evil = "<script>alert(1)</script>"
    data = fill(ctx, client.get(f"/u/{token}/tai-ve").content, {"i1_chi_dao": evil})
    answer = client.post(
        f"/u/{token}/gui-tep",
        files={"tep": (f"{evil}.xlsx", data)},
        data={"ky": PERIOD, "csrf": csrf_of(page)},
    )
    assert answer.status_code == 200 and "<script>" not in answer.text
    log_in(client)
    first = ctx.store.versions("STP", PERIOD)[0]["id"]
    data2 = fill(ctx, client.get(f"/u/{token}/tai-ve").content, {"i1_chi_dao": "Đã sửa"})
    client.post(
        f"/u/{token}/gui-tep", files={"tep": ("STP.xlsx", data2)}, data={"ky": PERIOD, "csrf": csrf_of(page)}
    )
    second = ctx.store.versions("STP", PERIOD)[-1]["id"]
    admin = client.get(f"/ky/{PERIOD}/don-vi/STP?a={first}&b={second}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin  # the file name and the old narrative, as text
    assert "<script>" not in admin


def test_it_limits_failed_logins(ctx, client):
    for _ in range(5):
        assert log_in(client, password="sai-mat-khau").status_code == 401
    assert log_in(client).status_code == 429  # even the right password, until the window passes


def test_it_keeps_the_session_in_an_httponly_samesite_cookie(client):
    answer = log_in(client)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get(f"/ky/{PERIOD}").status_code == 200


def test_it_adds_a_coordinator_with_the_password_read_from_standard_input(ctx, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("mot-mat-khau-moi\n"))
    assert main(["--home", str(ctx.config.home), "user", "add", "phong_cchc"]) == 0
    stored = ctx.store.user("phong_cchc")["password_hash"]
    assert stored.startswith("$argon2id$") and "mot-mat-khau-moi" not in stored
    monkeypatch.setattr("sys.stdin", io.StringIO("ngan\n"))
    assert main(["--home", str(ctx.config.home), "user", "add", "x"]) == 2


def test_it_prints_a_personal_link_stored_only_as_a_hash(ctx, capsys):
    home = str(ctx.config.home)
    assert main(["--home", home, "link", "--unit", "STP"]) == 0
    url = capsys.readouterr().out.strip().splitlines()[-1]
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 22 and len(set(token)) > 10  # 256 bits, base64url
    rows = [tuple(r) for r in ctx.store.conn.execute("SELECT * FROM unit_links")]
    assert token not in json.dumps(rows) and token_hash(token) in json.dumps(rows)
    main(["--home", home, "link", "--unit", "STP"])
    assert capsys.readouterr().out.strip() == url  # the same link until rotated
    main(["--home", home, "link", "--unit", "STP", "--rotate"])
    assert url not in capsys.readouterr().out


def test_it_puts_the_portal_link_in_reminders_when_the_portal_is_configured(ctx):
    (ctx.config.home / "config.json").write_text(
        json.dumps({"web": {"public_base_url": "https://baocao.example.vn"}})
    )
    from bot.context import open_context

    configured = open_context(ctx.config.home)
    try:
        url = unit_status(configured, configured.period(PERIOD), configured.unit_by_code["STP"]).sheet_url
    finally:
        configured.close()
    assert url.startswith("https://baocao.example.vn/u/") and url.endswith(f"?ky={PERIOD}")


def test_it_approves_from_the_unit_page_with_the_same_message_as_the_command_line(ctx, client):
    log_in(client)
    page = client.get(f"/ky/{PERIOD}/don-vi/STP").text
    answer = client.post(
        f"/ky/{PERIOD}/don-vi/STP/quyet-dinh", data={"action": "duyet", "csrf": csrf_of(page)}
    )
    assert answer.status_code == 200 and "Đã duyệt báo cáo." in answer.text
    assert ctx.store.unit_state("STP", PERIOD)["approval"] == "approved"
    log = (ctx.config.outbox_dir / "messages.log").read_text(encoding="utf-8")
    assert "đã được cơ quan tổng hợp duyệt" in log


def test_it_sends_a_reminder_now(ctx, client):
    log_in(client)
    page = client.get(f"/ky/{PERIOD}/don-vi/STP").text
    client.post(f"/ky/{PERIOD}/don-vi/STP/quyet-dinh", data={"action": "nhac", "csrf": csrf_of(page)})
    log = (ctx.config.outbox_dir / "messages.log").read_text(encoding="utf-8")
    assert "Kính gửi Sở Tư pháp" in log


def test_it_filters_the_board_by_state_and_kind(ctx, client):
    log_in(client)
    everyone = client.get(f"/ky/{PERIOD}").text
    assert "Sở Tư pháp" in everyone and "Sở Nội vụ" in everyone
    assert "Sở Tư pháp" not in client.get(f"/ky/{PERIOD}?trang_thai=hop_le").text.split("<tbody>")[1]
    assert "Sở Tư pháp" not in client.get(f"/ky/{PERIOD}?loai=huyen").text.split("<tbody>")[1]


def test_it_tells_after_the_demo_how_to_open_the_portal_with_a_working_unit_link(ctx, client, capsys):
    from cli.commands.demo import _portal_hint

    _portal_hint(ctx.config.home)
    out = capsys.readouterr().out
    assert "user add cchc" in out and " web" in out
    link = re.search(r"http://127\.0\.0\.1:8080(/u/\S+)", out).group(1)
    assert "Sở Tư pháp" in client.get(link).text


def test_it_gives_a_chat_that_registers_the_units_portal_link(ctx):
    from bot.context import open_context
    from bot.messages.chat import handle
    from bot.messages.registration import issue_code

    (ctx.config.home / "config.json").write_text(
        json.dumps({"web": {"public_base_url": "https://baocao.example.vn"}})
    )
    configured = open_context(ctx.config.home)
    try:
        code = issue_code(configured.store, "STP").code
        reply = "\n".join(handle(configured, "zalo_bot", "777", f"/dangky STP {code}"))
    finally:
        configured.close()
    assert "Đã liên kết chat này với Sở Tư pháp" in reply
    assert "https://baocao.example.vn/u/" in reply


def test_it_explains_why_a_return_without_a_comment_is_refused(ctx, client):
    log_in(client)
    page = client.get(f"/ky/{PERIOD}/don-vi/STP").text
    answer = client.post(
        f"/ky/{PERIOD}/don-vi/STP/quyet-dinh",
        data={"action": "tra-lai", "comment": " ", "csrf": csrf_of(page)},
    )
    assert answer.status_code == 422 and "cần ghi rõ lý do" in answer.text
    assert ctx.store.unit_state("STP", PERIOD) is None


def test_it_shows_the_outbox_pending_and_failed_messages_and_contacts_to_fix(ctx, client):
    from bot import clock
    from bot.messages.outbox import Outgoing, flag_problem, queue

    queue(
        ctx.store,
        [Outgoing("STP", "Sở Tư pháp", PERIOD, "t-7", "zalo_bot", "111", "Nhắc hạn", None, None, ())],
    )
    with ctx.store.transaction():
        flag_problem(ctx.store, "telegram", "999", "Sở Nội vụ", "Người dùng đã chặn bot", clock.now())
    log_in(client)
    page = client.get("/hop-thu").text
    assert "chờ gửi" in page and "Sở Tư pháp" in page
    assert "Người dùng đã chặn bot" in page and "Sở Nội vụ" in page


def test_it_lists_the_addresses_google_drive_refused_to_share_with_until_they_are_fixed(ctx, client):
    ctx.store.set_sharing_problems("STP", PERIOD, {"ai@ngoai-mien.example": "Không có tài khoản Google"})
    log_in(client)
    page = client.get("/hop-thu").text
    assert "ai@ngoai-mien.example" in page and "Không có tài khoản Google" in page and "Sở Tư pháp" in page
    ctx.store.set_sharing_problems("STP", PERIOD, {})
    assert "ai@ngoai-mien.example" not in client.get("/hop-thu").text


def test_it_serves_the_master_and_every_export_to_a_coordinator(ctx, client):
    from jobs.poll import poll

    poll(ctx, ctx.period(PERIOD))
    log_in(client)
    master = client.get(f"/ky/{PERIOD}/tong-hop")
    assert master.status_code == 200 and master.content[:2] == b"PK"
    for fmt, magic in (("xlsx", b"PK"), ("csv", b"PK"), ("docx", b"PK"), ("json", b"{")):
        answer = client.get(f"/ky/{PERIOD}/xuat/{fmt}")
        assert answer.status_code == 200 and answer.content.lstrip()[:1] == magic[:1], fmt
