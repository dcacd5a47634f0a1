"""The job log and small remembered facts (settings)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from bot import clock
from bot.store.database import Database


class RunQueries(Database):
    def log_job(self, job: str, due_key: str, started: datetime, ok: bool, detail: str = "") -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO job_log (job, due_key, started_at, finished_at, ok, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (job, due_key, started.isoformat(), clock.now().isoformat(), int(ok), detail),
            )

    def last_job(self, job: str, *, ok_only: bool = True) -> sqlite3.Row | None:
        query = (
            "SELECT * FROM job_log WHERE job = ?"
            + (" AND ok = 1" if ok_only else "")
            + " ORDER BY id DESC LIMIT 1"
        )
        return self.conn.execute(query, (job,)).fetchone()

    def job_done(self, job: str, due_key: str) -> bool:
        """Whether the job already ran for this key, successfully or not: a failed job waits for
        its next key instead of being re-run on every pass."""
        row = self.conn.execute(
            "SELECT 1 FROM job_log WHERE job = ? AND due_key = ?", (job, due_key)
        ).fetchone()
        return row is not None

    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
