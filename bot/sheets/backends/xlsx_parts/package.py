"""Which part of an ``.xlsx`` is what: the namespaces and content types, :class:`Package`
(the workbook's sheets and their parts), :class:`Unsure` and :func:`attempt` with the
:data:`FALLBACKS` it counts."""

from __future__ import annotations

import functools
import posixpath
import zipfile
from collections import Counter

from lxml import etree
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WORKBOOK_TYPES = tuple(
    f"application/vnd.ms-excel.{k}.main+xml" for k in ("template.macroEnabled", "sheet.macroEnabled")
) + tuple(
    f"application/vnd.openxmlformats-officedocument.spreadsheetml.{k}.main+xml" for k in ("template", "sheet")
)
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STYLES_PART = "xl/styles.xml"  # where openpyxl looks for styles, whatever the relationships say
CUSTOM_PART = "docProps/custom.xml"  # the tags; where openpyxl reads and writes custom properties
CORE_PART = "docProps/core.xml"  # title, creation and change times

FALLBACKS: Counter = Counter()  # operation → files handed to openpyxl (reported by bench/)


class Unsure(Exception):
    """The file has a structure the part-level code does not handle; use openpyxl for it."""


def q(tag: str) -> str:
    return f"{{{MAIN}}}{tag}"


class Package:
    """An open ``.xlsx``: its zip, its sheets in order (name, part) and its styles' formats.

    What the index parts say (content types, workbook, relationships) is worked out once per
    distinct text of theirs: the workbooks of a period share them, so a pass over 200 of them
    parses each only once."""

    def __init__(self, source):
        self.zip = zipfile.ZipFile(source)
        self.names = set(self.zip.namelist())
        self.workbook_part, self.strings_part = _declared_parts(self.zip.read("[Content_Types].xml"))
        self.rels_part = _rels_path(self.workbook_part)
        rels = self.zip.read(self.rels_part) if self.rels_part in self.names else None
        self.rels = dict(_targets(rels, self.rels_part)) if rels else {}
        self._sheet_ids, self._date1904 = _workbook_index(self.zip.read(self.workbook_part))
        self.sheets = self._sheets()

    def _sheets(self) -> list[tuple[str, str]]:
        sheets = []
        for name, rid in self._sheet_ids:
            if not rid or rid not in self.rels:
                raise Unsure("a sheet without its relationship")
            kind, target = self.rels[rid]
            if target not in self.names:
                continue  # openpyxl skips it too
            if not kind.endswith("/worksheet"):
                raise Unsure(f"a sheet of type {kind}")
            sheets.append((name, target))
        return sheets

    def epoch(self):
        return CALENDAR_MAC_1904 if self._date1904 else CALENDAR_WINDOWS_1900

    def close(self) -> None:
        self.zip.close()


@functools.lru_cache(maxsize=64)
def _declared_parts(types_xml: bytes) -> tuple[str, str | None]:
    """(the workbook part, the shared strings part or None) that ``[Content_Types].xml`` declares."""
    types = etree.fromstring(types_xml)
    overrides = {o.get("ContentType"): o.get("PartName") for o in types.iter(f"{{{CT_NS}}}Override")}
    workbook = next((overrides[kind][1:] for kind in WORKBOOK_TYPES if kind in overrides), None)
    if workbook is None:
        raise Unsure("no workbook part declared by an Override")
    strings = overrides.get(SHARED_STRINGS_TYPE)
    return workbook, strings[1:] if strings else None


@functools.lru_cache(maxsize=64)
def _workbook_index(workbook_xml: bytes) -> tuple[tuple[tuple[str, str | None], ...], bool]:
    """((sheet name, relationship id) in order, whether dates count from 1904) of ``workbook.xml``."""
    workbook = etree.fromstring(workbook_xml)
    sheets = tuple((sheet.get("name"), sheet.get(f"{{{REL_NS}}}id")) for sheet in workbook.iter(q("sheet")))
    pr = workbook.find(q("workbookPr"))
    return sheets, pr is not None and pr.get("date1904") in ("1", "true")


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


@functools.lru_cache(maxsize=64)
def _targets(xml: bytes, rels_part: str) -> tuple[tuple[str, tuple[str, str]], ...]:
    """(relationship id, (type, part path)) pairs, resolved the way openpyxl resolves them."""
    parent = posixpath.split(posixpath.dirname(rels_part))[0]
    targets = {}
    for rel in etree.fromstring(xml).iter(f"{{{PKG_REL}}}Relationship"):
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External":
            continue
        target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(parent, target))
        targets[rel.get("Id")] = (rel.get("Type") or "", target)
    return tuple(targets.items())


def attempt(operation: str, fast, *args):
    """``fast(*args)``, or None when the fast path is not sure of the file (counted): the
    caller then takes the openpyxl path, which also gives openpyxl's own errors for a file
    that is broken."""
    try:
        return fast(*args)
    except Exception:  # noqa: BLE001 - whatever went wrong, openpyxl decides about this file
        FALLBACKS[operation] += 1
        return None
