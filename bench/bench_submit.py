"""``submit`` of one filled workbook, from the file to its findings stored (target: under 1 s).

Provisions the generated unit list of ``bench_provision`` (``--units``, default 200), polls
and checks the period once (the steady state of a running bot), then hands in ``--runs``
filled workbooks of different units through :func:`jobs.submit.submit` (the same call
the portal and the command line make): file checks, reading, merging into the unit's
workbook, keeping the version, the poll and the check of the period, the feedback write.

    .venv/bin/python bench/bench_submit.py [--units 200] [--runs 5] [--profile]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openpyxl  # noqa: E402

from bench.bench_provision import bench_home, kinds_line, max_rss_mib, profiled, timed  # noqa: E402
from bot.intake.download import download  # noqa: E402
from bot.outline.layout import build_layout  # noqa: E402
from jobs.check import check  # noqa: E402
from jobs.demo import PERIOD, correct_values  # noqa: E402
from jobs.poll import poll  # noqa: E402
from jobs.provision import provision  # noqa: E402
from jobs.submit import submit  # noqa: E402


def filled_file(ctx, code: str, factor: int) -> bytes:
    """The unit's workbook as downloaded, filled by its clerk (openpyxl, as a spreadsheet program saves)."""
    period = ctx.period(PERIOD)
    layout = build_layout(ctx.schema, ctx.unit_by_code[code], period)
    wb = openpyxl.load_workbook(io.BytesIO(download(ctx, code, period)[0]))
    for key, value in correct_values(ctx, code, factor).items():
        spec = layout.fields[key]
        wb[spec.tab].cell(row=spec.row, column=spec.col).value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = bench_home(Path(tmp) / "home", args.units, args.seed)
        period = ctx.period(PERIOD)
        print(f"{len(ctx.units)} units ({kinds_line(ctx)}), period {PERIOD}, embedded backend")
        _, seconds = timed(lambda: (provision(ctx, period), poll(ctx, period), check(ctx, period)))
        print(f"provisioned, polled and checked in {seconds:.1f} s (not measured here)")
        codes = [u.code for u in ctx.units][: args.runs]
        files = {code: filled_file(ctx, code, 1 + i % 4) for i, code in enumerate(codes)}
        times, cpu = [], []
        for code, data in files.items():

            def hand_in(code=code, data=data):
                return submit(ctx, data, f"{code}.xlsx", sender="bench", channel="cli")

            cpu_before = time.process_time()
            result, seconds = timed(lambda: profiled(hand_in) if args.profile else hand_in())
            times.append(seconds)
            cpu.append(time.process_time() - cpu_before)
            print(
                f"submit {code}: {seconds:.2f} s; {len(result.written)} cells written, state {result.state}, "
                f"{len(result.findings)} findings stored"
            )
        print(
            f"submit of one filled workbook: median {statistics.median(times):.2f} s, "
            f"min {min(times):.2f} s, max {max(times):.2f} s over {len(times)} units (target < 1 s); "
            f"CPU time median {statistics.median(cpu):.2f} s"
        )
        print(f"process max RSS {max_rss_mib():.0f} MiB")
        ctx.close()


if __name__ == "__main__":
    main()
