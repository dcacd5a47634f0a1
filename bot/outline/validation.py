"""Validation of ``sheets_schema.json`` beyond the types: the messages that name a broken
element by its JSON path, and the checks that need the whole file (ids that must exist, be
unique, or be of the right kind).

A leaf module (the schema's models import it, not the reverse) so that the checks can grow
without the models' module doing so.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.outline.schema import Schema, Table

COLUMN_TYPES = ("count", "percent", "decimal", "text", "date", "bool", "choice")


class SchemaError(Exception):
    """The schema file is unusable; ``problems`` holds one 'path: what is wrong' line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def user_message(self) -> str:
        lines = [f"Tệp cấu trúc báo cáo {self.source} không hợp lệ:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def month_day(text: str) -> str:
    """A day of the year written MM-DD that every year has (so not 02-29)."""
    try:
        month, day = (int(x) for x in text.split("-"))
        date(2001, month, day)  # a common year
    except ValueError:
        raise ValueError(f"'{text}' is not a day of the year written MM-DD (e.g. 12-15)") from None
    return text


def format_pydantic_error(err: dict, raw: dict) -> str:
    loc = _json_path(err["loc"], raw)
    msg = err["msg"]
    if err["type"] == "missing":
        msg = "field required (thiếu trường bắt buộc)"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field (trường không được khai báo)"
    return f"{loc}: {msg}"


def _json_path(loc: tuple, raw) -> str:
    """Turn a pydantic location into a JSON path, naming list items by their id when they have one."""
    parts, node = ["$"], raw
    for key in loc:
        if isinstance(key, str) and key in ("table", "narrative", "heading") and isinstance(node, dict):
            continue  # discriminator tag inserted by pydantic, not part of the document
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{key}]" + (f"(id={ident})" if ident else ""))
        else:
            node = node.get(key) if isinstance(node, dict) else None
            parts.append(f".{key}")
    return "".join(parts)


def cross_reference_problems(schema: Schema):
    yield from _duplicate_ids(schema)
    kinds = set(schema.kind_by_id)
    periods = set(schema.period_by_id) | {"prev"}
    for k in schema.unit_kinds:
        if k.like is not None and k.like not in kinds:
            yield f"$.unit_kinds(id={k.id}).like: unknown unit kind '{k.like}'"
    for s in schema.sections:
        where = f"$.sections(id={s.id})"
        yield from _unknown_kinds(where, s.applies_to, kinds)
        for p in s.parts:
            pid = getattr(p, "id", None) or getattr(p, "ref", None)
            yield from _unknown_kinds(f"{where}.parts(id={pid})", p.applies_to, kinds)
            if p.kind == "narrative":
                yield from _unknown_kinds(f"{where}.parts(id={p.id}).prompt_by_kind", p.prompt_by_kind, kinds)
            if p.kind == "heading":
                yield from _unknown_kinds(f"{where}.parts(ref={p.ref}).text_by_kind", p.text_by_kind, kinds)
            if p.kind == "table":
                yield from _table_problems(f"{where}.parts(id={p.id})", p, kinds, periods)
    for rule in schema.rules:
        if not rule.types:
            yield f"$.rules(id={rule.id}): a global rule needs 'types'"
        for t in rule.types or []:
            if t not in COLUMN_TYPES:
                yield f"$.rules(id={rule.id}).types: unknown column type '{t}'"


def _duplicate_ids(schema: Schema):
    seen: dict[str, str] = {}
    for s in schema.sections:
        for ident, where in [(s.id, "section")] + [
            (p.id, p.kind) for p in s.parts if not p.kind == "heading"
        ]:
            if ident in seen:
                yield f"$.sections(id={s.id}): duplicate id '{ident}' ({where}; already used by a {seen[ident]})"
            seen[ident] = where
    tabs = [s.tab for s in schema.sections]
    for tab in {t for t in tabs if tabs.count(t) > 1}:
        yield f"$.sections: duplicate tab name '{tab}'"
    numbers = [t.number for t in schema.tables]
    for n in {n for n in numbers if numbers.count(n) > 1}:
        yield f"$.sections: duplicate table number {n}"


def _unknown_kinds(where: str, applies_to, kinds):
    """Unit kinds named in ``applies_to`` (or the keys of a ``*_by_kind`` mapping) that do not exist."""
    suffix = "" if isinstance(applies_to, dict) else ".applies_to"
    for kind in applies_to or []:
        if kind not in kinds:
            yield f"{where}{suffix}: unknown unit kind '{kind}'"


def _table_problems(where: str, table: Table, kinds: set, periods: set):
    cols = [c.id for c in table.columns]
    rows = [r.id for r in table.rows]
    for ident in {c for c in cols if cols.count(c) > 1}:
        yield f"{where}.columns: duplicate column id '{ident}'"
    for ident in {r for r in rows if rows.count(r) > 1}:
        yield f"{where}.rows: duplicate row id '{ident}'"
    for c in table.columns:
        for ref in c.ratio_of or ():
            if ref not in table.column_by_id:
                yield f"{where}.columns(id={c.id}).ratio_of: unknown column id '{ref}'"
        if c.period is not None and c.period not in periods:
            yield f"{where}.columns(id={c.id}).period: unknown period '{c.period}'"
    yield from _unknown_kinds(f"{where}.note_by_kind", table.note_by_kind, kinds)
    for r in table.rows:
        yield from _unknown_kinds(f"{where}.rows(id={r.id})", r.applies_to, kinds)
        yield from _unknown_kinds(f"{where}.rows(id={r.id}).label_by_kind", r.label_by_kind, kinds)
        for ref in (r.of or []) + r.no_input:
            if ref not in table.row_by_id and ref not in table.column_by_id:
                yield f"{where}.rows(id={r.id}): unknown row or column id '{ref}'"
    for rule in table.rules:
        for operand in rule.operands():
            problem = operand_problem(table, operand)
            if problem:
                yield f"{where}.rules(id={rule.id}): {problem}"


def operand_problem(table: Table, operand: str) -> str | None:
    """Why a 'row.column' operand does not name anything in ``table``, or None if it does."""
    row, sep, col = operand.partition(".")
    if not sep:
        return f"operand '{operand}' is not of the form 'row.column'"
    list_row = row[:-2] if row.endswith("[]") else None
    if row != "*" and (list_row or row) not in table.row_by_id:
        return f"operand '{operand}': unknown row id '{list_row or row}'"
    if list_row and table.row_by_id[list_row].kind != "list":
        return f"operand '{operand}': row '{list_row}' is not a list row"
    if col != "*" and col not in table.column_by_id:
        return f"operand '{operand}': unknown column id '{col}'"
    return None
