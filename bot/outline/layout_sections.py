"""The section tabs of a unit's workbook: titles, headings, narrative boxes and table blocks.

Each block starts with its anchor text in column A (see :mod:`bot.outline.layout`); a table block
lays out its header rows, one row per schema row (``min_rows`` lines, or more, for a list), the
formulas of its ratio and total cells and the validation of its input cells.
"""

from __future__ import annotations

from openpyxl.utils import get_column_letter

from bot.outline.layout import (
    NARRATIVE_WIDTH,
    Block,
    CellSpec,
    FieldSpec,
    TabLayout,
    Validation,
    WorkbookLayout,
    add_field,
    cell_key,
    fit_row_heights,
    list_key,
    narrative_anchor,
    table_anchor,
)
from bot.outline.periods import Period
from bot.outline.schema import Column, Heading, Narrative, Row, Schema, Table


def section_tab(
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
    add_field(layout, FieldSpec(narrative.id, tab.name, narrative.id, row, 1, "narrative", True))
    layout.blocks.append(Block(narrative.id, tab.name, anchor, first, row, "narrative"))
    return row + 1


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
            add_field(
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
            add_field(
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
