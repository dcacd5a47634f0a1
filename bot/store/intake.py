"""Intake and portal: the versions a unit handed in, the workbook states a download was taken
from, the units' personal links (stored hashed) and the coordinators' accounts."""

from __future__ import annotations

import sqlite3

from bot import clock
from bot.store.database import Database


class IntakeQueries(Database):
    def add_version(self, row: dict) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT INTO versions (unit, period, sha256, size, filename, sender, channel, received_at, based_on,
                       content_hash, outcome, notes, cells)
                   VALUES (:unit, :period, :sha256, :size, :filename, :sender, :channel, :received_at, :based_on,
                       :content_hash, :outcome, :notes, :cells)""",
                row,
            )
            return cur.lastrowid

    def versions(self, unit: str, period: str) -> list[sqlite3.Row]:
        return list(
            self.conn.execute(
                "SELECT * FROM versions WHERE unit = ? AND period = ? ORDER BY id", (unit, period)
            )
        )

    def version(self, version_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM versions WHERE id = ?", (version_id,)).fetchone()

    def record_base(self, unit: str, period: str, content_hash: str, cells: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO intake_bases VALUES (?, ?, ?, ?, ?)",
                (content_hash, unit, period, cells, clock.now().isoformat()),
            )

    def base(self, unit: str, period: str, content_hash: str) -> str | None:
        row = self.conn.execute(
            "SELECT cells FROM intake_bases WHERE unit = ? AND period = ? AND content_hash = ?",
            (unit, period, content_hash),
        ).fetchone()
        return row[0] if row else None

    def active_link(self, unit: str, period: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM unit_links WHERE unit = ? AND period = ? AND revoked_at IS NULL", (unit, period)
        ).fetchone()

    def replace_link(self, unit: str, period: str, token_hash: str, nonce: str) -> None:
        """The unit's new link; any earlier one for the same unit and period stops working."""
        now = clock.now().isoformat()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE unit_links SET revoked_at = ? WHERE unit = ? AND period = ? AND revoked_at IS NULL",
                (now, unit, period),
            )
            conn.execute(
                "INSERT INTO unit_links (token_hash, unit, period, nonce, created_at) VALUES (?, ?, ?, ?, ?)",
                (token_hash, unit, period, nonce, now),
            )

    def link_by_hash(self, token_hash: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM unit_links WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,)
        ).fetchone()

    def set_user(self, name: str, password_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO users VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET
                            password_hash = excluded.password_hash""",
                (name, password_hash, clock.now().isoformat()),
            )

    def user(self, name: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()

    # --- the report mailbox ----------------------------------------------------------------------

    def hold_mail(self, row: dict) -> None:
        """A message left unread for a person (unknown sender, no workbook); once per message."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO mail_held (message_key, sender, subject, reason, received_at,
                            first_seen_at) VALUES (:message_key, :sender, :subject, :reason, :received_at,
                            :first_seen_at)""",
                row,
            )

    def held_mail(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM mail_held ORDER BY first_seen_at DESC").fetchall()

    def forget_held_mail_except(self, still_unread: list[str]) -> None:
        """A held message no longer unread was dealt with by a person: it leaves the list."""
        marks = ",".join("?" * len(still_unread))
        with self.transaction() as conn:
            conn.execute(f"DELETE FROM mail_held WHERE message_key NOT IN ({marks})", still_unread)

    def unit_of_registered_email(self, address: str) -> str | None:
        row = self.conn.execute(
            "SELECT unit FROM contacts WHERE channel = 'email' AND lower(address) = ?", (address,)
        ).fetchone()
        return row["unit"] if row else None

    def version_from(self, sha256: str, sender: str) -> sqlite3.Row | None:
        """The latest version of this file from this sender (a message fetched again after a crash)."""
        return self.conn.execute(
            "SELECT * FROM versions WHERE sha256 = ? AND sender = ? ORDER BY id DESC", (sha256, sender)
        ).fetchone()

    def units_handed_in_by(self, channels: tuple[str, ...]) -> list[sqlite3.Row]:
        marks = ",".join("?" * len(channels))
        return self.conn.execute(
            f"SELECT DISTINCT unit, channel FROM versions WHERE channel IN ({marks}) ORDER BY unit", channels
        ).fetchall()
