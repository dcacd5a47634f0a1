"""SQLite state: provisioned sheets, job log, snapshots, findings, the outbox, contacts and form
answers. The store owns the database: every query is a method of :class:`Store`, written in the
module of its concern (``sheets``, ``checks``, ``runs``, ``outbox``, ``contacts``, ``forms``, ``intake``);
``database`` holds the connection, transactions and migrations.

Schema changes are numbered SQL files in ``bot/store/migrations/``; each is applied in the same
transaction that records it, so a crash mid-migration leaves the database as it was.
The database runs in WAL mode with a busy timeout, so the scheduler and the chat bot can
share it from two processes.
"""

from __future__ import annotations

from bot.store.checks import CheckQueries
from bot.store.contacts import ContactQueries
from bot.store.database import MIGRATIONS, Database
from bot.store.forms import FormQueries
from bot.store.intake import IntakeQueries
from bot.store.outbox import OutboxQueries
from bot.store.runs import RunQueries
from bot.store.sheets import SheetQueries, SheetRecord

__all__ = ["MIGRATIONS", "Database", "SheetRecord", "Store"]


class Store(
    SheetQueries, CheckQueries, RunQueries, OutboxQueries, ContactQueries, FormQueries, IntakeQueries
):
    """The bot's database, one method per query."""
