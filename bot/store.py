"""SQLite state: provisioned sheets, job log, and (through later migrations) snapshots,
findings and the outbox.

Schema changes are numbered SQL files in ``bot/migrations/``; each is applied in the same
transaction that records it, so a crash mid-migration leaves the database as it was.
The database runs in WAL mode with a busy timeout, so the scheduler and the chat bot can
share it from two processes.
"""

from __future__ import annotations

import json
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

    def mark_ready(self, unit: str, period: str, carried: dict | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sheets SET status = 'ready', carried_json = ? WHERE unit = ? AND period = ?",
                         (json.dumps(carried or {}, ensure_ascii=False, default=str), unit, period))

    def carried(self, unit: str, period: str) -> dict:
        row = self.conn.execute("SELECT carried_json FROM sheets WHERE unit = ? AND period = ?", (unit, period)).fetchone()
        return json.loads(row[0]) if row else {}

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
        """Whether the job already ran for this key, successfully or not: a failed job waits for
        its next key instead of being re-run on every pass."""
        row = self.conn.execute("SELECT 1 FROM job_log WHERE job = ? AND due_key = ?", (job, due_key)).fetchone()
        return row is not None


    # --- polling and snapshots --------------------------------------------------------------

    def poll_mark(self, unit: str, period: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM poll_marks WHERE unit = ? AND period = ?", (unit, period)).fetchone()

    def set_poll_mark(self, unit: str, period: str, modified_at: str | None, content_hash: str | None, error: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO poll_marks (unit, period, modified_at, content_hash, polled_at, error) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (unit, period) DO UPDATE SET modified_at = excluded.modified_at,
                   content_hash = COALESCE(excluded.content_hash, content_hash), polled_at = excluded.polled_at, error = excluded.error""",
                (unit, period, modified_at, content_hash, clock.now().isoformat(), error),
            )

    def add_snapshot(self, unit: str, period: str, modified_at: str | None, content_hash: str, report_json: str) -> int:
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
        return list(self.conn.execute(
            """SELECT s.* FROM snapshots s JOIN (SELECT unit, MAX(id) AS id FROM snapshots WHERE period = ? GROUP BY unit) m
               ON s.id = m.id ORDER BY s.unit""", (period,)))

    def snapshot_history(self, unit: str, period: str) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT * FROM snapshots WHERE unit = ? AND period = ? ORDER BY id", (unit, period)))

    # --- check outcomes ------------------------------------------------------------------------

    def unit_state(self, unit: str, period: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM unit_states WHERE unit = ? AND period = ?", (unit, period)).fetchone()

    def unit_states(self, period: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM unit_states WHERE period = ? ORDER BY unit", (period,)))

    def findings(self, period: str, unit: str | None = None) -> list[sqlite3.Row]:
        if unit is None:
            return list(self.conn.execute("SELECT * FROM findings WHERE period = ? ORDER BY unit, id", (period,)))
        return list(self.conn.execute("SELECT * FROM findings WHERE period = ? AND unit = ? ORDER BY id", (period, unit)))


    def save_check(self, period: str, outcomes: list[dict], findings: list[tuple]) -> None:
        """Replace the period's findings and unit states with those of one check, atomically."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM findings WHERE period = ?", (period,))
            conn.executemany(
                "INSERT INTO findings (unit, period, rule, severity, cell, message, finding_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                findings,
            )
            for o in outcomes:
                conn.execute(
                    """INSERT INTO unit_states (unit, period, state, filled, required, errors, warnings, incomplete_sections,
                           last_change, submitted_at, checked_at, snapshot_id, feedback_hash)
                       VALUES (:unit, :period, :state, :filled, :required, :errors, :warnings, :incomplete_sections,
                           :last_change, :submitted_at, :checked_at, :snapshot_id, :feedback_hash)
                       ON CONFLICT (unit, period) DO UPDATE SET state = excluded.state, filled = excluded.filled,
                           required = excluded.required, errors = excluded.errors, warnings = excluded.warnings,
                           incomplete_sections = excluded.incomplete_sections, last_change = excluded.last_change,
                           submitted_at = excluded.submitted_at, checked_at = excluded.checked_at,
                           snapshot_id = excluded.snapshot_id, feedback_hash = excluded.feedback_hash""",
                    {**o, "period": period},
                )

    def mark_feedback_written(self, unit: str, period: str, feedback_hash: str, before: str | None, after: str | None) -> None:
        """Feedback is in the workbook. Our own write is not a change by the unit: when the last
        poll had seen the spreadsheet as it was just before our write, it has seen it after, too."""
        with self.transaction() as conn:
            conn.execute("UPDATE unit_states SET feedback_written_hash = ? WHERE unit = ? AND period = ?",
                         (feedback_hash, unit, period))
            conn.execute("UPDATE poll_marks SET modified_at = ? WHERE unit = ? AND period = ? AND modified_at = ?",
                         (after, unit, period, before))

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


    # --- small remembered facts ---------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (key, value))

    def period_signature(self, period: str) -> str:
        """Changes whenever a snapshot, a check outcome or a decision of the period changes."""
        snap = self.conn.execute("SELECT MAX(id) FROM snapshots WHERE period = ?", (period,)).fetchone()[0]
        states = self.conn.execute(
            "SELECT group_concat(unit || state || errors || warnings || COALESCE(approval, ''), ',') "
            "FROM (SELECT * FROM unit_states WHERE period = ? ORDER BY unit)", (period,)).fetchone()[0]
        return f"{snap}|{states}"


    # --- intake and portal (issue 11: versions, download bases, unit links, coordinators) -------

    def add_version(self, row: dict) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT INTO versions (unit, period, sha256, size, filename, sender, channel, received_at, based_on,
                       content_hash, outcome, notes, cells)
                   VALUES (:unit, :period, :sha256, :size, :filename, :sender, :channel, :received_at, :based_on,
                       :content_hash, :outcome, :notes, :cells)""", row)
            return cur.lastrowid

    def versions(self, unit: str, period: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM versions WHERE unit = ? AND period = ? ORDER BY id", (unit, period)))

    def version(self, version_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM versions WHERE id = ?", (version_id,)).fetchone()

    def record_base(self, unit: str, period: str, content_hash: str, cells: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO intake_bases VALUES (?, ?, ?, ?, ?)",
                         (content_hash, unit, period, cells, clock.now().isoformat()))

    def base(self, unit: str, period: str, content_hash: str) -> str | None:
        row = self.conn.execute("SELECT cells FROM intake_bases WHERE unit = ? AND period = ? AND content_hash = ?",
                                (unit, period, content_hash)).fetchone()
        return row[0] if row else None

    def active_link(self, unit: str, period: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM unit_links WHERE unit = ? AND period = ? AND revoked_at IS NULL",
                                 (unit, period)).fetchone()

    def replace_link(self, unit: str, period: str, token_hash: str, nonce: str) -> None:
        """The unit's new link; any earlier one for the same unit and period stops working."""
        now = clock.now().isoformat()
        with self.transaction() as conn:
            conn.execute("UPDATE unit_links SET revoked_at = ? WHERE unit = ? AND period = ? AND revoked_at IS NULL",
                         (now, unit, period))
            conn.execute("INSERT INTO unit_links (token_hash, unit, period, nonce, created_at) VALUES (?, ?, ?, ?, ?)",
                         (token_hash, unit, period, nonce, now))

    def link_by_hash(self, token_hash: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM unit_links WHERE token_hash = ? AND revoked_at IS NULL",
                                 (token_hash,)).fetchone()

    def set_user(self, name: str, password_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute("""INSERT INTO users VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET
                            password_hash = excluded.password_hash""", (name, password_hash, clock.now().isoformat()))

    def user(self, name: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()


def _sheet(row: sqlite3.Row) -> SheetRecord:
    return SheetRecord(**{k: row[k] for k in SheetRecord.__dataclass_fields__})


def _statements(sql: str):
    """Split a migration into statements the way SQLite itself sees them (a ';' inside a
    string, a comment or a trigger body does not end a statement)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip() and not all(part.strip().startswith("--") for part in buffer.strip().splitlines()):
        yield buffer
