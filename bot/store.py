"""SQLite state: provisioned sheets, job log, and (through later migrations) snapshots,
findings and the outbox.

Schema changes are numbered SQL files in ``bot/migrations/``; each is applied in the same
transaction that records it, so a crash mid-migration leaves the database as it was.
The database runs in WAL mode with a busy timeout, so the scheduler and the chat bot can
share it from two processes.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import clock

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class SheetRecord:
    unit: str
    period: str
    backend: str
    sheet_id: str
    url: str
    schema_version: str
    status: str  # "allocated" (id known, template not yet in place) or "ready"
    created_at: str


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self):
        """One atomic unit of work; nested use joins the outer transaction."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- migrations ---------------------------------------------------------------------

    def migrate(self) -> list[str]:
        self.conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r["name"] for r in self.conn.execute("SELECT name FROM migrations")}
        applied = []
        for path in sorted(MIGRATIONS.glob("*.sql")):
            if path.stem in done:
                continue
            with self.transaction() as conn:
                for statement in _statements(path.read_text(encoding="utf-8")):
                    conn.execute(statement)
                conn.execute("INSERT INTO migrations VALUES (?, ?)", (path.stem, clock.now().isoformat()))
            applied.append(path.stem)
        return applied

    # --- sheets ---------------------------------------------------------------------------

    def record_sheet(self, unit: str, period: str, backend: str, sheet_id: str, url: str, schema_version: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO sheets (unit, period, backend, sheet_id, url, schema_version, status, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'allocated', ?)
                   ON CONFLICT (unit, period) DO UPDATE SET sheet_id = excluded.sheet_id, url = excluded.url""",
                (unit, period, backend, sheet_id, url, schema_version, clock.now().isoformat()),
            )

    def mark_ready(self, unit: str, period: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sheets SET status = 'ready' WHERE unit = ? AND period = ?", (unit, period))

    def sheet(self, unit: str, period: str) -> SheetRecord | None:
        row = self.conn.execute("SELECT * FROM sheets WHERE unit = ? AND period = ?", (unit, period)).fetchone()
        return _sheet(row) if row else None

    def sheets(self, period: str) -> list[SheetRecord]:
        rows = self.conn.execute("SELECT * FROM sheets WHERE period = ? ORDER BY unit", (period,))
        return [_sheet(r) for r in rows]

    def periods(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT period FROM sheets ORDER BY period")]

    # --- job log ------------------------------------------------------------------------------

    def log_job(self, job: str, due_key: str, started: datetime, ok: bool, detail: str = "") -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO job_log (job, due_key, started_at, finished_at, ok, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (job, due_key, started.isoformat(), clock.now().isoformat(), int(ok), detail),
            )

    def last_job(self, job: str, *, ok_only: bool = True) -> sqlite3.Row | None:
        query = "SELECT * FROM job_log WHERE job = ?" + (" AND ok = 1" if ok_only else "") + " ORDER BY id DESC LIMIT 1"
        return self.conn.execute(query, (job,)).fetchone()

    def job_done(self, job: str, due_key: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM job_log WHERE job = ? AND due_key = ? AND ok = 1", (job, due_key)).fetchone()
        return row is not None


def _sheet(row: sqlite3.Row) -> SheetRecord:
    return SheetRecord(**{k: row[k] for k in SheetRecord.__dataclass_fields__})


def _statements(sql: str):
    for statement in sql.split(";"):
        if statement.strip():
            yield statement
