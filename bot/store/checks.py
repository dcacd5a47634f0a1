"""Polling marks, snapshots of what units entered, and the outcomes of checks and approvals."""

from __future__ import annotations

import json
import sqlite3

from bot import clock
from bot.store import json_text
from bot.store.database import Database


class CheckQueries(Database):
    def poll_mark(self, unit: str, period: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM poll_marks WHERE unit = ? AND period = ?", (unit, period)
        ).fetchone()

    def set_poll_mark(
        self,
        unit: str,
        period: str,
        modified_at: str | None,
        content_hash: str | None,
        error: str | None = None,
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO poll_marks (unit, period, modified_at, content_hash, polled_at, error) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (unit, period) DO UPDATE SET modified_at = excluded.modified_at,
                   content_hash = COALESCE(excluded.content_hash, content_hash), polled_at = excluded.polled_at, error = excluded.error""",
                (unit, period, modified_at, content_hash, clock.now().isoformat(), error),
            )

    def add_snapshot(
        self, unit: str, period: str, modified_at: str | None, content_hash: str, report_json: str
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO snapshots (unit, period, taken_at, modified_at, content_hash, report_json) VALUES (?, ?, ?, ?, ?, ?)",
                (unit, period, clock.now().isoformat(), modified_at, content_hash, report_json),
            )
            conn.execute(
                """INSERT INTO poll_marks (unit, period, modified_at, content_hash, polled_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (unit, period) DO UPDATE SET modified_at = excluded.modified_at,
                   content_hash = excluded.content_hash, polled_at = excluded.polled_at, error = NULL""",
                (unit, period, modified_at, content_hash, clock.now().isoformat()),
            )
            return cur.lastrowid

    def latest_snapshots(self, period: str) -> list[sqlite3.Row]:
        return list(
            self.conn.execute(
                """SELECT s.* FROM snapshots s JOIN (SELECT unit, MAX(id) AS id FROM snapshots WHERE period = ? GROUP BY unit) m
               ON s.id = m.id ORDER BY s.unit""",
                (period,),
            )
        )

    def snapshot_history(self, unit: str, period: str) -> list[sqlite3.Row]:
        return list(
            self.conn.execute(
                "SELECT * FROM snapshots WHERE unit = ? AND period = ? ORDER BY id", (unit, period)
            )
        )

    def unit_state(self, unit: str, period: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM unit_states WHERE unit = ? AND period = ?", (unit, period)
        ).fetchone()

    def unit_states(self, period: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM unit_states WHERE period = ? ORDER BY unit", (period,)))

    def findings(self, period: str, unit: str | None = None) -> list[dict]:
        """The findings of the period's last checks (of one unit), each as ``Finding.as_dict``
        gives it, unit by unit in the order they were found."""
        if unit is None:
            rows = self.conn.execute(
                "SELECT findings_json FROM unit_findings WHERE period = ? ORDER BY unit", (period,)
            )
        else:
            rows = self.conn.execute(
                "SELECT findings_json FROM unit_findings WHERE period = ? AND unit = ?", (period, unit)
            )
        return [finding for (text,) in rows for finding in json.loads(text)]

    def latest_snapshot_ids(self, period: str) -> dict[str, int]:
        """unit → the id of its latest snapshot (snapshots are never changed, only added)."""
        rows = self.conn.execute(
            "SELECT unit, MAX(id) FROM snapshots WHERE period = ? GROUP BY unit", (period,)
        )
        return dict(rows.fetchall())

    def save_check(
        self,
        period: str,
        outcomes: list[dict],
        findings: dict[str, list[dict]],
        units: list[str],
        kept: list[str] | None = None,
    ) -> None:
        """Replace the findings (unit → its findings as ``Finding.as_dict`` gives them) and unit
        states of ``units`` with those of one check, atomically. With ``kept`` (the units whose
        stored outcome stands), the findings of every other unit of the period (one gone from
        the list) go too."""
        with self.transaction() as conn:
            if kept is not None:
                present = [*units, *kept]
                marks = ",".join("?" * len(present))
                conn.execute(
                    f"DELETE FROM unit_findings WHERE period = ? AND unit NOT IN ({marks})",
                    (period, *present),
                )
            marks = ",".join("?" * len(units))
            conn.execute(
                f"DELETE FROM unit_findings WHERE period = ? AND unit IN ({marks})", (period, *units)
            )
            conn.executemany(
                "INSERT INTO unit_findings (unit, period, findings_json) VALUES (?, ?, ?)",
                [(unit, period, json_text.dumps(found)) for unit, found in findings.items() if found],
            )
            conn.executemany(
                """INSERT INTO unit_states (unit, period, state, filled, required, errors, warnings, incomplete_sections,
                           last_change, submitted_at, checked_at, snapshot_id, feedback_hash, inputs_key)
                       VALUES (:unit, :period, :state, :filled, :required, :errors, :warnings, :incomplete_sections,
                           :last_change, :submitted_at, :checked_at, :snapshot_id, :feedback_hash, :inputs_key)
                       ON CONFLICT (unit, period) DO UPDATE SET state = excluded.state, filled = excluded.filled,
                           required = excluded.required, errors = excluded.errors, warnings = excluded.warnings,
                           incomplete_sections = excluded.incomplete_sections, last_change = excluded.last_change,
                           submitted_at = excluded.submitted_at, checked_at = excluded.checked_at,
                           snapshot_id = excluded.snapshot_id, feedback_hash = excluded.feedback_hash,
                           inputs_key = excluded.inputs_key""",
                [{**o, "period": period} for o in outcomes],
            )

    def mark_feedback_written(
        self, unit: str, period: str, feedback_hash: str, before: str | None, after: str | None
    ) -> None:
        """Feedback is in the workbook. Our own write is not a change by the unit: when the last
        poll had seen the spreadsheet as it was just before our write, it has seen it after, too."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE unit_states SET feedback_written_hash = ? WHERE unit = ? AND period = ?",
                (feedback_hash, unit, period),
            )
            conn.execute(
                "UPDATE poll_marks SET modified_at = ? WHERE unit = ? AND period = ? AND modified_at = ?",
                (after, unit, period, before),
            )

    def set_approval(self, unit: str, period: str, approval: str | None, comment: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO unit_states (unit, period, state, checked_at, approval, approval_comment, approval_at)
                   VALUES (?, ?, 'chua_mo', ?, ?, ?, ?)
                   ON CONFLICT (unit, period) DO UPDATE SET approval = excluded.approval,
                       approval_comment = excluded.approval_comment, approval_at = excluded.approval_at,
                       feedback_written_hash = NULL""",
                (unit, period, clock.now().isoformat(), approval, comment, clock.now().isoformat()),
            )

    def period_signature(self, period: str) -> str:
        """Changes whenever a snapshot, a check outcome or a decision of the period changes."""
        snap = self.conn.execute("SELECT MAX(id) FROM snapshots WHERE period = ?", (period,)).fetchone()[0]
        states = self.conn.execute(
            "SELECT group_concat(unit || state || errors || warnings || COALESCE(approval, ''), ',') "
            "FROM (SELECT * FROM unit_states WHERE period = ? ORDER BY unit)",
            (period,),
        ).fetchone()[0]
        return f"{snap}|{states}"
