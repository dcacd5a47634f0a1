"""Google Forms intake: a form's answers written into each unit's own spreadsheet.

Some offices collect the narrative parts of the report ("Nội dung …") with a Google Form. The
form's responses land in a linked spreadsheet (one row per answer, the first column is the
timestamp, row 1 holds the questions). The coordinator shares that spreadsheet with the bot
(read access is enough) and describes it in ``<home>/google_forms.json``::

    {"forms": [{
        "response_spreadsheet_id": "1AbC…",
        "tab": "Câu trả lời biểu mẫu 1",            # "Form Responses 1" on an English account
        "unit_question": "Mã đơn vị",                # the question holding the unit code (or name)
        "fields": {"Kết quả chỉ đạo, điều hành": "i1_chi_dao",          # question → field key
                   "Số văn bản gửi điện tử": "t_van_ban_dien_tu/don_vi[1]/vb_gui"},
        "period_question": "Kỳ báo cáo"             # optional: answers naming another period are skipped
    }]}

A target is a narrative id or a table field key; only fields the template marks as input are
ever written.

Each poll, :func:`intake_forms` reads the whole response tab in ONE ``values.get``, keeps the
latest answer of each unit that was not applied yet, and writes it into that unit's
spreadsheet in ONE write, at the cells where the fields are now (rows the unit inserted are
followed, from the last poll's snapshot).

Policy for a field that already has a value in the unit's spreadsheet: the form's answer
replaces it only when it was submitted after the spreadsheet's last change seen by the poll
(the snapshot's change time); otherwise the unit's value is kept and a warning says so. The
change time is per spreadsheet, not per cell, so the rule is conservative: an answer never
replaces anything typed after it. An empty answer never clears a cell.

An answer is applied once: it is recorded (``form_responses``, migration 0004) with a hash of
its row, and its unit's older unapplied answers are recorded as superseded. An answer whose
unit code matches no unit is reported as a warning at every poll (not recorded, not dropped)
until the code is corrected in the response sheet. Timestamps are read as serial numbers in
the response spreadsheet's time zone, taken to be Vietnam's.

Wiring (in jobs/poll.py, after the spreadsheets were read so snapshots are fresh)::

    from bot.intake.google_forms import intake_forms, load_form_settings
    forms = load_form_settings(ctx.config.home)
    if forms:
        result.forms = intake_forms(ctx, period, forms)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot import clock
from bot.checks.reading import read_report
from bot.checks.report import Finding, Report, report_from_json
from bot.config import ConfigError
from bot.outline.layout import FieldSpec, WorkbookLayout, build_layout
from bot.outline.periods import Period
from bot.sheets.backends.base import BackendError, SetCells, SheetRef
from bot.sheets.document import normalise
from bot.sheets.values import parse_cell

SETTINGS_FILE = "google_forms.json"
DEFAULT_TAB = "Câu trả lời biểu mẫu 1"
SERIAL_EPOCH = datetime(1899, 12, 30, tzinfo=clock.TZ)
TIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


class FormsConfigError(ConfigError):
    """The forms settings cannot be used as written."""


@dataclass(frozen=True)
class FormSettings:
    response_spreadsheet_id: str
    unit_question: str
    fields: dict[str, str]  # question header → field key
    tab: str = DEFAULT_TAB
    period_question: str | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str = SETTINGS_FILE) -> FormSettings:
        if not isinstance(data, dict):
            raise FormsConfigError(f"{where}: mỗi biểu mẫu phải là một đối tượng JSON.")
        missing = [k for k in ("response_spreadsheet_id", "unit_question", "fields") if not data.get(k)]
        if missing:
            raise FormsConfigError(
                f"{where}: thiếu {', '.join(missing)} (mã bảng câu trả lời, câu hỏi mã đơn vị, "
                "và các câu hỏi → trường báo cáo)."
            )
        unknown = set(data) - {"response_spreadsheet_id", "unit_question", "fields", "tab", "period_question"}
        if unknown:
            raise FormsConfigError(f"{where}: không hiểu mục {', '.join(sorted(unknown))}.")
        if not isinstance(data["fields"], dict) or not all(
            isinstance(v, str) for v in data["fields"].values()
        ):
            raise FormsConfigError(f"{where}: 'fields' phải ánh xạ tiêu đề câu hỏi → mã trường (chuỗi).")
        return cls(
            str(data["response_spreadsheet_id"]),
            str(data["unit_question"]),
            dict(data["fields"]),
            str(data.get("tab") or DEFAULT_TAB),
            data.get("period_question"),
        )


def load_form_settings(home: str | Path) -> list[FormSettings]:
    """The forms described in ``<home>/google_forms.json``; none when the file does not exist."""
    path = Path(home) / SETTINGS_FILE
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FormsConfigError(
            f"{path}: dòng {e.lineno}, cột {e.colno}: JSON sai cú pháp ({e.msg})"
        ) from None
    forms = data.get("forms") if isinstance(data, dict) else None
    if not isinstance(forms, list):
        raise FormsConfigError(f'{path}: cần {{"forms": [ … ]}}.')
    return [FormSettings.from_dict(f, f"{path} (biểu mẫu {i})") for i, f in enumerate(forms, start=1)]


@dataclass
class FormsResult:
    applied: dict[str, list[str]] = field(default_factory=dict)  # unit → field keys written
    findings: list[Finding] = field(default_factory=list)  # warnings for coordinators (unit "*" if unknown)
    failed: dict[str, str] = field(default_factory=dict)  # unit or form id → why (retried next poll)
    reads: int = 0  # response sheets read


@dataclass(frozen=True)
class Answer:
    row: int  # row in the response sheet (1 = the questions)
    submitted_at: datetime
    unit_text: str
    values: dict[str, object]  # field key → answer (non-empty only)
    key: str  # identity: hash of the row's content


def intake_forms(ctx, period: Period, forms: list[FormSettings]) -> FormsResult:
    """Apply every form's new answers to the units' spreadsheets of ``period``."""
    result = FormsResult()
    for form in forms:
        _intake(ctx, period, form, result)
    return result


def _intake(ctx, period: Period, form: FormSettings, result: FormsResult) -> None:
    read_range = getattr(ctx.backend, "read_range", None)
    if read_range is None:
        raise FormsConfigError(
            'Nhận câu trả lời Google Forms cần backend \'google\' (config.json: "backend": "google").'
        )
    try:
        rows = read_range(form.response_spreadsheet_id, "'" + form.tab.replace("'", "''") + "'")
    except BackendError as e:
        result.failed[form.response_spreadsheet_id] = f"Không đọc được bảng câu trả lời của biểu mẫu: {e}"
        return
    result.reads += 1
    answers = _answers(rows, form, period, result)
    done = _processed(ctx.store, form.response_spreadsheet_id, period.id)
    by_unit: dict[str, list[Answer]] = {}
    for answer in answers:
        code = _unit_code(ctx, answer.unit_text)
        if code is None:
            result.findings.append(_unknown_unit(answer))
        else:
            by_unit.setdefault(code, []).append(answer)
    for code, mine in by_unit.items():
        latest = max(mine, key=lambda a: (a.submitted_at, a.row))
        pending = [a for a in mine if a.key not in done]
        if not pending:
            continue
        if latest.key in done:
            _record(ctx.store, form, period, code, [], pending, [])
            continue
        _apply(ctx, period, form, code, latest, pending, result)


# --- reading the responses ------------------------------------------------------------------------


def _answers(rows: list[list], form: FormSettings, period: Period, result: FormsResult) -> list[Answer]:
    if not rows:
        return []
    header = {normalise(text): i for i, text in enumerate(rows[0]) if normalise(text)}
    unit_col = header.get(normalise(form.unit_question))
    if unit_col is None:
        raise FormsConfigError(
            f'Bảng câu trả lời không có câu hỏi "{form.unit_question}" (unit_question trong {SETTINGS_FILE}).'
        )
    columns = {}
    for question, key in form.fields.items():
        if normalise(question) in header:
            columns[key] = header[normalise(question)]
        else:
            result.findings.append(
                Finding(
                    "*",
                    "form_question",
                    "warning",
                    f'Biểu mẫu không còn câu hỏi "{question}" (đã đổi tên?); trường {key} không được nhận.',
                )
            )
    period_col = header.get(normalise(form.period_question)) if form.period_question else None
    wanted = {normalise(period.id), normalise(period.label)}
    answers = []
    for number, row in enumerate(rows[1:], start=2):
        cells = list(row) + [""] * (len(rows[0]) - len(row))
        if not any(str(c).strip() for c in cells):
            continue
        if period_col is not None and normalise(cells[period_col]) not in wanted:
            continue
        moment = _timestamp(cells[0])
        if moment is None:
            result.findings.append(
                Finding(
                    "*",
                    "form_time",
                    "warning",
                    f"Dòng {number} của bảng câu trả lời không có dấu thời gian đọc được; dòng này bị bỏ qua.",
                )
            )
            continue
        values = {key: cells[col] for key, col in columns.items() if str(cells[col]).strip()}
        digest = hashlib.sha256(
            json.dumps(cells, ensure_ascii=False, default=str).encode("utf-8")
        ).hexdigest()
        answers.append(Answer(number, moment, str(cells[unit_col]).strip(), values, digest))
    return answers


def _timestamp(raw) -> datetime | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return SERIAL_EPOCH + timedelta(days=float(raw))
    text = str(raw).strip()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=clock.TZ)
        except ValueError:
            continue
    return None


def _unit_code(ctx, text: str) -> str | None:
    """A unit's code from what the form holds: its code, "CODE - name", or its name."""
    wanted = normalise(text)
    for unit in ctx.units:
        code = normalise(unit.code)
        if (
            wanted in (code, normalise(unit.name))
            or wanted.startswith(code + " -")
            or wanted.startswith(code + " –")
        ):
            return unit.code
    return None


