"""Sharing a unit's spreadsheet: writer access for the unit's and the coordinators' addresses,
idempotent, with the addresses Google refused kept as Vietnamese problems (and logged).

A mixin of :class:`~bot.sheets.backends.google.backend.GoogleBackend`: it uses the backend's
``_run`` (retries, typed errors), ``_drive`` (one Drive call) and its sharing state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gspread.exceptions import APIError

from bot.sheets.backends.base import SheetRef
from bot.sheets.backends.google.drive import DRIVE_FILES
from bot.sheets.backends.google.errors import google_message
from bot.sheets.backends.google.session import SHARING_REFUSALS, _reasons

log = logging.getLogger(__name__)


class Sharing:
    """Who may write a spreadsheet (see the module's note for what it needs of the backend)."""

    def unit_emails(self, unit_code: str) -> list[str]:
        source = self._unit_emails
        found = source(unit_code) if callable(source) else source.get(unit_code, ())
        return list(dict.fromkeys(found or ()))

    def share(self, ref: SheetRef, emails: Iterable[str], *, notify: Iterable[str] = ()) -> list[str]:
        """Give each e-mail writer access (idempotent: existing permissions are kept, not duplicated).

        Returns the Vietnamese problems of addresses Google refused (also kept in
        ``sharing_problems``); other failures raise."""
        wanted = list(dict.fromkeys(e.strip() for e in emails if e and e.strip()))
        if not wanted:
            return []
        have = set() if ref.id in self._fresh else self._run(lambda: self._shared_with(ref.id), ref=ref)
        self._fresh.discard(ref.id)  # from here on, a retry must look at what is already shared
        notify = {e.casefold() for e in notify}
        refused: dict[str, str] = {}
        for email in wanted:
            if email.casefold() in have:
                continue
            problem = self._run(
                lambda email=email: self._grant(ref.id, email, email.casefold() in notify), ref=ref
            )
            if problem:
                refused[email] = problem
        self.refused[ref.id] = refused
        problems = list(refused.values())
        if problems:
            self.sharing_problems[ref.id] = problems
            log.warning("sharing %s: %s", ref.id, "; ".join(problems))
        return problems

    def _shared_with(self, spreadsheet_id: str) -> set[str]:
        found, token = set(), None
        while True:
            params = {
                "fields": "nextPageToken,permissions(emailAddress,role)",
                "pageSize": 100,
                "supportsAllDrives": "true",
            }
            if token:
                params["pageToken"] = token
            page = self._drive("get", f"{DRIVE_FILES}/{spreadsheet_id}/permissions", params=params)
            found |= {
                p["emailAddress"].casefold() for p in page.get("permissions", []) if p.get("emailAddress")
            }
            token = page.get("nextPageToken")
            if not token:
                return found

    def _grant(self, spreadsheet_id: str, email: str, notify: bool) -> str | None:
        params = {
            "supportsAllDrives": "true",
            "sendNotificationEmail": "true" if notify else "false",
            "fields": "id",
        }
        if notify:
            params["emailMessage"] = (
                "Bảng tính báo cáo CCHC của đơn vị. Chỉ nhập vào các ô nền vàng nhạt; "
                "hệ thống sẽ tự đọc và kiểm tra số liệu."
            )
        try:
            self._drive(
                "post",
                f"{DRIVE_FILES}/{spreadsheet_id}/permissions",
                params=params,
                json={"type": "user", "role": "writer", "emailAddress": email},
            )
        except APIError as e:
            reasons = set(_reasons(e))
            if e.code == 403 and "insufficientFilePermissions" in reasons:
                return (
                    f"Không chia sẻ được bảng tính cho {email}: {self.identity.who} không được phép chia sẻ tệp này. "
                    "Trên Drive dùng chung, tài khoản của bot cần quyền Người quản lý hoặc Người quản lý nội dung; "
                    "hoặc quản trị tên miền đã cấm chia sẻ ra ngoài tổ chức. Hãy nhờ quản trị Drive kiểm tra."
                )
            if e.code == 400 or (e.code == 403 and SHARING_REFUSALS & reasons):
                return f"Không chia sẻ được bảng tính cho {email}: {google_message(e)}"
            raise
        return None

    def _protection_editors(self) -> list[str]:
        return [e for e in (self.identity.email, *self.coordinator_emails) if e]
