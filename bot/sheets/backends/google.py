"""The Google backend: one Google Sheets spreadsheet per unit and period, in a shared folder.

Everything goes through gspread 6.2.1's HTTP client (and google-auth for the token), one batch
call per step, whatever the number of tables:

==========================  =====================================================================
step                        calls
==========================  =====================================================================
allocate                    1 Drive ``files.create`` (in the folder, tagged with appProperties)
find / modified_times       1 Drive ``files.list`` of the whole folder, all pages (cached 2 min)
is_laid_out                 free after an allocate; else from the folder listing (1 call per run)
lay_out                     1 Sheets ``spreadsheets.batchUpdate`` (tabs, values, formulas,
                            formats, merges, sizes, validations, protections) + 1 Drive
                            ``permissions.create`` per e-mail + 1 Drive ``files.update`` (marker)
read                        1 Sheets ``spreadsheets.get`` (grid data: entered values and number
                            formats) over the template's tabs
write                       1 Sheets ``spreadsheets.batchUpdate`` (+ 1 ``spreadsheets.get`` when
                            the edits include a :class:`Protect`, whose ids Google assigns)
==========================  =====================================================================

Decisions worth knowing:

* **Laid out = a marker.** ``lay_out`` ends by writing the appProperties ``laid_out=1`` and the
  template's tab names (``tabs=N``, ``tab0``…). The folder listing returns them, so
  ``is_laid_out`` costs nothing and ``read`` knows which tabs to ask for without a metadata call.
  A run killed anywhere before the marker is resumed safely: the structure batch is atomic and
  is refused when the tabs already exist (then it is taken as done), permissions are listed and
  only the missing ones created, and the marker is written last.
* **Deterministic sheet ids.** Every tab's ``sheetId`` is derived from its name
  (:func:`tab_sheet_id`), so a write addresses tabs and the "Kiểm tra" links
  (``=HYPERLINK("#gid=…&range=A1"; "A1")``) without asking Google first.
* **Vietnamese locale.** Spreadsheets are set to ``vi_VN`` and ``Asia/Ho_Chi_Minh``, so what a
  clerk types ("1.234", "12,5", "15/03/2026") is read the Vietnamese way. Formulas sent through
  the API are parsed in the spreadsheet's locale, so they go with ";" between arguments and
  decimal commas (";" is accepted whatever the locale). Read back, a formula is still a string
  starting with "=" like openpyxl's; nothing reads its text.
* **Reading.** One ``spreadsheets.get`` with grid data restricted by ``fields`` to each cell's
  ``userEnteredValue`` and number format: formulas as "=…", numbers unformatted, dates as serial
  numbers (``bot.sheets.values`` reads those), empty cells as None. A clerk typing "12,5%" makes Google
  store 0.125 and format the cell as a percentage (USER_ENTERED input is parsed as typed in the
  UI, in the spreadsheet's locale); the project keeps percentages on 0–100, so a number in a
  percent-formatted cell reads ×100 (12.5), as the workbook backend does. That is why the read
  asks for formats: ``values.batchGet`` cannot return them, and a second call per read would
  double the read quota. Tabs a unit adds are not read (nothing reads them); a renamed or
  deleted template tab makes the call fail, and the read then asks for every tab with its data
  (one more call), like the workbook backend does.
* **Sharing.** Each unit e-mail becomes a ``writer`` permission (never a link), with Google's
  notification e-mail (the clerk gets the link from Google too); coordinators are shared
  without notification. An address Drive refuses (no Google account on a shared drive,
  sharing outside the domain forbidden…) is reported in :attr:`GoogleBackend.sharing_problems`
  (by address in :attr:`GoogleBackend.refused`, which the store keeps until it is fixed) and
  does not stop provisioning. A 403 ``insufficientFilePermissions`` on sharing means the bot may
  not share this file at all (it is not a manager / content manager of the Shared Drive, or the
  domain forbids sharing outside): reported the same way, with that explanation. Protected
  ranges cover every tab except the input cells, editable only by the bot and coordinators.
  The unit e-mails come from ``unit_emails`` (by default the unit list of the configuration);
  :meth:`GoogleBackend.share` shares an existing spreadsheet with more addresses.
* **Quota.** Sheets calls pass a client-side limiter (``reads_per_minute`` /
  ``writes_per_minute``, Google's default per-user quota is 60 each). Drive calls are not
  limited here (Drive's quota is two orders of magnitude larger); a 429 from either is retried.
* **Failures.** 429, 5xx, Drive's 403 rate limits, timeouts and dropped connections are retried
  with exponential backoff and jitter (tenacity), bounded in attempts and total time; after the
  bound the call raises :class:`SheetBusy` (retryable: the next poll tries again). Each HTTP
  call times out after ``REQUEST_TIMEOUT`` (20 s), well inside the retry budget (60 s), so a
  call that timed out is tried again. When
  ``breaker`` calls in a row gave up, the backend fails fast for ``cooldown`` seconds, so a
  poll of 200 units during an outage ends quickly, while one broken spreadsheet does not
  hold up the others. gspread's own ``BackOffHTTPClient`` is not used: it never gives up.
  Credentials Google rejects (a revoked key: ``invalid_grant``) or a 401 stop the whole run
  with one :class:`BackendStopped` message; later calls fail the same way without a request.
* **Finding by tags** matches ``unit`` and ``period`` (not ``schema_version``), like the
  workbook backend's file names: a schema change never creates a second spreadsheet.
* appProperties are private to the OAuth client that wrote them: switching the service account
  for a user login (or back) means the bot no longer finds its earlier spreadsheets by tags.

Pointing at another server: ``base_urls`` {"oauth2", "drive", "sheets"} rewrite Google's origins
keeping Google's paths (:class:`GoogleApiSession`), for a proxy or the local test fake.

Sources (looked up with the search tool): ProtectedRange.protectedRangeId "This field is
read-only" (Sheets v4 reference, e.g. googleapis.dev …/Google.Apis.Sheets.v4.Data.ProtectedRange);
Drive file properties: at most 30 private properties per app, 124 bytes per key + value in
UTF-8 (Drive API Property reference); formulas parsed with the spreadsheet locale's separators
(github.com/googleapis/google-api-nodejs-client/issues/1994) and ";" accepted in every locale
(github.com/mricon/ingress-fieldplan/issues/5); Drive's cannotShareTeamDriveWithNonGoogleAccounts
(github.com/googleapis/google-api-dotnet-client/issues/1315); 403 ``insufficientFilePermissions``
"The user does not have sufficient permissions for this file." answering permissions.create
(github.com/breakdowns/slam-mirrorbot/issues/93, taers232c/GAMADV-XTD3/issues/181);
USER_ENTERED "parsed as if the user typed them into the UI" with formats inferred
(developers.google.com/sheets/api/reference/rest/v4/ValueInputOption,
docs.sheetdb.io/value-render-input-option); ``sendNotificationEmail`` and
``emailMessage`` are query parameters of permissions.create (github.com/burnash/gspread/pull/1107).
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import gspread
import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession, Request
from gspread.exceptions import APIError
from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from bot.clock import TZ
from bot.config import Config, ConfigError, GoogleSettings
from bot.outline.layout import TabLayout, WorkbookLayout
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
    SheetMissing,
    SheetRef,
    SheetUnreadable,
)
from bot.sheets.backends.workbook import STYLES

log = logging.getLogger(__name__)
T = TypeVar("T")

SCOPE_SPREADSHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
SCOPES = (SCOPE_SPREADSHEETS, SCOPE_DRIVE)
MIME_SPREADSHEET = "application/vnd.google-apps.spreadsheet"
DRIVE_FILES = "https://www.googleapis.com/drive/v3/files"
GOOGLE_ORIGINS = {
    "sheets": "https://sheets.googleapis.com",
    "drive": "https://www.googleapis.com",
    "oauth2": "https://oauth2.googleapis.com",
}
LOCALE, TIME_ZONE = "vi_VN", "Asia/Ho_Chi_Minh"
REQUEST_TIMEOUT = 20.0  # seconds per HTTP call: well inside RetryPolicy.budget, so a timeout is retried
LISTING_TTL = 120.0  # seconds a folder listing stands in for find / is_laid_out
MAX_APP_PROPERTIES = 30  # Drive: at most 30 private properties per app and file
MAX_PROPERTY_BYTES = 124  # Drive: key + value, UTF-8
SPARE_ROWS = 10  # rows left below a template's last row


# ---------------------------------------------------------------------------------------------
# Pointing google-auth + gspread at another base URL
# ---------------------------------------------------------------------------------------------


def _bases(base_urls: Mapping[str, str] | str | None) -> dict[str, str]:
    if not base_urls:
        return {}
    if isinstance(base_urls, str):
        return {GOOGLE_ORIGINS[name]: base_urls.rstrip("/") for name in GOOGLE_ORIGINS}
    return {GOOGLE_ORIGINS[name]: url.rstrip("/") for name, url in base_urls.items() if url}


def rewrite_google_url(url: str, base_urls: Mapping[str, str] | str | None) -> str:
    """``https://sheets.googleapis.com/v4/…`` → ``<sheets base>/v4/…`` (same for Drive, OAuth).

    ``base_urls`` is one base for all three services, or {"oauth2"|"drive"|"sheets": base}."""
    for origin, base in _bases(base_urls).items():
        if url.startswith(origin + "/"):
            return base + url[len(origin) :]
    return url


class _RewritingSession(requests.Session):
    """A plain session for token requests that sends Google's URLs to the configured bases."""

    def __init__(self, base_urls) -> None:
        super().__init__()
        self.base_urls = base_urls

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        return super().request(method, rewrite_google_url(url, self.base_urls), *args, **kwargs)


