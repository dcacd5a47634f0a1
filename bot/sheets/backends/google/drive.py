"""Drive file listings: a file's tags (appProperties) and the template's tab names kept in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import TZ

DRIVE_FILES = "https://www.googleapis.com/drive/v3/files"
MAX_APP_PROPERTIES = 30  # Drive: at most 30 private properties per app and file
MAX_PROPERTY_BYTES = 124  # Drive: key + value, UTF-8


@dataclass
class _FileInfo:
    id: str
    modified: datetime | None
    props: dict[str, str] = field(default_factory=dict)


def _q(text: str) -> str:
    """A string inside a Drive query's single quotes."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _matches(props: dict[str, str], tags: dict[str, str]) -> bool:
    return all(props.get(k) == str(tags[k]) for k in ("unit", "period") if k in tags)


def _file_info(data: dict) -> _FileInfo:
    stamp = data.get("modifiedTime")
    modified = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(TZ) if stamp else None
    return _FileInfo(data["id"], modified, dict(data.get("appProperties") or {}))


def _tab_properties(names: list[str]) -> dict[str, str]:
    """The template's tab names as appProperties, when they fit Drive's limits; else "tabs" = ""."""
    props = {"tabs": str(len(names))} | {f"tab{i}": name for i, name in enumerate(names)}
    fits = len(props) + 4 <= MAX_APP_PROPERTIES and all(
        len(k.encode()) + len(v.encode()) <= MAX_PROPERTY_BYTES for k, v in props.items()
    )
    return props if fits else {"tabs": ""}


def _tabs_from_properties(props: dict[str, str]) -> list[str] | None:
    count = props.get("tabs") or ""
    if not count.isdigit():
        return None
    names = [props.get(f"tab{i}") for i in range(int(count))]
    return names if all(names) else None  # type: ignore[return-value]
