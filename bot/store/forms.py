"""Answers of Google Forms already processed, by form and period."""

from __future__ import annotations

import sqlite3

from bot.store.database import Database


class FormQueries(Database):
    def processed_responses(self, form: str, period: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT response_key FROM form_responses WHERE form = ? AND period = ?", (form, period)
        )
        return {r[0] for r in rows}

    def record_responses(self, rows: list[tuple]) -> None:
        """(form, period, response_key, unit, sheet_row, submitted_at, outcome, fields, processed_at)
        per answer; an answer recorded before is left as it was."""
        with self.transaction() as conn:
            conn.executemany(
                """INSERT OR IGNORE INTO form_responses
                   (form, period, response_key, unit, sheet_row, submitted_at, outcome, fields, processed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )

    def last_response(self, form: str, period: str) -> sqlite3.Row | None:
        """The latest answer of a form already processed for a period, or None."""
        return self.conn.execute(
            "SELECT * FROM form_responses WHERE form = ? AND period = ? ORDER BY submitted_at DESC, sheet_row DESC "
            "LIMIT 1",
            (form, period),
        ).fetchone()
