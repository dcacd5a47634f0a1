"""The demo: a whole period through the real jobs, as a newcomer sees it."""

from __future__ import annotations

import openpyxl
import pytest

from bot.context import open_context
from bot.outline.layout import COVER_TAB
from jobs.demo import MARKER, PERIOD, prepare_home, run_demo
from tests.helpers import REPO

UNITS = 10  # one of each persona, as the sample list cycles through them


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    lines = (REPO / "examples" / "units.csv").read_text(encoding="utf-8").splitlines()
    units_csv = root / "units.csv"
    units_csv.write_text("\n".join(lines[: UNITS + 1]) + "\n", encoding="utf-8")
    printed = []
    results = run_demo(root / "home", out=printed.append, units_csv=units_csv)
    return root / "home", results, printed


def test_it_prints_the_period_day_by_day_in_vietnamese(demo):
    _, _, printed = demo
    days = [line for line in printed if line.startswith(("Thứ", "Chủ nhật"))]
    assert len(days) == 14
    assert "hợp lệ" in days[-1] and "đã duyệt" in days[-1]


def test_it_ends_with_approved_valid_and_missing_reports(demo):
    home, _, _ = demo
    ctx = open_context(home)
    states = {r["unit"]: r["state"] for r in ctx.store.unit_states(PERIOD)}
    assert len(states) == UNITS
    assert {"da_duyet", "hop_le", "chua_mo"} <= set(states.values())


def test_it_has_some_clerks_hand_their_workbook_in_by_telegram_and_by_email(demo):
    home, _, printed = demo
    ctx = open_context(home)
    handed = {
        row["unit"]: row["channel"] for row in ctx.store.conn.execute("SELECT unit, channel FROM versions")
    }
    assert handed == {"SNV": "chat", "STC": "email"}  # a Telegram chat in units.csv, and a unit on Zalo OA
    assert "SNV qua Telegram, STC qua e-mail" in printed[-1] and "mô phỏng" in printed[-1]
    assert {"hop_le", "da_duyet"} & {ctx.store.unit_state(code, PERIOD)["state"] for code in handed}


def test_it_sends_reminders_and_digests_to_the_message_log(demo):
    home, results, _ = demo
    log = (home / "outbox" / "messages.log").read_text(encoding="utf-8")
    assert "Kính gửi" in log and "Quý I năm 2026" in log and "18/03/2026" in log


def test_it_leaves_no_message_undelivered_not_even_the_answer_to_an_emailed_workbook(demo):
    home, _, _ = demo
    ctx = open_context(home)
    states = {row["state"] for row in ctx.store.conn.execute("SELECT state FROM outbox")}
    assert states == {"sent"}
    log = (home / "outbox" / "messages.log").read_text(encoding="utf-8")
    assert "Re: Báo cáo của đơn vị STC" in log


def test_it_leaves_a_master_sheet_an_xlsx_export_and_a_word_report(demo):
    home, results, _ = demo
    assert results["master"] and results["master"].endswith("_master.xlsx")
    assert {p.rsplit(".", 1)[1] for p in results["exports"]} == {"xlsx", "docx"}
    master = openpyxl.load_workbook(results["master"].removeprefix("file://"), read_only=True)
    assert len(master.sheetnames) > 17


def test_it_locks_an_approved_workbook_for_its_unit(demo):
    home, _, _ = demo
    ctx = open_context(home)
    approved = next(r["unit"] for r in ctx.store.unit_states(PERIOD) if r["state"] == "da_duyet")
    wb = openpyxl.load_workbook(ctx.store.sheet(approved, PERIOD).sheet_id)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.protection.locked for c in cells)
    assert any(c.value == "đã duyệt" for c in wb[COVER_TAB]["B"])


def test_it_refuses_to_wipe_a_folder_it_did_not_create(tmp_path):
    (tmp_path / "notes.txt").write_text("của tôi", encoding="utf-8")
    with pytest.raises(FileExistsError):
        prepare_home(tmp_path)
    assert (tmp_path / "notes.txt").exists() and not (tmp_path / MARKER).exists()
