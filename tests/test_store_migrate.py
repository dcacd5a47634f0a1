"""Two processes opening the same fresh home must both end with a migrated database."""

from __future__ import annotations

import multiprocessing

from bot.store import MIGRATIONS, Store


def _open(path: str, start, results) -> None:
    start.wait()
    try:
        Store(path).close()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(f"{type(exc).__name__}: {exc}")


def _open_concurrently(path: str, processes: int = 2) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    workers = [ctx.Process(target=_open, args=(path, start, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=120)
    return outcomes


def test_it_migrates_a_fresh_home_opened_by_two_processes_at_once(tmp_path):
    for attempt in range(6):
        path = str(tmp_path / f"home{attempt}" / "state.db")
        assert _open_concurrently(path) == ["ok", "ok"]
        store = Store(path)
        applied = [r["name"] for r in store.conn.execute("SELECT name FROM migrations ORDER BY name")]
        store.close()
        assert applied == sorted(p.stem for p in MIGRATIONS.glob("*.sql"))
