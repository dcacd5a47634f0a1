"""What a handed-in file must be before anything is read from it or stored.

A plain .xlsx (an Office Open XML zip) of at most 10 MB whose parts unzip to at most 100 MB
(a zip bomb is refused from the sizes the archive declares: Python's zip reader never inflates
a member past its declared size). Refused with a Vietnamese sentence that says what to do: a
file that is not a workbook, an old .xls, a macro-enabled workbook (.xlsm: code we would
carry into the unit's workbook), and an encrypted one (Office wraps those in an OLE compound
file whose directory names the "EncryptionInfo" stream; we cannot read it without the
password, and do not want it).
"""

from __future__ import annotations

import io
import zipfile

MAX_BYTES = 10 * 1024 * 1024
MAX_UNZIPPED = 100 * 1024 * 1024
MAX_MEMBERS = 2000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")


class IntakeRefused(Exception):
    """A handed-in file is not taken; the message (Vietnamese) tells the sender what to do."""

    def user_message(self) -> str:
        return str(self)


def check_file(data: bytes, filename: str) -> None:
    """Refuse ``data`` unless it is a plain workbook of a sane size; returns nothing."""
    if len(data) > MAX_BYTES:
        raise IntakeRefused(
            f"Tệp {filename} lớn hơn 10 MB, quá lớn cho một báo cáo. Hãy xóa các trang, hình ảnh "
            "không thuộc biểu mẫu rồi gửi lại."
        )
    if data.startswith(OLE_MAGIC):
        if ENCRYPTION_STREAM in data:
            raise IntakeRefused(
                f"Tệp {filename} được đặt mật khẩu (mã hóa) nên không đọc được. Hãy mở tệp, bỏ mật "
                "khẩu (Tệp → Thông tin → Bảo vệ sổ làm việc), lưu lại dạng .xlsx rồi gửi lại."
            )
        raise IntakeRefused(
            f"Tệp {filename} là bảng tính Excel kiểu cũ (.xls). Hãy dùng đúng tệp .xlsx đã tải về "
            "từ hệ thống (hoặc lưu lại dạng .xlsx) rồi gửi lại."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise IntakeRefused(
            f"Tệp {filename} không phải bảng tính Excel (.xlsx). Hãy gửi đúng tệp báo cáo đã tải về "
            "từ hệ thống."
        ) from None
    with archive:
        _check_members(archive, filename)


def _check_members(archive: zipfile.ZipFile, filename: str) -> None:
    members = archive.infolist()
    names = {m.filename for m in members}
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNZIPPED:
        raise IntakeRefused(
            f"Tệp {filename} khi giải nén quá lớn (hơn 100 MB) nên không được nhận. Hãy gửi đúng tệp "
            "báo cáo đã tải về từ hệ thống."
        )
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise IntakeRefused(
            f"Tệp {filename} không phải bảng tính Excel (.xlsx). Hãy gửi đúng tệp báo cáo đã tải về "
            "từ hệ thống."
        )
    if (
        "xl/workbook.bin" in names
        or any(n.lower().endswith("vbaproject.bin") for n in names)
        or _macro_type(archive)
    ):
        raise IntakeRefused(
            f"Tệp {filename} có chứa macro (.xlsm/.xlsb) nên không được nhận. Hãy lưu lại dạng "
            '"Sổ làm việc Excel (.xlsx)" rồi gửi lại.'
        )


def _macro_type(archive: zipfile.ZipFile) -> bool:
    try:
        types = archive.read("[Content_Types].xml")
    except KeyError:
        return False
    return b"macroEnabled" in types
