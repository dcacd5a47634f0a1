"""The outbox: messages waiting, being sent, sent or failed. Times are passed in as the outbox's
text stamps (``bot.messages.outbox`` makes them), so that comparing texts compares times."""

from __future__ import annotations

import sqlite3

from bot.store.database import Database

_KEY = "unit = ? AND period = ? AND stage = ? AND channel = ? AND address = ?"


class OutboxQueries(Database):
    def add_message(self, fields: dict) -> bool:
        """Queue one message (the outbox's columns); False when the same one is already there."""
        columns = ", ".join(fields)
        cursor = self.conn.execute(
            f"INSERT OR IGNORE INTO outbox ({columns}) VALUES ({', '.join('?' * len(fields))})",
            tuple(fields.values()),
        )
        return cursor.rowcount == 1

    def message_queued(self, key: tuple) -> bool:
        """Whether a message with this (unit, period, stage, channel, address) was ever queued."""
        return self.conn.execute(f"SELECT 1 FROM outbox WHERE {_KEY}", key).fetchone() is not None

    def due_messages(self, now: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            """SELECT * FROM outbox WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
               ORDER BY id""",
            (now,),
        ).fetchall()

    def expired_messages(self, now: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM outbox WHERE state = 'pending' AND expires_at <= ?", (now,)
        ).fetchall()

    def interrupted_messages(self, now: str) -> list[sqlite3.Row]:
        """Messages left 'sending' by a process whose lease has run out."""
        return self.conn.execute(
            "SELECT * FROM outbox WHERE state = 'sending' AND lease_until < ?", (now,)
        ).fetchall()

    def claim_message(self, message_id: int, lease_until: str, now: str) -> sqlite3.Row | None:
        """Mark the message 'sending' in its own committed transaction; None if another process took it."""
        with self.transaction() as conn:
            return conn.execute(
                """UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
                   WHERE id = ? AND state = 'pending' RETURNING *""",
                (lease_until, now, message_id),
            ).fetchone()

    def unclaim_message(self, message_id: int, reason: str, now: str) -> None:
        """Put a message back untouched (its attempt not counted): its channel failed as a whole."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = NULL,
                   lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?""",
                (reason, now, message_id),
            )

    def mark_message_sent(self, row: sqlite3.Row, provider_id: str | None, now: str) -> None:
        """Sent: the address and the channel work, so their problems are cleared with it."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'sent', provider_id = ?, sent_at = ?, lease_until = NULL, updated_at = ?
                   WHERE id = ?""",
                (provider_id, now, now, row["id"]),
            )
            conn.execute(
                "UPDATE contacts SET problem = NULL, problem_at = NULL WHERE channel = ? AND address = ?",
                (row["channel"], row["address"]),
            )
            conn.execute("DELETE FROM channel_problems WHERE channel = ?", (row["channel"],))

    def retry_message(self, message_id: int, next_attempt_at: str, reason: str, now: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?, lease_until = NULL,
                   updated_at = ? WHERE id = ?""",
                (next_attempt_at, reason, now, message_id),
            )

    def mark_message_failed(self, message_id: int, reason: str, now: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'failed', last_error = ?, lease_until = NULL, updated_at = ? "
                "WHERE id = ?",
                (reason, now, message_id),
            )

    def resume_message(self, message_id: int, reason: str, now: str) -> None:
        """Put an interrupted message back to be sent once more (counted in ``interruptions``)."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'pending', interruptions = interruptions + 1, next_attempt_at = NULL,
                   lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND state = 'sending'""",
                (reason, now, message_id),
            )

    def note_message_error(self, message_id: int, reason: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (reason, message_id))

    def next_due(self, channels: list[str]) -> tuple[int, bool, str | None]:
        """Of the pending messages of ``channels``: how many, whether one is due at once (no
        next attempt time), and the earliest next attempt time."""
        row = self.conn.execute(
            f"""SELECT COUNT(*), MAX(next_attempt_at IS NULL), MIN(next_attempt_at) FROM outbox
                WHERE state = 'pending' AND channel IN ({",".join("?" * len(channels))})""",
            channels,
        ).fetchone()
        return row[0], bool(row[1]), row[2]

    def undelivered_messages(self, period: str | None = None) -> list[sqlite3.Row]:
        """Failed messages whose content reached the recipient through no other channel."""
        return self.conn.execute(
            """SELECT * FROM outbox AS f WHERE state = 'failed' AND (? IS NULL OR period = ?)
                 AND NOT EXISTS (SELECT 1 FROM outbox AS s WHERE s.state IN ('sent', 'pending', 'sending')
                                 AND s.unit = f.unit AND s.period = f.period AND s.stage = f.stage
                                 AND s.recipient = f.recipient)
               ORDER BY id""",
            (period, period),
        ).fetchall()

    def messages(self, state: str | None = None) -> list[sqlite3.Row]:
        if state:
            return self.conn.execute("SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,)).fetchall()
        return self.conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()

    def message_counts(self) -> dict[str, int]:
        """Messages by state (states with none are left out)."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")}

    def message_times(self) -> list[str]:
        """When each message was queued (its ``created_at`` stamp), oldest first."""
        return [r[0] for r in self.conn.execute("SELECT created_at FROM outbox ORDER BY id")]
