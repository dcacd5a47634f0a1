"""The report outline as typed data, and validation of ``sheets_schema.json``.

The JSON file is the single source of truth for the outline: sections (one tab each), their
narrative fields and tables, the unit kinds each part applies to, the reporting periods, and
the consistency rules. Adding a table, a rule or a unit kind is an edit to that file.

A broken file is refused with a :class:`SchemaError` whose lines each name the JSON path of
the bad element and what is wrong with it; callers turn that into a user message. The checks
that need the whole file live in :mod:`bot.outline.validation`.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.outline.validation import (
    COLUMN_TYPES,
    SchemaError,
    cross_reference_problems,
    format_pydantic_error,
    month_day,
)

Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Label = Annotated[str, Field(min_length=1)]
MonthDay = Annotated[str, Field(pattern=r"^\d\d-\d\d$"), AfterValidator(month_day)]

NUMERIC_TYPES = ("count", "percent", "decimal")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitKind(_Strict):
    id: Id
    label: Label
    # A newer kind that takes the parts of an older one (e.g. the commune level, which since
    # July 2025 reports what the outline asked of district committees).
    like: Id | None = None


class PeriodKind(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Z0-9]+$")]
    label: Label
    order: int = Field(ge=1)
    # The data cut-off, both days inclusive: a start later in the year than the end lies in the
    # year before (Decree 09/2019/NĐ-CP: from 15 December of the previous year).
    cutoff_start: MonthDay
    cutoff_end: MonthDay
    default_deadline: MonthDay
    opens: MonthDay


class DecreaseCheck(_Strict):
    """A period column (cumulative over the year) smaller than the same year's earlier report."""

    min_drop: float = Field(ge=0)  # warn when the figure fell by more than this
    note: str | None = None


class OutlierCheck(_Strict):
    """A figure far from the unit's own earlier ones, after DHIS2's outlier analysis."""

    z_limit: float = Field(gt=0)  # standard deviations from the unit's mean
    min_history_for_z: int = Field(ge=2)  # earlier values needed for a z-score (a deviation needs 2)
    factor_limit: float = Field(
        gt=1
    )  # with fewer: more than this × the largest, or under 1/this of the smallest
    note: str | None = None


class HistoryChecks(_Strict):
    """Thresholds of the warnings that compare a report with the unit's earlier reports."""

    decrease: DecreaseCheck
    outlier: OutlierCheck


