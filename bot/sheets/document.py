"""What a unit's workbook says, field by field: grids + layout → a values document.

Fields are found from their block's anchor (the text in column A that opens every table and
narrative), never from hard-coded coordinates: a unit that inserts list lines above a total
row shifts the rest of the tab, and we follow. A tab renamed or deleted, an anchor edited, or
a fixed row deleted is reported as a structural problem at its place, and the fields it would
have held are left unread rather than read from the wrong cells. So is a table whose header
(column titles, numbered row) no longer matches the template: a column was inserted or
deleted, or typed over. A workbook whose tags name another unit or period is not read at all.
Labels are compared in NFC, single-spaced and case-folded (:func:`normalise`).

Something typed right of a tab's last template column is not read either, and is said so at
its cell (a warning: the clerk may believe it counts). Not reported: a copy saved under another
name (``STP.xlsm``) beside the workbook; it is not read, and the intake refuses a macro file.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from openpyxl.utils import get_column_letter

from bot.outline.layout import COVER_TAB, Block, FieldSpec, WorkbookLayout
from bot.sheets.arithmetic import parse_typed_formula
from bot.sheets.values import is_formula, parse_cell

MAX_LIST_LINES = 1000
BOT_OWNED = ("_cover/state", "_cover/checked_at", "_cover/comment")  # cells the bot writes, not the unit


@dataclass(frozen=True)
class CellValue:
    key: str
    raw: object
    tab: str
    row: int
    col: int
    spec: FieldSpec

    @property
    def a1(self) -> str:
        return f"{get_column_letter(self.col)}{self.row}"

    @property
    def where(self) -> str:
        return f"'{self.tab}'!{self.a1}"


@dataclass(frozen=True)
class Problem:
    """A structural problem: the workbook no longer has the template's shape here."""

    block: str  # table id, narrative id, tab name
    tab: str
    a1: str | None
    message: str  # Vietnamese
    severity: str = "error"  # "warning" where values are still read (a cell outside the tables)


@dataclass
class Document:
    unit: str
    period: str
    cells: dict[str, CellValue] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    list_lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (table, list row) → lines found
    unreadable_blocks: set[str] = field(default_factory=set)

    def raw(self, key: str) -> object:
        cell = self.cells.get(key)
        return cell.raw if cell else None


def normalise(text: object) -> str:
    if text is None:
        return ""
    return _normalised(text if type(text) is str else str(text))