def _unknown_unit(answer: Answer) -> Finding:
    return Finding(
        "*",
        "form_unknown_unit",
        "warning",
        f"Câu trả lời biểu mẫu ở dòng {answer.row} (gửi lúc {answer.submitted_at:%H:%M %d/%m/%Y}) ghi đơn vị "
        f'"{answer.unit_text}", không có trong danh sách đơn vị; câu trả lời chưa được áp dụng. '
        "Hãy sửa mã đơn vị trong bảng câu trả lời.",
        values=(("row", answer.row), ("unit", answer.unit_text)),
    )


# --- writing into a unit's spreadsheet ------------------------------------------------------------


def _apply(
    ctx,
    period: Period,
    form: FormSettings,
    code: str,
    answer: Answer,
    pending: list[Answer],
    result: FormsResult,
) -> None:
    record = ctx.store.sheet(code, period.id)
    if record is None or record.status != "ready":
        result.failed[code] = (
            f"Đơn vị {code} chưa có bảng tính kỳ {period.id}; câu trả lời biểu mẫu sẽ được ghi sau khi tạo."
        )
        return
    ref = SheetRef(record.sheet_id, record.url)
    unit = ctx.unit_by_code[code]
    layout = build_layout(ctx.schema, unit, period)
    try:
        report, changed_at = _current(ctx, period, layout, ref, unit)
        cells, written, kept = _cells_to_write(ctx.schema, layout, report, changed_at, answer)
        if cells:
            ctx.backend.write(ref, [SetCells(tab, values) for tab, values in cells.items()])
    except BackendError as e:
        result.failed[code] = f"Chưa ghi được câu trả lời biểu mẫu vào bảng tính của {code}: {e}"
        return
    result.findings += [_kept_warning(code, layout, key, answer) for key in kept]
    if written:
        result.applied[code] = written
    _record(ctx.store, form, period, code, [answer], [a for a in pending if a.key != answer.key], written)