class Column(_Strict):
    id: Id
    path: list[Label] = Field(min_length=1)  # header labels from the top row down
    type: Literal["count", "percent", "decimal", "text", "date", "bool", "choice"]
    number: str | None = None  # the outline's column number, when it numbers columns
    choices: list[Label] | None = None
    # A computed column: value = numerator / denominator × scale, written as a live formula.
    ratio_of: tuple[Id, Id] | None = None
    scale: float = 100
    decimals: int = 1
    # Period columns (tables whose columns are periods): the period kinds whose report fills it.
    # "prev" marks last year's column. A report may fill its own and every earlier column.
    period: str | None = None
    # Prefilled at provisioning from the previous report of the same unit: the column id there.
    prefill_from: Id | None = None
    width: float | None = None
    note: str | None = None  # why the column is typed as it is; for maintainers, never shown

    @property
    def label(self) -> str:
        return " / ".join(self.path)

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def type_on(self, row: Row) -> str:
        """The type of this column's cell on ``row`` (a numeric row may say it is a count)."""
        return row.type if row.type and self.is_numeric and not self.ratio_of else self.type

    @model_validator(mode="after")
    def _choices_match_type(self):
        if self.type == "choice" and not self.choices:
            raise ValueError("a 'choice' column needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices:
            raise ValueError("'choices' is only for columns of type 'choice'")
        return self


class Row(_Strict):
    kind: Literal["fixed", "heading", "list", "total"] = "fixed"
    id: Id
    label: str = ""
    stt: str = ""
    # list rows: how many blank lines the template offers; a unit may insert more above the total
    min_rows: int = Field(default=5, ge=1, le=200)
    # total rows: the rows they add up (default: every fixed and list row above)
    of: list[Id] | None = None
    # fixed rows: columns left without input (e.g. a group row that only carries a label)
    no_input: list[Id] = []
    applies_to: list[Id] | None = None
    # the label as worded for a unit kind (communes where the outline says "huyện")
    label_by_kind: dict[Id, Label] = {}
    # the type of this row's numeric cells when it is not the column's: in a table whose rows,
    # not columns, say what is counted (Table 12: headcounts are counts, rates are decimals)
    type: Literal["count", "percent", "decimal"] | None = None

    @model_validator(mode="after")
    def _label_present(self):
        if self.kind != "list" and not self.label.strip():
            raise ValueError(f"row '{self.id}' has no label")
        return self


class Rule(_Strict):
    """One consistency rule. Operands are 'row.column' references inside the table.

    '*' as the row binds to each row in turn (list rows included); '*' as the column binds to
    each numeric column; 'items[]' as the row means every list row of list 'items' (summed in
    sum / le / ge; for 'required', at least one list row must be filled).

    Kinds: sum (left = Σ right), ratio (left = numerator / denominator × scale, rounded to
    'decimals'), le / ge (left ≤ / ≥ Σ right), range (min ≤ left ≤ max), required (left filled),
    monotone (each operand of 'sequence' ≥ the one before).

    'message' is Vietnamese and may use the placeholders {label} (table, row and column of the
    cell found wrong), {value}, {expected}, {bound}, {numerator}, {denominator}, {min}, {max}.
    """

    id: Id
    kind: Literal["sum", "ratio", "le", "ge", "range", "required", "monotone"]
    # "missing" is for 'required' rules: a value not given yet is told apart from a wrong one
    # (shown and counted as "Chưa nhập", not as an error)
    severity: Literal["error", "missing", "warning"] = "error"
    message: Label
    missing: Literal["skip_if_any", "skip_if_all", "never_skip"] = "skip_if_any"
    left: str | None = None  # sum / ratio / le / ge / range / required target
    right: list[str] | None = None  # sum parts; le / ge bound (summed if several)
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 100
    decimals: int = 1  # ratio: the value is compared after rounding to this many decimals
    min: float | None = None
    max: float | None = None
    sequence: list[str] | None = None  # monotone: operands that never decrease, in order
    types: list[str] | None = None  # global rules: column types the rule targets
    note: str | None = None  # why the rule is as it is (a reading of the outline); never shown

    @model_validator(mode="after")
    def _operands_fit_kind(self):
        need = {
            "sum": ("left", "right"),
            "ratio": ("left", "numerator", "denominator"),
            "le": ("left", "right"),
            "ge": ("left", "right"),
            "range": (),
            "required": (),
            "monotone": ("sequence",),
        }[self.kind]
        missing = [name for name in need if getattr(self, name) in (None, [])]
        if missing:
            raise ValueError(f"a '{self.kind}' rule needs {', '.join(missing)}")
        if self.kind == "range" and self.min is None and self.max is None:
            raise ValueError("a 'range' rule needs 'min' or 'max'")
        if self.kind in ("range", "required") and not (self.left or self.types):
            raise ValueError(f"a '{self.kind}' rule needs 'left' or 'types'")
        if self.severity == "missing" and self.kind != "required":
            raise ValueError("severity 'missing' is only for a 'required' rule (a value not given yet)")
        return self

    def operands(self) -> list[str]:
        refs = [self.left, self.numerator, self.denominator]
        refs += self.right or []
        refs += self.sequence or []
        return [r for r in refs if r]


class Table(_Strict):
    kind: Literal["table"]
    id: Id
    number: int = Field(ge=1)
    ref: str
    title: Label
    stt_header: str | None = None  # header of the STT column; None: no STT column
    label_header: str | None = None  # header of the row-label column; None: no label column
    label_width: float = 40
    numbered_columns: bool = False  # the outline prints a row of column numbers under the header
    columns: list[Column] = Field(min_length=1)
    rows: list[Row] = Field(min_length=1)
    rules: list[Rule] = []
    note: str | None = None
    note_by_kind: dict[Id, str] = {}  # the note as worded for a unit kind
    applies_to: list[Id] | None = None

    @cached_property
    def column_by_id(self) -> dict[str, Column]:
        return {c.id: c for c in self.columns}

    @cached_property
    def row_by_id(self) -> dict[str, Row]:
        return {r.id: r for r in self.rows}

    @property
    def header_depth(self) -> int:
        return max(len(c.path) for c in self.columns)

    def total_parts(self, total: Row) -> list[str]:
        """The ids of the rows a total row adds up: its ``of``, else every fixed and list row
        above it. The workbook's formula, the rules' computed value and the master's province
        sums all take their parts from here."""
        if total.of:
            return list(total.of)
        above = self.rows[: self.rows.index(total)]
        return [r.id for r in above if r.kind in ("fixed", "list")]


class Narrative(_Strict):
    kind: Literal["narrative"]
    id: Id
    ref: str
    prompt: Label
    # prompts that differ by unit kind (the outline asks departments and districts differently)
    prompt_by_kind: dict[Id, Label] = {}
    required: bool = True
    applies_to: list[Id] | None = None


class Heading(_Strict):
    kind: Literal["heading"]
    text: Label
    ref: str | None = None
    text_by_kind: dict[Id, Label] = {}  # the heading as worded for a unit kind
    applies_to: list[Id] | None = None


Part = Annotated[Union[Table, Narrative, Heading], Field(discriminator="kind")]


class Section(_Strict):
    id: Id
    ref: str
    title: Label
    group: str | None = None  # the outline's higher heading, e.g. "II. KẾT QUẢ THỰC HIỆN …"
    tab: Annotated[str, Field(min_length=1, max_length=31, pattern=r"^[^\[\]:*?/\\']+$")]
    parts: list[Part] = Field(min_length=1)
    applies_to: list[Id] | None = None


class Schema(_Strict):
    version: Label
    title: Label
    subtitle: str = ""
    unit_kinds: list[UnitKind] = Field(min_length=1)
    periods: list[PeriodKind] = Field(min_length=1)
    sections: list[Section] = Field(min_length=1)
    rules: list[Rule] = []  # global rules, applied to every table by column type
    history_checks: HistoryChecks

    @cached_property
    def tables(self) -> list[Table]:
        return [p for s in self.sections for p in s.parts if isinstance(p, Table)]

    @cached_property
    def narratives(self) -> list[Narrative]:
        return [p for s in self.sections for p in s.parts if isinstance(p, Narrative)]

    @cached_property
    def table_by_id(self) -> dict[str, Table]:
        return {t.id: t for t in self.tables}

    @cached_property
    def kind_by_id(self) -> dict[str, UnitKind]:
        return {k.id: k for k in self.unit_kinds}

    @cached_property
    def period_by_id(self) -> dict[str, PeriodKind]:
        return {p.id: p for p in self.periods}

    def applies(self, applies_to: list[str] | None, unit_kind: str) -> bool:
        """Whether a part limited to ``applies_to`` is asked of units of ``unit_kind``."""
        if applies_to is None:
            return True
        kind = self.kind_by_id[unit_kind]
        return unit_kind in applies_to or (kind.like is not None and kind.like in applies_to)

    def worded(self, by_kind: dict[str, str], default, unit_kind: str):
        """The wording for ``unit_kind`` from ``by_kind``: its own, else the one of the kind it
        is ``like``, else ``default``."""
        like = self.kind_by_id[unit_kind].like if unit_kind in self.kind_by_id else None
        for kind in (unit_kind, like):
            if kind in by_kind:
                return by_kind[kind]
        return default

    def prompt_for(self, narrative: Narrative, unit_kind: str) -> str:
        """The narrative's prompt as worded for ``unit_kind`` (or the kind it is ``like``)."""
        return self.worded(narrative.prompt_by_kind, narrative.prompt, unit_kind)

    def label_for(self, row: Row, unit_kind: str) -> str:
        return self.worded(row.label_by_kind, row.label, unit_kind)

    def heading_for(self, heading: Heading, unit_kind: str) -> str:
        return self.worded(heading.text_by_kind, heading.text, unit_kind)

    def note_for(self, table: Table, unit_kind: str) -> str | None:
        return self.worded(table.note_by_kind, table.note, unit_kind)

    def sections_for(self, unit_kind: str) -> list[Section]:
        return [s for s in self.sections if self.applies(s.applies_to, unit_kind)]

    def parts_for(self, section: Section, unit_kind: str) -> list:
        return [p for p in section.parts if self.applies(p.applies_to, unit_kind)]

    def tables_for(self, unit_kind: str) -> list[Table]:
        return [
            p
            for s in self.sections_for(unit_kind)
            for p in self.parts_for(s, unit_kind)
            if isinstance(p, Table)
        ]

    def narratives_for(self, unit_kind: str) -> list[Narrative]:
        return [
            p
            for s in self.sections_for(unit_kind)
            for p in self.parts_for(s, unit_kind)
            if isinstance(p, Narrative)
        ]


# --- loading (the checks themselves: bot/outline/validation.py) -------------------------------------------------


def load_schema(path: str | Path) -> Schema:
    """Read and validate the schema file; raise :class:`SchemaError` on any problem."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(str(path), ["tệp không tồn tại"]) from None
    except json.JSONDecodeError as e:
        raise SchemaError(
            str(path), [f"dòng {e.lineno}, cột {e.colno}: JSON sai cú pháp ({e.msg})"]
        ) from None
    return parse_schema(raw, source=str(path))


def parse_schema(raw: dict, source: str = "sheets_schema.json") -> Schema:
    try:
        schema = Schema.model_validate(raw)
    except ValidationError as e:
        raise SchemaError(source, [format_pydantic_error(err, raw) for err in e.errors()]) from None
    problems = list(cross_reference_problems(schema))
    if problems:
        raise SchemaError(source, problems)
    return schema


__all__ = ["COLUMN_TYPES", "SchemaError", "load_schema", "parse_schema"]  # re-exported from validation


def section_title(section) -> str:
    """ "I. CÔNG TÁC CHỈ ĐẠO…", "II.1. Ban hành, rà soát…": the outline's numbering, once."""
    if section.group:
        return f"{section.group.split('.')[0]}.{section.title}"
    return section.title
