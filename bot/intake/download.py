"""A unit's current workbook as a file to download, stamped with what it held at that moment
(see :mod:`bot.intake.versions`), so handing it back later merges against the right state."""

from __future__ import annotations

from pathlib import Path

from bot.intake import versions
from bot.intake.guard import IntakeRefused
from bot.intake.submit import read_file
from bot.outline.layout import build_layout
from bot.sheets.document import content_hash, extract


def download(ctx, code: str, period) -> tuple[bytes, str]:
    """(file bytes, file name) of the unit's current workbook for ``period``."""
    record = ctx.store.sheet(code, period.id)
    if record is None or record.status != "ready" or ctx.backend.name != "workbook":
        raise IntakeRefused(f"Chưa có bảng tính kỳ {period.id} của đơn vị để tải về; hãy liên hệ đầu mối.")
    path = Path(record.sheet_id)
    data = path.read_bytes()
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], period)
    _, grids = read_file(data, path.name)  # the very bytes offered, not a second read of the file
    doc = extract(layout, grids)
    digest = content_hash(doc)
    ctx.store.record_base(code, period.id, digest, versions.dumps(versions.cell_texts(doc)))
    return versions.stamp(data, digest), f"{code}_{period.id}.xlsx"
