"""The consistency rules of ``sheets_schema.json``, evaluated for all reports of a period at once.

Semantics follow DHIS2's validation rules (left side, operator, right side; a missing-value
strategy per rule; severity):

* ``error`` keeps a report from being valid, ``warning`` does not.
* Missing values: ``skip_if_any`` (default) skips a rule when any operand is empty,
  ``skip_if_all`` only when all are empty (the empty ones count as 0), ``never_skip`` always
  evaluates (empty counts as 0). A missing value shown in a message reads "(để trống)".
* ``'*'`` as the row binds to every row of the table that has the operands' columns: fixed
  rows, total rows and each list line in use (a list line with nothing typed in it is an unused
  template line and is not checked). ``'*'`` as the column binds to each numeric column present
  in every operand's row; rates are never summed, so sum / le / ge skip rate columns.
  ``'items[]'`` sums all lines of list ``items`` (the sum is empty when no line has a value);
  for ``required`` it is one field, filled when any line has a value.
* Period columns not yet asked in this report's period (e.g. "Quí II" in the Q1 report) are
  not cells of the report: a rule whose checked cell is such a column is not evaluated, and as
  another operand it is empty. ``monotone`` leaves them out of its sequence.
* Kinds: sum (left = Σ right), ratio (left = numerator / denominator × scale, both rounded half
  up to ``decimals`` like the spreadsheet's ROUND), le / ge (left ≤ / ≥ Σ right), range
  (min ≤ left ≤ max), required (left filled), monotone (each non-missing operand ≥ the previous
  non-missing one). A filled rate whose denominator is 0 is a finding of the ratio rule; an
  empty rate with denominator 0 is fine.
* Computed cells (rate columns and total rows) are live formulas in the workbook. While a cell
  still holds its formula its value is computed here from its parts — totals are sums of the
  parts (bool totals count "Có"), rates are recomputed from the summed parts — and no finding
  is ever raised on it. A number typed over the formula is checked like any other value.
* Parts that could not be read (``report.unreadable``: a table, or "table/row") and cells whose
  content could not be parsed (the "parse" findings of reading, passed as ``read_findings``) are
  unknown: no rule that involves them is evaluated, so the one finding about them is the one
  the reader already made.
* One mistake, one finding: each cell gets at most one finding. When several rules find the
  same cell wrong, the error beats the warning, then the rule that names the cell's row beats
  a ``'*'`` rule (a total row's own sum rule beats a per-row sum that also lands on it), then a
  table rule beats a global one, then the rule declared first wins.
* Global rules (``schema.rules``) apply by column ``types`` to every cell of those columns in
  every table, typed or computed.

How: the values of a period are flattened into one long (unit, field, value) list, scattered
into one wide matrix of units × cells (each table a contiguous block laid out rows × columns;
numpy arrays, the engine under pandas). A table's block is viewed as a (unit, row, column)
array, so every rule is a handful of array operations over all units at once; Python only
loops over rules and over the cells actually found wrong. History uses pandas group-bys.

The computed values are exposed for the master sheet by :func:`derived_values` (or
:func:`check`, which returns findings and derived values from one pass).

:func:`evaluate_history` adds warnings that compare a report with the unit's earlier reports.

Modules: ``frame`` (the period frame and its computed cells), ``bindings`` (rules bound to
columns, operands), ``engine`` (the checks and one finding per cell), ``labels`` (how a finding
names a cell), ``history`` (comparisons with earlier reports).
"""

from __future__ import annotations

from bot.checks.rules.bindings import Binding, Ref, bindings, global_bindings
from bot.checks.rules.engine import PeriodCheck, check, derived_values, evaluate
from bot.checks.rules.frame import PeriodFrame, ratio_values, round_half_up
from bot.checks.rules.history import evaluate_history

__all__ = [
    "Binding",
    "PeriodCheck",
    "PeriodFrame",
    "Ref",
    "bindings",
    "check",
    "derived_values",
    "evaluate",
    "evaluate_history",
    "global_bindings",
    "ratio_values",
    "round_half_up",
]
