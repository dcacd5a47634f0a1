"""Workbooks a clerk re-saved with LibreOffice: read exactly, and feedback written into them opens again.

LibreOffice (Debian's libreoffice-calc, installed by ``.ci/run``) saves with shared strings
instead of inline strings, its own numbering of cell formats, other namespace prefixes and
cached formula values. The fast reader must give what openpyxl gives for such a file, and a
file the bot wrote feedback into must convert again in LibreOffice (headless, no repair).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.outline.layout import build_layout
from bot.sheets.backends import xlsx_parts
from bot.sheets.backends.base import SheetRef
from bot.sheets.backends.workbook import WorkbookBackend, read_with_openpyxl
from tests.workbook_compare import (
    feedback_for,
    fill_randomly,
    random_unit,
    seen,
    tags_with_openpyxl,
    trimmed,
    typed,
    with_openpyxl,
)

SOFFICE = shutil.which("soffice")
# Skipped on a machine without LibreOffice, never in CI (.ci/run installs it and sets CI).
pytestmark = pytest.mark.skipif(
    SOFFICE is None and not os.environ.get("CI"), reason="LibreOffice (soffice) is not installed"
)


def resave(paths: list[Path], out: Path, profile: Path) -> list[Path]:
    """What a clerk's LibreOffice writes when it saves these workbooks as .xlsx."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return [out / p.name for p in paths]


@pytest.fixture(scope="module")
def resaved(tmp_path_factory, schema):
    """Six randomly filled workbooks (every unit kind) after a LibreOffice save, with layouts."""
    from bot.outline.periods import parse_period

    root = tmp_path_factory.mktemp("libreoffice")
    period = parse_period("2026-Q1", schema)
    backend = WorkbookBackend(root / "sheets")
    rng = random.Random(2026)
    made = []
    for i in range(6):
        layout = build_layout(schema, random_unit(rng, i), period)
        ref = backend.allocate(layout.title, {"unit": layout.unit_code, "period": period.id})
        backend.lay_out(ref, layout)
        if i:
            fill_randomly(ref.id, layout, rng)
        made.append((Path(ref.id), layout))
    paths = resave([p for p, _ in made], root / "resaved", root / "profile")
    return root, [(path, original, layout) for path, (original, layout) in zip(paths, made, strict=True)]


def test_it_reads_a_libreoffice_file_exactly_as_openpyxl_does(resaved):
    _, files = resaved
    for path, _original, layout in files:
        assert "xl/sharedStrings.xml" in zipfile.ZipFile(path).namelist()  # really re-saved by LibreOffice
        assert typed(xlsx_parts.read_grids(path)) == typed(read_with_openpyxl(path))
        assert xlsx_parts.read_tags(path) == tags_with_openpyxl(path)
        assert xlsx_parts.read_tags(path)["unit"] == layout.unit_code
        assert xlsx_parts.read_sheet_names(path) == load_workbook(path, read_only=True).sheetnames


def test_it_writes_feedback_into_a_libreoffice_file_that_libreoffice_opens_again(resaved, schema):
    root, files = resaved
    rng = random.Random(5)
    written = []
    for i, (path, _, layout) in enumerate(files):
        target = root / "feedback" / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
        reference = root / "reference" / path.name
        reference.parent.mkdir(exist_ok=True)
        shutil.copy(path, reference)
        approval = (None, "approved", "returned")[i % 3]
        edits = feedback_for(str(target), layout, schema, rng, approval)
        before = sum(xlsx_parts.FALLBACKS.values())
        WorkbookBackend(root).write(SheetRef(str(target), ""), edits)
        assert sum(xlsx_parts.FALLBACKS.values()) == before  # written at the part level
        with_openpyxl(str(reference), edits)
        assert seen(target) == seen(reference)
        assert trimmed(read_with_openpyxl(target)) == trimmed(read_with_openpyxl(reference))
        written.append(target)
    again = resave(written, root / "again", root / "profile")
    for path in again:
        assert path.exists() and path.stat().st_size > 0
        assert seen(path)["Kiểm tra"]["cells"]["A1"][0] == "KẾT QUẢ KIỂM TRA BÁO CÁO"
