"""Google's refusals in the words of the backend: typed errors with Vietnamese messages that say
what to do (share the folder, enable an API, log in again), never a raw response or a key."""

from __future__ import annotations

from google.auth import exceptions as auth_exceptions
from gspread.exceptions import APIError

from bot.sheets.backends.base import BackendError, SheetMissing, SheetRef, SheetUnreadable
from bot.sheets.backends.google.credentials import Identity, _scopes_message
from bot.sheets.backends.google.session import _reasons


def translate(e: APIError, ref: SheetRef | None, folder: bool, who: str, folder_id: str) -> BackendError:
    """A refusal Google gave for good (not worth a retry) as the backend's typed error, in Vietnamese;
    ``folder``: the call was on the report folder itself."""
    reasons, message = set(_reasons(e)), google_message(e)
    if e.code == 403 and ("storageQuotaExceeded" in reasons or "storage quota" in message.lower()):
        return BackendError(
            "Google không cho tạo bảng tính: tài khoản dịch vụ không có dung lượng lưu trữ riêng. Cách khắc phục: "
            f"(1) đặt thư mục báo cáo trong một Drive dùng chung (Shared Drive) và thêm {who} làm thành viên "
            "với quyền Người quản lý nội dung, rồi ghi mã thư mục đó vào google.folder_id; hoặc (2) dùng đăng nhập "
            "bằng tài khoản người dùng của cơ quan (mục google.oauth_token trong config.json).",
            ref=ref,
        )
    if e.code == 403 and (
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons
        or "insufficientPermissions" in reasons
        or "scope" in message.lower()
    ):
        return BackendError(_scopes_message(who, ()), ref=ref)
    if e.code == 403 and (
        {"accessNotConfigured", "SERVICE_DISABLED"} & reasons or "has not been used" in message
    ):
        return BackendError(
            "Google Sheets API hoặc Google Drive API chưa được bật trong dự án Google Cloud của "
            f"{who}: hãy bật cả hai API (APIs & Services → Library) rồi chạy lại. ({message})",
            ref=ref,
        )
    if folder and e.code in (403, 404):
        return BackendError(
            f"Thư mục Google Drive {folder_id} chưa được chia sẻ cho {who} (hoặc chỉ được chia sẻ quyền xem). "
            f"Hãy mở thư mục trong Google Drive, bấm Chia sẻ và thêm {who} với quyền Người chỉnh sửa.",
            ref=ref,
        )
    if e.code == 404:
        return SheetMissing("Không tìm thấy bảng tính trên Google Drive (đã bị xóa hoặc chuyển đi).", ref=ref)
    if e.code == 403:
        return SheetUnreadable(f"{who} không còn quyền mở bảng tính này (quyền chia sẻ đã bị gỡ?).", ref=ref)
    if e.code == 400:
        return SheetUnreadable(
            f"Bảng tính không còn đúng cấu trúc của mẫu (trang bị xóa hoặc đổi tên?): {message}", ref=ref
        )
    return BackendError(f"Google trả lời lỗi {e.code}: {message}", ref=ref)


def login_refused(identity: Identity, e: auth_exceptions.RefreshError) -> str:
    """What to do when Google refused to refresh the credentials (key revoked, login expired)."""
    why = refresh_reason(e)
    if identity.kind == "user":
        return (
            f"Đăng nhập Google (oauth_token) đã hết hạn hoặc bị thu hồi ({why}). Hãy đăng nhập lại để tạo "
            "tệp oauth_token mới."
        )
    return (
        f"Google từ chối khóa của tài khoản dịch vụ {identity.email} ({why}). Khóa có thể đã bị xóa "
        "hoặc thu hồi: hãy tạo khóa JSON mới trong Google Cloud Console và cập nhật google.credentials."
    )


def refresh_reason(e: auth_exceptions.RefreshError) -> str:
    """Google's own words from a refused token request, e.g. "invalid_grant: Invalid JWT
    Signature." — never the raw exception (google-auth puts the whole response in a tuple)."""
    first = e.args[0] if e.args else ""
    text = first if isinstance(first, str) else ""
    return " ".join(text.split())[:200] or "mã lỗi không rõ"


def google_message(e: APIError) -> str:
    return str((e.error or {}).get("message", "")) or str(e)
