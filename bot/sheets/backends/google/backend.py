"""The Google backend: one Google Sheets spreadsheet per unit and period, in a shared folder
(see the package docstring for the calls each step makes and the decisions behind them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import requests
from google.auth import exceptions as auth_exceptions
from gspread.exceptions import APIError

from bot.config import Config, ConfigError
from bot.outline.layout import WorkbookLayout
from bot.sheets.backends.base import (
    Backend,
    BackendError,
    BackendStopped,
    Edit,
    Grids,
    Protect,
    ReplaceTab,
    SetCells,
    SheetBusy,
    SheetRef,
    SheetUnreadable,
)
from bot.sheets.backends.google.credentials import Identity, load_identity
from bot.sheets.backends.google.drive import (
    DRIVE_FILES,
    _file_info,
    _FileInfo,
    _matches,
    _q,
    _tab_properties,
    _tabs_from_properties,
)
from bot.sheets.backends.google.errors import google_message, login_refused, translate
from bot.sheets.backends.google.grids import GRID_FIELDS, _grid_rows
from bot.sheets.backends.google.session import (
    GOOGLE_ORIGINS,
    REQUEST_TIMEOUT,
    Quota,
    RetryPolicy,
    gspread_client,
    is_transient,
)
from bot.sheets.backends.google.sharing import Sharing
from bot.sheets.backends.google.sheet_requests import (
    _sheet_id,
    layout_requests,
    protect_requests,
    quote_tab,
    replace_tab_requests,
    set_cells_requests,
)

T = TypeVar("T")

MIME_SPREADSHEET = "application/vnd.google-apps.spreadsheet"
LISTING_TTL = 120.0  # seconds a folder listing stands in for find / is_laid_out


class GoogleBackend(Sharing, Backend):
    name = "google"

    def __init__(
        self,
        identity: Identity,
        folder_id: str,
        *,
        coordinator_emails: Iterable[str] = (),
        unit_emails: Mapping[str, Iterable[str]] | Callable[[str], Iterable[str]] | None = None,
        base_urls: Mapping[str, str] | str | None = None,
        quota: Quota | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ):
        self.identity = identity
        self.folder_id = folder_id
        self.coordinator_emails = tuple(dict.fromkeys(coordinator_emails))
        self._unit_emails = unit_emails or {}
        self.retry = retry or RetryPolicy()
        self.quota = quota or Quota(sleep=self.retry.sleep, monotonic=self.retry.monotonic)
        self.client = gspread_client(identity.credentials, base_urls, timeout)
        self.http = self.client.http_client
        self.timeout = timeout
        self.sharing_problems: dict[str, list[str]] = {}  # spreadsheet id → Vietnamese messages
        self.refused: dict[str, dict[str, str]] = {}  # spreadsheet id → {e-mail: message} of the last share
        self._stopped: BackendStopped | None = None  # credentials rejected: nothing can work
        self._files: dict[str, _FileInfo] = {}
        self._listed_at: float | None = None
        self._fresh: set[str] = set()  # allocated by this process, nothing shared yet
        self._busy_until = 0.0
        self._give_ups = 0  # calls that gave up in a row

    @classmethod
    def from_config(cls, config: Config, **overrides) -> GoogleBackend:
        settings = config.google
        if settings is None:
            raise ConfigError(
                "backend là 'google' nhưng config.json thiếu mục 'google' (folder_id, credentials)."
            )
        unknown = set(settings.base_urls) - set(GOOGLE_ORIGINS)
        if unknown:
            raise ConfigError(
                f"google.base_urls chỉ nhận các khóa {', '.join(GOOGLE_ORIGINS)}; không hiểu: {', '.join(sorted(unknown))}."
            )
        identity = load_identity(settings, config.home)
        retry = overrides.pop("retry", None) or RetryPolicy()
        quota = overrides.pop("quota", None) or Quota(
            settings.reads_per_minute,
            settings.writes_per_minute,
            sleep=retry.sleep,
            monotonic=retry.monotonic,
        )
        if "unit_emails" not in overrides:
            overrides["unit_emails"] = _emails_from_unit_list(config)
        return cls(
            identity,
            settings.folder_id,
            coordinator_emails=settings.coordinator_emails,
            base_urls=settings.base_urls,
            quota=quota,
            retry=retry,
            **overrides,
        )

    # --- where things are -----------------------------------------------------------------

    @staticmethod
    def url_for(spreadsheet_id: str) -> str:
        return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit"

    def _ref(self, spreadsheet_id: str) -> SheetRef:
        return SheetRef(spreadsheet_id, self.url_for(spreadsheet_id))

    def find(self, tags):
        for info in self._folder_index().values():
            if _matches(info.props, tags):
                return self._ref(info.id)
        return None

    def allocate(self, title, tags):
        props = {k: str(v) for k, v in tags.items() if k in ("unit", "period", "schema_version")}
        body = {
            "name": title,
            "mimeType": MIME_SPREADSHEET,
            "parents": [self.folder_id],
            "appProperties": props,
        }
        attempts = 0

        def create() -> dict:
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # the answer to an earlier attempt may have been lost after Google created it
                found = self._query_tagged(tags)
                if found:
                    return found
            return self._drive(
                "post", DRIVE_FILES, params={"fields": "id,modifiedTime,appProperties"}, json=body
            )

        created = self._run(create, folder=True)
        info = _file_info(created)
        self._files[info.id] = info
        self._fresh.add(info.id)
        return self._ref(info.id)

    def is_laid_out(self, ref):
        return self._info(ref).props.get("laid_out") == "1"

    def modified_times(self, refs):
        """Many refs: one folder listing (a failure raises: nothing can be polled then). One ref
        (the check job, around a feedback write): one ``files.get``, None when it fails."""
        if len(refs) == 1:
            try:
                infos = {refs[0].id: self._fetch_info(refs[0])}
            except BackendError:
                return {refs[0].id: None}
        else:
            infos = self._list_folder()
        return {ref.id: (infos[ref.id].modified if ref.id in infos else None) for ref in refs}

    # --- creating ---------------------------------------------------------------------------

    def lay_out(self, ref, layout: WorkbookLayout):
        self._run(lambda: self._build_structure(ref, layout), ref=ref)
        units = self.unit_emails(layout.unit_code)
        self.share(ref, [*units, *self.coordinator_emails], notify=units)
        props = {"laid_out": "1", **_tab_properties([t.name for t in layout.tabs])}
        self._run(
            lambda: self._drive(
                "patch",
                f"{DRIVE_FILES}/{ref.id}",
                params={"fields": "id,modifiedTime,appProperties"},
                json={"appProperties": props},
            ),
            ref=ref,
        )
        info = self._files.setdefault(ref.id, _FileInfo(ref.id, None))
        info.props.update(props)

    def _build_structure(self, ref: SheetRef, layout: WorkbookLayout) -> None:
        requests_ = layout_requests(layout, self._protection_editors())
        try:
            self._sheets_batch(ref.id, requests_)
        except APIError as e:
            # The batch is atomic: refused because the tabs exist means an earlier run (or an
            # earlier attempt whose answer was lost) already laid it out.
            if e.code != 400 or not {t.name for t in layout.tabs} <= set(self._sheet_list(ref.id)):
                raise

    # --- reading ----------------------------------------------------------------------------

    def read(self, ref) -> Grids:
        names = self._tab_names(ref)
        if names:
            try:
                return self._run(lambda: self._read_tabs(ref.id, names), ref=ref)
            except SheetUnreadable:
                pass  # a template tab was renamed or deleted: read the tabs it really has
        return self._run(lambda: self._read_tabs(ref.id, None), ref=ref)

    def _read_tabs(self, spreadsheet_id: str, names: list[str] | None) -> Grids:
        """The tabs ``names`` (None: every tab) as rows of typed values, in one call."""
        params: dict[str, Any] = {"includeGridData": "true", "fields": GRID_FIELDS}
        if names is not None:
            params["ranges"] = [quote_tab(n) for n in names]
        answer = self._sheets_get_params(spreadsheet_id, params)
        grids = {s["properties"]["title"]: _grid_rows(s.get("data") or []) for s in answer.get("sheets", [])}
        return grids if names is None else {name: grids.get(name, []) for name in names}

    def read_range(self, spreadsheet_id: str, a1: str) -> list[list[object]]:
        """One range of any spreadsheet shared with the bot (a form's responses), unformatted:
        numbers as numbers, dates and times as serial numbers. One ``values.get``."""
        ref = self._ref(spreadsheet_id)
        params = {
            "valueRenderOption": "UNFORMATTED_VALUE",
            "dateTimeRenderOption": "SERIAL_NUMBER",
            "majorDimension": "ROWS",
        }

        def get() -> dict:
            self.quota.acquire("read")
            return self.http.values_get(spreadsheet_id, a1, params=params)

        return self._run(get, ref=ref).get("values", [])

    def _tab_names(self, ref: SheetRef) -> list[str] | None:
        info = self._files.get(ref.id) or self._fetch_info(ref)
        return _tabs_from_properties(info.props)

    # --- writing ----------------------------------------------------------------------------

    def write(self, ref, edits: list[Edit]):
        if not edits:
            return
        needs_ids = any(isinstance(e, Protect) for e in edits)
        try:
            self._run(
                lambda: self._apply(ref.id, edits, self._sheet_map(ref.id) if needs_ids else None), ref=ref
            )
        except SheetUnreadable:
            if needs_ids:
                raise
            # a tab is missing (a new master tab, a deleted "Kiểm tra"): add it, using the real ids
            self._run(lambda: self._apply(ref.id, edits, self._sheet_map(ref.id)), ref=ref)

    def _apply(self, spreadsheet_id: str, edits: list[Edit], sheets: dict[str, dict] | None) -> None:
        requests_: list[dict] = []
        for edit in edits:
            if isinstance(edit, SetCells):
                requests_ += set_cells_requests(edit, _sheet_id(edit.tab, sheets))
            elif isinstance(edit, ReplaceTab):
                exists = sheets is None or edit.tab.name in sheets
                requests_ += replace_tab_requests(
                    edit.tab,
                    _sheet_id(edit.tab.name, sheets),
                    exists,
                    len(sheets) if sheets else 0,
                    self._protection_editors(),
                )
            elif isinstance(edit, Protect):
                requests_ += protect_requests(edit, sheets or {}, self._protection_editors())
        if requests_:
            self._sheets_batch(spreadsheet_id, requests_)

    # --- the calls ---------------------------------------------------------------------------

    def _drive(self, method: str, url: str, *, params: dict | None = None, json: dict | None = None) -> dict:
        params = {"supportsAllDrives": "true", **(params or {})}
        response = self.http.request(method, url, params=params, json=json)
        return response.json() if response.content else {}

    def _sheets_batch(self, spreadsheet_id: str, requests_: list[dict]) -> dict:
        self.quota.acquire("write")
        return self.http.batch_update(spreadsheet_id, {"requests": requests_})

    def _sheets_get(self, spreadsheet_id: str, fields: str) -> dict:
        return self._sheets_get_params(spreadsheet_id, {"fields": fields})

    def _sheets_get_params(self, spreadsheet_id: str, params: dict) -> dict:
        self.quota.acquire("read")
        return self.http.fetch_sheet_metadata(spreadsheet_id, params=params)

    def _sheet_list(self, spreadsheet_id: str) -> list[str]:
        meta = self._sheets_get(spreadsheet_id, "sheets.properties.title")
        return [s["properties"]["title"] for s in meta.get("sheets", [])]

    def _sheet_map(self, spreadsheet_id: str) -> dict[str, dict]:
        """title → {"id", "protected": [ids], "merges": [(r1, c1, r2, c2) 1-based]}."""
        meta = self._sheets_get(
            spreadsheet_id, "sheets(properties(sheetId,title),protectedRanges(protectedRangeId),merges)"
        )
        sheets = {}
        for s in meta.get("sheets", []):
            merges = [
                (
                    m.get("startRowIndex", 0) + 1,
                    m.get("startColumnIndex", 0) + 1,
                    m["endRowIndex"],
                    m["endColumnIndex"],
                )
                for m in s.get("merges", [])
                if "endRowIndex" in m and "endColumnIndex" in m
            ]
            sheets[s["properties"]["title"]] = {
                "id": s["properties"]["sheetId"],
                "protected": [p["protectedRangeId"] for p in s.get("protectedRanges", [])],
                "merges": merges,
            }
        return sheets

    def _list_folder(self) -> dict[str, _FileInfo]:
        query = f"'{_q(self.folder_id)}' in parents and trashed = false and mimeType = '{MIME_SPREADSHEET}'"
        self._files = {info.id: info for info in self._run(lambda: self._query(query), folder=True)}
        self._listed_at = self.retry.monotonic()
        return self._files

    def _folder_index(self) -> dict[str, _FileInfo]:
        stale = self._listed_at is None or self.retry.monotonic() - self._listed_at > LISTING_TTL
        return self._list_folder() if stale else self._files

    def _query_tagged(self, tags: dict[str, str]) -> dict | None:
        query = f"'{_q(self.folder_id)}' in parents and trashed = false" + "".join(
            f" and appProperties has {{ key='{k}' and value='{_q(str(tags[k]))}' }}"
            for k in ("unit", "period")
            if k in tags
        )
        found = self._query(query)
        return {"id": found[0].id, "modifiedTime": None, "appProperties": found[0].props} if found else None

    def _query(self, query: str) -> list[_FileInfo]:
        files, token = [], None
        while True:
            params = {
                "q": query,
                "pageSize": 1000,
                "includeItemsFromAllDrives": "true",
                "fields": "nextPageToken,files(id,modifiedTime,appProperties)",
            }
            if token:
                params["pageToken"] = token
            page = self._drive("get", DRIVE_FILES, params=params)
            files += [_file_info(f) for f in page.get("files", [])]
            token = page.get("nextPageToken")
            if not token:
                return files

    def _info(self, ref: SheetRef) -> _FileInfo:
        """What Drive says of ``ref``: from a listing of the folder younger than LISTING_TTL
        (one call answers for every unit of a run), else from the file itself."""
        if ref.id in self._fresh and ref.id in self._files:
            return self._files[ref.id]
        index = self._folder_index()
        return index[ref.id] if ref.id in index else self._fetch_info(ref)

    def _fetch_info(self, ref: SheetRef) -> _FileInfo:
        found = self._run(
            lambda: self._drive(
                "get", f"{DRIVE_FILES}/{ref.id}", params={"fields": "id,modifiedTime,appProperties"}
            ),
            ref=ref,
        )
        info = _file_info(found)
        self._files[info.id] = info
        return info

    # --- retries and errors --------------------------------------------------------------------

    def _run(self, action: Callable[[], T], *, ref: SheetRef | None = None, folder: bool = False) -> T:
        """``action`` with retries; Google's errors become the backend's typed errors."""
        if self._stopped:
            raise self._stopped
        if self.retry.monotonic() < self._busy_until:
            raise SheetBusy("Google đang quá tải hoặc tạm thời không trả lời; sẽ thử lại ở lần sau.", ref=ref)
        try:
            result = self.retry.retrying()(action)
            self._give_ups = 0
            return result
        except APIError as e:
            if is_transient(e):
                raise self._gave_up(ref, f"Google trả lời lỗi {e.code}") from None
            if e.code == 401:
                raise self._stop(
                    f"Google không chấp nhận thông tin đăng nhập của {self.identity.who}: {google_message(e)}"
                ) from None
            raise translate(e, ref, folder, self.identity.who, self.folder_id) from None
        except auth_exceptions.RefreshError as e:
            if is_transient(e):
                raise self._gave_up(ref, "không lấy được mã truy cập") from None
            raise self._stop(login_refused(self.identity, e)) from None
        except (requests.exceptions.RequestException, auth_exceptions.TransportError) as e:
            raise self._gave_up(ref, f"mất kết nối ({e.__class__.__name__})") from None

    def _stop(self, message: str) -> BackendStopped:
        """Credentials rejected: every later call fails with this same message, without a request."""
        self._stopped = BackendStopped(message)
        return self._stopped

    def _gave_up(self, ref: SheetRef | None, what: str) -> SheetBusy:
        self._give_ups += 1
        if self._give_ups >= self.retry.breaker:  # an outage, not one bad spreadsheet
            self._busy_until = self.retry.monotonic() + self.retry.cooldown
            self._give_ups = 0
        return SheetBusy(
            f"Chưa làm việc được với Google ({what}) sau nhiều lần thử; sẽ thử lại ở lần kiểm tra sau.",
            ref=ref,
        )


def _emails_from_unit_list(config: Config) -> dict[str, tuple[str, ...]]:
    from bot.outline.schema import load_schema
    from bot.outline.units import load_units

    return {u.code: u.emails for u in load_units(config.units_file, load_schema(config.schema_path))}
