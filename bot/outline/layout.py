"""Schema × unit kind × period → a workbook layout: tabs of cells, merges, formulas, anchors.

The layout is plain data that every backend renders the same way (openpyxl for the embedded
workbooks, one Sheets batchUpdate for Google). It also tells the reader where each field is:
every table and narrative block starts with an anchor text in column A, and fields sit at
fixed offsets from their block's anchor, so a unit that inserts list rows shifts nothing, and
a unit that deletes or renames rows is caught by the anchors instead of being read as
shifted data (see :mod:`bot.sheets.document`).

Field keys: ``table/row/col`` for table cells (``table/list[3]/col`` for the third line of a
list, ``…/_label`` for a list line's own label), the narrative id for a narrative, and
``_cover/status`` for the unit's "Chưa nộp / Đã nộp" switch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from openpyxl.utils import get_column_letter

from bot.outline.periods import Period
from bot.outline.schema import Column, Heading, Narrative, Row, Schema, Table

COVER_TAB = "Bìa"
CHECK_TAB = "Kiểm tra"
STATUS_CHOICES = ("Chưa nộp", "Đã nộp")
NARRATIVE_WIDTH = 8  # columns a narrative box spans


@dataclass(frozen=True)
class Validation:
    kind: str  # "whole", "decimal", "list", "date"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()


@dataclass
class CellSpec:
    value: object = None
    formula: str | None = None  # A1-style, valid in Excel and Google Sheets
    style: str = "text"  # a key of STYLES
    input: bool = False  # unlocked for the unit
    validation: Validation | None = None
    link: str | None = None  # an internal link "Tab!A1" (the "Kiểm tra" tab links to cells)


@dataclass
class TabLayout:
    name: str
    cells: dict[tuple[int, int], CellSpec] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    col_widths: dict[int, float] = field(default_factory=dict)
    row_heights: dict[int, float] = field(default_factory=dict)
    landscape: bool = False
    protected: bool = True

    def put(self, row: int, col: int, spec: CellSpec) -> None:
        self.cells[(row, col)] = spec

    @property
    def max_row(self) -> int:
        return max((r for r, _ in self.cells), default=0)

    @property
    def max_col(self) -> int:
        return max((c for _, c in self.cells), default=0)


@dataclass(frozen=True)
class FieldSpec:
    """Where one field sits, relative to its block's anchor, and what it is."""

    key: str
    tab: str
    block: str  # table id, narrative id or "_cover"
    row: int  # absolute row in the fresh template
    col: int
    type: str  # a column type, or "narrative"
    input: bool
    computed: bool = False
    table: str | None = None
    row_id: str | None = None
    col_id: str | None = None
    list_index: int | None = None  # 1-based line of a list row

    @property
    def a1(self) -> str:
        return f"{get_column_letter(self.col)}{self.row}"


@dataclass(frozen=True)
class Block:
    """A table or narrative: its anchor text in column A and the rows it spans in the template."""

    id: str
    tab: str
    anchor: str
    first_row: int  # the anchor's row
    last_row: int
    kind: str  # "table" or "narrative"
    # table rows in order: (row id, row kind, template row of its first line, label, lines)
    rows: tuple[tuple[str, str, int, str, int], ...] = ()
    label_col: int = 0  # the column holding row labels; 0 when the table has none


@dataclass
class WorkbookLayout:
    title: str
    unit_code: str
    unit_name: str
    unit_kind: str
    period_id: str
    schema_version: str
    tabs: list[TabLayout]
    fields: dict[str, FieldSpec]
    blocks: list[Block]

    def tab(self, name: str) -> TabLayout:
        return next(t for t in self.tabs if t.name == name)


def table_anchor(table: Table) -> str:
    return f"Bảng {table.number} ({table.ref}). {table.title}"


def narrative_anchor(narrative: Narrative) -> str:
    return f"Nội dung {narrative.ref} [{narrative.id}]"


