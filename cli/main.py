"""A thin command line over the library: parse arguments, call one function, print.

Errors that a user can fix (a broken schema, unit list or configuration, an unknown period
or unit) are turned into Vietnamese messages here, at the edge, with exit code 2. A spreadsheet
service that fails (an outage, rejected credentials) ends the command with its one-line
message and exit code 3, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bot.config import ConfigError
from bot.messages.channels.base import ChannelConfigError
from bot.outline.periods import PeriodError
from bot.outline.schema import SchemaError
from bot.outline.units import UnitFileError
from bot.sheets.backends.base import BackendError, BackendStopped

USER_ERRORS = (SchemaError, UnitFileError, ConfigError, PeriodError, ChannelConfigError)
SERVICE_ERRORS = (BackendError, BackendStopped)
COMMANDS = {}


def command(name: str, help: str):
    def register(fn):
        COMMANDS[name] = (fn, help)
        return fn

    return register


class UsageError(Exception):
    def user_message(self) -> str:
        return str(self)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except (*USER_ERRORS, UsageError) as e:
        print(
            e.user_message() if hasattr(e, "user_message") else str(e), file=sys.stderr
        )  # never a traceback
        return 2
    except SERVICE_ERRORS as e:
        print(
            " ".join(str(e).split()) or e.__class__.__name__, file=sys.stderr
        )  # one line, never a traceback
        return 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Bot báo cáo CCHC, kiểm soát TTHC")
    parser.add_argument(
        "--home",
        default=os.environ.get("BOT_HOME", "home"),
        help="thư mục chứa cấu hình, trạng thái và bảng tính (mặc định: ./home hoặc $BOT_HOME)",
    )
    sub = parser.add_subparsers(title="lệnh")
    from cli import commands  # noqa: F401  (registers the commands)

    for name, (fn, help_text) in sorted(COMMANDS.items(), key=lambda item: _order(item[0])):
        p = sub.add_parser(name, help=help_text)
        for args, kwargs in getattr(fn, "arguments", []):
            p.add_argument(*args, **kwargs)
        p.set_defaults(func=fn)
    return parser


ORDER = (
    "demo",
    "provision",
    "read",
    "poll",
    "check",
    "status",
    "remind",
    "outbox",
    "code",
    "bot",
    "approve",
    "return",
    "compile",
    "export",
    "run",
)


def _order(name: str) -> tuple[int, str]:
    """Commands in the order of a reporting period; any new one after them."""
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def arg(*args, **kwargs):
    """Declare a command-line argument of a command (applied in order of declaration)."""

    def attach(fn):
        fn.arguments = [(args, kwargs)] + list(getattr(fn, "arguments", []))
        return fn

    return attach


def print_json(obj) -> None:
    try:
        json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    except BrokenPipeError:  # the reader (e.g. `| head`) has had enough
        sys.stderr.close()
