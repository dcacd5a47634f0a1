"""API calls and time of the Google backend for a province (200 units), against the local fake
with a latency per call, side by side with the naive gspread way.

* batched: the real jobs (jobs.provision / jobs.poll) on :class:`bot.sheets.backends.google.GoogleBackend`
  — one files.create + one batchUpdate + one permission per e-mail + one marker per unit; a
  poll is one folder listing plus one spreadsheets.get (values with their number formats) per changed spreadsheet.
* naive: the usual gspread script, written here only — ``client.create`` then
  ``add_worksheet`` per tab and ``update_acell`` per cell (no formats, merges or protection,
  which only flatters it); a poll asks Drive for each file's change time, then opens each
  changed spreadsheet and reads it tab by tab with ``get_all_values``.

Measured at ``--latency`` where it is quick (batched polls, a sample of batched provisionings,
extrapolated and labelled); the naive way is counted at zero latency and its time estimated as
its own overhead plus calls × latency. "Under quota" replays the calls against a sliding
window of ``--quota`` Sheets reads and writes per minute (Drive calls are not limited), on a
simulated clock.

    .venv/bin/python bench/bench_google.py [--units 200] [--changed 10] [--latency 0.15] [--sample 10] [--full]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import TZ  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.context import open_context  # noqa: E402
from bot.outline.layout import build_layout  # noqa: E402
from bot.sheets.backends.google import GoogleBackend, NoQuota, Quota, RetryPolicy, gspread_client  # noqa: E402
from jobs.poll import poll  # noqa: E402
from jobs.provision import provision  # noqa: E402
from tests.fakes.google import FakeGoogle  # noqa: E402

BOT = "report-bot@bench.iam.gserviceaccount.com"
COORDINATOR = "tonghop@sonoivu.example.vn"
KINDS = ("so_nganh", "huyen", "nganh_doc", "xa")
PERIOD = "2026-Q1"


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)

    def __call__(self) -> datetime:
        return self.moment


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def units_csv(count: int) -> str:
    lines = ["code,name,kind,emails,chat_ids"]
    for i in range(1, count + 1):
        lines.append(f"U{i:03d},Đơn vị {i},{KINDS[i % len(KINDS)]},vanthu{i}@donvi.example.vn,")
    return "\n".join(lines) + "\n"


def open_bench_context(home: Path, fake: FakeGoogle, folder: str, units: int):
    home.mkdir(parents=True, exist_ok=True)
    (home / "units.csv").write_text(units_csv(units), encoding="utf-8")
    (home / "key.json").write_text(json.dumps(fake.service_account_info(BOT)), encoding="utf-8")
    config = {
        "backend": "google",
        "google": {
            "credentials": str(home / "key.json"),
            "folder_id": folder,
            "coordinator_emails": [COORDINATOR],
            "base_urls": {"oauth2": fake.base_url, "drive": fake.base_url, "sheets": fake.base_url},
        },
    }
    (home / "config.json").write_text(json.dumps(config), encoding="utf-8")
    backend = GoogleBackend.from_config(load_config(home), quota=NoQuota(), retry=RetryPolicy(), timeout=30)
    return open_context(home, backend=backend)


def measured(fake: FakeGoogle, action) -> tuple[list, float]:
    fake.reset_calls()
    started = time.perf_counter()
    action()
    return list(fake.calls), time.perf_counter() - started


def sheets_kind(call) -> str | None:
    if not call.kind.startswith("sheets."):
        return None
    return "read" if call.method == "GET" else "write"


def quota_wait(calls: list, latency: float, per_minute: int) -> float:
    """Seconds spent waiting for the per-minute quota when the calls run one after another,
    each taking ``latency`` (simulated clock; Drive calls are not limited)."""
    clock = SimulatedTime()
    quota = Quota(per_minute, per_minute, sleep=clock.sleep, monotonic=clock.monotonic)
    for call in calls:
        kind = sheets_kind(call)
        if kind:
            quota.acquire(kind)
        clock.now += latency
    return quota.waited


ONE_TIME = ("oauth.token", "drive.files.list")  # once per run, not per unit


def scaled(calls: list, scale: float) -> list:
    """The calls of a sample of units as the whole province would make them."""
    once = [c for c in calls if c.kind in ONE_TIME]
    each = [c for c in calls if c.kind not in ONE_TIME]
    return once + each * round(scale)


def with_units(ctx, units):
    ctx.units = units
    ctx.__dict__.pop("unit_by_code", None)


# --- the naive gspread way (bench only) -------------------------------------------------------------


def naive_provision(client, folder: str, layout, emails: list[str]) -> None:
    spreadsheet = client.create(layout.title, folder_id=folder)
    default = spreadsheet.sheet1
    for tab in layout.tabs:
        worksheet = spreadsheet.add_worksheet(
            tab.name, rows=max(tab.max_row, 1) + 10, cols=max(tab.max_col, 1)
        )
        for (row, col), spec in sorted(tab.cells.items()):
            value = spec.formula or spec.value
            if value not in (None, ""):
                worksheet.update_cell(row, col, value)
    spreadsheet.del_worksheet(default)
    for email in emails:
        spreadsheet.share(email, perm_type="user", role="writer", notify=False)


def naive_poll(client, spreadsheet_ids: list[str], last_seen: dict[str, str]) -> int:
    read = 0
    for spreadsheet_id in spreadsheet_ids:
        modified = client.get_file_drive_metadata(spreadsheet_id)["modifiedTime"]
        if last_seen.get(spreadsheet_id) == modified:
            continue
        last_seen[spreadsheet_id] = modified
        spreadsheet = client.open_by_key(spreadsheet_id)
        for worksheet in spreadsheet.worksheets():
            worksheet.get_all_values()
        read += 1
    return read


# --- the run ------------------------------------------------------------------------------------------


def run(args) -> list[tuple]:
    rows = []
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp, FakeGoogle(clock=clock) as fake:
        folder = fake.add_folder("Báo cáo CCHC", shared_drive=True, members=[BOT])
        ctx = open_bench_context(Path(tmp) / "home", fake, folder, args.units)
        period = ctx.period(PERIOD)
        everyone = list(ctx.units)

        sample = everyone if args.full else everyone[: args.sample]
        with_units(ctx, sample)
        fake.latency = args.latency
        calls, seconds = measured(fake, lambda: provision(ctx, period))
        scale = len(everyone) / len(sample)
        label = "measured" if scale == 1 else f"measured on {len(sample)}, extrapolated ×{scale:g}"
        rows.append(
            row(
                f"provision {len(everyone)} units — batched",
                scaled(calls, scale),
                seconds / len(calls),
                args,
                label,
            )
        )

        fake.latency = 0
        with_units(ctx, everyone)
        provision(ctx, period)

        fake.latency = args.latency
        calls, seconds = measured(fake, lambda: poll(ctx, period))
        rows.append(
            row(
                f"first poll, {len(everyone)} units all read — batched",
                calls,
                seconds / len(calls),
                args,
                "measured",
            )
        )
        changed = everyone[:: max(1, len(everyone) // args.changed)][: args.changed]
        clock.moment += timedelta(minutes=30)
        for unit in changed:
            layout = build_layout(ctx.schema, unit, period)
            spec = next(s for s in layout.fields.values() if s.type == "narrative")
            fake.type_as_user(
                ctx.store.sheet(unit.code, PERIOD).sheet_id, spec.tab, {spec.a1: "Đã cập nhật."}
            )
        calls, seconds = measured(fake, lambda: poll(ctx, period))
        rows.append(
            row(
                f"poll {len(everyone)} units, {len(changed)} changed — batched",
                calls,
                seconds / len(calls),
                args,
                "measured",
            )
        )

        fake.latency = 0
        client = gspread_client(ctx.backend.identity.credentials, fake.base_url, timeout=30)
        unit = everyone[0]
        layout = build_layout(ctx.schema, unit, period)
        calls, seconds = measured(
            fake, lambda: naive_provision(client, folder, layout, [*unit.emails, COORDINATOR])
        )
        n = len(everyone)
        rows.append(
            row(
                f"provision {n} units — naive",
                calls * n,
                seconds / len(calls) + args.latency,
                args,
                f"counted on 1 unit ({unit.kind}) ×{n}; time estimated",
            )
        )

        ids = [ctx.store.sheet(u.code, PERIOD).sheet_id for u in everyone]
        seen: dict[str, str] = {}
        calls, seconds = measured(fake, lambda: naive_poll(client, ids, seen))
        rows.append(
            row(
                f"first poll, {n} units all read — naive",
                calls,
                seconds / len(calls) + args.latency,
                args,
                "counted; time estimated",
            )
        )
        clock.moment += timedelta(minutes=30)
        for unit in changed:
            fake.type_as_user(ctx.store.sheet(unit.code, PERIOD).sheet_id, "Bìa", {"C1": "x"})
        calls, seconds = measured(fake, lambda: naive_poll(client, ids, seen))
        rows.append(
            row(
                f"poll {n} units, {len(changed)} changed — naive",
                calls,
                seconds / len(calls) + args.latency,
                args,
                "counted; time estimated",
            )
        )
        ctx.close()
    return rows


def row(name: str, calls: list, per_call: float, args, how: str) -> tuple:
    """(scenario, calls, Sheets reads / writes, time, time under quota, how it was obtained)."""
    seconds = per_call * len(calls)
    reads = sum(sheets_kind(c) == "read" for c in calls)
    writes = sum(sheets_kind(c) == "write" for c in calls)
    return (
        name,
        len(calls),
        f"{reads} / {writes}",
        seconds,
        seconds + quota_wait(calls, args.latency, args.quota),
        how,
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def print_table(rows: list[tuple], args) -> None:
    head = (
        "scenario",
        "API calls",
        "Sheets r / w",
        f"time @{args.latency:g}s/call",
        f"under {args.quota}/min quota",
        "how",
    )
    table = [head] + [
        (name, f"{calls:g}", rw, _duration(t), _duration(q), how) for name, calls, rw, t, q, how in rows
    ]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print("  ".join(str(cell).ljust(widths[j]) for j, cell in enumerate(row)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds the fake adds to every call")
    parser.add_argument(
        "--sample", type=int, default=10, help="units whose batched provisioning is measured at latency"
    )
    parser.add_argument("--full", action="store_true", help="measure the batched provisioning of every unit")
    parser.add_argument("--quota", type=int, default=60, help="Sheets reads and writes per minute")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args)
    print_table(rows, args)
    print(f"\n(bench ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