def list_key(table_id: str, row_id: str, index: int, col_id: str) -> str:
    return f"{table_id}/{row_id}[{index}]/{col_id}"


def cell_key(table_id: str, row_id: str, col_id: str) -> str:
    return f"{table_id}/{row_id}/{col_id}"


# --- building ------------------------------------------------------------------------------


def build_layout(
    schema: Schema, unit, period: Period, *, prefill: dict | None = None, deadline_note: str = ""
) -> WorkbookLayout:
    """The whole workbook for ``unit`` in ``period``; ``prefill`` maps field keys to values
    carried over from the unit's previous report (written once, at provisioning)."""
    layout = WorkbookLayout(
        title=f"Báo cáo CCHC {period.label} - {unit.name}",
        unit_code=unit.code,
        unit_name=unit.name,
        unit_kind=unit.kind,
        period_id=period.id,
        schema_version=schema.version,
        tabs=[],
        fields={},
        blocks=[],
    )
    layout.tabs.append(_cover_tab(schema, unit, period, layout, deadline_note))
    sections = _sections(schema, unit.kind, period, _prefilled_lines(prefill or {}))
    layout.tabs.extend(sections.tabs)
    layout.fields.update(sections.fields)
    layout.blocks.extend(sections.blocks)
    layout.tabs.append(TabLayout(name=CHECK_TAB, landscape=True))
    _prefill(layout, prefill or {})
    return layout


_SECTIONS: dict[tuple, tuple] = {}  # (schema id, unit kind, period) → (schema, its section tabs)
SECTIONS_KEPT = 64


def _sections(schema: Schema, unit_kind: str, period: Period, lines: dict | None = None) -> WorkbookLayout:
    """The section tabs of a unit kind and period (with their fields and blocks): the same for
    every unit of the kind, so laid out once and shared by the layouts built from them. A unit
    whose carried report has more list lines than the template (``lines``) gets its own."""
    if lines:
        return _lay_out_sections(schema, unit_kind, period, lines)
    key = (id(schema), unit_kind, period)
    kept = _SECTIONS.get(key)
    if kept is None or kept[0] is not schema:
        if len(_SECTIONS) >= SECTIONS_KEPT:
            _SECTIONS.clear()
        kept = _SECTIONS[key] = (schema, _lay_out_sections(schema, unit_kind, period, {}))
    return kept[1]


def _lay_out_sections(schema: Schema, unit_kind: str, period: Period, lines: dict) -> WorkbookLayout:
    sections = WorkbookLayout("", "", "", unit_kind, period.id, schema.version, [], {}, [])
    for section in schema.sections_for(unit_kind):
        sections.tabs.append(_section_tab(schema, section, unit_kind, period, sections, lines))
    return sections


def _prefill(layout: WorkbookLayout, prefill: dict) -> None:
    """Carried values into a layout whose section tabs are shared: the tabs written into are
    copied first, so no other layout sees the values."""
    copied: dict[str, TabLayout] = {}
    for key, value in prefill.items():
        spec = layout.fields.get(key)
        if not (spec and spec.input and value is not None):
            continue
        if spec.tab not in copied:
            index = next(i for i, t in enumerate(layout.tabs) if t.name == spec.tab)
            tab = layout.tabs[index]
            copied[spec.tab] = layout.tabs[index] = replace(tab, cells=dict(tab.cells))
        cells = copied[spec.tab].cells
        cells[(spec.row, spec.col)] = replace(cells[(spec.row, spec.col)], value=value)


