"""How much of a report is filled in, and the state of each unit's report for the period.

Required fields: the narratives marked ``required`` that are asked of the unit's kind, and the
cells the ``required`` rules name (global ones by column type included) that are inputs for the
unit's kind in this period: a period column not asked yet is not required, a '*' rule counts
every fixed row and every list line in use, and an 'items[]' target is one field, filled when
any line of the list has it. A cell named by several required rules counts once. Parts that
could not be read still count as required and are not filled.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from bot.checks.report import Report
from bot.checks.rules import PeriodFrame, bindings, global_bindings
from bot.outline.schema import Schema

STATE_LABELS = {
    "chua_mo": "chưa mở",
    "dang_nhap": "đang nhập",
    "da_nop": "đã nộp",
    "da_nop_con_loi": "đã nộp nhưng còn lỗi",
    "hop_le": "hợp lệ",
    "da_duyet": "đã duyệt",
    "tra_lai": "trả lại",
}


@dataclass(frozen=True)
class Completeness:
    filled: int
    required: int
    by_section: dict[str, tuple[int, int]]  # section id → (filled, required)
    incomplete_sections: tuple[str, ...] = ()  # Vietnamese titles of sections with filled < required

    @property
    def ratio(self) -> float:
        return 1.0 if self.required == 0 else self.filled / self.required

    @property
    def complete(self) -> bool:
        return self.filled >= self.required


def completeness(schema: Schema, report: Report) -> Completeness:
    return completeness_many(schema, [report])[report.unit]


def completeness_many(
    schema: Schema, reports: list[Report], frames: dict[str, PeriodFrame] | None = None
) -> dict[str, Completeness]:
    """unit → completeness, for many reports at once (one array pass per required rule).

    ``frames``: the rules' frame of each period, built over these same reports (the check
    passes them, so the values are laid out once). Completeness reads what the template asks
    and what was typed, which the rules' marks of unreadable cells do not change."""
    out: dict[str, Completeness] = {}
    shown = {k.id: {s.id for s in schema.sections_for(k.id)} for k in schema.unit_kinds}
    sections = _section_of(schema)
    groups: dict[str, list[Report]] = {}
    for r in reports:
        groups.setdefault(r.period, []).append(r)
    for period_id, group in groups.items():
        given = (frames or {}).get(period_id)
        same = (
            given is not None
            and len(given.reports) == len(group)
            and all(map(operator.is_, given.reports, group))
        )
        frame = given if same else PeriodFrame(schema, group)
        need, have = _table_counts(schema, frame, sections)
        for i, report in enumerate(group):
            out[report.unit] = _summary(schema, report, need[i], have[i], sections, shown)
    return out


def _section_of(schema: Schema) -> dict[str, int]:
    """Table or narrative id → index of its section in ``schema.sections``."""
    return {p.id: i for i, s in enumerate(schema.sections) for p in s.parts if hasattr(p, "id")}


def _required_bindings(schema: Schema):
    for table in schema.tables:
        for rule in table.rules:
            if rule.kind == "required":
                yield from bindings(rule, table)
    for rule in schema.rules:
        if rule.kind == "required":
            yield from global_bindings(rule, schema)


def _table_counts(
    schema: Schema, frame: PeriodFrame, sections: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(unit, section) counts of required and filled table fields."""
    need_cells = np.zeros((frame.n, frame.width), bool)
    have_cells = np.zeros((frame.n, frame.width), bool)
    need = np.zeros((frame.n, len(schema.sections)), int)
    have = np.zeros_like(need)
    typed_cells = frame.filled | frame.formula & frame.input  # a formula the unit typed counts as filled
    for b in _required_bindings(schema):
        space, ref = frame.spaces[b.table.id], b.left
        c = space.col_index[ref.col]
        asked = frame.view(frame.input, space)[:, :, c]
        typed = frame.view(typed_cells, space)[:, :, c]
        if ref.is_list:  # one field: any line of the list
            slots = space.list_slots[ref.row]
            asked_any = asked[:, slots].any(axis=1)
            need[:, sections[b.table.id]] += asked_any
            have[:, sections[b.table.id]] += asked_any & typed[:, slots].any(axis=1)
            continue
        slots = np.arange(len(space.slots)) if ref.wide else space.row_slots(ref.row)
        asked = asked[:, slots] & frame.line_used(space)[:, slots]
        where = [space.position(s, c) for s in slots]
        need_cells[:, where] |= asked
        have_cells[:, where] |= asked & typed[:, slots]
    for table_id, space in frame.spaces.items():
        block = slice(space.offset, space.offset + space.size)
        need[:, sections[table_id]] += need_cells[:, block].sum(axis=1)
        have[:, sections[table_id]] += have_cells[:, block].sum(axis=1)
    return need, have


def _summary(
    schema: Schema, report: Report, need: np.ndarray, have: np.ndarray, sections: dict, shown: dict
) -> Completeness:
    need, have = need.copy(), have.copy()
    for narrative in schema.narratives_for(report.kind):
        if narrative.required:
            need[sections[narrative.id]] += 1
            have[sections[narrative.id]] += report.values.get(narrative.id) not in (None, "")
    by_section, incomplete = {}, []
    for i, section in enumerate(schema.sections):
        if section.id not in shown[report.kind]:
            continue
        by_section[section.id] = (int(have[i]), int(need[i]))
        if have[i] < need[i]:
            incomplete.append(section.title)
    return Completeness(int(have.sum()), int(need.sum()), by_section, tuple(incomplete))


def percent_filled(filled: int, required: int) -> int:
    """Whole percent, rounded down: a report with one cell missing never shows 100 %."""
    return 100 if not required else 100 * filled // required


def state_of(
    report: Report | None,
    completeness: Completeness | None,
    errors: int,
    *,
    opened: bool,
    approved: bool = False,
    returned: bool = False,
) -> str:
    """The state of a unit's report (see ``STATE_LABELS``).

    ``opened``: the unit has touched its workbook since it was provisioned (e.g. it changed
    after provisioning); without it a workbook holding only values carried over from the last
    report is still "chua_mo". ``approved`` / ``returned``: the coordinator's decision, which
    stands until the caller clears it (a returned report that is submitted again).
    ``errors``: the error findings (not warnings) of the report.
    """
    if approved:
        return "da_duyet"
    if returned:
        return "tra_lai"
    if report is None or not opened or not (report.submitted or _anything_typed(report)):
        return "chua_mo"
    if not report.submitted:
        return "dang_nhap"
    if errors:
        return "da_nop_con_loi"
    if completeness is None or not completeness.complete:
        return "da_nop"
    return "hop_le"


def _anything_typed(report: Report) -> bool:
    return bool(report.unparsed) or any(v is not None and v != "" for v in report.values.values())


__all__ = ["STATE_LABELS", "Completeness", "completeness", "completeness_many", "percent_filled", "state_of"]
