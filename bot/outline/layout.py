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

The tabs are built in :mod:`bot.outline.layout_cover` (the cover) and
:mod:`bot.outline.layout_sections` (section tabs: narrative boxes and table blocks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from openpyxl.utils import get_column_letter

from bot.outline.periods import Period
from bot.outline.schema import Narrative, Schema, Table

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


@dataclass(slots=True)  # slots: a master or a feedback tab holds tens of thousands of them
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
    # Imported here: the tab builders are made of this module's data classes.
    from bot.outline.layout_cover import cover_tab

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
    layout.tabs.append(cover_tab(schema, unit, period, layout, deadline_note))
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
    from bot.outline.layout_sections import section_tab  # see build_layout

    sections = WorkbookLayout("", "", "", unit_kind, period.id, schema.version, [], {}, [])
    for section in schema.sections_for(unit_kind):
        sections.tabs.append(section_tab(schema, section, unit_kind, period, sections, lines))
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


LINE_HEIGHT = 15  # points per wrapped line at the default font
# Titles, headings and anchors stay on one line and run over the empty cells to their right:
# no merge needed (every merge makes a workbook slower to open, for us and for the unit).
ONE_LINE_STYLES = ("title", "subtitle", "heading", "anchor")


def wrapped_lines(text: str, width: float) -> int:
    """The lines ``text`` takes in a wrapping cell ``width`` characters wide (at least one)."""
    if "\n" in text:
        return sum(1 + int(len(part) * 1.1 // width) for part in text.split("\n"))
    return 1 + int(len(text) * 1.1 // width)


def fit_row_heights(tab: TabLayout) -> None:
    """Grow each row to show its wrapped text (spreadsheets do not do it for merged cells)."""
    spans = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in tab.merges}
    widths: dict[tuple[int, int], float] = {}  # (first, last column) → the width they span
    heights, tall = tab.row_heights, []
    for place, spec in tab.cells.items():
        value = spec.value
        if not isinstance(value, str) or not value or spec.style in ONE_LINE_STYLES:
            continue
        row, col = place
        r2, c2 = spans.get(place, place)
        width = widths.get((col, c2))
        if width is None:
            width = widths[(col, c2)] = max(sum(tab.col_widths.get(c, 12) for c in range(col, c2 + 1)), 1)
        needed = wrapped_lines(value, width) * LINE_HEIGHT  # never below one line: the row gets a height
        if r2 != row:
            tall.append((row, r2, needed))
        elif heights.get(row, 0) < needed:
            heights[row] = needed
    for first, last, needed in tall:  # a header merged down several rows: their sum must do
        have = sum(heights.get(r, LINE_HEIGHT) for r in range(first, last + 1))
        if have < needed:
            heights[last] = heights.get(last, LINE_HEIGHT) + needed - have


def add_field(layout: WorkbookLayout, spec: FieldSpec) -> None:
    layout.fields[spec.key] = spec