def _cover_tab(schema: Schema, unit, period: Period, layout: WorkbookLayout, deadline_note: str) -> TabLayout:
    tab = TabLayout(name=COVER_TAB, col_widths={1: 34, 2: 60})
    lines = [
        (schema.title, "title"),
        (schema.subtitle, "subtitle"),
        (None, None),
        (("Đơn vị", unit.name), "pair"),
        (("Mã đơn vị", unit.code), "pair"),
        (("Loại đơn vị", schema.kind_by_id[unit.kind].label), "pair"),
        (("Kỳ báo cáo", period.label), "pair"),
        (
            ("Thời gian lấy số liệu", f"từ {period.cutoff_start:%d/%m/%Y} đến {period.cutoff_end:%d/%m/%Y}"),
            "pair",
        ),
        (
            (
                "Hạn gửi báo cáo",
                f"{period.deadline:%d/%m/%Y}" + (f" ({deadline_note})" if deadline_note else ""),
            ),
            "pair",
        ),
    ]
    row = 1
    for content, kind in lines:
        if kind in ("title", "subtitle"):
            tab.put(row, 1, CellSpec(content, style=kind))
            tab.merges.append((row, 1, row, 2))
        elif kind == "pair":
            tab.put(row, 1, CellSpec(content[0], style="label"))
            tab.put(row, 2, CellSpec(content[1], style="text"))
        row += 1
    row += 1
    tab.put(row, 1, CellSpec("Tình trạng báo cáo (đơn vị chọn khi đã hoàn thành)", style="label"))
    tab.put(
        row,
        2,
        CellSpec(
            "Chưa nộp", style="input", input=True, validation=Validation("list", choices=STATUS_CHOICES)
        ),
    )
    _add_field(layout, FieldSpec("_cover/status", COVER_TAB, "_cover", row, 2, "choice", True))
    row += 1
    for key, label in (
        ("state", "Kết quả kiểm tra gần nhất"),
        ("checked_at", "Thời điểm kiểm tra"),
        ("comment", "Ý kiến của cơ quan tổng hợp"),
    ):
        tab.put(row, 1, CellSpec(label, style="label"))
        tab.put(row, 2, CellSpec("", style="status"))
        _add_field(layout, FieldSpec(f"_cover/{key}", COVER_TAB, "_cover", row, 2, "text", False))
        row += 1
    row += 1
    tab.put(row, 1, CellSpec("Hướng dẫn", style="heading"))
    row += 1
    for text in INSTRUCTIONS:
        tab.put(row, 1, CellSpec(text, style="note"))
        tab.merges.append((row, 1, row, 2))
        row += 1
    fit_row_heights(tab)
    return tab


INSTRUCTIONS = (
    "1. Mỗi phần của đề cương nằm ở một trang tính riêng (các thẻ phía dưới). Chỉ nhập vào các ô nền vàng nhạt; các ô khác đã được khóa.",
    "2. Số liệu nhập dạng số (ví dụ 1234 hoặc 12,5). Ô để trống nghĩa là chưa có số liệu; nếu số liệu bằng không, hãy nhập 0.",
    "3. Các cột tỷ lệ và dòng Tổng được tính tự động, không cần nhập.",
    "4. Bảng có dòng trống để liệt kê: nhập lần lượt từ trên xuống; nếu thiếu dòng, chèn thêm dòng ngay phía trên dòng Tổng.",
    "5. Không xóa, không đổi tên trang tính và không xóa dòng của biểu mẫu.",
    '6. Trang "Kiểm tra" liệt kê các lỗi hệ thống phát hiện, kèm liên kết đến từng ô; trang này được cập nhật sau mỗi lần kiểm tra.',
    '7. Khi hoàn thành, chọn "Đã nộp" ở ô Tình trạng báo cáo phía trên.',
)


_LIST_KEY = re.compile(r"^([^/]+)/([^/\[]+)\[(\d+)\]/")


def _prefilled_lines(prefill: dict) -> dict[tuple[str, str], int]:
    """(table, list row) → the highest line the prefill fills: a list carried from a report
    where the unit inserted lines needs that many lines in the new workbook."""
    lines: dict[tuple[str, str], int] = {}
    for key in prefill:
        match = _LIST_KEY.match(key)
        if match:
            where = (match[1], match[2])
            lines[where] = max(lines.get(where, 0), int(match[3]))
    return lines