class GoogleApiSession(AuthorizedSession):
    """An ``AuthorizedSession`` answering Google's URLs from ``base_urls`` (None = Google itself).

    gspread builds absolute URLs from ``gspread.urls`` and sends every request through the
    session it is given (``gspread.Client(auth, session=...)``), so rewriting here reaches every
    call without patching gspread. Token requests go through ``auth_request``, rewritten too."""

    def __init__(self, credentials, base_urls: Mapping[str, str] | str | None = None, **kwargs) -> None:
        if base_urls:
            kwargs.setdefault("auth_request", Request(_RewritingSession(base_urls)))
        super().__init__(credentials, **kwargs)
        self.base_urls = base_urls

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        return super().request(method, rewrite_google_url(url, self.base_urls), *args, **kwargs)


def gspread_client(credentials, base_url: Mapping[str, str] | str | None = None, timeout: float | None = None) -> gspread.Client:
    """A real gspread Client whose every request goes to ``base_url`` with Google's paths."""
    session = GoogleApiSession(credentials, base_urls=base_url, refresh_timeout=timeout or REQUEST_TIMEOUT)
    client = gspread.Client(auth=credentials, session=session)
    client.http_client.auth = credentials  # HTTPClient skips storing auth when handed a session
    if timeout is not None:
        client.set_timeout(timeout)
    return client


# ---------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------


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
        raise ConfigError(f"Không đọc được {what}: {path} ({e.__class__.__name__}). Hãy kiểm tra quyền đọc tệp.") from None
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{what.capitalize()} {path} không phải JSON hợp lệ (dòng {e.lineno}): hãy tải lại tệp gốc, đừng sửa tay."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what.capitalize()} {path} không đúng dạng (cần một đối tượng JSON).")
    return data


