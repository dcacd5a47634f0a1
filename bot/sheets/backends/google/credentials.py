"""Who the Google backend acts as: a service account key or a user login (OAuth token), read
from the configuration, with a Vietnamese message saying what to fix when it is not usable."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import ConfigError, GoogleSettings

SCOPE_SPREADSHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
SCOPES = (SCOPE_SPREADSHEETS, SCOPE_DRIVE)


@dataclass(frozen=True)
class Identity:
    credentials: Any
    email: str | None  # the service account's address; None for a user login (not in the file)
    kind: str  # "service_account" or "user"

    @property
    def who(self) -> str:
        return self.email or "tài khoản Google đã đăng nhập (oauth_token)"


def load_identity(settings: GoogleSettings, home: Path | None = None) -> Identity:
    """The credentials of ``settings``: a user login (``oauth_token``) if given, else the
    service account (``credentials`` or GOOGLE_APPLICATION_CREDENTIALS). Raises ConfigError
    with what to do."""
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    if settings.oauth_token:
        info = _read_json(settings.oauth_token, home, "tệp đăng nhập OAuth (google.oauth_token)")
        if info.get("type") != "authorized_user" or not info.get("refresh_token"):
            raise ConfigError(_not_a_login(settings.oauth_token, info))
        granted = info.get("scopes")
        if granted and not set(SCOPES) <= set(granted):
            raise ConfigError(_scopes_message(settings.oauth_token, granted))
        creds = user_credentials.Credentials.from_authorized_user_info(info)
        return Identity(creds, None, "user")
    if not settings.credentials:
        raise ConfigError(
            "Chưa cấu hình tài khoản Google. Hãy đặt 'google.credentials' trong config.json (đường dẫn "
            "tệp JSON khóa của tài khoản dịch vụ) hoặc biến môi trường GOOGLE_APPLICATION_CREDENTIALS; "
            "nếu cơ quan không có Drive dùng chung, dùng 'google.oauth_token' (đăng nhập bằng tài khoản người dùng)."
        )
    info = _read_json(settings.credentials, home, "tệp khóa tài khoản dịch vụ (google.credentials)")
    if info.get("type") != "service_account":
        raise ConfigError(_not_a_service_account(settings.credentials, info))
    try:
        creds = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except (ValueError, KeyError) as e:
        raise ConfigError(
            f"Tệp {settings.credentials} thiếu thông tin của khóa tài khoản dịch vụ ({e}). "
            "Hãy tải lại tệp khóa JSON từ Google Cloud Console (IAM → Tài khoản dịch vụ → Khóa → Thêm khóa)."
        ) from None
    return Identity(creds, info.get("client_email"), "service_account")


def _read_json(path_text: str, home: Path | None, what: str) -> dict:
    path = Path(path_text).expanduser()
    if not path.is_absolute() and home is not None:
        path = home / path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Không tìm thấy {what}: {path}. Hãy kiểm tra đường dẫn trong config.json "
            "(hoặc biến GOOGLE_APPLICATION_CREDENTIALS), hoặc tải lại tệp JSON từ Google Cloud Console."
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"Không đọc được {what}: {path} ({e.__class__.__name__}). Hãy kiểm tra quyền đọc tệp."
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{what.capitalize()} {path} không phải JSON hợp lệ (dòng {e.lineno}): hãy tải lại tệp gốc, đừng sửa tay."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what.capitalize()} {path} không đúng dạng (cần một đối tượng JSON).")
    return data


def _not_a_service_account(path: str, info: dict) -> str:
    if info.get("type") == "authorized_user":
        return (
            f"Tệp {path} là tệp đăng nhập của người dùng, không phải khóa tài khoản dịch vụ: "
            "hãy khai báo nó ở 'google.oauth_token' thay vì 'google.credentials'."
        )
    if "installed" in info or "web" in info:
        return (
            f"Tệp {path} là mã ứng dụng OAuth (client secret), không phải khóa tài khoản dịch vụ. "
            "Hãy tạo khóa JSON cho tài khoản dịch vụ trong Google Cloud Console (IAM → Tài khoản dịch vụ → Khóa)."
        )
    return (
        f'Tệp {path} không phải khóa tài khoản dịch vụ Google (thiếu "type": "service_account"). '
        "Hãy tải tệp khóa JSON từ Google Cloud Console (IAM → Tài khoản dịch vụ → Khóa → Thêm khóa)."
    )


def _not_a_login(path: str, info: dict) -> str:
    if info.get("type") == "service_account":
        return (
            f"Tệp {path} là khóa tài khoản dịch vụ, không phải tệp đăng nhập người dùng: "
            "hãy khai báo nó ở 'google.credentials' thay vì 'google.oauth_token'."
        )
    return (
        f'Tệp {path} không phải tệp đăng nhập OAuth của người dùng (cần "type": "authorized_user" và '
        '"refresh_token"). Hãy đăng nhập lại bằng tài khoản Google của cơ quan để tạo tệp này.'
    )


def _scopes_message(where: str, granted: Iterable[str]) -> str:
    missing = ", ".join(s for s in SCOPES if s not in set(granted))
    return (
        f"Đăng nhập Google ({where}) chưa được cấp đủ quyền: thiếu {missing}. Bot cần cả quyền Google Sheets "
        f"({SCOPE_SPREADSHEETS}) và Google Drive ({SCOPE_DRIVE}); hãy đăng nhập lại và đồng ý cả hai quyền "
        "(và bật Google Sheets API, Google Drive API trong dự án Google Cloud)."
    )
