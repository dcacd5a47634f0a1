"""The digest's chart: how many units are in each report state, as a PNG.

Drawn on a bare ``Figure`` (Agg canvas, no pyplot), so it needs no display and keeps no
global state between calls. DejaVu Sans, shipped with matplotlib, has every Vietnamese letter.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.checks.completeness import STATE_LABELS
from bot.messages.reminders import STATES, UnitStatus

COLORS = {
    "chua_mo": "#9e9e9e",
    "dang_nhap": "#42a5f5",
    "da_nop": "#7e57c2",
    "da_nop_con_loi": "#ef6c00",
    "hop_le": "#66bb6a",
    "da_duyet": "#2e7d32",
    "tra_lai": "#e53935",
}


def state_labels() -> list[str]:
    """The bar labels, in the order of ``reminders.STATES``: "Chưa mở", "Đang nhập"..."""
    return [STATE_LABELS[state][:1].upper() + STATE_LABELS[state][1:] for state in STATES]


def state_chart(units: list[UnitStatus], path: Path, title: str) -> Path:
    counts = [sum(unit.state == state for unit in units) for state in STATES]
    figure = Figure(figsize=(9, 5), dpi=100)
    axes = figure.subplots()
    bars = axes.bar(state_labels(), counts, color=[COLORS[state] for state in STATES])
    axes.bar_label(bars)
    axes.set_title(title)
    axes.set_ylabel("Số đơn vị")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max(counts + [1]) * 1.15)
    axes.tick_params(axis="x", labelrotation=20)
    axes.spines[["top", "right"]].set_visible(False)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)  # fixed labels: no layout pass
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
