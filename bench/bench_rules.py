"""How long the rules and completeness take for a whole province: 1,000 reports of one period.

Reports are generated directly as :class:`bot.checks.report.Report` objects (no workbooks): plausible
random values that mostly satisfy the rules (columns that must stay below others get smaller
magnitudes, sums are made to add up), with one wrong value in 2% of the reports.

    .venv/bin/python bench/bench_rules.py [--units 1000] [--period 2026-N] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.checks.completeness import completeness_many  # noqa: E402
from bot.checks.report import Report  # noqa: E402
from bot.checks.rules import Ref, bindings, evaluate  # noqa: E402
from bot.outline.layout import build_layout  # noqa: E402
from bot.outline.periods import parse_period  # noqa: E402
from bot.outline.schema import Schema, load_schema  # noqa: E402
from bot.outline.units import Unit  # noqa: E402

KIND_SHARE = {"so_nganh": 0.2, "huyen": 0.1, "nganh_doc": 0.1, "xa": 0.6}


def column_levels(schema: Schema) -> dict[tuple[str, str], int]:
    """Magnitude level per (table, column): a column bounded by another sits one level lower."""
    level: dict[tuple[str, str], int] = {}
    for _ in range(6):  # a few passes reach the fixpoint for the chains in the outline
        for table in schema.tables:
            for rule in table.rules:
                for b in bindings(rule, table):
                    _raise_levels(level, table.id, b)
    return level


def _raise_levels(level: dict, table_id: str, b) -> None:
    get = lambda ref: level.get((table_id, ref.col), 0)  # noqa: E731
    pairs = []
    if b.rule.kind == "le" and b.left.wide:
        pairs = [(b.left, r) for r in b.right]
    elif b.rule.kind == "ge" and b.left.wide:
        pairs = [(r, b.left) for r in b.right]
    elif b.rule.kind == "monotone":
        pairs = list(zip(b.sequence, b.sequence[1:], strict=False))
    elif b.rule.kind == "sum" and b.left.wide:
        for part in b.right:
            level[(table_id, part.col)] = max(get(part), get(b.left))
    for small, big in pairs:
        level[(table_id, big.col)] = max(get(big), get(small) + 1)


def number(rng: random.Random, level: int) -> int:
    return rng.randint(100**level, 10 * 100**level - 1) if level else rng.randint(0, 9)


def make_report(schema, layout, kind, period, code, rng, levels) -> Report:
    report = Report(code, kind, period.id, status="Đã nộp" if rng.random() < 0.6 else "Chưa nộp")
    used_lines = {}
    for key, spec in layout.fields.items():
        if spec.block == "_cover":
            continue
        report.cells[key] = f"'{spec.tab}'!{spec.a1}"
        if spec.list_index:
            lines = used_lines.setdefault((spec.table, spec.row_id), rng.randint(1, 3))
            report.list_lines[(spec.table, spec.row_id)] = max(
                report.list_lines.get((spec.table, spec.row_id), 0), spec.list_index
            )
            if spec.list_index > lines:
                report.values[key] = None
                continue
        if spec.computed:
            report.formulas.add(key)
            report.values[key] = None
        elif not spec.input:
            report.values[key] = None
        else:
            report.values[key] = typed_value(schema, spec, rng, levels)
    repair(schema, report)
    return report


def typed_value(schema, spec, rng, levels):
    if spec.type == "narrative":
        return "Đơn vị đã triển khai đầy đủ." if rng.random() < 0.9 else None
    if spec.col_id == "_label":
        return f"Đơn vị {rng.randint(1, 99)}"
    column = schema.table_by_id[spec.table].column_by_id[spec.col_id]
    if column.type == "count":
        return number(rng, levels.get((spec.table, spec.col_id), 0))
    if column.type in ("percent", "decimal"):
        return round(rng.uniform(0, 100), 1)
    if column.type == "bool":
        return rng.random() < 0.5
    if column.type == "choice":
        return rng.choice(column.choices)
    return "Nội dung" if rng.random() < 0.95 else None


def repair(schema: Schema, report: Report) -> None:
    """Make sums add up and clamp explicit-row bounds, as a careful clerk would."""
    values = report.values
    for table in schema.tables:
        for rule in table.rules:
            for b in bindings(rule, table):
                if b.rule.kind == "sum" and b.left.wide:
                    _repair_row_sums(report, table.id, b)
                if b.rule.kind not in ("sum", "le") or b.left.wide or b.left.is_list:
                    continue
                rows = [r for r in b.right if not r.wide]
                key = f"{table.id}/{b.left.row}/{b.left.col}"
                if key in report.formulas or key not in values or len(rows) != len(b.right):
                    continue
                total = sum(_value(values, table.id, r) for r in rows)
                if b.rule.kind == "sum" or (values[key] or 0) > total:
                    values[key] = total


def _repair_row_sums(report: Report, table_id: str, b) -> None:
    """'*.total = *.a + *.b' on every row: the total column becomes the sum of its parts."""
    for key in [k for k in report.values if k.startswith(f"{table_id}/") and k.endswith(f"/{b.left.col}")]:
        slot = key.split("/")[1]
        parts = [report.values.get(f"{table_id}/{slot}/{r.col}") for r in b.right]
        if key not in report.formulas and all(type(p) is int for p in parts):
            report.values[key] = sum(parts)


def _value(values: dict, table_id: str, ref: Ref) -> int:
    if ref.is_list:
        return sum(
            v or 0
            for k, v in values.items()
            if k.startswith(f"{table_id}/{ref.row}[") and k.endswith(f"/{ref.col}")
        )
    return values.get(f"{table_id}/{ref.row}/{ref.col}") or 0


def spoil(report: Report, rng: random.Random) -> None:
    numbers = [k for k, v in report.values.items() if type(v) is int and "/" in k]
    if numbers:
        key = rng.choice(numbers)
        report.values[key] = report.values[key] * 3 + 1


def generate(schema: Schema, n: int, period_id: str, seed: int) -> list[Report]:
    rng = random.Random(seed)
    period = parse_period(period_id, schema)
    layouts = {k: build_layout(schema, Unit("_", "_", k), period) for k in KIND_SHARE}
    levels = column_levels(schema)
    kinds = rng.choices(list(KIND_SHARE), weights=list(KIND_SHARE.values()), k=n)
    reports = []
    for i, kind in enumerate(kinds):
        report = make_report(schema, layouts[kind], kind, period, f"U{i:04d}", rng, levels)
        if rng.random() < 0.02:
            spoil(report, rng)
        reports.append(report)
    return reports


def run(schema: Schema, reports: list[Report]) -> tuple[float, float, int]:
    start = time.perf_counter()
    findings = evaluate(schema, reports)
    middle = time.perf_counter()
    completeness_many(schema, reports)
    end = time.perf_counter()
    return middle - start, end - middle, len(findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--period", default="2026-N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    schema = load_schema(Path(__file__).resolve().parent.parent / "sheets_schema.json")
    reports = generate(schema, args.units, args.period, args.seed)
    cells = sum(len(r.values) for r in reports)
    print(f"{len(reports)} reports of {args.period}, {cells:,} fields")
    best = min((run(schema, reports) for _ in range(args.repeat)), key=lambda t: t[0] + t[1])
    rules_s, completeness_s, found = best
    print(
        f"evaluate: {rules_s:.3f} s ({found} findings); completeness_many: {completeness_s:.3f} s; "
        f"total {rules_s + completeness_s:.3f} s (best of {args.repeat})"
    )
    tracemalloc.start()
    run(schema, reports)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory allocated during evaluate + completeness_many: {peak / 2**20:.1f} MiB; "
        f"process max RSS: {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
