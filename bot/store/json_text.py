"""JSON text for the large things the store keeps: snapshots (about 50 KB a unit) and findings.

orjson writes them about three times faster than the standard library. It is used only where
its text reads back (with ``json.loads``, as every reader reads it) to what the standard
library's own would: ``json.dumps(value, ensure_ascii=False, default=str)``. orjson is given
no ``default``, so a value it would write in its own way, or cannot write, makes it refuse, and
``json`` writes the whole value: an integer beyond 64 bits, a key that is not text, a date or
a time, a dataclass, a numpy number, anything ``json`` turns into text with ``str``.

Reading stays with ``json``: orjson reads an integer beyond 64 bits as a float.

One difference stays: a float NaN is written ``null`` by orjson, ``NaN`` by ``json``. The bot
stores none: numbers are parsed finite (``bot.sheets.values``) and a finding keeps an empty
cell as None. orjson's text is compact, without the spaces ``json`` puts after "," and ":".
"""

from __future__ import annotations

import json

import orjson

# dates and times, and dataclasses, which orjson writes in its own way, go to json
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value) -> str:
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: a value json writes otherwise, or only json can
        return json.dumps(value, ensure_ascii=False, default=str)
