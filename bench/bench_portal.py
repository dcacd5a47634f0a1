"""The portal under load: the period board for 200 units, and 20 uploads at once.

Provisions ``--units`` units (default 200), polls and checks them, serves the portal with
uvicorn on 127.0.0.1 (a free port) from this process, then:

1. the board: a logged-in coordinator asks for ``/ky/<period>`` ``--requests`` times (one
   client, sequential); the time per request is measured at the server (a middleware stamps
   ``Server-Timing``) and at the client. Target: under 300 ms at the server.
2. 20 uploads at once: ``--uploads`` units (default 20) each download their workbook through
   their own link, fill it with their own figures, and all post it at the same moment from
   their own client (one thread each). Checked afterwards: every answer 200, every unit has
   exactly one new version whose hash is the file it sent, and every unit's workbook holds its
   own figures (none lost, none mixed up).

    .venv/bin/python bench/bench_portal.py [--units 200] [--requests 30] [--uploads 20]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import openpyxl  # noqa: E402

from bench.bench_provision import bench_home, kinds_line, max_rss_mib, timed  # noqa: E402
from bench.bench_submit import filled_file  # noqa: E402
from bot.intake.links import unit_token  # noqa: E402
from bot.outline.layout import build_layout  # noqa: E402
from jobs.check import check  # noqa: E402
from jobs.demo import PERIOD  # noqa: E402
from jobs.poll import poll  # noqa: E402
from jobs.provision import provision  # noqa: E402
from web import app as web_app  # noqa: E402
from web.auth import set_password  # noqa: E402

PROBE = "t_van_ban_dien_tu/don_vi[1]/vb_tong"  # scaled by each unit's factor: tells units apart


def serve_with_timing(home: Path):
    """The portal, with each request's time at the server in a Server-Timing header."""
    original = web_app.create_app

    def timed_app(home_arg):
        app = original(home_arg)

        @app.middleware("http")
        async def server_timing(request, call_next):
            started = time.perf_counter()
            response = await call_next(request)
            response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
            return response

        return app

    web_app.create_app = timed_app
    try:
        return web_app.start_in_thread(home, "127.0.0.1", 0)
    finally:
        web_app.create_app = original


def board(base: str, requests: int) -> None:
    with httpx.Client(base_url=base) as client:
        page = client.get("/dang-nhap").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        client.post("/dang-nhap", data={"name": "bench", "password": "mat-khau-bench", "csrf": csrf})
        server, wall = [], []
        for _ in range(requests):
            started = time.perf_counter()
            answer = client.get(f"/ky/{PERIOD}")
            wall.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.text.count("<tr>") > 1
            server.append(float(answer.headers["server-timing"].split("dur=")[1]) / 1000)
    rows = answer.text.count("/don-vi/")
    print(
        f"board ({rows} units listed), {requests} requests: at the server median {1000 * statistics.median(server):.0f} ms, "
        f"max {1000 * max(server):.0f} ms; at the client median {1000 * statistics.median(wall):.0f} ms (target < 300 ms)"
    )


def uploads(ctx, base: str, count: int) -> None:
    codes = [u.code for u in ctx.units][:count]
    tokens = {code: unit_token(ctx, code) for code in codes}
    files = {code: filled_file(ctx, code, 2 + i) for i, code in enumerate(codes)}  # distinct figures per unit
    answers: dict[str, int] = {}
    start = threading.Barrier(count)

    def one(code: str) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            page = client.get(f"/u/{tokens[code]}").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            start.wait()
            answer = client.post(
                f"/u/{tokens[code]}/gui-tep",
                data={"csrf": csrf, "ky": PERIOD},
                files={"tep": (f"{code}.xlsx", files[code])},
            )
            answers[code] = answer.status_code

    threads = [threading.Thread(target=one, args=(code,)) for code in codes]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    problems = []
    for code in codes:
        versions = ctx.store.versions(code, PERIOD)
        if answers.get(code) != 200:
            problems.append(f"{code}: answer {answers.get(code)}")
        if len(versions) != 1 or versions[0]["sha256"] != hashlib.sha256(files[code]).hexdigest():
            problems.append(f"{code}: {len(versions)} versions recorded, or not the file it sent")
        layout = build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD))
        spec = layout.fields.get(PROBE)
        if spec:
            wb = openpyxl.load_workbook(ctx.store.sheet(code, PERIOD).sheet_id, read_only=True)
            held = wb[spec.tab].cell(row=spec.row, column=spec.col).value
            expected = (
                openpyxl.load_workbook(io.BytesIO(files[code]), read_only=True)[spec.tab]
                .cell(row=spec.row, column=spec.col)
                .value
            )
            if held != expected:
                problems.append(f"{code}: workbook holds {held}, the unit sent {expected}")
    print(
        f"{count} uploads at once: all answered in {seconds:.1f} s ({seconds / count:.2f} s each, one merge at a time); "
        + (
            "none lost, none mixed up, every version recorded"
            if not problems
            else "PROBLEMS: " + "; ".join(problems)
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ctx = bench_home(home, args.units, args.seed)
        period = ctx.period(PERIOD)
        print(f"{len(ctx.units)} units ({kinds_line(ctx)}), period {PERIOD}, embedded backend")
        _, seconds = timed(lambda: (provision(ctx, period), poll(ctx, period), check(ctx, period)))
        print(f"provisioned, polled and checked in {seconds:.1f} s (not measured here)")
        set_password(ctx.store, "bench", "mat-khau-bench")
        server = serve_with_timing(home)
        while not server.started:
            server.thread.join(0.05)
        base = f"http://127.0.0.1:{server.bound_port}"
        print(f"process max RSS before the portal's requests {max_rss_mib():.0f} MiB")
        board(base, args.requests)
        print(f"process max RSS after the board requests {max_rss_mib():.0f} MiB")
        uploads(ctx, base, min(args.uploads, len(ctx.units)))
        server.should_exit = True
        server.thread.join(10)
        print(f"process max RSS {max_rss_mib():.0f} MiB")
        ctx.close()


if __name__ == "__main__":
    main()
