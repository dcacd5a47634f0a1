"""The store owns the database: every query is a method of ``Store`` (bot/store/)."""

from __future__ import annotations

import re
from pathlib import Path


def test_it_keeps_every_query_in_the_store():
    repo = Path(__file__).resolve().parent.parent
    sources = [
        p
        for folder in ("bot", "jobs", "cli")
        for p in (repo / folder).rglob("*.py")
        if (repo / "bot" / "store") not in p.parents
    ]
    querying = [
        str(p.relative_to(repo))
        for p in sources
        if re.search(r"\.execute(many)?\(|\bstore\.conn\b", p.read_text(encoding="utf-8"))
    ]

    assert querying == []
