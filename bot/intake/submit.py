"""``submit``: a unit's workbook handed back, through the one intake.

The workbook says whose it is by the tags provisioning wrote as **custom document
properties** (unit, period, schema version; see ``WorkbookBackend.lay_out``), read here with
``WorkbookBackend.tags``. Custom properties were chosen over a very hidden tab because a clerk
never sees them in the grid, cannot delete or rename them by editing cells or tabs (the
workbook's structure is locked), Excel and LibreOffice keep them on every save, and reading
them needs no cell parsing; a hidden tab can be unhidden with a macro and is copied along when
someone copies tabs between workbooks, which would make a file say it is another unit's.

An accepted file is read with the reader the poll uses (layout → ``extract`` → report), its
typed values are written into the unit's current workbook at the cells where that workbook has
them, and the same poll and check as the scheduler's follow (findings stored, the "Kiểm tra"
tab written), so the master, status, reminders and exports see the values exactly as if the
clerk had typed them in place. The file is kept as a version in every case but a refusal.

Merging: each field is compared three ways, the value in the file (u), in the current
workbook (c), and in the workbook the file was downloaded from (b: the stamped ``based_on``
state, or the provisioned template when the file carries no stamp). A field the file changed
(u ≠ b) while the current workbook did not (c = b) is written; a field changed in the current
workbook since (c ≠ b) keeps its newer value, and the sender is told what differs. A file
downloaded from the current state (b = c) is applied whole.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot import clock
from bot.intake import versions
from bot.intake.diff import place_of_key
from bot.intake.guard import IntakeRefused, check_file
from bot.intake.lock import intake_lock
from bot.outline.layout import build_layout
from bot.sheets.backends.base import BackendError, SetCells, SheetRef
from bot.sheets.backends.workbook import WorkbookBackend
from bot.sheets.document import content_hash, extract

Refresh = Callable[[object, object, str], None]  # (ctx, period, unit): the poll and the check, from jobs/
STATUS_KEY = "_cover/status"
SUBMITTED = "Đã nộp"
CHANNELS = ("web", "cli", "chat", "email")
_parsing = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))  # workbooks parsed at once


@dataclass
class Submission:
    version_id: int | None
    unit: str
    period: str
    outcome: str  # applied, merged, unchanged, approved
    notes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # field keys written into the current workbook
    state: str | None = None
    findings: list[dict] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f["severity"] == "error" for f in self.findings)

    def summary(self) -> str:
        """One Vietnamese sentence for the sender."""
        if self.outcome == "approved":
            return "Báo cáo đã được duyệt nên số liệu trong tệp không thay thế số liệu đã duyệt; tệp vẫn được lưu lại."
        if self.outcome == "unchanged":
            return "Đã nhận tệp; số liệu trong tệp giống bảng tính hiện tại, không có gì thay đổi."
        head = f"Đã nhận tệp và cập nhật {len(self.written)} ô vào bảng tính."
        return head + (f" Còn {self.errors} lỗi cần sửa." if self.errors else " Không có lỗi.")


@dataclass
class _Upload:
    tags: dict
    doc: object  # the read Document


def submit(
    ctx,
    data: bytes,
    filename: str,
    *,
    unit: str | None = None,
    period: str | None = None,
    sender: str,
    channel: str,
    refresh: Refresh,
) -> Submission:
    """Take ``data`` (a workbook file) as a new version of its unit's report; see the module.

    ``refresh(ctx, period, unit)`` brings the unit's state up to date after a write (the poll and the
    check: :mod:`jobs.submit` passes them; the library does not run jobs itself)."""
    filename = versions.safe_filename(filename)
    with _parsing:  # 20 uploads at once must not hold 20 parsed workbooks in memory
        check_file(data, filename)
        tags, grids = read_file(data, filename)
        code, period_obj = _identify(ctx, tags, unit, period, filename)
        layout = build_layout(ctx.schema, ctx.unit_by_code[code], period_obj)
        upload = _Upload(tags, extract(layout, grids))
    with intake_lock(ctx):
        return _take(ctx, code, period_obj, layout, upload, data, filename, sender, channel, refresh)


def mark_submitted(ctx, code: str, period, *, refresh: Refresh) -> Submission:
    """The "Nộp báo cáo" button: the cover's status becomes "Đã nộp", then the usual check."""
    with intake_lock(ctx):
        _refuse_if_approved(ctx, code, period)
        layout = build_layout(ctx.schema, ctx.unit_by_code[code], period)
        ref = _ref(ctx, code, period.id)
        doc = _read_current(ctx, layout, ref)
        cell = doc.cells.get(STATUS_KEY)
        if cell is None:
            raise IntakeRefused(
                "Không tìm thấy ô Tình trạng báo cáo ở trang bìa của bảng tính; hãy liên hệ đầu mối."
            )
        _write(ctx, ref, {cell.tab: {(cell.row, cell.col): SUBMITTED}})
        return _after_write(
            ctx, code, period, Submission(None, code, period.id, "applied", written=[STATUS_KEY]), refresh
        )


