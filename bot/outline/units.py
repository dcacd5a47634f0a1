"""The unit list: who reports, of which kind, and how to reach them.

A CSV file with the columns ``code, name, kind, emails, chat_ids`` (e-mails and chat ids
separated by ';'; a chat id is written ``zalo:123``, ``telegram:456`` or ``zalo_oa:789``: each
channel class says its prefix).
Unit kinds come from the schema, so a new kind is an edit to JSON and to this file only.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.messages.channels import unit_chat_problem
from bot.outline.schema import Schema

REQUIRED_COLUMNS = ("code", "name", "kind", "emails", "chat_ids")
CODE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
EMAIL = re.compile(r"^[^@\s;]+@[^@\s;]+\.[^@\s;]+$")


class UnitFileError(ValueError):
    """The unit list is unusable; ``problems`` holds one 'dòng N: …' line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def user_message(self) -> str:
        return "\n".join(
            [f"Danh sách đơn vị {self.source} không hợp lệ:"] + [f"  - {p}" for p in self.problems]
        )


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    emails: tuple[str, ...] = ()
    chats: tuple[str, ...] = field(default=())  # "zalo:123", "telegram:456"


def load_units(path: str | Path, schema: Schema) -> list[Unit]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UnitFileError(str(path), ["tệp không tồn tại"]) from None
    except UnicodeDecodeError:
        raise UnitFileError(str(path), ["tệp không phải UTF-8; hãy lưu lại dưới dạng CSV UTF-8"]) from None
    return parse_units(text, schema, source=str(path))


QUOTE_HINT = (
    'nội dung có dấu phẩy (như tên đơn vị) phải đặt trong dấu ngoặc kép, ví dụ "Ban Quản lý, khu kinh tế"'
)


def parse_units(text: str, schema: Schema, source: str = "units.csv") -> list[Unit]:
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UnitFileError(
            source, [f"dòng 1: thiếu cột {', '.join(missing)} (cần: {', '.join(REQUIRED_COLUMNS)})"]
        )
    units, problems, seen = [], [], {}
    for line_no, raw in enumerate(reader, start=2):
        extra = raw.pop(None, None)  # fields beyond the header's columns (blank: trailing commas)
        if extra and any((x or "").strip() for x in extra):
            problems.append(f"dòng {line_no}: có nhiều ô hơn số cột ở dòng 1; {QUOTE_HINT}")
            continue
        row = {k.strip(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        unit, row_problems = _parse_row(row, schema)
        if unit and unit.code in seen:
            row_problems.append(f"mã đơn vị '{unit.code}' trùng với dòng {seen[unit.code]}")
        if row_problems and extra:  # the columns may be shifted by a comma
            row_problems.append(f"dòng này có nhiều ô hơn số cột ở dòng 1: {QUOTE_HINT}")
        problems += [f"dòng {line_no}: {p}" for p in row_problems]
        if unit and not row_problems:
            seen[unit.code] = line_no
            units.append(unit)
    if problems:
        raise UnitFileError(source, problems)
    if not units:
        raise UnitFileError(source, ["không có đơn vị nào"])
    return units


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in cell.split(";") if p.strip())


def _parse_row(row: dict, schema: Schema) -> tuple[Unit | None, list[str]]:
    problems = []
    if not CODE.match(row["code"]):
        problems.append(f"mã đơn vị '{row['code']}' không hợp lệ (chỉ chữ, số, '_', '-', '.')")
    if not row["name"]:
        problems.append("thiếu tên đơn vị")
    if row["kind"] not in schema.kind_by_id:
        known = ", ".join(schema.kind_by_id)
        problems.append(f"loại đơn vị '{row['kind']}' không có trong cấu trúc báo cáo (các loại: {known})")
    emails, chats = _split(row["emails"]), _split(row["chat_ids"])
    problems += [f"e-mail '{e}' không hợp lệ" for e in emails if not EMAIL.match(e)]
    problems += [problem for c in chats if (problem := unit_chat_problem(c))]
    unit = Unit(row["code"], row["name"], row["kind"], emails, chats) if row["code"] else None
    return unit, problems
