"""Migrations: two processes opening the same fresh home both end with a migrated database, and
a home from before a migration keeps what it stored."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3

from bot.store import MIGRATIONS, Store
from bot.store.database import _statements


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


def _home_before(path, migration: str) -> sqlite3.Connection:
    """A database with the migrations before ``migration`` applied, as an older bot left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.stem >= migration:
            break
        for statement in _statements(sql.read_text(encoding="utf-8")):
            conn.execute(statement)
        conn.execute("INSERT INTO migrations VALUES (?, '2026-01-01')", (sql.stem,))
    return conn


def test_it_keeps_the_stored_findings_when_they_move_to_one_row_per_unit(tmp_path):
    path = tmp_path / "state.db"
    conn = _home_before(path, "0014_findings_per_unit")
    found = {
        ("STP", "2026-Q1"): [
            {"unit": "STP", "rule": f"r{i}", "severity": "error", "message": f"Lỗi số {i}", "cell": None}
            for i in (3, 1, 2)
        ],
        ("XA1", "2026-Q1"): [
            {"unit": "XA1", "rule": "r1", "severity": "warning", "message": "Cảnh báo", "cell": "'Bảng 1'!C9"}
        ],
        ("STP", "2025-Y"): [
            {"unit": "STP", "rule": "r9", "severity": "error", "message": "Năm trước", "cell": None}
        ],
    }
    for (unit, period), findings in found.items():
        for f in findings:
            conn.execute(
                "INSERT INTO findings (unit, period, rule, severity, cell, message, finding_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    unit,
                    period,
                    f["rule"],
                    f["severity"],
                    f["cell"],
                    f["message"],
                    json.dumps(f, ensure_ascii=False),
                ),
            )
    conn.close()

    store = Store(path)

    assert store.findings("2026-Q1", "STP") == found[("STP", "2026-Q1")]  # in the order stored
    assert store.findings("2026-Q1") == found[("STP", "2026-Q1")] + found[("XA1", "2026-Q1")]
    assert store.findings("2025-Y", "STP") == found[("STP", "2025-Y")]
    assert store.findings("2025-Y", "XA1") == []
    store.close()
