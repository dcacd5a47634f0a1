"""The part-level fast paths (``bot.backends.xlsx_parts``) against the openpyxl path, cell by cell.

Each fast path runs side by side with the openpyxl path on the sample units' workbooks and on
randomly filled ones (values, percentages, text that looks like a formula, formulas, dates,
inserted list rows, long names that wrap on the cover, carried values, approval locks); what
the bot reads and what a unit sees must be the same.
"""

from __future__ import annotations

import random
import shutil
from datetime import datetime

import openpyxl
import pytest

from bot.backends import xlsx_parts
from bot.backends.workbook import WorkbookBackend, load_for_edit, read_with_openpyxl
from bot.layout import build_layout
from bot.units import Unit

KINDS = {"so_nganh": "Sở", "huyen": "UBND huyện", "xa": "UBND xã", "nganh_doc": "Chi cục"}


def typed(grids):
    """Grids with each value's type, so 7 and 7.0, "=x" and Text("=x") differ."""
    return {name: [[(type(v).__name__, v) for v in row] for row in rows] for name, rows in grids.items()}


def random_unit(rng: random.Random, i: int) -> Unit:
    kind = rng.choice(sorted(KINDS))
    name = f"{KINDS[kind]} {'Phường Hòa Bình Đông ' * rng.randint(1, 6)}{i}"  # long names wrap on the cover
    return Unit(f"U{i}", name, kind, (), ())


def provision_with_openpyxl(backend: WorkbookBackend, layout) -> str:
    ref = backend.allocate(layout.title, {"unit": layout.unit_code, "period": layout.period_id})
    backend.lay_out(ref, layout)
    return ref.id


def random_value(rng: random.Random, spec):
    pick = rng.random()
    if pick < 0.4:
        return rng.randint(0, 5000), None
    if pick < 0.55:
        return round(rng.uniform(0, 1), 4), "0.0%"  # "45,5%" typed into a number cell
    if pick < 0.7:
        return rng.uniform(0, 1e6), None
    if pick < 0.8:
        return rng.choice(["có", "  khoảng trắng  ", "dòng 1\ndòng 2", "Tiếng Việt: ưởng đầy đủ"]), None
    if pick < 0.85:
        return "=không phải công thức", "text"
    if pick < 0.9:
        return datetime(2026, rng.randint(1, 12), rng.randint(1, 28)), "DD/MM/YYYY"
    if pick < 0.95:
        return f"=SUM({spec.a1}:{spec.a1})*0+{rng.randint(1, 9)}", None
    return True, None


def fill_randomly(path: str, layout, rng: random.Random) -> None:
    """A clerk in a spreadsheet program: values of every kind, and sometimes inserted rows."""
    wb = load_for_edit(path)
    for spec in layout.fields.values():
        if not spec.input or rng.random() < 0.4:
            continue
        value, fmt = random_value(rng, spec)
        cell = wb[spec.tab].cell(row=spec.row, column=spec.col)
        cell.value = value
        if fmt == "text":
            cell.data_type = "s"
        elif fmt:
            cell.number_format = fmt
    for block in layout.blocks:
        if block.kind == "table" and rng.random() < 0.3:
            wb[block.tab].insert_rows(block.last_row)
    wb.save(path)


@pytest.fixture(scope="module")
def random_workbooks(tmp_path_factory, schema):
    """Twelve randomly filled workbooks of every unit kind (and their layouts)."""
    from bot.periods import parse_period

    period = parse_period("2026-Q1", schema)
    backend = WorkbookBackend(tmp_path_factory.mktemp("random") / "sheets")
    rng = random.Random(13)
    made = []
    for i in range(12):
        layout = build_layout(schema, random_unit(rng, i), period)
        path = provision_with_openpyxl(backend, layout)
        if i % 4:
            fill_randomly(path, layout, rng)
        made.append((path, layout))
    return made


def test_it_reads_random_workbooks_exactly_as_openpyxl_does(random_workbooks):
    for path, _ in random_workbooks:
        assert typed(xlsx_parts.read_grids(path)) == typed(read_with_openpyxl(path))


def test_it_reads_the_sample_workbook_exactly_as_openpyxl_does(workbook):
    backend, ref, _ = workbook
    assert typed(xlsx_parts.read_grids(ref.id)) == typed(read_with_openpyxl(ref.id))


def test_it_hands_a_workbook_it_cannot_be_sure_of_to_openpyxl(workbook, tmp_path):
    from openpyxl.worksheet.formula import ArrayFormula

    backend, ref, layout = workbook
    wb = openpyxl.load_workbook(ref.id)
    spec = next(s for s in layout.fields.values() if s.input and s.tab != "Bìa")
    wb[spec.tab][spec.a1] = ArrayFormula(spec.a1, "=SUM(A1:A2)")  # not a structure the bot writes
    odd = tmp_path / "odd.xlsx"
    wb.save(odd)
    before = xlsx_parts.FALLBACKS["read"]
    with pytest.raises(xlsx_parts.Unsure):
        xlsx_parts.read_grids(odd)
    grids = backend.read(type(ref)(str(odd), ""))
    assert isinstance(grids[spec.tab][spec.row - 1][spec.col - 1], ArrayFormula)
    assert xlsx_parts.FALLBACKS["read"] == before + 1


def copy_of(path, tmp_path, name):
    target = tmp_path / name
    shutil.copy(path, target)
    return str(target)