def _section_tab(
    schema: Schema, section, unit_kind: str, period: Period, layout: WorkbookLayout, lines: dict | None = None
) -> TabLayout:
    tab = TabLayout(name=section.tab)
    row = 1
    if section.group:
        tab.put(row, 1, CellSpec(section.group, style="title"))
        row += 1
    tab.put(row, 1, CellSpec(f"{section.title}", style="title"))
    row += 2
    for part in schema.parts_for(section, unit_kind):
        if isinstance(part, Heading):
            tab.put(row, 1, CellSpec(schema.heading_for(part, unit_kind), style="heading"))
            row += 1
        elif isinstance(part, Narrative):
            row = _narrative_block(tab, schema, part, unit_kind, row, layout) + 1
        elif isinstance(part, Table):
            row = _table_block(tab, part, unit_kind, period, row, layout, schema, lines or {}) + 1
    width = max(tab.max_col, NARRATIVE_WIDTH)
    tab.landscape = width > 8
    for col in range(1, width + 1):
        tab.col_widths.setdefault(col, 12)
    fit_row_heights(tab)
    return tab


LINE_HEIGHT = 15  # points per wrapped line at the default font
# Titles, headings and anchors stay on one line and run over the empty cells to their right:
# no merge needed (every merge makes a workbook slower to open, for us and for the unit).
ONE_LINE_STYLES = ("title", "subtitle", "heading", "anchor")