def _current(
    ctx, period: Period, layout: WorkbookLayout, ref: SheetRef, unit
) -> tuple[Report, datetime | None]:
    """The unit's values and the change time they were read at: the last snapshot, or a read now."""
    rows = [r for r in ctx.store.latest_snapshots(period.id) if r["unit"] == layout.unit_code]
    if rows:
        changed = rows[0]["modified_at"]
        return report_from_json(rows[0]["report_json"])[0], datetime.fromisoformat(
            changed
        ) if changed else None
    changed = ctx.backend.modified_times([ref]).get(ref.id)
    return read_report(ctx.backend, ref, ctx.schema, unit, period, layout=layout).report, changed


def _writable(layout: WorkbookLayout) -> dict[str, FieldSpec]:
    return {key: spec for key, spec in layout.fields.items() if spec.input and spec.block != "_cover"}


def _cells_to_write(schema, layout: WorkbookLayout, report: Report, changed_at, answer: Answer):
    """tab → {(row, col): value} for the answers to write, the keys written, and the keys kept
    as the unit typed them."""
    from bot.sheets.backends.google import parse_where

    cells: dict[str, dict[tuple[int, int], object]] = {}
    written, kept = [], []
    writable = _writable(layout)
    for key, value in answer.values.items():
        spec = writable.get(key)
        if spec is None or key in report.unreadable:
            continue
        current = report.values.get(key)
        if current not in (None, "") and _same(schema, spec, value, current):
            continue
        if current not in (None, "") and changed_at is not None and answer.submitted_at <= changed_at:
            kept.append(key)
            continue
        where = parse_where(report.cells[key]) if key in report.cells else None
        tab, row, col = where or (spec.tab, spec.row, spec.col)
        cells.setdefault(tab, {})[(row, col)] = value
        written.append(key)
    return cells, sorted(written), kept


