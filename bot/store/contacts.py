"""Chat contacts (registered by a code, or flagged after a failed delivery), channels that failed
as a whole, and the registration codes with the count of wrong ones per chat. Times are text
stamps made by the caller."""

from __future__ import annotations

import sqlite3

from bot.store.database import Database


class ContactQueries(Database):
    # --- problems ---------------------------------------------------------------------------------

    def flag_contact(self, channel: str, address: str, label: str, problem: str, at: str) -> None:
        """The address failed for good: kept for the coordinator's attention until a send succeeds."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO contacts (channel, address, label, problem, problem_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (channel, address) DO UPDATE SET label = excluded.label, problem = excluded.problem,
                       problem_at = excluded.problem_at""",
                (channel, address, label, problem, at),
            )

    def clear_contact_problem(self, channel: str, address: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE contacts SET problem = NULL, problem_at = NULL WHERE channel = ? AND address = ? "
                "AND problem IS NOT NULL",
                (channel, address),
            )

    def contact_problems(self) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM contacts WHERE problem IS NOT NULL ORDER BY problem_at DESC"
        ).fetchall()

    def add_channel_problem(self, channel: str, problem: str, at: str) -> bool:
        """Record that ``channel`` failed as a whole; False when it already was (the first problem stays)."""
        with self.transaction() as conn:
            return (
                conn.execute(
                    "INSERT INTO channel_problems (channel, problem, problem_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (channel, problem, at),
                ).rowcount
                > 0
            )

    def channel_problems(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM channel_problems ORDER BY problem_at").fetchall()

    # --- registered chats -------------------------------------------------------------------------

    def register_contact(self, channel: str, address: str, unit: str, at: str) -> None:
        """Link the chat to the unit (a chat moving to another unit moves); its problem is forgotten."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO contacts (channel, address, unit, registered_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (channel, address) DO UPDATE SET unit = excluded.unit,
                       registered_at = excluded.registered_at, problem = NULL, problem_at = NULL""",
                (channel, address, unit, at),
            )

    def registered_unit(self, channel: str, address: str) -> str | None:
        row = self.conn.execute(
            "SELECT unit FROM contacts WHERE channel = ? AND address = ?", (channel, address)
        ).fetchone()
        return row["unit"] if row else None

    def registered_chats(self, unit: str) -> list[tuple[str, str]]:
        """The unit's registered chats as (channel kind, address), oldest first."""
        rows = self.conn.execute(
            "SELECT channel, address FROM contacts WHERE unit = ? ORDER BY registered_at", (unit,)
        )
        return [(r["channel"], r["address"]) for r in rows]

    # --- registration codes -----------------------------------------------------------------------

    def add_registration_code(self, code_hash: str, unit: str, issued_at: str, expires_at: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO registration_codes (code_hash, unit, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                (code_hash, unit, issued_at, expires_at),
            )

    def registration_code(self, code_hash: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM registration_codes WHERE code_hash = ?", (code_hash,)
        ).fetchone()

    def spend_registration_code(self, code_hash: str, used_by: str, at: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE registration_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                (at, used_by, code_hash),
            )

    def registration_blocked_until(self, channel: str, address: str) -> str | None:
        row = self.conn.execute(
            "SELECT blocked_until FROM registration_failures WHERE channel = ? AND address = ?",
            (channel, address),
        ).fetchone()
        return row["blocked_until"] if row else None

    def count_registration_failure(self, channel: str, address: str) -> int:
        """One more wrong code from this chat; the count so far."""
        with self.transaction() as conn:
            return conn.execute(
                """INSERT INTO registration_failures (channel, address, failures) VALUES (?, ?, 1)
                   ON CONFLICT (channel, address) DO UPDATE SET failures = failures + 1 RETURNING failures""",
                (channel, address),
            ).fetchone()[0]

    def block_registration(self, channel: str, address: str, until: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE registration_failures SET blocked_until = ? WHERE channel = ? AND address = ?",
                (until, channel, address),
            )

    def forget_registration_failures(self, channel: str, address: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM registration_failures WHERE channel = ? AND address = ?", (channel, address)
            )