# --- reading and identifying the file -------------------------------------------------------------


def read_file(data: bytes, filename: str) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.xlsx"
        path.write_bytes(data)
        backend = WorkbookBackend(tmp)
        try:
            return backend.tags(path), backend.read(SheetRef(str(path), path.as_uri()))
        except BackendError:
            raise IntakeRefused(
                f"Tệp {filename} bị hỏng hoặc không phải bảng tính Excel (.xlsx); hãy mở lại bằng "
                "Excel, lưu lại rồi gửi lại."
            ) from None


def _identify(ctx, tags: dict, unit: str | None, period: str | None, filename: str):
    if not tags.get("unit") or not tags.get("period"):
        raise IntakeRefused(
            f"Tệp {filename} không phải bảng tính báo cáo do hệ thống tạo (không có thông tin đơn vị, "
            "kỳ báo cáo). Hãy tải bảng tính của đơn vị từ hệ thống, nhập số liệu vào đó rồi gửi lại."
        )
    code, period_id = tags["unit"], tags["period"]
    if unit and code != unit:
        raise IntakeRefused(
            f"Tệp {filename} là báo cáo của đơn vị {tags.get('unit_name') or code} ({code}), không "
            f"phải của đơn vị {unit}. Hãy chọn đúng tệp của đơn vị mình rồi gửi lại."
        )
    if period and period_id != period:
        raise IntakeRefused(
            f"Tệp {filename} là báo cáo kỳ {period_id}, không phải kỳ {period}. Hãy tải bảng tính "
            f"kỳ {period} từ hệ thống, nhập số liệu vào đó rồi gửi lại."
        )
    if tags.get("schema_version") != ctx.schema.version:
        raise IntakeRefused(
            f"Tệp {filename} theo mẫu biểu phiên bản {tags.get('schema_version') or '(không rõ)'}, "
            f"hệ thống đang dùng phiên bản {ctx.schema.version}; không chuyển được số liệu sang mẫu "
            "mới. Hãy tải bảng tính mới từ hệ thống, nhập lại số liệu rồi gửi."
        )
    if code not in ctx.unit_by_code:
        raise IntakeRefused(
            f"Đơn vị {code} của tệp {filename} không có trong danh sách đơn vị; hãy liên hệ đầu mối."
        )
    period_obj = ctx.period(period_id)
    record = ctx.store.sheet(code, period_id)
    if record is None or record.status != "ready":
        raise IntakeRefused(
            f"Đơn vị {code} chưa có bảng tính kỳ {period_id} trên hệ thống; hãy liên hệ đầu mối."
        )
    return code, period_obj


# --- taking it ---------------------------------------------------------------------------------------


def _take(
    ctx, code, period, layout, upload: _Upload, data, filename, sender, channel, refresh: Refresh
) -> Submission:
    ref = _ref(ctx, code, period.id)
    current = _read_current(ctx, layout, ref)
    approved = _approval(ctx, code, period.id) == "approved"
    result = Submission(None, code, period.id, "approved" if approved else "applied")
    if approved:
        result.notes.append(
            f"Báo cáo {period.label} của đơn vị đã được duyệt; số liệu đã duyệt không bị thay thế. "
            "Nếu cần sửa, hãy liên hệ đầu mối phụ trách để được trả lại báo cáo."
        )
    else:
        cells = _merge(ctx, layout, upload, current, result)
        if cells:
            _write(ctx, ref, cells)
        if not result.written and result.outcome == "applied":
            result.outcome = "unchanged"
    result.version_id = _record(ctx, code, period, upload, data, filename, sender, channel, result)
    if result.written:
        return _after_write(ctx, code, period, result, refresh)
    return _with_findings(ctx, code, period, result)