def _not_a_service_account(path: str, info: dict) -> str:
    if info.get("type") == "authorized_user":
        return (f"Tệp {path} là tệp đăng nhập của người dùng, không phải khóa tài khoản dịch vụ: "
                "hãy khai báo nó ở 'google.oauth_token' thay vì 'google.credentials'.")
    if "installed" in info or "web" in info:
        return (f"Tệp {path} là mã ứng dụng OAuth (client secret), không phải khóa tài khoản dịch vụ. "
                "Hãy tạo khóa JSON cho tài khoản dịch vụ trong Google Cloud Console (IAM → Tài khoản dịch vụ → Khóa).")
    return (f"Tệp {path} không phải khóa tài khoản dịch vụ Google (thiếu \"type\": \"service_account\"). "
            "Hãy tải tệp khóa JSON từ Google Cloud Console (IAM → Tài khoản dịch vụ → Khóa → Thêm khóa).")


def _not_a_login(path: str, info: dict) -> str:
    if info.get("type") == "service_account":
        return (f"Tệp {path} là khóa tài khoản dịch vụ, không phải tệp đăng nhập người dùng: "
                "hãy khai báo nó ở 'google.credentials' thay vì 'google.oauth_token'.")
    return (f"Tệp {path} không phải tệp đăng nhập OAuth của người dùng (cần \"type\": \"authorized_user\" và "
            "\"refresh_token\"). Hãy đăng nhập lại bằng tài khoản Google của cơ quan để tạo tệp này.")


def _scopes_message(where: str, granted: Iterable[str]) -> str:
    missing = ", ".join(s for s in SCOPES if s not in set(granted))
    return (f"Đăng nhập Google ({where}) chưa được cấp đủ quyền: thiếu {missing}. Bot cần cả quyền Google Sheets "
            f"({SCOPE_SPREADSHEETS}) và Google Drive ({SCOPE_DRIVE}); hãy đăng nhập lại và đồng ý cả hai quyền "
            "(và bật Google Sheets API, Google Drive API trong dự án Google Cloud).")


