"""Provisioned spreadsheets and the addresses their service refused to share them with."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from bot import clock
from bot.store.database import Database


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


class SheetQueries(Database):
    def record_sheet(
        self, unit: str, period: str, backend: str, sheet_id: str, url: str, schema_version: str
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO sheets (unit, period, backend, sheet_id, url, schema_version, status, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'allocated', ?)
                   ON CONFLICT (unit, period) DO UPDATE SET sheet_id = excluded.sheet_id, url = excluded.url""",
                (unit, period, backend, sheet_id, url, schema_version, clock.now().isoformat()),
            )

    def mark_ready(self, unit: str, period: str, carried: dict | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sheets SET status = 'ready', carried_json = ? WHERE unit = ? AND period = ?",
                (json.dumps(carried or {}, ensure_ascii=False, default=str), unit, period),
            )

    def carried(self, unit: str, period: str) -> dict:
        row = self.conn.execute(
            "SELECT carried_json FROM sheets WHERE unit = ? AND period = ?", (unit, period)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def sheet(self, unit: str, period: str) -> SheetRecord | None:
        row = self.conn.execute(
            "SELECT * FROM sheets WHERE unit = ? AND period = ?", (unit, period)
        ).fetchone()
        return _sheet(row) if row else None

    def sheets(self, period: str) -> list[SheetRecord]:
        rows = self.conn.execute("SELECT * FROM sheets WHERE period = ? ORDER BY unit", (period,))
        return [_sheet(r) for r in rows]

    def periods(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT period FROM sheets ORDER BY period")]

    def set_sharing_problems(self, unit: str, period: str, refused: dict[str, str]) -> None:
        """After sharing the unit's spreadsheet with every address it needs: ``refused`` (e-mail →
        message) is what is still unshared; any other address recorded before is fixed."""
        now = clock.now().isoformat()
        with self.transaction() as conn:
            marks = ",".join("?" * len(refused))
            conn.execute(
                f"DELETE FROM sharing_problems WHERE unit = ? AND period = ? AND email NOT IN ({marks})",
                (unit, period, *refused),
            )
            for email, problem in refused.items():
                conn.execute(
                    """INSERT INTO sharing_problems (unit, period, email, problem, first_seen, last_seen)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (unit, period, email) DO UPDATE SET problem = excluded.problem,
                       last_seen = excluded.last_seen""",
                    (unit, period, email, problem, now, now),
                )

    def sharing_problems(self, period: str | None = None, unit: str | None = None) -> list[sqlite3.Row]:
        """Addresses still unshared (unit, period, email, problem, first_seen, last_seen), by unit."""
        where, args = [], []
        for column, value in (("period", period), ("unit", unit)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM sharing_problems" + (" WHERE " + " AND ".join(where) if where else "")
        return self.conn.execute(sql + " ORDER BY period, unit, email", args).fetchall()


def _sheet(row: sqlite3.Row) -> SheetRecord:
    return SheetRecord(**{k: row[k] for k in SheetRecord.__dataclass_fields__})