@lru_cache(maxsize=16384)  # the labels of a layout, compared in every workbook of the period
def _normalised(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


class _Grid:
    def __init__(self, rows: list[list[object]]):
        self.rows = rows

    def get(self, row: int, col: int) -> object:
        if 1 <= row <= len(self.rows) and 1 <= col <= len(self.rows[row - 1]):
            return self.rows[row - 1][col - 1]
        return None

    def find_in_column_a(self, text: str, start: int) -> int | None:
        wanted = normalise(text)
        for row in range(max(start, 1), len(self.rows) + 1):
            if normalise(self.get(row, 1)) == wanted:
                return row
        return None


def extract(
    layout: WorkbookLayout, grids: dict[str, list[list[object]]], tags: dict[str, str] | None = None
) -> Document:
    """Locate every field of ``layout`` in ``grids`` (one workbook's tabs).

    ``tags``: the unit and period the workbook itself says it belongs to (written when it was
    provisioned), when the backend can tell. A workbook of another unit (a neighbour's file
    copied over this one) or of another period (last quarter's file saved under this name) is
    one structural problem and none of its values is taken: they are not this report's.
    """
    doc = Document(layout.unit_code, layout.period_id)
    if _foreign(doc, layout, tags or {}):
        return doc
    fields_by_block: dict[str, list[FieldSpec]] = {}
    for spec in layout.fields.values():
        fields_by_block.setdefault(spec.block, []).append(spec)
    _extract_cover(doc, layout, grids, fields_by_block.get("_cover", []))
    for tab in layout.tabs:
        blocks = [b for b in layout.blocks if b.tab == tab.name]
        if not blocks:
            continue
        if tab.name not in grids:
            doc.problems.append(
                Problem(
                    tab.name,
                    tab.name,
                    None,
                    f"Không tìm thấy trang '{tab.name}': trang đã bị đổi tên hoặc bị xóa. Hãy khôi phục đúng tên trang.",
                )
            )
            doc.unreadable_blocks.update(b.id for b in blocks)
            continue
        grid, search_from = _Grid(grids[tab.name]), 1
        for block in blocks:
            found = grid.find_in_column_a(block.anchor, search_from)
            if found is None:
                doc.problems.append(
                    Problem(
                        block.id,
                        tab.name,
                        f"A{block.first_row}",
                        f'Không tìm thấy tiêu đề "{block.anchor}" (dòng tiêu đề đã bị sửa hoặc bị xóa); phần này chưa được đọc.',
                    )
                )
                doc.unreadable_blocks.add(block.id)
                continue
            shift = found - block.first_row
            if block.kind == "table" and _columns_moved(doc, grid, tab, block, shift):
                search_from = found + 1
                continue
            if block.kind == "narrative":
                _read_narrative(doc, grid, block, fields_by_block[block.id], shift)
            else:
                _read_table(doc, grid, block, fields_by_block.get(block.id, []), shift)
            search_from = found + 1
        _report_stray_cells(doc, grid, tab)
    return doc


STRAY_CELLS_SHOWN = 5  # per tab: enough to point at the mistake without burying the rest


def _report_stray_cells(doc: Document, grid: _Grid, tab) -> None:
    """Values right of the tab's last template column are never read: say so at their cells."""
    shown, last = 0, tab.max_col
    for r, row in enumerate(grid.rows, start=1):
        for c in range(last, len(row)):
            if row[c] is None or str(row[c]).strip() == "" or shown == STRAY_CELLS_SHOWN:
                continue
            a1 = f"{get_column_letter(c + 1)}{r}"
            doc.problems.append(
                Problem(
                    tab.name,
                    tab.name,
                    a1,
                    f"Ô '{tab.name}'!{a1} nằm ngoài bảng nên ô này không được đọc: "
                    "hãy nhập số liệu vào các ô tô màu của bảng.",
                    severity="warning",
                )
            )
            shown += 1


def _foreign(doc: Document, layout: WorkbookLayout, tags: dict[str, str]) -> bool:
    expected = {"unit": layout.unit_code, "period": layout.period_id}
    found = {k: normalise(tags[k]).upper() for k in expected if tags.get(k)}
    if all(found[k] == normalise(v).upper() for k, v in expected.items() if k in found):
        return False
    owner = f"đơn vị {tags.get('unit', '?')}" + (f" ({tags['unit_name']})" if tags.get("unit_name") else "")
    doc.problems.append(
        Problem(
            COVER_TAB,
            COVER_TAB,
            None,
            f"Tệp này là báo cáo của {owner}, kỳ {tags.get('period', '?')}, không phải của đơn vị {layout.unit_code} "
            f"kỳ {layout.period_id}: có thể tệp đã bị chép đè bằng tệp khác. Số liệu trong tệp chưa được đọc; "
            "hãy đặt lại đúng tệp của đơn vị cho kỳ này.",
        )
    )
    doc.unreadable_blocks.update(b.id for b in layout.blocks)
    return True


def _columns_moved(doc: Document, grid: _Grid, tab, block: Block, shift: int) -> bool:
    """The header (column titles and the numbered row "1 2 3 …") as the template has it; a
    column inserted or deleted shifts them, and the block is then not read at all: every value
    would be taken for the indicator of the column next to it."""
    for (row, col), expected in _header_cells(tab, block):
        found = grid.get(row + shift, col)
        if normalise(_as_label(found)) != normalise(expected):
            a1 = f"{get_column_letter(col)}{row + shift}"
            doc.problems.append(
                Problem(
                    block.id,
                    block.tab,
                    a1,
                    f'Ô {a1} phải là tiêu đề cột "{expected}" nhưng đang là "{_as_label(found)}": một cột đã bị chèn '
                    "thêm, bị xóa hoặc tiêu đề đã bị sửa. Bảng này chưa được đọc; hãy khôi phục đúng các cột như mẫu.",
                )
            )
            doc.unreadable_blocks.add(block.id)
            return True
    return False


_HEADERS: dict[tuple[int, str], tuple] = {}  # (id of a tab, block) → (the tab, its header cells)


def _header_cells(tab, block: Block) -> list:
    """The header cells of ``block`` in ``tab`` in order: found once per layout, not once per
    workbook read (the tab is kept with them, so its id is not reused while they are here)."""
    found = _HEADERS.get((id(tab), block.id))
    if found is None or found[0] is not tab:
        if len(_HEADERS) > 4096:
            _HEADERS.clear()
        first_body = block.rows[0][2] if block.rows else block.last_row + 1
        header = sorted(
            (pos, spec.value)
            for pos, spec in tab.cells.items()
            if block.first_row < pos[0] < first_body and spec.style == "header" and spec.value is not None
        )
        found = _HEADERS[(id(tab), block.id)] = (tab, header)
    return found[1]


def _as_label(value) -> str:
    """A header cell as text: the numbered row may come back as numbers (1 or 1.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def _extract_cover(doc: Document, layout: WorkbookLayout, grids, specs: list[FieldSpec]) -> None:
    if COVER_TAB not in grids:
        doc.problems.append(
            Problem(COVER_TAB, COVER_TAB, None, f"Không tìm thấy trang '{COVER_TAB}' (trang bìa).")
        )
        return
    grid = _Grid(grids[COVER_TAB])
    for spec in specs:
        doc.cells[spec.key] = CellValue(
            spec.key, grid.get(spec.row, spec.col), COVER_TAB, spec.row, spec.col, spec
        )


def _read_narrative(doc: Document, grid: _Grid, block: Block, specs: list[FieldSpec], shift: int) -> None:
    for spec in specs:
        row = spec.row + shift
        doc.cells[spec.key] = CellValue(spec.key, grid.get(row, spec.col), block.tab, row, spec.col, spec)


def _read_table(doc: Document, grid: _Grid, block: Block, specs: list[FieldSpec], shift: int) -> None:
    by_row: dict[str, list[FieldSpec]] = {}
    for spec in specs:
        by_row.setdefault(spec.row_id, []).append(spec)
    rows = list(block.rows)
    for i, (row_id, kind, template_row, label, lines) in enumerate(rows):
        actual = template_row + shift
        if kind == "list":
            found = _count_list_lines(grid, block, rows[i + 1 :], actual, lines)
            doc.list_lines[(block.id, row_id)] = found
            for spec in by_row.get(row_id, []):
                if spec.list_index == 1:
                    for n in range(1, found + 1):
                        key = spec.key.replace(f"[{1}]", f"[{n}]", 1)
                        template = (
                            spec
                            if n == 1
                            else FieldSpec(
                                **{**spec.__dict__, "key": key, "list_index": n, "row": spec.row + n - 1}
                            )
                        )
                        doc.cells[key] = CellValue(
                            key,
                            grid.get(actual + n - 1, spec.col),
                            block.tab,
                            actual + n - 1,
                            spec.col,
                            template,
                        )
            shift += found - lines
            continue
        if block.label_col and normalise(grid.get(actual, block.label_col)) != normalise(label):
            if _row_deleted(grid, block, actual, rows[i + 1 :]):
                problem = f'Dòng "{label}" của bảng đã bị xóa; hãy khôi phục dòng này.'
                shift -= 1
            else:
                problem = f'Ô {get_column_letter(block.label_col)}{actual} phải là "{label}" nhưng đang là "{grid.get(actual, block.label_col) or ""}"; dòng đã bị sửa, di chuyển hoặc xóa.'
            doc.problems.append(
                Problem(block.id, block.tab, f"{get_column_letter(block.label_col)}{actual}", problem)
            )
            doc.unreadable_blocks.add(f"{block.id}/{row_id}")
            continue
        for spec in by_row.get(row_id, []):
            doc.cells[spec.key] = CellValue(
                spec.key, grid.get(actual, spec.col), block.tab, actual, spec.col, spec
            )


def _row_deleted(grid: _Grid, block: Block, row: int, rest) -> bool:
    """The row holds what the template puts after the expected one: the expected row is gone."""
    found = normalise(grid.get(row, block.label_col))
    following = _next_label(rest)
    if following is not None:
        return found == following
    # the table's last row: after it come the table's note, a blank line or the next block
    return found == "" or found.startswith("(ghi chú") or found.startswith(("bảng ", "nội dung "))


def _next_label(rest) -> str | None:
    for _, kind, _, label, _ in rest:
        if kind != "list":
            return normalise(label)
    return None


def _count_list_lines(grid: _Grid, block: Block, rest, first: int, template_lines: int) -> int:
    """How many lines the list has now: up to the next fixed row's label, or the next anchor."""
    stop_label = _next_label(rest)
    if not block.label_col or stop_label is None:
        return template_lines
    for n in range(0, MAX_LIST_LINES):
        row = first + n
        if row > len(grid.rows):
            return n
        if normalise(grid.get(row, block.label_col)) == stop_label:
            return n
        if normalise(grid.get(row, 1)).startswith("bảng ") and n >= 1:
            return n
    return template_lines


def field_value(cell: CellValue, choices: list[str] | None = None):
    """The parsed value of one located cell (see :mod:`bot.sheets.values`)."""
    col_type = "text" if cell.spec.type == "narrative" else cell.spec.type
    if col_type == "choice" and not choices:
        col_type = "text"
    if cell.spec.input and is_formula(cell.raw):
        return parse_typed_formula(cell.raw, col_type)  # typed by the clerk, not the template's
    return parse_cell(cell.raw, col_type, choices)


def to_json(doc: Document, schema, location: str = "") -> dict:
    """The values document: every field by table / row / column id with its value and cell."""
    out = {
        "unit": doc.unit,
        "period": doc.period,
        "schema_version": schema.version,
        "location": location,
        "narratives": {},
        "tables": {},
        "cover": {},
        "problems": [p.__dict__ for p in doc.problems],
    }
    for key, cell in doc.cells.items():
        spec = cell.spec
        column = schema.table_by_id[spec.table].column_by_id.get(spec.col_id) if spec.table else None
        parsed = field_value(cell, column.choices if column else None)
        entry = {"value": _jsonable(parsed.value), "cell": cell.where}
        if parsed.problem:
            entry["problem"] = parsed.problem
        if is_formula(cell.raw):
            entry["formula"] = str(cell.raw)
        if spec.block == "_cover":
            out["cover"][key.split("/", 1)[1]] = entry
        elif spec.table is None:
            out["narratives"][key] = entry
        elif spec.list_index is not None:
            lines = out["tables"].setdefault(spec.table, {}).setdefault(spec.row_id, [])
            while len(lines) < spec.list_index:
                lines.append({})
            lines[spec.list_index - 1][spec.col_id] = entry
        else:
            out["tables"].setdefault(spec.table, {}).setdefault(spec.row_id, {})[spec.col_id] = entry
    return out


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def content_hash(doc: Document) -> str:
    """A hash of what the unit owns in its workbook (not the feedback the bot writes there)."""
    owned = {k: [repr(c.raw), c.tab, c.row, c.col] for k, c in doc.cells.items() if k not in BOT_OWNED}
    problems = [p.message for p in doc.problems]
    text = json.dumps(
        [owned, problems, sorted(map(list, doc.list_lines.items()), key=str)], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
