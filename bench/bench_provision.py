"""Provisioning a province on the embedded backend: 200 workbooks in a fresh home folder.

The unit list is generated (``--units``, default 200): a fixed mix of the four kinds as in a
province after July 2025 — about 20% departments (so_nganh), 10% districts (huyen), 10%
vertical agencies (nganh_doc) and 60% communes (xa) — each with an e-mail and a chat id.

Three runs of ``jobs.provision.provision`` for period 2026-Q1:

* first run, fresh home: total time, time per unit, process max RSS, and the disk size of
  the workbooks;
* second run, everything already there: time, and a check that no workbook was rewritten
  (same modification times, every action "existing");
* the first run again in another fresh home under tracemalloc (which slows Python down, so
  its time is not the figure): peak of the Python heap.

    .venv/bin/python bench/bench_provision.py [--units 200] [--seed 1] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.context import Context, open_context  # noqa: E402
from jobs.demo import PERIOD  # noqa: E402
from jobs.provision import provision  # noqa: E402

KIND_SHARE = {"so_nganh": 0.2, "huyen": 0.1, "nganh_doc": 0.1, "xa": 0.6}
CHANNELS = ("zalo", "telegram", "zalo_oa")


def units_csv(count: int, seed: int = 1) -> str:
    """A unit list of ``count`` units of the four kinds (weighted at random, reproducibly)."""
    kinds = random.Random(seed).choices(list(KIND_SHARE), weights=list(KIND_SHARE.values()), k=count)
    lines = ["code,name,kind,emails,chat_ids"]
    for i, kind in enumerate(kinds, start=1):
        chat = f"{CHANNELS[i % len(CHANNELS)]}:{1_000_000 + i}"
        lines.append(f"DV{i:03d},Đơn vị số {i},{kind},vanthu{i}@donvi{i}.tinh.example.vn,{chat}")
    return "\n".join(lines) + "\n"


def bench_home(home: Path, count: int, seed: int = 1) -> Context:
    """A fresh home folder with the generated unit list, opened on the embedded default."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "units.csv").write_text(units_csv(count, seed), encoding="utf-8")
    return open_context(home)


def workbooks(ctx: Context) -> list[Path]:
    return sorted(p for p in (ctx.config.sheets_dir / PERIOD).glob("*.xlsx") if not p.name.startswith("_"))


def fallbacks() -> str:
    """Files the part-level fast paths handed to openpyxl (none before they existed)."""
    try:
        from bot.sheets.backends.xlsx_parts import FALLBACKS
    except ImportError:
        return "no fast paths"
    return ", ".join(f"{op} {n}" for op, n in FALLBACKS.items()) or "none"


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def profiled(action, top: int = 15):
    """Run ``action`` under cProfile and print where the time goes (own time, then cumulative)."""
    profile = cProfile.Profile()
    result = profile.runcall(action)
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return result


def kinds_line(ctx: Context) -> str:
    counts = Counter(u.kind for u in ctx.units)
    return ", ".join(f"{kind} {counts[kind]}" for kind in KIND_SHARE)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile a first run (cProfile) and print the top functions",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = bench_home(Path(tmp) / "home", args.units, args.seed)
        period = ctx.period(PERIOD)
        print(f"{len(ctx.units)} units ({kinds_line(ctx)}), period {PERIOD}, embedded backend (openpyxl)")

        results, seconds = timed(lambda: provision(ctx, period))
        files = workbooks(ctx)
        size = sum(p.stat().st_size for p in files)
        actions = Counter(r.action for r in results)
        print(
            f"first provisioning: {seconds:.2f} s, {seconds / len(ctx.units) * 1000:.0f} ms per unit "
            f"({dict(actions)}); process max RSS: {max_rss_mib():.0f} MiB"
        )
        print(
            f"workbooks on disk: {len(files)} files, {size / 2**20:.1f} MiB "
            f"({size / len(files) / 1024:.0f} KiB each on average)"
        )

        before = {p: p.stat().st_mtime_ns for p in files}
        results, seconds = timed(lambda: provision(ctx, period))
        rewritten = sum(p.stat().st_mtime_ns != before[p] for p in files)
        actions = Counter(r.action for r in results)
        print(
            f"second provisioning (all exist): {seconds:.3f} s ({dict(actions)}); workbooks rewritten: {rewritten}"
        )
        print(f"part-level fallbacks to openpyxl: {fallbacks()}")
        ctx.close()

    with tempfile.TemporaryDirectory() as tmp:
        ctx = bench_home(Path(tmp) / "home", args.units, args.seed)
        tracemalloc.start()
        _, seconds = timed(lambda: provision(ctx, ctx.period(PERIOD)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"first provisioning under tracemalloc: peak Python heap {peak / 2**20:.1f} MiB "
            f"({seconds:.1f} s with tracing on); process max RSS: {max_rss_mib():.0f} MiB"
        )
        ctx.close()

    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = bench_home(Path(tmp) / "home", args.units, args.seed)
            profiled(lambda: provision(ctx, ctx.period(PERIOD)))
            ctx.close()


if __name__ == "__main__":
    main()
