"""One whole demo cycle for a province: ``jobs.demo.run_demo`` with 200 units instead of 48.

Exactly what ``python -m bot demo`` does — two simulated weeks (``demo.FIRST_DAY`` to
``demo.LAST_DAY``), the scheduler's jobs several times a day, simulated clerks typing into
their workbooks — on the generated unit list of ``bench_provision`` (``--units``, default
200), given to ``run_demo`` in place of the sample one. Prints the demo's day lines with the
wall time of each simulated day, then the total time, the process max RSS and the disk size
of the workbooks. Takes several minutes for 200 units.

    .venv/bin/python bench/bench_demo.py [--units 200] [--seed 1] [--keep DIR] [--profile]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_provision import fallbacks, max_rss_mib, profiled, units_csv  # noqa: E402
from jobs import demo  # noqa: E402


class DayTimer:
    """The ``out`` of ``run_demo``: each day line is printed with the wall time since the last."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.days: list[float] = []

    def __call__(self, line: str) -> None:
        now = time.perf_counter()
        if line and line[0].isalpha() and "/2026:" in line:  # "Thứ Năm 05/03/2026: …"
            self.days.append(now - self.last)
            print(f"{now - self.last:6.1f} s  {line}", flush=True)
            self.last = now


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, help="run in this new folder and keep it (default: a temporary one)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="run under cProfile and print the top functions"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp) / "home"
        units = Path(tmp) / "units.csv"
        units.write_text(units_csv(args.units, args.seed), encoding="utf-8")
        timer = DayTimer()
        started = time.perf_counter()
        if args.profile:
            profiled(lambda: demo.run_demo(home, out=timer, units_csv=units), top=25)
        else:
            demo.run_demo(home, out=timer, units_csv=units)
        seconds = time.perf_counter() - started
        files = [p for p in (home / "sheets" / demo.PERIOD).glob("*.xlsx") if not p.name.startswith("_")]
        size = sum(p.stat().st_size for p in files) / 2**20
        days = timer.days
        print(
            f"demo cycle, {args.units} units, {len(days)} simulated days{' (under cProfile)' if args.profile else ''}: "
            f"{seconds:.1f} s; per simulated day {seconds / len(days):.1f} s on average, "
            f"{min(days):.1f}–{max(days):.1f} s; process max RSS: {max_rss_mib():.0f} MiB"
        )
        print(
            f"workbooks: {len(files)} files, {size:.1f} MiB; part-level fallbacks to openpyxl: {fallbacks()}"
        )


if __name__ == "__main__":
    main()