# ---------------------------------------------------------------------------------------------
# Retrying and keeping under quota
# ---------------------------------------------------------------------------------------------


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in total seconds.

    ``sleep`` and ``monotonic`` are injectable so tests wait no real time."""

    attempts: int = 5
    budget: float = 60.0  # seconds from the first attempt after which no retry starts
    initial: float = 1.0
    max_wait: float = 32.0
    jitter: float = 1.0
    breaker: int = 3  # calls giving up in a row (on different spreadsheets) that mean an outage
    cooldown: float = 60.0  # then every call fails fast for this long
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def retrying(self) -> Retrying:
        started = self.monotonic()

        def stop(state: RetryCallState) -> bool:
            spent = self.monotonic() - started
            return state.attempt_number >= self.attempts or spent + state.upcoming_sleep > self.budget

        return Retrying(
            stop=stop,
            wait=wait_exponential_jitter(multiplier=self.initial, max=self.max_wait, jitter=self.jitter),
            retry=retry_if_exception(is_transient),
            sleep=self.sleep,
            reraise=True,
        )


class Quota:
    """Keeps Sheets calls under ``reads`` and ``writes`` per minute (pyrate-limiter sliding
    windows). Waits with the injected ``sleep``; ``waited`` adds up the seconds spent waiting."""

    def __init__(self, reads_per_minute: int = 60, writes_per_minute: int = 60, *,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self.buckets = {
            "read": InMemoryBucket([Rate(reads_per_minute, Duration.MINUTE)]),
            "write": InMemoryBucket([Rate(writes_per_minute, Duration.MINUTE)]),
        }
        self.sleep, self.monotonic = sleep, monotonic
        self.waited = 0.0

    def acquire(self, kind: str) -> None:
        bucket = self.buckets[kind]
        while True:
            now_ms = int(self.monotonic() * 1000)
            bucket.leak(now_ms)
            item = RateItem(kind, now_ms)
            if bucket.put(item):
                return
            wait = max(int(bucket.waiting(item)), 1) / 1000
            self.waited += wait
            self.sleep(wait)


class NoQuota(Quota):
    """No client-side limit (tests that count calls, not time)."""

    def acquire(self, kind: str) -> None:
        return None


TRANSIENT_STATUS = {429, 500, 502, 503, 504}
# Drive refusing one address (no Google account, outside the domain…): reported, not fatal
SHARING_REFUSALS = {"invalidSharingRequest", "cannotShareTeamDriveWithNonGoogleAccounts", "shareOutNotPermitted",
                    "shareInNotPermitted", "sharingRateLimitExceeded"}
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}


def is_transient(error: BaseException) -> bool:
    """Whether the same call may succeed if tried again a little later."""
    if isinstance(error, APIError):
        if error.code in TRANSIENT_STATUS:
            return True
        return error.code == 403 and bool(RATE_LIMIT_REASONS & set(_reasons(error)))
    if isinstance(error, auth_exceptions.RefreshError):
        return bool(getattr(error, "retryable", False))
    return isinstance(error, requests.exceptions.ConnectionError | requests.exceptions.Timeout
                      | auth_exceptions.TransportError)


def _reasons(error: APIError) -> list[str]:
    body = error.error or {}
    found = [e.get("reason", "") for e in body.get("errors") or [] if isinstance(e, dict)]
    found += [d.get("reason", "") for d in body.get("details") or [] if isinstance(d, dict)]
    return found


# ---------------------------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------------------------


@dataclass
class _FileInfo:
    id: str
    modified: datetime | None
    props: dict[str, str] = field(default_factory=dict)


class GoogleBackend(Backend):
    name = "google"

    def __init__(self, identity: Identity, folder_id: str, *, coordinator_emails: Iterable[str] = (),
                 unit_emails: Mapping[str, Iterable[str]] | Callable[[str], Iterable[str]] | None = None,
                 base_urls: Mapping[str, str] | str | None = None, quota: Quota | None = None,
                 retry: RetryPolicy | None = None, timeout: float = REQUEST_TIMEOUT):
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
            raise ConfigError("backend là 'google' nhưng config.json thiếu mục 'google' (folder_id, credentials).")
        unknown = set(settings.base_urls) - set(GOOGLE_ORIGINS)
        if unknown:
            raise ConfigError(f"google.base_urls chỉ nhận các khóa {', '.join(GOOGLE_ORIGINS)}; không hiểu: {', '.join(sorted(unknown))}.")
        identity = load_identity(settings, config.home)
        retry = overrides.pop("retry", None) or RetryPolicy()
        quota = overrides.pop("quota", None) or Quota(settings.reads_per_minute, settings.writes_per_minute,
                                                      sleep=retry.sleep, monotonic=retry.monotonic)
        if "unit_emails" not in overrides:
            overrides["unit_emails"] = _emails_from_unit_list(config)
        return cls(identity, settings.folder_id, coordinator_emails=settings.coordinator_emails,
                   base_urls=settings.base_urls, quota=quota, retry=retry, **overrides)

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
        body = {"name": title, "mimeType": MIME_SPREADSHEET, "parents": [self.folder_id], "appProperties": props}
        attempts = 0

        def create() -> dict:
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # the answer to an earlier attempt may have been lost after Google created it
                found = self._query_tagged(tags)
                if found:
                    return found
            return self._drive("post", DRIVE_FILES, params={"fields": "id,modifiedTime,appProperties"}, json=body)

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
        self._run(lambda: self._drive("patch", f"{DRIVE_FILES}/{ref.id}", params={"fields": "id,modifiedTime,appProperties"},
                                      json={"appProperties": props}), ref=ref)
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
            problem = self._run(lambda email=email: self._grant(ref.id, email, email.casefold() in notify), ref=ref)
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
            params = {"fields": "nextPageToken,permissions(emailAddress,role)", "pageSize": 100, "supportsAllDrives": "true"}
            if token:
                params["pageToken"] = token
            page = self._drive("get", f"{DRIVE_FILES}/{spreadsheet_id}/permissions", params=params)
            found |= {p["emailAddress"].casefold() for p in page.get("permissions", []) if p.get("emailAddress")}
            token = page.get("nextPageToken")
            if not token:
                return found

    def _grant(self, spreadsheet_id: str, email: str, notify: bool) -> str | None:
        params = {"supportsAllDrives": "true", "sendNotificationEmail": "true" if notify else "false", "fields": "id"}
        if notify:
            params["emailMessage"] = ("Bảng tính báo cáo CCHC của đơn vị. Chỉ nhập vào các ô nền vàng nhạt; "
                                      "hệ thống sẽ tự đọc và kiểm tra số liệu.")
        try:
            self._drive("post", f"{DRIVE_FILES}/{spreadsheet_id}/permissions", params=params,
                        json={"type": "user", "role": "writer", "emailAddress": email})
        except APIError as e:
            reasons = set(_reasons(e))
            if e.code == 403 and "insufficientFilePermissions" in reasons:
                return (f"Không chia sẻ được bảng tính cho {email}: {self.identity.who} không được phép chia sẻ tệp này. "
                        "Trên Drive dùng chung, tài khoản của bot cần quyền Người quản lý hoặc Người quản lý nội dung; "
                        "hoặc quản trị tên miền đã cấm chia sẻ ra ngoài tổ chức. Hãy nhờ quản trị Drive kiểm tra.")
            if e.code == 400 or (e.code == 403 and SHARING_REFUSALS & reasons):
                return f"Không chia sẻ được bảng tính cho {email}: {_google_message(e)}"
            raise
        return None

    def _protection_editors(self) -> list[str]:
        return [e for e in (self.identity.email, *self.coordinator_emails) if e]

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
        params = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER", "majorDimension": "ROWS"}

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
            self._run(lambda: self._apply(ref.id, edits, self._sheet_map(ref.id) if needs_ids else None), ref=ref)
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
                requests_ += replace_tab_requests(edit.tab, _sheet_id(edit.tab.name, sheets), exists,
                                                  len(sheets) if sheets else 0, self._protection_editors())
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
        meta = self._sheets_get(spreadsheet_id, "sheets(properties(sheetId,title),protectedRanges(protectedRangeId),merges)")
        sheets = {}
        for s in meta.get("sheets", []):
            merges = [(m.get("startRowIndex", 0) + 1, m.get("startColumnIndex", 0) + 1, m["endRowIndex"], m["endColumnIndex"])
                      for m in s.get("merges", []) if "endRowIndex" in m and "endColumnIndex" in m]
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
            f" and appProperties has {{ key='{k}' and value='{_q(str(tags[k]))}' }}" for k in ("unit", "period") if k in tags)
        found = self._query(query)
        return {"id": found[0].id, "modifiedTime": None, "appProperties": found[0].props} if found else None

    def _query(self, query: str) -> list[_FileInfo]:
        files, token = [], None
        while True:
            params = {"q": query, "pageSize": 1000, "includeItemsFromAllDrives": "true",
                      "fields": "nextPageToken,files(id,modifiedTime,appProperties)"}
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
        found = self._run(lambda: self._drive("get", f"{DRIVE_FILES}/{ref.id}", params={"fields": "id,modifiedTime,appProperties"}), ref=ref)
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
                raise self._stop(f"Google không chấp nhận thông tin đăng nhập của {self.identity.who}: "
                                 f"{_google_message(e)}") from None
            raise self._translate(e, ref, folder) from None
        except auth_exceptions.RefreshError as e:
            if is_transient(e):
                raise self._gave_up(ref, "không lấy được mã truy cập") from None
            raise self._stop(self._login_refused(e)) from None
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
        return SheetBusy(f"Chưa làm việc được với Google ({what}) sau nhiều lần thử; sẽ thử lại ở lần kiểm tra sau.", ref=ref)

    def _translate(self, e: APIError, ref: SheetRef | None, folder: bool) -> BackendError:
        reasons, message = set(_reasons(e)), _google_message(e)
        who = self.identity.who
        if e.code == 403 and ("storageQuotaExceeded" in reasons or "storage quota" in message.lower()):
            return BackendError(
                "Google không cho tạo bảng tính: tài khoản dịch vụ không có dung lượng lưu trữ riêng. Cách khắc phục: "
                f"(1) đặt thư mục báo cáo trong một Drive dùng chung (Shared Drive) và thêm {who} làm thành viên "
                "với quyền Người quản lý nội dung, rồi ghi mã thư mục đó vào google.folder_id; hoặc (2) dùng đăng nhập "
                "bằng tài khoản người dùng của cơ quan (mục google.oauth_token trong config.json).", ref=ref)
        if e.code == 403 and ("ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons or "insufficientPermissions" in reasons
                              or "scope" in message.lower()):
            return BackendError(_scopes_message(who, ()), ref=ref)
        if e.code == 403 and ({"accessNotConfigured", "SERVICE_DISABLED"} & reasons or "has not been used" in message):
            return BackendError("Google Sheets API hoặc Google Drive API chưa được bật trong dự án Google Cloud của "
                                f"{who}: hãy bật cả hai API (APIs & Services → Library) rồi chạy lại. ({message})", ref=ref)
        if folder and e.code in (403, 404):
            return BackendError(
                f"Thư mục Google Drive {self.folder_id} chưa được chia sẻ cho {who} (hoặc chỉ được chia sẻ quyền xem). "
                f"Hãy mở thư mục trong Google Drive, bấm Chia sẻ và thêm {who} với quyền Người chỉnh sửa.", ref=ref)
        if e.code == 404:
            return SheetMissing("Không tìm thấy bảng tính trên Google Drive (đã bị xóa hoặc chuyển đi).", ref=ref)
        if e.code == 403:
            return SheetUnreadable(f"{who} không còn quyền mở bảng tính này (quyền chia sẻ đã bị gỡ?).", ref=ref)
        if e.code == 400:
            return SheetUnreadable(f"Bảng tính không còn đúng cấu trúc của mẫu (trang bị xóa hoặc đổi tên?): {message}", ref=ref)
        return BackendError(f"Google trả lời lỗi {e.code}: {message}", ref=ref)

    def _login_refused(self, e: auth_exceptions.RefreshError) -> str:
        why = _refresh_reason(e)
        if self.identity.kind == "user":
            return (f"Đăng nhập Google (oauth_token) đã hết hạn hoặc bị thu hồi ({why}). Hãy đăng nhập lại để tạo "
                    "tệp oauth_token mới.")
        return (f"Google từ chối khóa của tài khoản dịch vụ {self.identity.email} ({why}). Khóa có thể đã bị xóa "
                "hoặc thu hồi: hãy tạo khóa JSON mới trong Google Cloud Console và cập nhật google.credentials.")


def _refresh_reason(e: auth_exceptions.RefreshError) -> str:
    """Google's own words from a refused token request, e.g. "invalid_grant: Invalid JWT
    Signature." — never the raw exception (google-auth puts the whole response in a tuple)."""
    first = e.args[0] if e.args else ""
    text = first if isinstance(first, str) else ""
    return " ".join(text.split())[:200] or "mã lỗi không rõ"


