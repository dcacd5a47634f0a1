"""The demo: one reporting period carried by the real jobs over two simulated weeks.

Units are simulated as people typing into their workbooks (openpyxl, the way a spreadsheet
program saves them): some fill correctly, some make mistakes and fix them after reading the
"Kiểm tra" tab, some finish late, some never start; a few hand a filled copy in by Telegram or
e-mail instead (simulated in-process, see ``jobs/demo_handins.py``). Everything else — provisioning, polling,
checking, feedback, reminders, the digest, approval, the master sheet and the Word report —
runs through the same code as the scheduler (``jobs.scheduler.run_due``) on a simulated clock.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot import clock
from bot.config import REPO
from bot.context import Context, open_context
from bot.outline.layout import build_layout
from bot.sheets.backends.base import SheetRef, field_edits

PERIOD = "2026-Q1"
FIRST_DAY = date(2026, 3, 6)
DEADLINE = date(2026, 3, 18)
LAST_DAY = date(2026, 3, 19)  # two weeks: the deadline, then the coordinator's review
MARKER = ".demo-home"


@dataclass(frozen=True)
class Persona:
    """What one simulated unit does, by day of the demo (0 = the first day)."""

    kind: str  # careful, careless, late, forgetful, silent
    start: int  # the day it types its figures
    submit: int | None  # the day it sets "Đã nộp" (None: never)
    fix: int | None = None  # careless: the day it corrects its mistakes


def personas(codes: list[str]) -> dict[str, Persona]:
    """A deterministic mix, like a real province: most careful, some careless, a few silent."""
    plan = {}
    for i, code in enumerate(codes):
        slot = i % 10
        if slot < 4:
            plan[code] = Persona("careful", 1 + slot, 3 + slot)
        elif slot < 6:
            plan[code] = Persona("careless", 2 + slot % 3, 3 + slot % 3, fix=7 + slot % 2)
        elif slot < 8:
            plan[code] = Persona("late", 6, 12 + slot % 2)  # on the deadline, or a day late
        elif slot == 8:
            plan[code] = Persona("forgetful", 4, 11)
        else:
            plan[code] = Persona("silent", 99, None)
    return plan


MISTAKES = {  # what a careless clerk gets wrong first (fixed after reading the "Kiểm tra" tab)
    "t_van_ban_dien_tu/don_vi[1]/vb_tong": 402,  # ≠ sent + received (420)
    "t_tinh_gian/vien_chuc/phe_duyet": 5,  # more approved than proposed (4)
    "t_chu_ky_so/lanh_dao_ky_so/ty_le": "120",  # a percentage over 100
    "t_kiem_tra_ra_soat/kiem_tra/so_vb": "1.234,5",  # a decimal comma in a count
}


def prepare_home(home: Path, units_csv: Path | None = None) -> None:
    """A fresh home folder: refuse to wipe anything the demo did not create itself."""
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise FileExistsError(
                f"Thư mục {home} đã có dữ liệu không phải của bản chạy thử; hãy chọn thư mục khác (--dir)."
            )
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("Thư mục do `python -m bot demo` tạo; có thể xóa.\n", encoding="utf-8")
    shutil.copy(units_csv or REPO / "examples" / "units.csv", home / "units.csv")
    config = {
        "periods": {PERIOD: {"opens": FIRST_DAY.isoformat(), "deadline": DEADLINE.isoformat()}},
        "coordinators": [
            {
                "name": "Phòng CCHC, Sở Nội vụ",
                "emails": ["cchc@snv.tinh.example.vn"],
                "chats": ["zalo:900001"],
            }
        ],
    }
    (home / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


def correct_values(ctx: Context, code: str, factor: int) -> dict:
    """The sample report scaled for one unit, keeping only the fields its workbook asks for."""
    sample = json.loads((REPO / "examples" / "demo_report.json").read_text(encoding="utf-8"))["values"]
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD))
    values = {}
    for key, value in sample.items():
        spec = layout.fields.get(key)
        if spec is None or not spec.input:
            continue
        scaled = isinstance(value, int) and not isinstance(value, bool) and spec.type == "count"
        values[key] = value * factor if scaled else value
    return values


def type_into_workbook(ctx: Context, code: str, values: dict) -> None:
    """A clerk typing and saving (what Excel or LibreOffice would write into the file)."""
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD))
    record = ctx.store.sheet(code, PERIOD)
    # the same writer as the bot's (part level, openpyxl where unsure): the demo measures the bot
    ctx.backend.write(SheetRef(record.sheet_id, record.url), field_edits(layout, values))


def unit_activity(ctx: Context, day: int, plan: dict[str, Persona]) -> list[str]:
    """What the simulated units do on ``day``; returns Vietnamese lines for the log. A few careful
    clerks hand their workbook in as a file, by Telegram or e-mail, simulated in-process."""
    from jobs.demo_handins import hand_in

    done = []
    for i, (code, p) in enumerate(plan.items()):
        if ctx.store.sheet(code, PERIOD) is None:
            continue
        factor = 1 + i % 4
        if day == p.start:
            values = correct_values(ctx, code, factor)
            if p.kind == "careless":
                values.update({k: v for k, v in MISTAKES.items() if k in values})
            if p.kind == "late":
                values = dict(list(values.items())[: len(values) // 2])
            way = hand_in(ctx, code, PERIOD, values) if p.kind == "careful" and i % 4 in (1, 2) else ""
            if way:  # a filled copy sent by chat or e-mail, through submit
                done.append(f"{code} gửi tệp báo cáo qua {way}")
            else:
                type_into_workbook(ctx, code, values)
                done.append(f"{code} nhập số liệu" + (" (có sai sót)" if p.kind == "careless" else ""))
        if p.kind == "late" and day == p.submit - 1:
            type_into_workbook(ctx, code, correct_values(ctx, code, factor))
            done.append(f"{code} nhập nốt số liệu")
        if p.fix is not None and day == p.fix:
            correct = correct_values(ctx, code, factor)
            type_into_workbook(ctx, code, {k: correct[k] for k in MISTAKES if k in correct})
            done.append(f"{code} sửa lỗi theo trang Kiểm tra")
        if p.submit is not None and day == p.submit:
            type_into_workbook(ctx, code, {"_cover/status": "Đã nộp"})
            done.append(f'{code} chọn "Đã nộp"')
        state = ctx.store.unit_state(code, PERIOD)
        if state and state["state"] == "tra_lai":
            narrative = "i1_chi_dao"
            type_into_workbook(
                ctx,
                code,
                {narrative: correct_values(ctx, code, factor)[narrative] + " Đã bổ sung văn bản chứng minh."},
            )
            done.append(f"{code} bổ sung theo ý kiến trả lại")
    return done


def run_demo(home: Path, out=print, units_csv: Path | None = None) -> dict:
    """Run the whole period; returns where the results are."""
    from jobs.scheduler import default_jobs, run_due

    prepare_home(home, units_csv)
    ctx = open_context(home)
    jobs = default_jobs(ctx)
    plan = personas([u.code for u in ctx.units])
    day = FIRST_DAY
    while day <= LAST_DAY:
        n = (day - FIRST_DAY).days
        for hour in (8, 10, 16, 22):
            moment = datetime.combine(day, time(hour, 5), clock.TZ)
            with clock.simulate(moment):
                if hour == 10:
                    activity = unit_activity(ctx, n, plan)
                    continue
                run_due(ctx, jobs, moment)
                if hour == 8 and day == DEADLINE + timedelta(days=1):
                    _coordinator_reviews(ctx)
        _print_day(ctx, day, activity, out)
        day += timedelta(days=1)
    return _results(ctx, out)


def _coordinator_reviews(ctx: Context) -> None:
    """The morning after the deadline: approve every valid report, return one with a comment."""
    from jobs.approve import decide_many

    valid = [r["unit"] for r in ctx.store.unit_states(PERIOD) if r["state"] == "hop_le"]
    decisions = [(code, "approved", None) for code in valid[1:]]
    if valid:
        decisions.append((valid[0], "returned", "Đề nghị bổ sung văn bản chứng minh tại Bảng 3"))
    decide_many(ctx, ctx.period(PERIOD), decisions)


STATE_NAMES = {
    "chua_mo": "chưa mở",
    "dang_nhap": "đang nhập",
    "da_nop": "đã nộp",
    "da_nop_con_loi": "còn lỗi",
    "hop_le": "hợp lệ",
    "da_duyet": "đã duyệt",
    "tra_lai": "trả lại",
}


def _print_day(ctx: Context, day: date, activity: list[str], out) -> None:
    weekday = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"][day.weekday()]
    states = Counter(r["state"] for r in ctx.store.unit_states(PERIOD))
    counts = ", ".join(f"{STATE_NAMES[s]} {states[s]}" for s in STATE_NAMES if states[s])
    messages = _messages_on(ctx, day)
    out(
        f"{weekday} {day:%d/%m/%Y}: {len(activity)} đơn vị thao tác; {counts or 'chưa kiểm tra'}; {messages} tin nhắn"
    )


def _messages_on(ctx: Context, day: date) -> int:
    try:
        stamps = ctx.store.message_times()
    except Exception:  # the outbox table comes with the messaging migration
        return 0
    return sum(1 for stamp in stamps if str(stamp).startswith(day.isoformat()))


def _results(ctx: Context, out) -> dict:
    from bot.reporting.gather import export_files

    with clock.simulate(datetime.combine(LAST_DAY, time(22, 30), clock.TZ)):
        export_files(ctx, ctx.period(PERIOD))  # the coordinator's xlsx and Word report
    home = ctx.config.home
    exports = (
        sorted(p for p in (home / "exports").rglob("*") if p.is_file()) if (home / "exports").exists() else []
    )
    results = {
        "workbooks": str(ctx.config.sheets_dir / PERIOD),
        "master": next((r.url for r in ctx.store.sheets(PERIOD) if r.unit == "_master"), None),
        "exports": [str(p) for p in exports],
        "messages": str(ctx.config.outbox_dir / "messages.log"),
    }
    out("")
    out(f"Bảng tính của các đơn vị: {results['workbooks']}")
    if results["master"]:
        out(f"Bảng tổng hợp: {results['master']}")
    for path in results["exports"]:
        out(f"Tệp xuất: {path}")
    out(f"Tin nhắn đã gửi (kênh mặc định, ghi ra tệp): {results['messages']}")
    from jobs.demo_handins import handed_in_line

    out(handed_in_line(ctx))
    return results
