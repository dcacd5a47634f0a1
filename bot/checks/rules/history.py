"""History checks: warnings from comparing a report with the same unit's earlier reports."""

from __future__ import annotations

import pandas as pd

from bot.checks.report import Finding, Report
from bot.checks.rules.frame import plain
from bot.checks.rules.labels import cell_labels, format_value
from bot.outline.schema import Column, Row, Schema, Table


def evaluate_history(
    schema: Schema, current: list[Report], previous: dict[str, list[Report]]
) -> list[Finding]:
    """Warnings from comparing each report with the same unit's earlier reports.

    * A period column of tables 10–12 (``Column.period``) that an earlier report of the same
      year already gave and that is now smaller: figures already reported went down.
    * A count or decimal typed in a fixed row that is far outside the unit's own history, after
      DHIS2's outlier analysis (per unit and field, over the unit's earlier values): with at
      least ``min_history_for_z`` (3) earlier values, a z-score above ``z_limit`` (3:
      |x − mean| / standard deviation, when the values vary); with fewer earlier values, or
      values that never varied, more than ``factor_limit`` (10) × the largest or less than
      1/``factor_limit`` of the smallest. Period columns are left out (they re-report one figure).

    The thresholds are the schema's ``history_checks`` (the defaults of the shipped file in
    brackets); a decrease is only reported when larger than ``decrease.min_drop``.
      See https://docs.dhis2.org/2.29/en/user/html/standard_deviation_analysis.html
    """
    fields = _history_fields(schema)
    order = {p.id: p.order for p in schema.periods}
    now = _history_frame(current, fields, order)
    before = _history_frame([r for rs in previous.values() for r in rs], fields, order)
    if now.empty or before.empty:
        return []
    by_unit = {r.unit: r for r in current}
    findings = _decreases(schema, now, before, by_unit) + _outliers(schema, now, before, by_unit)
    return sorted(findings, key=lambda f: (f.unit, f.table or "", f.cell or ""))


def _history_fields(schema: Schema) -> dict[str, tuple[Table, Row, Column]]:
    fields = {}
    for table in schema.tables:
        for row in table.rows:
            if row.kind != "fixed":
                continue
            for col in table.columns:
                if col.type in ("count", "decimal") and not col.ratio_of and col.id not in row.no_input:
                    fields[f"{table.id}/{row.id}/{col.id}"] = (table, row, col)
    return fields


def _history_frame(reports: list[Report], fields: dict, order: dict[str, int]) -> pd.DataFrame:
    """One row per (unit, period, field) with a typed number; ``rank`` orders periods in time."""
    rows = [
        (r.unit, r.period, r.period[:4], int(r.period[:4]) * 10 + order.get(r.period[5:], 0), k, float(v))
        for r in reports
        for k, v in r.values.items()
        if k in fields and type(v) in (int, float)
    ]
    return pd.DataFrame(rows, columns=["unit", "period", "year", "rank", "key", "value"])


def _decreases(schema: Schema, now: pd.DataFrame, before: pd.DataFrame, by_unit: dict) -> list[Finding]:
    periodic = {k for k in now["key"].unique() if _column_of(schema, k).period not in (None, "prev")}
    earlier = before[before["key"].isin(periodic)]
    joined = now.merge(earlier, on=["unit", "year", "key"], suffixes=("", "_before"))
    joined = joined[joined["rank_before"] < joined["rank"]]
    latest = joined.sort_values("rank_before").groupby(["unit", "key"], as_index=False).last()
    drop = schema.history_checks.decrease.min_drop
    down = latest[latest["value"] < latest["value_before"] - drop - 1e-9]  # 1e-9: binary noise
    out = []
    for row in down.itertuples():
        report = by_unit[row.unit]
        label = _history_label(schema, row.key, report)
        message = (
            f"{label}: kỳ này báo cáo {format_value(row.value)}, nhỏ hơn số đã báo cáo ở kỳ trước "
            f"({format_value(row.value_before)}); số liệu lũy kế không giảm, đề nghị kiểm tra lại"
        )
        out.append(
            _history_finding(
                schema,
                report,
                row.key,
                "history_decrease",
                message,
                (("value", plain(row.value)), ("before", plain(row.value_before))),
            )
        )
    return out


def _outliers(schema: Schema, now: pd.DataFrame, before: pd.DataFrame, by_unit: dict) -> list[Finding]:
    steady = {k for k in now["key"].unique() if _column_of(schema, k).period is None}
    earlier = now[["unit", "key", "rank"]].merge(before, on=["unit", "key"], suffixes=("", "_before"))
    earlier = earlier[earlier["rank_before"] < earlier["rank"]]
    history = earlier[earlier["key"].isin(steady)].groupby(["unit", "key"])["value"]
    stats = history.agg(["count", "mean", "std", "min", "max"]).reset_index()
    joined = now.merge(stats, on=["unit", "key"])
    x = joined["value"]
    limits = schema.history_checks.outlier
    use_z = (joined["count"] >= limits.min_history_for_z) & (joined["std"] > 0)
    z = (x - joined["mean"]).abs() / joined["std"].where(use_z)
    far = ((joined["max"] > 0) & (x > limits.factor_limit * joined["max"])) | (
        (joined["min"] > 0) & (x < joined["min"] / limits.factor_limit)
    )
    joined = joined[(use_z & (z > limits.z_limit)) | (~use_z & far)]
    out = []
    for row in joined.itertuples():
        report = by_unit[row.unit]
        label = _history_label(schema, row.key, report)
        message = (
            f"{label}: {format_value(row.value)} khác xa số liệu các kỳ trước của đơn vị "
            f"(từ {format_value(row.min)} đến {format_value(row.max)}); đề nghị kiểm tra lại"
        )
        values = (("value", plain(row.value)), ("min", plain(row.min)), ("max", plain(row.max)))
        out.append(_history_finding(schema, report, row.key, "history_outlier", message, values))
    return out


def _column_of(schema: Schema, key: str) -> Column:
    table_id, _, col_id = key.split("/")
    return schema.table_by_id[table_id].column_by_id[col_id]


def _history_label(schema: Schema, key: str, report: Report) -> str:
    table_id, row_id, col_id = key.split("/")
    return cell_labels(schema, schema.table_by_id[table_id], row_id, col_id, report)[0]


def _history_finding(
    schema: Schema, report: Report, key: str, rule: str, message: str, values: tuple
) -> Finding:
    table_id, row_id, col_id = key.split("/")
    table = schema.table_by_id[table_id]
    _, r_label, c_label = cell_labels(schema, table, row_id, col_id, report)
    return Finding(
        report.unit,
        rule,
        "warning",
        message,
        table=table_id,
        row=row_id,
        column=col_id,
        cell=report.cells.get(key),
        table_label=f"Bảng {table.number}. {table.title}",
        row_label=r_label,
        column_label=c_label,
        values=values,
    )