def _merge(ctx, layout, upload: _Upload, current, result: Submission) -> dict:
    """tab → {(row, col): value} to write into the current workbook; notes and keys on ``result``."""
    mine = versions.cell_texts(upload.doc)
    theirs = versions.cell_texts(current)
    base = _base(ctx, layout, upload.tags.get(versions.BASED_ON), current, theirs)
    cells: dict = {}
    for problem in upload.doc.problems:  # what could not be read from the file is not taken from it
        result.notes.append(
            f"Trong tệp gửi lên: {problem.message} Phần này giữ nguyên như trong bảng tính hiện tại."
        )
        result.outcome = "merged"
    for key, (u, _) in mine.items():
        c = theirs.get(key, ["", ""])[0]
        if u == c:
            continue
        if key not in current.cells:
            result.notes.append(
                f"{place_of_key(ctx.schema, key)}: bảng tính hiện tại không có ô này (dòng đã bị xóa hoặc "
                "chưa được thêm) nên chưa ghi được; tệp của bạn vẫn được lưu."
            )
            result.outcome = "merged"
            continue
        newer = c != "" if base is None else c != base.get(key, ["", ""])[0]
        if newer:  # changed in the current workbook after the file was downloaded: kept, and said
            result.notes.append(
                f"{place_of_key(ctx.schema, key)} (ô {current.cells[key].where}): bảng tính hiện tại có "
                f"«{c}», tệp của bạn có «{u}»; giữ «{c}» vì giá trị này được nhập sau khi bạn tải tệp về."
            )
            result.outcome = "merged"
            continue
        target = current.cells[key]
        cells.setdefault(target.tab, {})[(target.row, target.col)] = _writable(upload.doc.cells[key].raw, u)
        result.written.append(key)
    return cells


def _base(ctx, layout, based_on: str | None, current, theirs: dict) -> dict | None:
    """What the file was downloaded from: the stamped state, or the provisioned template when
    the file has no stamp; None when the stamp names a state we do not know (then only empty
    cells of the current workbook are filled)."""
    if based_on:
        if based_on == content_hash(current):
            return theirs
        known = ctx.store.base(layout.unit_code, layout.period_id, based_on)
        return json.loads(known) if known else None
    template = build_layout(
        ctx.schema,
        ctx.unit_by_code[layout.unit_code],
        ctx.period(layout.period_id),
        prefill=ctx.store.carried(layout.unit_code, layout.period_id),
    )
    return {
        key: [versions.as_text(template.tab(spec.tab).cells[(spec.row, spec.col)].value), ""]
        for key, spec in template.fields.items()
        if spec.input and (spec.row, spec.col) in template.tab(spec.tab).cells
    }


def _writable(raw, text: str):
    """The value to write: what the clerk typed, as typed (an emptied cell is emptied)."""
    return None if raw is None or text == "" else raw


def _record(ctx, code, period, upload: _Upload, data, filename, sender, channel, result: Submission) -> int:
    digest, _ = versions.keep(ctx.config.home, data)
    return ctx.store.add_version(
        {
            "unit": code,
            "period": period.id,
            "sha256": digest,
            "size": len(data),
            "filename": filename,
            "sender": sender,
            "channel": channel,
            "received_at": clock.now().isoformat(),
            "based_on": upload.tags.get(versions.BASED_ON),
            "content_hash": content_hash(upload.doc),
            "outcome": result.outcome,
            "notes": json.dumps(result.notes, ensure_ascii=False),
            "cells": versions.dumps(versions.cell_texts(upload.doc)),
        }
    )


def _after_write(ctx, code, period, result: Submission, refresh: Refresh) -> Submission:
    refresh(ctx, period, code)
    return _with_findings(ctx, code, period, result)


def _with_findings(ctx, code, period, result: Submission) -> Submission:
    row = ctx.store.unit_state(code, period.id)
    result.state = row["state"] if row else None
    result.findings = ctx.store.findings(period.id, code)
    return result


# --- the current workbook -------------------------------------------------------------------------


def _ref(ctx, code: str, period_id: str) -> SheetRef:
    record = ctx.store.sheet(code, period_id)
    if record is None:
        raise IntakeRefused(
            f"Đơn vị {code} chưa có bảng tính kỳ {period_id} trên hệ thống; hãy liên hệ đầu mối."
        )
    return SheetRef(record.sheet_id, record.url)


def _read_current(ctx, layout, ref: SheetRef):
    try:
        return extract(layout, ctx.backend.read(ref))
    except BackendError as e:
        raise IntakeRefused(
            f"Chưa đọc được bảng tính hiện tại của đơn vị ({e}); hãy thử lại sau ít phút."
        ) from None


def _write(ctx, ref: SheetRef, cells: dict) -> None:
    try:
        ctx.backend.write(ref, [SetCells(tab, values) for tab, values in cells.items()])
    except BackendError as e:
        raise IntakeRefused(
            f"Chưa ghi được vào bảng tính của đơn vị ({e}); chưa có gì thay đổi, hãy gửi lại sau ít phút."
        ) from None


def _approval(ctx, code: str, period_id: str) -> str | None:
    row = ctx.store.unit_state(code, period_id)
    return row["approval"] if row else None


def _refuse_if_approved(ctx, code: str, period) -> None:
    if _approval(ctx, code, period.id) == "approved":
        raise IntakeRefused(f"Báo cáo {period.label} của đơn vị đã được duyệt; không cần nộp lại.")
