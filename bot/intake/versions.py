"""The version store: every handed-in workbook kept once, by the SHA-256 of its bytes.

``<home>/versions/<first two hex digits>/<sha256>.xlsx``: the same file handed in twice is
stored once (and recorded twice); a file is written to a temporary name and renamed, so a
killed upload never leaves half a version. The database row (``versions``, migration 0010)
says whose it is and what became of it.

A download of a unit's workbook is stamped with the content hash of what the workbook held
at that moment (custom document property ``based_on``, which Excel and LibreOffice keep when
they save), and that state is recorded; an upload of that file later is merged against it,
so an older download never silently undoes newer values.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from bot.sheets.backends.xlsx_parts.package import CUSTOM_PART
from bot.sheets.backends.xlsx_parts.zip_writer import write_package

CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
PROPERTY_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
BASED_ON = "based_on"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_path(home: Path, digest: str) -> Path:
    return Path(home) / "versions" / digest[:2] / f"{digest}.xlsx"


def keep(home: Path, data: bytes) -> tuple[str, Path]:
    """Store ``data`` under its hash (once); its hash and path."""
    digest = sha256(data)
    path = version_path(home, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return digest, path


def cell_texts(doc) -> dict[str, list[str]]:
    """{field key: [what the unit typed, as text; "'Tab'!A1"]} of every input cell of a read
    document (what a version holds, compared by the diff and the merge)."""
    return {key: [as_text(cell.raw), cell.where] for key, cell in doc.cells.items() if cell.spec.input}


def as_text(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw).strip()


def dumps(cells: dict) -> str:
    return json.dumps(cells, ensure_ascii=False, sort_keys=True)


# --- the download stamp ---------------------------------------------------------------------------


def stamp(data: bytes, based_on: str) -> bytes:
    """``data`` (an .xlsx) with the custom document property ``based_on`` set; every other part
    is copied byte for byte."""
    ET.register_namespace("", CUSTOM_NS)
    ET.register_namespace("vt", VT_NS)
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        if CUSTOM_PART not in src.namelist():
            raise ValueError("workbook without custom document properties")  # ours always has them
        custom = _with_property(src.read(CUSTOM_PART), BASED_ON, based_on)
    out = io.BytesIO()
    write_package(io.BytesIO(data), out, {CUSTOM_PART: custom})  # the other parts as they are stored
    return out.getvalue()


def _with_property(xml: bytes, name: str, value: str) -> bytes:
    root = ET.fromstring(xml)
    props = root.findall(f"{{{CUSTOM_NS}}}property")
    for prop in props:
        if prop.get("name") == name:
            root.remove(prop)
    pid = max([int(p.get("pid", "1")) for p in props] + [1]) + 1
    prop = ET.SubElement(
        root, f"{{{CUSTOM_NS}}}property", {"fmtid": PROPERTY_FMTID, "pid": str(pid), "name": name}
    )
    ET.SubElement(prop, f"{{{VT_NS}}}lpwstr").text = value
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


def safe_filename(name: str) -> str:
    """A sender's file name as shown and offered back: no folders, no control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip() or "bao-cao.xlsx"
    return base[:120]
