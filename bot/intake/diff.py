"""Which cells changed between two versions of a unit's workbook, from what to what, and
where each field sits in words ("Bảng 14, dòng 2, cột (9)"): the audit trail of a report."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.checks.report import row_label
from bot.outline.layout import COVER_TAB


@dataclass(frozen=True)
class Change:
    key: str
    place: str  # in words
    cell: str  # "'Tab'!A1" in the newer version
    before: str
    after: str


def diff_cells(schema, older: dict, newer: dict) -> list[Change]:
    """Fields whose typed value differs between two ``cells`` maps ({key: [text, where]})."""
    changes = []
    for key in sorted(set(older) | set(newer), key=_order_key):
        before = (older.get(key) or ["", ""])[0]
        after = (newer.get(key) or ["", ""])[0]
        if before != after:
            where = (newer.get(key) or older.get(key))[1]
            changes.append(Change(key, place_of_key(schema, key), where, before, after))
    return changes


def diff_versions(schema, older_row, newer_row) -> list[Change]:
    return diff_cells(schema, json.loads(older_row["cells"]), json.loads(newer_row["cells"]))


def place_of_key(schema, key: str) -> str:
    """A field key in words: "Bảng 14, dòng "Sở Tư pháp", cột (9)" or "Nội dung I.1"."""
    if key.startswith("_cover/"):
        return f"Trang {COVER_TAB}: tình trạng báo cáo" if key == "_cover/status" else f"Trang {COVER_TAB}"
    parts = key.split("/")
    if len(parts) == 3 and parts[0] in schema.table_by_id:
        return place_in_table(schema, parts[0], parts[1], parts[2])
    narrative = next((n for n in schema.narratives if n.id == key), None)
    return f"Nội dung {narrative.ref}" if narrative else key


def place_in_table(schema, table_id: str, row_id: str | None, column_id: str | None) -> str:
    table = schema.table_by_id[table_id]
    words = [f"Bảng {table.number}"]
    if row_id:
        try:
            words.append(f'dòng "{row_label(schema, table_id, row_id)}"')
        except KeyError:
            words.append(f"dòng {row_id}")
    if column_id:
        column = table.column_by_id.get(column_id)
        if column is None:
            words.append("cột tên dòng")
        elif column.number:
            words.append(f"cột ({column.number.strip('()')})")
        else:
            words.append(f'cột "{column.path[-1]}"')
    return ", ".join(words)


def place_of_finding(schema, finding: dict) -> str:
    """Where a stored finding (``Finding.as_dict``) is, in words; its cell when it has no table."""
    if finding.get("table") in schema.table_by_id:
        return place_in_table(schema, finding["table"], finding.get("row"), finding.get("column"))
    return _cell_words(finding.get("cell")) if finding.get("cell") else ""


def _cell_words(cell: str) -> str:
    tab, _, a1 = cell.rpartition("!")
    return f"Trang {tab.strip(chr(39))}, ô {a1}"


def _order_key(key: str):
    return (not key.startswith("_cover"), key)