GRID_FIELDS = ("sheets(properties(title),data(startRow,startColumn,"
               "rowData(values(userEnteredValue,userEnteredFormat(numberFormat(type,pattern))))))")


def _grid_rows(data: list[dict]) -> list[list[object]]:
    """A tab's GridData (whole-tab ranges start at A1) as rows of typed values, trailing empties cut."""
    rows: list[list[object]] = []
    for block in data:
        top, left = block.get("startRow", 0), block.get("startColumn", 0)
        for i, row in enumerate(block.get("rowData") or []):
            while len(rows) <= top + i:
                rows.append([])
            cells = [None] * left + [_typed(cell) for cell in row.get("values") or []]
            rows[top + i] = _trimmed(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _trimmed(cells: list[object]) -> list[object]:
    while cells and cells[-1] is None:
        cells.pop()
    return cells


def _typed(cell: dict) -> object:
    """What the clerk typed: a formula as "=…", a percent-formatted number on 0–100."""
    value = cell.get("userEnteredValue") or {}
    if "formulaValue" in value:
        return value["formulaValue"]
    if "numberValue" in value:
        number = value["numberValue"]
        if _is_percent((cell.get("userEnteredFormat") or {}).get("numberFormat") or {}):
            number = round(number * 100, 10)
        return int(number) if isinstance(number, float) and number.is_integer() and abs(number) < 1e15 else number
    if "boolValue" in value:
        return value["boolValue"]
    text = value.get("stringValue")
    return text if text else None


def _is_percent(number_format: dict) -> bool:
    """A PERCENT format, or a pattern with an unquoted "%" (which scales the number by 100)."""
    pattern = re.sub(r'"[^"]*"|\\.', "", str(number_format.get("pattern") or ""))
    return number_format.get("type") == "PERCENT" or "%" in pattern


def _google_message(e: APIError) -> str:
    return str((e.error or {}).get("message", "")) or str(e)


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
        len(k.encode()) + len(v.encode()) <= MAX_PROPERTY_BYTES for k, v in props.items())
    return props if fits else {"tabs": ""}


def _tabs_from_properties(props: dict[str, str]) -> list[str] | None:
    count = props.get("tabs") or ""
    if not count.isdigit():
        return None
    names = [props.get(f"tab{i}") for i in range(int(count))]
    return names if all(names) else None  # type: ignore[return-value]


def _emails_from_unit_list(config: Config) -> dict[str, tuple[str, ...]]:
    from bot.outline.schema import load_schema
    from bot.outline.units import load_units

    return {u.code: u.emails for u in load_units(config.units_file, load_schema(config.schema_path))}