def _same(schema, spec: FieldSpec, answer, current) -> bool:
    if spec.type in ("narrative", "text"):
        return normalise(answer) == normalise(current)
    column = schema.table_by_id[spec.table].column_by_id.get(spec.col_id) if spec.table else None
    parsed = parse_cell(answer, spec.type, column.choices if column and spec.type == "choice" else None)
    return parsed.problem is None and parsed.value == current


def _kept_warning(code: str, layout: WorkbookLayout, key: str, answer: Answer) -> Finding:
    spec = layout.fields[key]
    return Finding(
        code,
        "form_kept",
        "warning",
        f"Câu trả lời biểu mẫu gửi lúc {answer.submitted_at:%H:%M %d/%m/%Y} cho trường {key} "
        f"(ô '{spec.tab}'!{spec.a1}) cũ hơn nội dung đơn vị đã nhập trong bảng tính; giữ nội dung của đơn vị.",
    )


# --- what was processed ------------------------------------------------------------------------------


def _processed(store, form_id: str, period_id: str) -> set[str]:
    return store.processed_responses(form_id, period_id)


def _record(
    store,
    form: FormSettings,
    period: Period,
    code: str,
    applied: list[Answer],
    superseded: list[Answer],
    written: list[str],
) -> None:
    now = clock.now().isoformat()
    rows = [(a, "applied", json.dumps(written)) for a in applied] + [
        (a, "superseded", "[]") for a in superseded
    ]
    store.record_responses(
        [
            (
                form.response_spreadsheet_id,
                period.id,
                a.key,
                code,
                a.row,
                a.submitted_at.isoformat(),
                outcome,
                fields,
                now,
            )
            for a, outcome, fields in rows
        ]
    )


def last_processed(store, form_id: str, period_id: str):
    """The latest answer of a form already processed for a period (a row of form_responses), or None."""
    return store.last_response(form_id, period_id)