def fit_row_heights(tab: TabLayout) -> None:
    """Grow each row to show its wrapped text (spreadsheets do not do it for merged cells)."""
    spans = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in tab.merges}
    tall = []
    for (row, col), spec in tab.cells.items():
        if not isinstance(spec.value, str) or not spec.value or spec.style in ONE_LINE_STYLES:
            continue
        r2, c2 = spans.get((row, col), (row, col))
        width = sum(tab.col_widths.get(c, 12) for c in range(col, c2 + 1))
        lines = sum(1 + int(len(part) * 1.1 // max(width, 1)) for part in spec.value.split("\n"))
        if r2 == row:
            tab.row_heights[row] = max(tab.row_heights.get(row, LINE_HEIGHT), lines * LINE_HEIGHT)
        else:
            tall.append((row, r2, lines * LINE_HEIGHT))
    for first, last, needed in tall:  # a header merged down several rows: their sum must do
        have = sum(tab.row_heights.get(r, LINE_HEIGHT) for r in range(first, last + 1))
        if have < needed:
            tab.row_heights[last] = tab.row_heights.get(last, LINE_HEIGHT) + needed - have


def _narrative_block(
    tab: TabLayout, schema: Schema, narrative: Narrative, unit_kind: str, row: int, layout: WorkbookLayout
) -> int:
    anchor = narrative_anchor(narrative)
    prompt = schema.prompt_for(narrative, unit_kind)
    first = row
    tab.put(row, 1, CellSpec(anchor, style="anchor"))
    row += 1
    tab.put(row, 1, CellSpec(prompt, style="prompt"))
    tab.merges.append((row, 1, row, NARRATIVE_WIDTH))
    row += 1
    tab.put(row, 1, CellSpec(None, style="narrative", input=True))
    tab.merges.append((row, 1, row, NARRATIVE_WIDTH))
    tab.row_heights[row] = 120
    _add_field(layout, FieldSpec(narrative.id, tab.name, narrative.id, row, 1, "narrative", True))
    layout.blocks.append(Block(narrative.id, tab.name, anchor, first, row, "narrative"))
    return row + 1


def _add_field(layout: WorkbookLayout, spec: FieldSpec) -> None:
    layout.fields[spec.key] = spec


def _table_block(
    tab: TabLayout,
    table: Table,
    unit_kind: str,
    period: Period,
    row: int,
    layout: WorkbookLayout,
    schema: Schema,
    lines: dict | None = None,
) -> int:
    # Period columns later than this report's period are not asked yet.
    open_periods = {p.id for p in schema.periods if p.order <= period.kind.order} | {None, "prev"}
    stub = [h for h in (table.stt_header, table.label_header) if h is not None]
    first_data_col = len(stub) + 1
    last_col = first_data_col + len(table.columns) - 1
    first = row
    tab.put(row, 1, CellSpec(table_anchor(table), style="anchor"))
    row += 1
    row = _header_rows(tab, table, stub, first_data_col, row)
    rows = [r for r in table.rows if schema.applies(r.applies_to, unit_kind)]
    row_span: dict[str, tuple[int, int]] = {}
    block_rows = []
    for r in rows:
        start = row
        count = max(r.min_rows, (lines or {}).get((table.id, r.id), 0)) if r.kind == "list" else 1
        for i in range(1, count + 1):
            _body_row(
                tab,
                table,
                r,
                i,
                row,
                stub,
                first_data_col,
                open_periods,
                layout,
                row_span,
                schema.label_for(r, unit_kind),
            )
            row += 1
        row_span[r.id] = (start, row - 1)
        block_rows.append((r.id, r.kind, start, schema.label_for(r, unit_kind), count))
    for c in range(1, last_col + 1):
        tab.col_widths[c] = max(tab.col_widths.get(c, 0), _width_for(table, stub, c, first_data_col))
    note = schema.note_for(table, unit_kind)
    if note:
        tab.put(row, 1, CellSpec(note, style="note"))
        tab.merges.append((row, 1, row, last_col))
        row += 1
    label_col = len(stub) if table.label_header is not None else 0
    layout.blocks.append(
        Block(table.id, tab.name, table_anchor(table), first, row - 1, "table", tuple(block_rows), label_col)
    )
    return row


def _width_for(table: Table, stub: list[str], col: int, first_data_col: int) -> float:
    if col < first_data_col:
        is_label = table.label_header is not None and col == len(stub)
        return table.label_width if is_label else 6
    column = table.columns[col - first_data_col]
    return column.width or (14 if column.type in ("text", "choice", "date") else 11)


def _header_rows(tab: TabLayout, table: Table, stub: list[str], first_data_col: int, row: int) -> int:
    depth = table.header_depth
    for i, text in enumerate(stub, start=1):
        tab.put(row, i, CellSpec(text, style="header"))
        if depth > 1:
            tab.merges.append((row, i, row + depth - 1, i))
    for level in range(depth):
        col = first_data_col
        while col < first_data_col + len(table.columns):
            column = table.columns[col - first_data_col]
            if level >= len(column.path):
                col += 1
                continue
            prefix = column.path[: level + 1]
            end = col
            while (
                end + 1 < first_data_col + len(table.columns)
                and table.columns[end + 1 - first_data_col].path[: level + 1] == prefix
                and len(table.columns[end + 1 - first_data_col].path) > level
            ):
                end += 1
            tab.put(row + level, col, CellSpec(prefix[-1], style="header"))
            bottom = row + depth - 1 if level == len(column.path) - 1 else row + level
            if end > col or bottom > row + level:
                tab.merges.append((row + level, col, bottom, end))
            col = end + 1
    for level in range(depth):  # fill merged-away cells so borders render everywhere
        for col in range(1, first_data_col + len(table.columns)):
            tab.cells.setdefault((row + level, col), CellSpec(None, style="header"))
    row += depth
    if table.numbered_columns:
        for col in range(1, first_data_col + len(table.columns)):
            tab.put(row, col, CellSpec(str(col), style="header"))
        row += 1
    return row


def _body_row(
    tab,
    table: Table,
    r: Row,
    index: int,
    row: int,
    stub,
    first_data_col,
    open_periods,
    layout,
    row_span,
    label: str,
):
    style = {"total": "total", "heading": "label"}.get(r.kind, "label")
    if table.stt_header is not None:
        tab.put(row, 1, CellSpec(str(index) if r.kind == "list" else r.stt, style=style))
    if table.label_header is not None:
        label_col = len(stub)
        if r.kind == "list":
            tab.put(row, label_col, CellSpec(None, style="input_text", input=True))
            key = list_key(table.id, r.id, index, "_label")
            _add_field(
                layout,
                FieldSpec(
                    key,
                    tab.name,
                    table.id,
                    row,
                    label_col,
                    "text",
                    True,
                    False,
                    table.id,
                    r.id,
                    "_label",
                    index,
                ),
            )
        else:
            tab.put(row, label_col, CellSpec(label, style=style))
    for j, column in enumerate(table.columns):
        col = first_data_col + j
        key = (
            list_key(table.id, r.id, index, column.id)
            if r.kind == "list"
            else cell_key(table.id, r.id, column.id)
        )
        spec, computed = _data_cell(table, r, column, row, first_data_col, open_periods, row_span)
        tab.put(row, col, spec)
        if r.kind != "heading":
            _add_field(
                layout,
                FieldSpec(
                    key,
                    tab.name,
                    table.id,
                    row,
                    col,
                    column.type_on(r),
                    spec.input,
                    computed,
                    table.id,
                    r.id,
                    column.id,
                    index if r.kind == "list" else None,
                ),
            )


def _data_cell(
    table: Table, r: Row, column: Column, row: int, first_data_col: int, open_periods: set, row_span
) -> tuple[CellSpec, bool]:
    """The cell of ``column`` on table row ``r``: an input, a formula, or a locked blank."""
    letter = lambda col_id: get_column_letter(first_data_col + [c.id for c in table.columns].index(col_id))  # noqa: E731
    if r.kind == "heading" or column.id in r.no_input:
        return CellSpec(None, style="locked"), False
    if column.ratio_of:
        num, den = letter(column.ratio_of[0]), letter(column.ratio_of[1])
        scale = f"*{column.scale:g}" if column.scale != 1 else ""
        formula = f'=IF(N({den}{row})=0,"",ROUND({num}{row}/{den}{row}{scale},{column.decimals}))'
        return CellSpec(formula=formula, style="computed"), True
    if r.kind == "total":
        return _total_cell(table, r, column, row, letter, row_span)
    if column.period not in open_periods:
        return CellSpec(None, style="na"), False
    style = "input" if column.is_numeric else "input_text"
    return CellSpec(None, style=style, input=True, validation=_validation(column, column.type_on(r))), False


def _total_cell(table: Table, r: Row, column: Column, row: int, letter, row_span) -> tuple[CellSpec, bool]:
    parts = [p for p in table.total_parts(r) if p in row_span]  # row_span: the rows this unit has
    ranges = []
    for part in parts:
        start, end = row_span[part]
        col = letter(column.id)
        ranges.append(f"{col}{start}" if start == end else f"{col}{start}:{col}{end}")
    if column.type in ("count", "decimal"):
        return CellSpec(formula=f"=SUM({','.join(ranges)})", style="computed_total"), True
    if column.type == "bool":
        counts = "+".join(f'COUNTIF({rng},"Có")' for rng in ranges)
        return CellSpec(formula=f"={counts}", style="computed_total"), True
    return CellSpec(None, style="total"), False


def _validation(column: Column, cell_type: str) -> Validation | None:
    if cell_type == "count":
        return Validation("whole", min=0)
    if cell_type == "percent":
        return Validation("decimal", min=0, max=100)
    if cell_type == "decimal":
        return Validation("decimal")
    if cell_type == "bool":
        return Validation("list", choices=("Có", "Không"))
    if cell_type == "choice":
        return Validation("list", choices=tuple(column.choices or ()))
    if cell_type == "date":
        return Validation("date")
    return None
