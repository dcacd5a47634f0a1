"""Polling and checking a province on the embedded backend: 200 workbooks, 10 of them changed.

Provisions the generated unit list of ``bench_provision`` (``--units``, default 200) for
2026-Q1, then, in order:

1. first poll: every workbook is read (no poll mark yet);
2. first check: rules and completeness for every unit, feedback written into every workbook;
3. ``--changed`` clerks (default 10) type the sample report into their workbooks and save
   (``jobs.demo.type_into_workbook``: openpyxl via ``load_for_edit``, as a spreadsheet
   program would); the time of these saves is printed but is not the bot's;
4. second poll: exactly the changed workbooks must be read;
5. second check: timed once without and once with the feedback writes (which go only to the
   changed units, whose feedback changed);
6. a last poll: our own feedback writes must not count as changes (nothing read);
7. a check with every unit's feedback out of date (``--repeat`` runs, the best shown), then one
   after every unit is approved (each workbook locked whole).

    .venv/bin/python bench/bench_poll.py [--units 200] [--changed 10] [--seed 1] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_provision import bench_home, fallbacks, kinds_line, max_rss_mib, profiled, timed  # noqa: E402
from jobs.check import check  # noqa: E402
from jobs.demo import PERIOD, correct_values, type_into_workbook  # noqa: E402
from jobs.poll import poll  # noqa: E402
from jobs.provision import provision  # noqa: E402


def poll_line(label: str, result, seconds: float) -> str:
    return (
        f"{label}: {seconds:.2f} s; workbooks read {result.reads}, new snapshots {len(result.read)}, "
        f"unchanged {len(result.unchanged)}, failed {len(result.failed)}"
    )


def check_line(label: str, result, seconds: float) -> str:
    return (
        f"{label}: {seconds:.2f} s; {len(result.outcomes)} units, "
        f"rules run for {len(getattr(result, 'evaluated', result.outcomes))}, "
        f"feedback written {len(result.feedback_written)}, "
        f"pending {len(result.feedback_pending)}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the check that rewrites every feedback"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the polls and checks that write (cProfile)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = bench_home(Path(tmp) / "home", args.units, args.seed)
        period = ctx.period(PERIOD)
        measure = profiled if args.profile else (lambda action: action())
        note = " (under cProfile)" if args.profile else ""
        print(f"{len(ctx.units)} units ({kinds_line(ctx)}), period {PERIOD}, embedded backend (openpyxl)")
        _, seconds = timed(lambda: provision(ctx, period))
        print(f"provisioned in {seconds:.1f} s (not measured here: see bench_provision.py)")

        result, seconds = timed(lambda: measure(lambda: poll(ctx, period)))
        print(poll_line(f"first poll{note}", result, seconds))
        result, seconds = timed(lambda: measure(lambda: check(ctx, period)))
        print(check_line(f"first check (every unit's feedback is new){note}", result, seconds))

        changed = [u.code for u in ctx.units[:: max(1, len(ctx.units) // args.changed)][: args.changed]]
        started = time.perf_counter()
        for i, code in enumerate(changed):
            type_into_workbook(ctx, code, correct_values(ctx, code, 1 + i % 4))
        print(
            f"{len(changed)} clerks type their report and save: {time.perf_counter() - started:.2f} s (not the bot)"
        )

        result, seconds = timed(lambda: poll(ctx, period))
        print(poll_line(f"second poll ({len(changed)} changed)", result, seconds))
        if sorted(result.read) != sorted(changed) or result.reads != len(changed):
            print(f"  UNEXPECTED: read {sorted(result.read)}, expected {sorted(changed)}")

        result, seconds = timed(lambda: check(ctx, period, write_feedback=False))
        print(check_line("second check, without feedback writes", result, seconds))
        result, seconds = timed(lambda: measure(lambda: check(ctx, period)))
        print(check_line(f"second check, with feedback writes{note}", result, seconds))

        result, seconds = timed(lambda: poll(ctx, period))
        print(poll_line("poll after our feedback writes", result, seconds))
        result, seconds = timed(lambda: check(ctx, period))
        print(check_line("check with nothing changed", result, seconds))

        # every unit's feedback out of date (as after a change of the rules): a write into each,
        # the same work each time, so timed --repeat times and the best taken (the machine's
        # noise only ever adds time)
        runs = []
        for _ in range(args.repeat):
            ctx.store.conn.execute(
                "UPDATE unit_states SET feedback_written_hash = 'stale' WHERE period = ?", (period.id,)
            )
            runs.append(timed(lambda: measure(lambda: check(ctx, period))))
        result, seconds = min(runs, key=lambda run: run[1])
        every = " ".join(f"{s:.2f}" for _, s in runs)
        label = f"check with every unit's feedback to write{note} (best of {len(runs)}: {every})"
        print(check_line(label, result, seconds))
        # approval of every unit: its workbook locked whole at the next check
        for code in [u.code for u in ctx.units]:
            ctx.store.set_approval(code, period.id, "approved", None)
        result, seconds = timed(lambda: measure(lambda: check(ctx, period)))
        print(check_line(f"check after approving every unit (workbooks locked){note}", result, seconds))
        print(f"part-level fallbacks to openpyxl: {fallbacks()}")
        print(f"process max RSS: {max_rss_mib():.0f} MiB")
        ctx.close()


if __name__ == "__main__":
    main()
