"""Settings from ``<home>/config.json`` and the environment, checked once at start.

Everything has an embedded default: with no file and no credentials the whole job runs on
this machine (workbooks in ``<home>/sheets``, SQLite in ``<home>/state.db``, messages in
``<home>/outbox/messages.log``). Secrets may come from the environment instead of the file
(``ZALO_BOT_TOKEN``, ``TELEGRAM_BOT_TOKEN``, ``SMTP_PASSWORD``, ``IMAP_PASSWORD``,
``GOOGLE_APPLICATION_CREDENTIALS``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPO = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    def user_message(self) -> str:
        return f"Cấu hình không hợp lệ: {self}"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodSettings(_Settings):
    opens: str | None = None  # ISO date
    deadline: str | None = None


class ReminderSettings(_Settings):
    days_before: list[int] = [7, 3, 1, 0]
    after_deadline: bool = True
    hour: int = Field(8, ge=0, le=23)
    digest_hour: int = Field(16, ge=0, le=23)


class CalendarSettings(_Settings):
    extra_holidays: list[str] = []
    extra_working_days: list[str] = []


class Coordinator(_Settings):
    name: str
    emails: list[str] = []
    chats: list[str] = []  # "zalo:…", "telegram:…", "zalo_oa:…"


class GoogleSettings(_Settings):
    credentials: str | None = None  # service-account JSON path; or GOOGLE_APPLICATION_CREDENTIALS
    oauth_token: str | None = (
        None  # a user's OAuth login (authorized-user JSON), for offices without a Shared Drive
    )
    folder_id: str
    coordinator_emails: list[str] = []
    base_urls: dict[str, str] = {}  # "oauth2", "drive", "sheets" → another base URL (proxy or test server)
    reads_per_minute: int = 60
    writes_per_minute: int = 60


class WebSettings(_Settings):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_base_url: str | None = (
        None  # how units reach the portal (links in reminders); default http://host:port
    )


class MailboxSettings(_Settings):
    """The report mailbox units e-mail their workbooks to (bot/intake/mailbox.py)."""

    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default: 993 (ssl), 143 (starttls, none)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str
    password: str | None = None  # or IMAP_PASSWORD
    folder: str = "INBOX"
    ca_file: str | None = None


class Config(_Settings):
    home: Path
    province: str = ""  # e.g. "Tỉnh Lâm Đồng", shown on the master sheet and the Word report
    schema_path: Path = REPO / "sheets_schema.json"
    units_path: Path | None = None
    backend: Literal["workbook", "google"] = "workbook"
    google: GoogleSettings | None = None
    periods: dict[str, PeriodSettings] = {}
    poll_minutes: int = Field(30, ge=1)
    reminders: ReminderSettings = ReminderSettings()
    calendar: CalendarSettings = CalendarSettings()
    channels: dict[str, dict] = {}
    channel_order: list[str] = ["zalo_bot", "zalo_oa", "telegram", "email"]
    coordinators: list[Coordinator] = []
    public_base_url: str | None = None  # how units open their workbooks when not on this machine
    web: WebSettings | None = None  # the portal (python -m bot web; also served by run)
    mailbox: MailboxSettings | None = None  # units' workbooks by e-mail (python -m bot mail)

    @property
    def state_path(self) -> Path:
        return self.home / "state.db"

    @property
    def sheets_dir(self) -> Path:
        return self.home / "sheets"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def units_file(self) -> Path:
        if self.units_path:
            return self.units_path
        own = self.home / "units.csv"
        return own if own.exists() else REPO / "examples" / "units.csv"

    def period_overrides(self) -> dict:
        return {pid: p.model_dump(exclude_none=True) for pid, p in self.periods.items()}


def load_config(home: str | Path, environ: dict | None = None) -> Config:
    environ = os.environ if environ is None else environ
    home = Path(home).expanduser()
    path = home / "config.json"
    raw: dict = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: dòng {e.lineno}, cột {e.colno}: JSON sai cú pháp ({e.msg})") from None
    raw["home"] = str(home)
    _secrets_from_env(raw, environ)
    try:
        config = Config.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"{path}: {problems}") from None
    _check_calendar(config, path)
    if config.backend == "google" and config.google is None:
        raise ConfigError(f"{path}: backend là 'google' nhưng thiếu mục 'google' (folder_id, credentials).")
    if config.mailbox is not None and "email" not in config.channels:
        raise ConfigError(
            f"{path}: có mục 'mailbox' (hộp thư nhận báo cáo) nhưng thiếu kênh gửi thư 'channels.email' (SMTP): "
            "bot không trả lời được đơn vị gửi báo cáo qua e-mail. Hãy thêm channels.email."
        )
    return config


def _check_calendar(config: Config, path: Path) -> None:
    from bot.messages.workdays import CalendarConfigError, calendar_from_config

    try:
        calendar_from_config(config.calendar.model_dump())
    except CalendarConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _secrets_from_env(raw: dict, environ) -> None:
    from bot.messages.channels import secret_variables  # each channel class names its secrets

    for (kind, key), var in secret_variables().items():
        if environ.get(var):
            raw.setdefault("channels", {}).setdefault(kind, {}).setdefault(key, environ[var])
    if environ.get("IMAP_PASSWORD") and isinstance(raw.get("mailbox"), dict):
        raw["mailbox"].setdefault("password", environ["IMAP_PASSWORD"])
    if environ.get("GOOGLE_APPLICATION_CREDENTIALS") and isinstance(raw.get("google"), dict):
        raw["google"].setdefault("credentials", environ["GOOGLE_APPLICATION_CREDENTIALS"])
