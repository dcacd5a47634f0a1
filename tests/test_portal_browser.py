"""End to end in a real browser (Debian's Chromium, headless, driven by Playwright): a unit
hands its report in through its link, a coordinator approves it and downloads the master.

No browser is downloaded: Playwright launches the system Chromium. Without it this test
fails (``.ci/run`` installs it), it is never skipped. Set PORTAL_SCREENSHOTS=1 to refresh
the screenshots under docs/ that the README shows.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import openpyxl
import pytest

from bot.intake.links import unit_token
from bot.outline.layout import build_layout
from tests.intake_helpers import MISTAKES, PERIOD, TWO_UNITS, fill, filled_report
from web.app import start_in_thread
from web.auth import set_password

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parent.parent / "docs"
PASSWORD = "mat-khau-dai-1"


@pytest.fixture
def portal(provisioned):
    ctx = provisioned(TWO_UNITS)
    set_password(ctx.store, "cchc", PASSWORD)
    server = start_in_thread(ctx.config.home, "127.0.0.1", 0)
    while not server.started:
        server.thread.join(0.05)
    yield ctx, f"http://127.0.0.1:{server.bound_port}"
    server.should_exit = True
    server.thread.join(10)


@pytest.fixture
def browser():
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium (.ci/run does)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def shot(page, name: str, tmp_path: Path) -> None:
    folder = DOCS if os.environ.get("PORTAL_SCREENSHOTS") else tmp_path
    page.screenshot(path=str(folder / name), full_page=True)


def download(page, link_text: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_text(link_text).click()
    return Path(info.value.path()).read_bytes()


def upload(page, tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.set_input_files("input[name=tep]", str(path))
    page.get_by_role("button", name="Gửi tệp và kiểm tra").click()
    page.wait_for_load_state()


def test_it_takes_a_report_from_a_units_link_to_the_coordinators_master(portal, browser, tmp_path):
    ctx, base = portal
    token = unit_token(ctx, "STP")
    layout = build_layout(ctx.schema, ctx.unit_by_code["STP"], ctx.period(PERIOD))

    clerk = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True, locale="vi-VN")
    page = clerk.new_page()
    page.goto(f"{base}/u/{token}")
    assert "Sở Tư pháp" in page.inner_text("h1")
    workbook = download(page, "Tải bảng tính về")
    upload(page, tmp_path, fill(ctx, workbook, filled_report(ctx, mistakes=True)), "STP-lan-1.xlsx")
    errors = page.locator("li.f-error").all_inner_texts()
    for key in MISTAKES:  # each planted mistake, shown with its cell in words and its address
        cell = f"'{layout.fields[key].tab}'!{layout.fields[key].a1}"
        assert any(cell in text and "Bảng" in text for text in errors), (key, errors)
    shot(page, "portal-unit.png", tmp_path)

    fixed = fill(ctx, download(page, "Tải bảng tính về"), filled_report(ctx))
    upload(page, tmp_path, fixed, "STP-lan-2.xlsx")
    assert page.locator("li.f-error").count() == 0
    page.get_by_role("button", name="Nộp báo cáo").click()
    assert "hợp lệ" in page.inner_text(".status")
    clerk.close()

    office = browser.new_context(
        viewport={"width": 1200, "height": 900}, accept_downloads=True, locale="vi-VN"
    )
    page = office.new_page()
    page.goto(f"{base}/")
    page.fill("input[name=name]", "cchc")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    row = page.locator("tr", has_text="Sở Tư pháp")
    assert "hợp lệ" in row.inner_text()
    shot(page, "portal-board.png", tmp_path)
    row.get_by_role("link").click()
    page.get_by_role("button", name="Duyệt báo cáo").click()
    assert "Đã duyệt báo cáo." in page.inner_text("main") and "đã duyệt" in page.inner_text(".status")
    shot(page, "portal-unit-coordinator.png", tmp_path)
    page.goto(f"{base}/ky/{PERIOD}")
    master = openpyxl.load_workbook(io.BytesIO(download(page, "Bảng tổng hợp (.xlsx)")))
    assert any(
        "Sở Tư pháp" in str(c.value) for ws in master.worksheets for row in ws.iter_rows() for c in row
    )
    office.close()
