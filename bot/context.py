"""Everything a job needs, opened once: configuration, schema, units, state, backend."""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bot.config import Config, load_config
from bot.outline.periods import Period, parse_period
from bot.outline.schema import Schema, load_schema
from bot.outline.units import Unit, load_units
from bot.sheets.backends.base import Backend
from bot.store import Store


@dataclass
class Context:
    config: Config
    schema: Schema
    units: list[Unit]
    store: Store
    backend: Backend
    extras: dict = field(default_factory=dict)

    @cached_property
    def unit_by_code(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    def period(self, period_id: str) -> Period:
        return parse_period(period_id, self.schema, self.config.period_overrides())

    def close(self) -> None:
        self.store.close()


def open_context(home: str | Path, *, backend: Backend | None = None, environ: dict | None = None) -> Context:
    config = load_config(home, environ)
    schema = load_schema(config.schema_path)
    units = load_units(config.units_file, schema)
    store = Store(config.state_path)
    context = Context(config, schema, units, store, backend or make_backend(config, units))
    _settle_startup_objects()
    return context


@functools.cache  # once a process
def _settle_startup_objects() -> None:
    """The modules, the schema and the unit list live as long as the process, yet Python's
    cycle collector walks every object it tracks on each full collection: about 120,000 of
    them (50–60 ms a walk), once or twice in a check of 200 units. ``gc.freeze()`` moves
    the objects that exist now out of the collector's sight for good (Python's ``gc``
    documentation); the collection before it leaves no garbage among them."""
    gc.collect()
    gc.freeze()


def make_backend(config: Config, units: list[Unit]) -> Backend:
    if config.backend == "google":
        from bot.sheets.backends.google import GoogleBackend  # imported only when configured

        return GoogleBackend.from_config(config, unit_emails={u.code: u.emails for u in units})
    from bot.sheets.backends.workbook import WorkbookBackend

    return WorkbookBackend(config.sheets_dir)
