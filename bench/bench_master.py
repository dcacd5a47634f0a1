"""Benchmark: compile the master of 1,000 units (target: under 3 s).

Run: ``python -m bench.bench_master [--units 1000] [--lines 8] [--seed 1]``

Reports are generated directly as :class:`bot.checks.report.Report` objects shaped like those reading
a workbook gives: every field of the unit's layout, computed cells still holding their
formulas, list tables with a random number of lines (up to ``--lines``, past the template's
five when larger), narratives of a few hundred characters. Time is the best of three runs;
peak memory is measured in a separate run under tracemalloc (which slows Python down).
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from datetime import date
from io import BytesIO
from pathlib import Path

from bot.checks.report import Report
from bot.outline.layout import build_layout
from bot.outline.periods import parse_period
from bot.outline.schema import load_schema
from bot.outline.units import Unit
from bot.reporting.master import compile_master
from bot.reporting.master_layout import master_layout
from bot.sheets.backends.xlsx_parts.fresh import fresh_workbook

REPO = Path(__file__).resolve().parent.parent
KINDS = ("so_nganh", "huyen", "nganh_doc", "xa")
SENTENCE = "Đơn vị đã triển khai đầy đủ kế hoạch cải cách hành chính, kiểm soát thủ tục hành chính của tỉnh. "


def make_units(count: int) -> list[Unit]:
    return [Unit(f"DV{i:04d}", f"Đơn vị số {i}", KINDS[i % len(KINDS)]) for i in range(count)]


def make_reports(schema, units, period, max_lines: int, rng: random.Random) -> list[Report]:
    layouts = {kind: build_layout(schema, Unit("_", "_", kind), period) for kind in KINDS}
    return [_report(schema, unit, period, layouts[unit.kind], max_lines, rng) for unit in units]


def _report(schema, unit, period, layout, max_lines, rng) -> Report:
    report = Report(unit.code, unit.kind, period.id)
    for table in schema.tables_for(unit.kind):
        for row in table.rows:
            if row.kind == "list":
                report.list_lines[(table.id, row.id)] = max(row.min_rows, rng.randint(0, max_lines))
    for key, spec in layout.fields.items():
        if spec.block == "_cover":
            continue
        if spec.list_index == 1:  # the template's first line stands for every line of the list
            lines = report.list_lines[(spec.table, spec.row_id)]
            used = rng.randint(0, lines)
            for n in range(1, lines + 1):
                line_key = key.replace("[1]", f"[{n}]", 1)
                _put(report, line_key, spec, rng, empty=n > used)
        elif spec.list_index is None:
            _put(report, key, spec, rng)
    return report


def _put(report, key, spec, rng, empty=False) -> None:
    if spec.computed:
        report.formulas.add(key)
        report.values[key] = None
    elif empty or not spec.input:
        report.values[key] = None
    else:
        report.values[key] = _value(spec.type, rng)


def _value(kind: str, rng: random.Random):
    return {
        "count": lambda: rng.randint(0, 5000),
        "decimal": lambda: round(rng.uniform(0, 500), 2),
        "percent": lambda: round(rng.uniform(0, 100), 1),
        "text": lambda: f"Nội dung số {rng.randint(1, 10**6)}",
        "narrative": lambda: SENTENCE * rng.randint(1, 6),
        "bool": lambda: rng.random() < 0.5,
        "choice": lambda: rng.choice(["Tốt", "Khá", "Trung bình"]),
        "date": lambda: date(2026, rng.randint(1, 3), rng.randint(1, 28)),
    }[kind]()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=8, help="at most this many lines per list")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exports", type=Path, help="also time each export format, writing into this folder")
    args = parser.parse_args(argv)
    schema = load_schema(REPO / "sheets_schema.json")
    period = parse_period("2026-Q1", schema)
    units = make_units(args.units)
    started = time.perf_counter()
    reports = make_reports(schema, units, period, args.lines, random.Random(args.seed))
    print(
        f"generated {len(reports)} reports, {sum(len(r.values) for r in reports):,} fields "
        f"in {time.perf_counter() - started:.2f} s"
    )
    states = [
        {
            "unit": u.code,
            "state": "hop_le",
            "filled": 9,
            "required": 10,
            "errors": 0,
            "warnings": 1,
            "last_change": "2026-03-10T09:00:00+07:00",
            "submitted_at": None,
        }
        for u in units
    ]
    urls = {u.code: f"https://sheets.example/{u.code}" for u in units}

    def run():
        return compile_master(schema, units, reports, states, urls, period=period)

    times = []
    for _ in range(3):
        started = time.perf_counter()
        master = run()
        times.append(time.perf_counter() - started)
    rows = sum(len(f) for f in master.tables.values())
    print(
        f"compile_master: best {min(times):.2f} s, runs {', '.join(f'{t:.2f}' for t in times)} s "
        f"({rows:,} table rows, {len(master.narratives):,} narrative rows)"
    )
    started = time.perf_counter()
    layout = master_layout(master, period)
    print(
        f"master_layout: {time.perf_counter() - started:.2f} s, {sum(len(t.cells) for t in layout.tabs):,} cells"
    )
    started = time.perf_counter()
    fresh_workbook(layout.tabs, {"unit": "_master", "period": period.id}, BytesIO())
    print(f"master written as a workbook (sheet XML rendered): {time.perf_counter() - started:.2f} s")
    if args.exports:
        _time_exports(master, args.exports)
    del master, layout
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"compile_master peak memory (tracemalloc): {peak / 2**20:.0f} MiB")


def _time_exports(master, folder: Path) -> None:
    from bot.reporting.export import export

    for fmt, name in (
        ("xlsx", "tong_hop.xlsx"),
        ("csv", "tong_hop.zip"),
        ("json", "tong_hop.json"),
        ("docx", "bao_cao.docx"),
    ):
        started = time.perf_counter()
        path = export(master, fmt, folder / name)
        print(f"export {fmt}: {time.perf_counter() - started:.2f} s, {path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