# ---------------------------------------------------------------------------------------------
# Layouts as Sheets requests
# ---------------------------------------------------------------------------------------------


def tab_sheet_id(name: str) -> int:
    """The sheetId every spreadsheet gives the tab called ``name`` (1 … 2³¹−1, never 0)."""
    return zlib.crc32(unicodedata.normalize("NFC", name).encode("utf-8")) % (2**31 - 2) + 1


def _sheet_id(title: str, sheets: dict[str, dict] | None) -> int:
    if sheets and title in sheets:
        return sheets[title]["id"]
    return tab_sheet_id(title)


def quote_tab(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def layout_requests(layout: WorkbookLayout, editors: list[str]) -> list[dict]:
    """One batch that turns a fresh spreadsheet (one default tab, id 0) into the layout."""
    ids = [tab_sheet_id(t.name) for t in layout.tabs]
    if len(set(ids)) != len(ids) or 0 in ids:
        raise ValueError("two tab names give the same sheet id; rename one")
    requests_: list[dict] = [{"updateSpreadsheetProperties": {
        "properties": {"locale": LOCALE, "timeZone": TIME_ZONE}, "fields": "locale,timeZone"}}]
    for index, (tab, sheet_id) in enumerate(zip(layout.tabs, ids, strict=True)):
        requests_.append({"addSheet": {"properties": _sheet_properties(tab, sheet_id, index)}})
    requests_.append({"deleteSheet": {"sheetId": 0}})  # the default "Sheet1" / "Trang tính1"
    for tab, sheet_id in zip(layout.tabs, ids, strict=True):
        requests_ += tab_content_requests(tab, sheet_id)
        if tab.protected:
            requests_.append(_protect(sheet_id, _input_rectangles(tab), editors, TEMPLATE_PROTECTION))
    return requests_


TEMPLATE_PROTECTION = "Mẫu báo cáo: chỉ nhập vào các ô nền vàng nhạt"
APPROVED_PROTECTION = "Báo cáo đã được phê duyệt: đã khóa toàn bộ"


def _sheet_properties(tab: TabLayout, sheet_id: int, index: int | None = None) -> dict:
    props = {"sheetId": sheet_id, "title": tab.name, "gridProperties": _grid_size(tab)}
    if index is not None:
        props["index"] = index
    return props


def _grid_size(tab: TabLayout) -> dict:
    cols = max([tab.max_col, 1, *tab.col_widths, *(c2 for *_, c2 in tab.merges)])
    rows = max([tab.max_row, *(r2 for _, _, r2, _ in tab.merges), *tab.row_heights, 1]) + SPARE_ROWS
    return {"rowCount": rows, "columnCount": cols}


def tab_content_requests(tab: TabLayout, sheet_id: int) -> list[dict]:
    """Values, formulas, formats, merges, sizes and validations of one tab (not its protection)."""
    requests_: list[dict] = []
    if tab.cells:
        rows = [{"values": [_cell_value(tab.cells.get((r, c))) for c in range(1, tab.max_col + 1)]}
                for r in range(1, tab.max_row + 1)]
        requests_.append({"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                                          "rows": rows, "fields": "userEnteredValue"}})
    requests_ += _format_requests(tab, sheet_id)
    for r1, c1, r2, c2 in tab.merges:
        requests_.append({"mergeCells": {"range": _grid(sheet_id, r1, c1, r2, c2), "mergeType": "MERGE_ALL"}})
    requests_ += _dimension_requests(sheet_id, "COLUMNS", {c: round(w * 7 + 5) for c, w in tab.col_widths.items()})
    requests_ += _dimension_requests(sheet_id, "ROWS", {r: round(h * 4 / 3) for r, h in tab.row_heights.items()})
    requests_ += _validation_requests(tab, sheet_id)
    return requests_


def replace_tab_requests(tab: TabLayout, sheet_id: int, exists: bool, index: int, editors: list[str]) -> list[dict]:
    """Clear a program-owned tab and lay it out again in place (its protection stays)."""
    if not exists:
        requests_ = [{"addSheet": {"properties": _sheet_properties(tab, sheet_id, index)}}]
        if tab.protected:
            requests_.append(_protect(sheet_id, _input_rectangles(tab), editors, TEMPLATE_PROTECTION))
        return requests_ + tab_content_requests(tab, sheet_id)
    size = _grid_size(tab)
    return [
        {"unmergeCells": {"range": {"sheetId": sheet_id}}},
        {"updateSheetProperties": {"properties": {"sheetId": sheet_id, "gridProperties": size},
                                   "fields": "gridProperties.rowCount,gridProperties.columnCount"}},
        {"updateCells": {"range": {"sheetId": sheet_id}, "fields": "*"}},
        {"updateDimensionProperties": {"range": {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": 0},
                                       "properties": {"pixelSize": 21}, "fields": "pixelSize"}},
        *tab_content_requests(tab, sheet_id),
    ]


def set_cells_requests(edit: SetCells, sheet_id: int) -> list[dict]:
    """Values only, one updateCells per run of neighbouring cells in a row."""
    requests_ = []
    for row, first, last in _runs({pos for pos in edit.cells}):
        values = [{"userEnteredValue": _extended_value(edit.cells[(row, c)])} for c in range(first, last + 1)]
        requests_.append({"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": row - 1, "columnIndex": first - 1},
                                          "rows": [{"values": values}], "fields": "userEnteredValue"}})
    return requests_


def protect_requests(edit: Protect, sheets: dict[str, dict], editors: list[str]) -> list[dict]:
    """Drop every protection and protect each tab again: wholly, or all but its input cells."""
    requests_: list[dict] = []
    for title, sheet in sheets.items():
        requests_ += [{"deleteProtectedRange": {"protectedRangeId": pid}} for pid in sheet["protected"]]
        if edit.whole:
            requests_.append(_protect(sheet["id"], [], editors, APPROVED_PROTECTION))
            continue
        anchors = {(r1, c1): (r1, c1, r2, c2) for r1, c1, r2, c2 in sheet["merges"]}
        cells = edit.input_cells.get(title, [])
        rects = _rectangles({p for p in cells if p not in anchors}) + [anchors[p] for p in cells if p in anchors]
        requests_.append(_protect(sheet["id"], rects, editors, TEMPLATE_PROTECTION))
    return requests_


def _protect(sheet_id: int, unprotected: list[tuple[int, int, int, int]], editors: list[str], description: str) -> dict:
    protected: dict[str, Any] = {"range": {"sheetId": sheet_id}, "description": description, "warningOnly": False,
                                 "editors": {"users": list(editors), "domainUsersCanEdit": False}}
    if unprotected:
        protected["unprotectedRanges"] = [_grid(sheet_id, *rect) for rect in unprotected]
    return {"addProtectedRange": {"protectedRange": protected}}


def _grid(sheet_id: int, r1: int, c1: int, r2: int, c2: int) -> dict:
    """1-based inclusive (r1, c1)–(r2, c2) as a half-open 0-based GridRange."""
    return {"sheetId": sheet_id, "startRowIndex": r1 - 1, "endRowIndex": r2, "startColumnIndex": c1 - 1, "endColumnIndex": c2}


def _input_rectangles(tab: TabLayout) -> list[tuple[int, int, int, int]]:
    """The tab's input cells as few rectangles; a merged input cell counts with its whole merge."""
    merges = {(r1, c1): (r1, c1, r2, c2) for r1, c1, r2, c2 in tab.merges}
    inputs = [pos for pos, spec in tab.cells.items() if spec.input]
    return _rectangles({p for p in inputs if p not in merges}) + [merges[p] for p in inputs if p in merges]


def _runs(cells: set[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(row, first col, last col) for each run of horizontally adjacent cells."""
    runs = []
    for row, col in sorted(cells):
        if runs and runs[-1][0] == row and runs[-1][2] == col - 1:
            runs[-1] = (row, runs[-1][1], col)
        else:
            runs.append((row, col, col))
    return runs


def _rectangles(cells: set[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Cells as rectangles: row runs, stacked when the same columns continue on the next row."""
    open_: dict[tuple[int, int], list[int]] = {}  # (c1, c2) → [r1, r2]
    done = []
    for row, c1, c2 in _runs(cells):
        span = open_.get((c1, c2))
        if span and span[1] == row - 1:
            span[1] = row
        else:
            if span:
                done.append((span[0], c1, span[1], c2))
            open_[(c1, c2)] = [row, row]
    done += [(r1, c1, r2, c2) for (c1, c2), (r1, r2) in open_.items()]
    return sorted(done)


def _dimension_requests(sheet_id: int, dimension: str, sizes: dict[int, int]) -> list[dict]:
    requests_ = []
    for first, last, size in _equal_runs(sizes):
        requests_.append({"updateDimensionProperties": {
            "range": {"sheetId": sheet_id, "dimension": dimension, "startIndex": first - 1, "endIndex": last},
            "properties": {"pixelSize": size}, "fields": "pixelSize"}})
    return requests_


def _equal_runs(sizes: dict[int, int]) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    for index in sorted(sizes):
        if runs and runs[-1][1] == index - 1 and runs[-1][2] == sizes[index]:
            runs[-1] = (runs[-1][0], index, sizes[index])
        else:
            runs.append((index, index, sizes[index]))
    return runs


def _validation_requests(tab: TabLayout, sheet_id: int) -> list[dict]:
    groups: dict[tuple, set[tuple[int, int]]] = {}
    for pos, spec in tab.cells.items():
        v = spec.validation
        if v:
            groups.setdefault((v.kind, v.min, v.max, v.choices), set()).add(pos)
    requests_ = []
    for (kind, low, high, choices), cells in groups.items():
        rule = _validation_rule(kind, low, high, choices)
        for rect in _rectangles(cells):
            requests_.append({"setDataValidation": {"range": _grid(sheet_id, *rect), "rule": rule}})
    return requests_


def _validation_rule(kind: str, low, high, choices) -> dict:
    """The workbook backend's validations as Sheets rules: warnings (strict=False), never refusals."""
    if kind == "list":
        condition = {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": c} for c in choices]}
        message = "Hãy chọn một giá trị trong danh sách."
    elif kind == "whole":
        condition = {"type": "NUMBER_GREATER_THAN_EQ", "values": [{"userEnteredValue": _number_text(low or 0)}]}
        message = "Ô này cần một số nguyên không âm."
    elif kind == "decimal" and high is not None:
        condition = {"type": "NUMBER_BETWEEN", "values": [{"userEnteredValue": _number_text(low or 0)},
                                                          {"userEnteredValue": _number_text(high)}]}
        message = "Ô này cần một tỷ lệ phần trăm từ 0 đến 100."
    elif kind == "date":
        condition = {"type": "DATE_IS_VALID"}
        message = "Ô này cần một ngày (ngày/tháng/năm)."
    else:
        condition = {"type": "NUMBER_BETWEEN", "values": [{"userEnteredValue": "-1000000000000000"},
                                                          {"userEnteredValue": "1000000000000000"}]}
        message = "Ô này cần một số."
    return {"condition": condition, "inputMessage": message, "strict": False, "showCustomUi": kind == "list"}


def _number_text(number: float) -> str:
    """A number as vi_VN reads it in a rule: decimal comma."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}".replace(".", ",")


# --- cells -------------------------------------------------------------------------------------------


def _format_requests(tab: TabLayout, sheet_id: int) -> list[dict]:
    """Formats by style, one repeatCell per rectangle of cells sharing a style (a table body is
    one rectangle), instead of a format repeated in every cell of the batch."""
    by_style: dict[str, set[tuple[int, int]]] = {}
    for pos, spec in tab.cells.items():
        by_style.setdefault(spec.style if spec.style in _FORMATS else "text", set()).add(pos)
    requests_ = []
    for style, cells in sorted(by_style.items()):
        for rect in _rectangles(cells):
            requests_.append({"repeatCell": {"range": _grid(sheet_id, *rect), "cell": {"userEnteredFormat": _FORMATS[style]},
                                             "fields": "userEnteredFormat"}})
    return requests_


def _cell_value(spec) -> dict:
    if spec is None:
        return {}
    data: dict[str, Any] = {}
    if spec.link:
        tab_name, _, a1 = spec.link.rpartition("!")
        label = spec.value if spec.value is not None else a1
        data["userEnteredValue"] = {"formulaValue": hyperlink(tab_sheet_id(tab_name), a1, str(label))}
    elif spec.formula:
        data["userEnteredValue"] = {"formulaValue": localise_formula(spec.formula)}
    elif spec.value is not None:
        data["userEnteredValue"] = _extended_value(spec.value)
    return data


def hyperlink(sheet_id: int, a1: str, label: str) -> str:
    return f'=HYPERLINK("#gid={sheet_id}&range={a1}";"{label.replace(chr(34), chr(34) * 2)}")'


FORMULA_TRIGGERS = ("=", "+", "-", "@")


def _extended_value(value) -> dict:
    """A value as typed text never turns into a formula: strings go as stringValue. A leading
    apostrophe before formula-like text (the spreadsheet convention for "this is text") is
    dropped, since Sheets stores stringValue literally."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    if isinstance(value, datetime):
        return {"stringValue": f"{value:%d/%m/%Y %H:%M}"}
    if isinstance(value, date):
        return {"stringValue": f"{value:%d/%m/%Y}"}
    text = str(value)
    if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS):
        text = text[1:]
    return {"stringValue": text}


def localise_formula(formula: str) -> str:
    """An A1 formula written with "," between arguments, rewritten with ";" and decimal commas
    (what a vi_VN spreadsheet parses; ";" works in every locale). Quoted text and quoted tab
    names are left alone."""
    out, quote = [], None
    for i, char in enumerate(formula):
        if quote:
            quote = None if char == quote else quote
            out.append(char)
        elif char in "\"'":
            quote = char
            out.append(char)
        elif char == ",":
            out.append(";")
        elif char == "." and i and formula[i - 1].isdigit() and formula[i + 1 : i + 2].isdigit() and _in_number(formula, i):
            out.append(",")
        else:
            out.append(char)
    return "".join(out)


def _in_number(formula: str, dot: int) -> bool:
    """Whether the digits before ``dot`` are a number literal, not the end of a reference."""
    start = dot
    while start and formula[start - 1].isdigit():
        start -= 1
    return not start or not (formula[start - 1].isalnum() or formula[start - 1] in "_$")


_HALIGN = {"center": "CENTER", "right": "RIGHT", "left": "LEFT"}
_VALIGN = {"center": "MIDDLE", "top": "TOP", "bottom": "BOTTOM"}


def cell_format(style: str) -> dict:
    """The workbook backend's STYLES entry as a Sheets CellFormat (same look in both)."""
    return _FORMATS.get(style, _FORMATS["text"])


def _rgb(argb: str | None) -> dict:
    hexa = (argb or "000000")[-6:]
    return {"rgbColor": {name: round(int(hexa[i : i + 2], 16) / 255, 4) for name, i in (("red", 0), ("green", 2), ("blue", 4))}}


def _format_of(font, fill, border, align, number_format) -> dict:
    fmt: dict[str, Any] = {}
    if font:
        text: dict[str, Any] = {}
        if font.b:
            text["bold"] = True
        if font.i:
            text["italic"] = True
        if font.sz:
            text["fontSize"] = int(font.sz)
        if font.u:
            text["underline"] = True
        if font.color is not None and isinstance(font.color.rgb, str):
            text["foregroundColorStyle"] = _rgb(font.color.rgb)
        fmt["textFormat"] = text
    if fill:
        fmt["backgroundColorStyle"] = _rgb(fill.start_color.rgb)
    if border:
        side = {"style": "SOLID", "colorStyle": _rgb(border.left.color.rgb if border.left.color else None)}
        fmt["borders"] = {"top": side, "bottom": side, "left": side, "right": side}
    if align:
        if align.horizontal in _HALIGN:
            fmt["horizontalAlignment"] = _HALIGN[align.horizontal]
        if align.vertical in _VALIGN:
            fmt["verticalAlignment"] = _VALIGN[align.vertical]
        if align.wrap_text:
            fmt["wrapStrategy"] = "WRAP"
    if number_format == "@":
        fmt["numberFormat"] = {"type": "TEXT", "pattern": "@"}
    elif number_format:
        fmt["numberFormat"] = {"type": "NUMBER", "pattern": number_format}
    return fmt


_FORMATS = {key: _format_of(*parts) for key, parts in STYLES.items()}


# --- A1 helper used by callers (forms intake) ----------------------------------------------------------

_A1 = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def parse_where(where: str) -> tuple[str, int, int] | None:
    """"'Tab'!B12" → ("Tab", 12, 2)."""
    tab, _, a1 = where.rpartition("!")
    if tab.startswith("'") and tab.endswith("'"):
        tab = tab[1:-1].replace("''", "'")
    match = _A1.match(a1.upper())
    if not tab or not match:
        return None
    letters, row = match.groups()
    col = 0
    for char in letters:
        col = col * 26 + ord(char) - 64
    return tab, int(row), col


__all__ = [
    "GoogleApiSession",
    "GoogleBackend",
    "Identity",
    "Quota",
    "RetryPolicy",
    "gspread_client",
    "load_identity",
    "rewrite_google_url",
    "tab_sheet_id",
]
