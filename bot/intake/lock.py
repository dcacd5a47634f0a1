"""One writer of the units' workbooks at a time, per home folder.

An intake reads a unit's workbook, merges, and writes it; the check that follows (and the
scheduler's poll-and-check, and a decision's check) writes the "Kiểm tra" tab by loading and
saving the whole workbook. Two of these interleaved would let one save undo the other's
values, so they all hold this lock: a lock file (``<home>/.intake.lock``, flock) across
processes (the command line next to the running portal), and a re-entrant lock across the
portal's threads.
"""

from __future__ import annotations

import fcntl
import threading
from contextlib import contextmanager
from pathlib import Path

_threads = threading.RLock()
_held = threading.local()


@contextmanager
def intake_lock(ctx):
    with _threads:
        if getattr(_held, "depth", 0):  # this thread already holds it
            _held.depth += 1
            try:
                yield
            finally:
                _held.depth -= 1
            return
        with open(Path(ctx.config.home) / ".intake.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            _held.depth = 1
            try:
                yield
            finally:
                _held.depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)
