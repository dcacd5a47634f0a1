"""A local fake of the Google APIs the Sheets backend uses: OAuth token, Drive v3, Sheets v4.

It is an ``http.server`` on 127.0.0.1 (port 0) that speaks the documented REST shapes well
enough that the *real* google-auth and gspread 6.2.1 libraries work against it unchanged.
State lives in memory so a test can read back exactly what a unit would see
(``grid(spreadsheet_id, tab)``); every call is recorded (``calls``) and counted by kind
(``counts["sheets.values.batchGet"]``); faults and latency can be injected.

Pointing gspread at a base URL (the mechanism lives in bot/sheets/backends/google/session.py)
-----------------------------------------------------------------------------
gspread 6.2.1 builds absolute URLs from module constants (``gspread.urls``:
``SPREADSHEETS_API_V4_BASE_URL = "https://sheets.googleapis.com/v4/spreadsheets"``,
``DRIVE_FILES_API_V3_URL = "https://www.googleapis.com/drive/v3/files"``) and sends every
request through ``HTTPClient.session.request(method=..., url=...)``. ``HTTPClient(auth,
session)`` / ``gspread.Client(auth, session=...)`` accept a caller-made session (documented in
``gspread/http_client.py``: "You can pass you own Session object"). So instead of patching
module constants we pass a :class:`GoogleApiSession`, an ``AuthorizedSession`` subclass whose
``request`` rewrites the origins ``https://sheets.googleapis.com``, ``https://www.googleapis.com``
and ``https://oauth2.googleapis.com`` to ``base_url`` *keeping Google's paths*
(``/v4/spreadsheets/...``, ``/drive/v3/files/...``, ``/token``)::

    creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    session = GoogleApiSession(creds, base_url="http://127.0.0.1:PORT")
    client = gspread.Client(auth=creds, session=session)   # or gspread_client(creds, base_url)

With ``base_url=None`` nothing is rewritten (production against Google). The production
backend owns these (``bot.sheets.backends.google``: ``GoogleApiSession``, ``gspread_client``,
``rewrite_google_url``, with one base per service from ``google.base_urls``); this module
re-exports them for the tests. Token requests go to
the credentials' ``token_uri`` (the service-account JSON's ``token_uri``); if that is Google's
own endpoint, the session's ``auth_request`` rewrites it too. google-auth signs the JWT with
``aud = "https://oauth2.googleapis.com/token"`` whatever ``token_uri`` is (google-auth
``oauth2/service_account.py``), so the fake accepts that audience as well as its own.

Sources looked up (search tool) for the shapes emulated here
------------------------------------------------------------
* Sheets v4 ``spreadsheets.values`` / ValueRange: "For output, empty trailing rows and columns
  will not be included"; "Null values will be skipped. To set a cell to an empty value, set
  the string value to an empty string"; ``range`` is the whole requested range —
  https://developers.google.com/workspace/sheets/api/reference/rest/v4/spreadsheets.values
* Drive v3 ``files.list`` (``q``, ``trashed=false``, returns trashed files by default) —
  https://developers.google.com/workspace/drive/api/reference/rest/v3/files/list ; FileList
  ``nextPageToken`` "absent if the end of the files list has been reached"; query operators
  ``contains, =, !=, <, <=, >, >=, in, has`` (tanaikech.github.io/2021/04/27, "Specification
  of Search Query for File List Method in Drive API").
* Error model ``{"error": {"code", "message", "status", "details"}}`` (google.rpc.Status) —
  https://cloud.google.com/apis/design/errors . Drive adds ``errors: [{domain, reason,
  message, locationType, location}]`` (gspread's BackOffHTTPClient notes "Drive API return a
  dict object 'errors', the sheet API does not").
* 403 storageQuotaExceeded, domain global, "The user's Drive storage quota has been exceeded."
  — github.com/ericberman/MyFlightbookWeb/issues/294 ; the newer service-account wording
  (:data:`SERVICE_ACCOUNT_NO_QUOTA_MESSAGE`) — github.com/Jumbo810/Upload_Github_Artifacts_TO_GDrive/issues/22,
  github.com/n8n-io/n8n/issues/26050 (service accounts own nothing outside shared drives).
* 404 ``File not found: <id>.`` reason notFound, location fileId —
  github.com/ivanvermeyen/laravel-google-drive-demo/issues/49, googleapis/google-api-php-client#1782.
* 403 "Request had insufficient authentication scopes." with ``insufficientPermissions`` and
  ErrorInfo ``ACCESS_TOKEN_SCOPE_INSUFFICIENT`` — github.com/analogdotnow/Analog/issues/296.
* 429 RESOURCE_EXHAUSTED "Quota exceeded for quota metric 'Write requests' and limit 'Write
  requests per minute per user' of service 'sheets.googleapis.com' …" with ErrorInfo
  RATE_LIMIT_EXCEEDED metadata — github.com/Sage-Bionetworks/data_curator/issues/110,
  github.com/asweigart/ezsheets/pull/8.
* 400 "Range ('Tab'!A1001) exceeds grid limits. Max rows: 1000, max columns: 26" —
  github.com/home-assistant/core/issues/104198, github.com/cloudfour/lighthouse-parade/issues/151;
  "Attempting to write column: 26, beyond the last requested column of: 25" —
  github.com/OpenRefine/OpenRefine/issues/2760.
* Service-account JWT claims (iss, scope, aud, exp, iat; exp at most 1 h after iat) —
  https://developers.google.com/identity/protocols/oauth2/service-account .

* USER_ENTERED: "The values will be parsed as if the user typed them into the UI. Numbers will
  stay as numbers, but strings may be converted to numbers, dates, etc. following the same rules
  that are applied when entering text into a cell via the Google Sheets UI" —
  https://developers.google.com/sheets/api/reference/rest/v4/ValueInputOption ; "Formats may
  also be inferred, so "$100.15" becomes a number with currency formatting" —
  https://docs.sheetdb.io/value-render-input-option . SpreadsheetProperties.locale ("a
  combination of the ISO language code and country code, such as en_US") decides those rules
  (Sheets v4 SpreadsheetProperties, e.g. pub.dev/documentation/googleapis/latest/sheets_v4/
  SpreadsheetProperties/locale.html). So the fake parses typed text in the book's locale: in
  vi_VN "1.234" → 1234, "12,5" → 12.5, "12,5%" → 0.125 with a PERCENT number format (the
  format Sheets infers); en_US keeps "." as the decimal point and "," for thousands.
  :meth:`FakeGoogle.type_text` is the same parsing for text a person types in the browser.

Known simplifications (a backend must not rely on them): formulas are stored, never evaluated
(FORMATTED/UNFORMATTED render them as empty); locales other than those of
:data:`DECIMAL_COMMA_LANGUAGES` parse like en_US; text that is not a number in the locale ("1.5"
in vi_VN, which Google may take for a date) stays text; dates stay text; number formats do not
change formatted values;
``values.append`` finds the table as "after the last non-empty row in the range's columns";
insert/delete dimension and other unlisted batchUpdate kinds are recorded and accepted.
Exact wording of a few 400 messages for malformed requests is approximate.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import socket
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bot.clock import now as vietnam_now
from bot.sheets.backends.google import GoogleApiSession, gspread_client, rewrite_google_url
from tests.fakes.google_keys import ServiceAccountKey, mint_service_account

__all__ = ["FakeGoogle", "GoogleApiSession", "fake_google", "gspread_client", "rewrite_google_url"]

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

SCOPE_SPREADSHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_SPREADSHEETS_READONLY = "https://www.googleapis.com/auth/spreadsheets.readonly"
SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
SCOPE_DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
SCOPE_DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
SCOPE_DRIVE_METADATA_READONLY = "https://www.googleapis.com/auth/drive.metadata.readonly"

SHEETS_READ_SCOPES = frozenset(
    {SCOPE_SPREADSHEETS, SCOPE_SPREADSHEETS_READONLY, SCOPE_DRIVE, SCOPE_DRIVE_FILE, SCOPE_DRIVE_READONLY}
)
SHEETS_WRITE_SCOPES = frozenset({SCOPE_SPREADSHEETS, SCOPE_DRIVE, SCOPE_DRIVE_FILE})
DRIVE_READ_SCOPES = frozenset(
    {SCOPE_DRIVE, SCOPE_DRIVE_FILE, SCOPE_DRIVE_READONLY, SCOPE_DRIVE_METADATA_READONLY}
)
DRIVE_WRITE_SCOPES = frozenset({SCOPE_DRIVE, SCOPE_DRIVE_FILE})

MIME_SPREADSHEET = "application/vnd.google-apps.spreadsheet"
MIME_FOLDER = "application/vnd.google-apps.folder"

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

STORAGE_QUOTA_MESSAGE = "The user's Drive storage quota has been exceeded."
SERVICE_ACCOUNT_NO_QUOTA_MESSAGE = (
    "Service Accounts do not have storage quota. Leverage shared drives "
    "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives), "
    "or use OAuth delegation (http://support.google.com/a/answer/7281227) instead."
)
INSUFFICIENT_SCOPES_MESSAGE = "Request had insufficient authentication scopes."
INVALID_CREDENTIALS_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)

DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26
MAX_HOLD_SECONDS = 10.0
FAULT_KINDS = ("429", "500", "503", "timeout", "drop", "quota")
ROLE_RANK = {"reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 4, "organizer": 5, "owner": 6}

# ---------------------------------------------------------------------------------------------
# Google's error shapes
# ---------------------------------------------------------------------------------------------

RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An HTTP error answer: status code and Google's JSON body."""

    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}


def sheets_error(code: int, message: str, details: list | None = None) -> ApiError:
    error: dict[str, Any] = {"code": code, "message": message, "status": RPC_STATUS[code]}
    if details:
        error["details"] = details
    return ApiError(code, {"error": error})


def drive_error(
    code: int,
    message: str,
    reason: str,
    domain: str = "global",
    location: str | None = None,
    with_status: bool = False,
    details: list | None = None,
) -> ApiError:
    item = {"message": message, "domain": domain, "reason": reason}
    if location:
        item.update(locationType="parameter", location=location)
    error: dict[str, Any] = {"code": code, "message": message, "errors": [item]}
    if with_status:
        error["status"] = RPC_STATUS[code]
    if details:
        error["details"] = details
    return ApiError(code, {"error": error})


def storage_quota_error(message: str = STORAGE_QUOTA_MESSAGE) -> ApiError:
    return drive_error(403, message, "storageQuotaExceeded")


def file_not_found(file_id: str) -> ApiError:
    return drive_error(404, f"File not found: {file_id}.", "notFound", location="fileId")


def invalid_drive_value(location: str) -> ApiError:
    return drive_error(400, "Invalid Value", "invalid", location=location)


def _error_info(reason: str, service: str, **metadata: str) -> dict:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service, **metadata},
    }


def insufficient_scopes_error(api: str) -> ApiError:
    if api == "drive":
        err = drive_error(403, INSUFFICIENT_SCOPES_MESSAGE, "insufficientPermissions", with_status=True)
        err.body["error"]["errors"][0]["message"] = "Insufficient Permission"
        err.body["error"]["details"] = [
            _error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "drive.googleapis.com")
        ]
        return err
    return sheets_error(
        403,
        INSUFFICIENT_SCOPES_MESSAGE,
        [_error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "sheets.googleapis.com")],
    )


def unauthenticated_error(api: str) -> ApiError:
    err = sheets_error(401, INVALID_CREDENTIALS_MESSAGE)
    if api == "drive":
        err.body["error"]["errors"] = [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "locationType": "header",
                "location": "Authorization",
            }
        ]
    err.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
    return err


def rate_limit_error(api: str, method: str) -> ApiError:
    if api == "drive":
        return drive_error(429, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits")
    kind = "Read" if method == "GET" else "Write"
    message = (
        f"Quota exceeded for quota metric '{kind} requests' and limit '{kind} requests per minute "
        "per user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'."
    )
    info = _error_info(
        "RATE_LIMIT_EXCEEDED",
        "sheets.googleapis.com",
        consumer="projects/000000000000",
        quota_limit=f"{kind}RequestsPerMinutePerUser",
        quota_metric=f"sheets.googleapis.com/{kind.lower()}_requests",
    )
    return sheets_error(429, message, [info])


def server_error(api: str, code: int) -> ApiError:
    if api == "drive":
        message = "Internal Error" if code == 500 else "Service Unavailable"
        return drive_error(code, message, "internalError" if code == 500 else "backendError")
    message = "Internal error encountered." if code == 500 else "The service is currently unavailable."
    return sheets_error(code, message)


class BadRequest(Exception):
    """A malformed batchUpdate request; becomes 400 ``Invalid requests[i].kind: message``."""


def oauth_error(status: int, error: str, description: str) -> ApiError:
    return ApiError(status, {"error": error, "error_description": description})


# ---------------------------------------------------------------------------------------------
# A1 notation and grid ranges
# ---------------------------------------------------------------------------------------------

_CELL_RE = re.compile(r"^([A-Za-z]*)(\d*)$")
_PLAIN_TITLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def column_letters(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - 64)
    return index - 1


def quote_title(title: str) -> str:
    if _PLAIN_TITLE_RE.match(title) and not re.match(r"^[A-Za-z]{1,3}\d+$", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_sheet_name(text: str) -> tuple[str | None, str]:
    """Split "'It''s'!A1" -> ("It's", "A1"); "Tab!A1" -> ("Tab", "A1"); "A1" -> (None, "A1")."""
    if text.startswith("'"):
        title, i = "", 1
        while i < len(text):
            if text[i] == "'" and text[i + 1 : i + 2] == "'":
                title, i = title + "'", i + 2
            elif text[i] == "'":
                rest = text[i + 1 :]
                if rest and not rest.startswith("!"):
                    raise ValueError(text)
                return title, rest[1:]
            else:
                title, i = title + text[i], i + 1
        raise ValueError(text)
    if "!" in text:
        title, _, cells = text.partition("!")
        return title, cells
    return None, text


@dataclass
class Box:
    """A half-open rectangle on one sheet; ``None`` ends are unbounded."""

    sheet: Sheet
    top: int
    bottom: int | None
    left: int
    right: int | None
    single_cell: bool = False  # "A1": a write starts there and may extend right and down

    def clipped(self) -> tuple[int, int, int, int]:
        rows, cols = self.sheet.row_count, self.sheet.column_count
        bottom = rows if self.bottom is None else min(self.bottom, rows)
        right = cols if self.right is None else min(self.right, cols)
        return self.top, bottom, self.left, right

    def a1(self) -> str:
        top, bottom, left, right = self.clipped()
        return a1_label(self.sheet.title, top, max(bottom, top + 1), left, max(right, left + 1))

    def contains(self, row: int, col: int) -> bool:
        top, bottom, left, right = self.clipped()
        return top <= row < bottom and left <= col < right


def a1_label(title: str, top: int, bottom: int, left: int, right: int) -> str:
    start = f"{column_letters(left)}{top + 1}"
    end = f"{column_letters(right - 1)}{bottom}"
    return f"{quote_title(title)}!{start}" + ("" if start == end else f":{end}")


def box_from_cells(sheet: Sheet, cells: str) -> Box:
    start, colon, end = cells.partition(":")
    first, last = _CELL_RE.match(start), _CELL_RE.match(end if colon else start)
    if not first or not last or not start or (colon and not end):
        raise ValueError(cells)
    col1, row1 = first.groups()
    col2, row2 = last.groups()
    if (row1 and int(row1) == 0) or (row2 and int(row2) == 0):
        raise ValueError(cells)
    top = int(row1) - 1 if row1 else 0
    bottom = int(row2) if row2 else None
    left = column_index(col1) if col1 else 0
    right = column_index(col2) + 1 if col2 else None
    if bottom is not None and bottom <= top:
        top, bottom = bottom - 1, top + 1
    if right is not None and right <= left:
        left, right = right - 1, left + 1
    return Box(sheet, top, bottom, left, right, single_cell=not colon)


def grid_range_box(book: Spreadsheet, grid_range: dict) -> Box:
    sheet = book.sheet_by_id(grid_range.get("sheetId", 0))
    return Box(
        sheet,
        grid_range.get("startRowIndex", 0),
        grid_range.get("endRowIndex"),
        grid_range.get("startColumnIndex", 0),
        grid_range.get("endColumnIndex"),
    )


# ---------------------------------------------------------------------------------------------
# Field masks ("fields" parameters)
# ---------------------------------------------------------------------------------------------


def parse_mask(text: str | None) -> dict | None:
    """``"a,b.c,d(e,f)"`` -> ``{"a": {}, "b": {"c": {}}, "d": {"e": {}, "f": {}}}``; None = all."""
    if text is None or text.strip() in ("", "*"):
        return None
    tree, end = _parse_mask_list(text, 0)
    if end != len(text):
        raise ValueError(text)
    return tree


def _parse_mask_list(text: str, i: int) -> tuple[dict, int]:
    tree: dict = {}
    while i < len(text) and text[i] != ")":
        match = re.match(r"\s*([\w*@]+(?:[./][\w*@]+)*)\s*", text[i:])
        if not match:
            raise ValueError(text)
        node = tree
        for part in re.split(r"[./]", match.group(1)):  # gspread writes "gridProperties/rowCount"
            node = node.setdefault(part, {})
        i += match.end()
        if i < len(text) and text[i] == "(":
            sub, i = _parse_mask_list(text, i + 1)
            if i >= len(text):
                raise ValueError(text)
            node.update(sub)
            i += 1
        while i < len(text) and text[i] in " ,":
            i += 1
    return tree, i


def apply_mask(value: Any, tree: dict | None) -> Any:
    """Keep only the masked parts of a response."""
    if not tree or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_mask(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: apply_mask(value[key], sub) for key, sub in tree.items() if key in value}
    return value


def write_masked(target: dict, source: dict, tree: dict | None, share: bool = False) -> None:
    """Update ``target`` from ``source`` for the masked fields only; absent = cleared.

    ``share`` stores ``source``'s values without copying them (the caller copied ``source``
    once for many cells; stored cells are replaced on write, never mutated in place)."""
    take = (lambda value: value) if share else copy.deepcopy
    if tree is None or "*" in tree:
        target.clear()
        target.update(take(source))
        return
    for key, sub in tree.items():
        if sub and isinstance(source.get(key, {}), dict):
            child = dict(target.get(key) or {})
            write_masked(child, source.get(key) or {}, sub, share)
            if child:
                target[key] = child
            else:
                target.pop(key, None)
        elif key in source:
            target[key] = take(source[key])
        else:
            target.pop(key, None)


def required_mask(request: dict) -> dict | None:
    if not request.get("fields"):
        raise BadRequest("At least one field must be specified.")
    try:
        return parse_mask(request["fields"])
    except ValueError as exc:
        raise BadRequest(f"Invalid field mask: {request['fields']}") from exc


# ---------------------------------------------------------------------------------------------
# Cell values
# ---------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# Locales whose decimal separator is "," and grouping separator "." (as a clerk types in them)
DECIMAL_COMMA_LANGUAGES = frozenset({"vi", "de", "id", "it", "es", "pt", "nl", "tr", "da"})
PERCENT_FORMAT = {"type": "PERCENT", "pattern": "0.00%"}  # what Sheets applies to a typed "12%"


def separators(locale: str) -> tuple[str, str]:
    """(decimal, grouping) separators of ``locale`` ("vi_VN" → (",", "."), "en_US" → (".", ","))."""
    return (",", ".") if locale.split("_")[0].lower() in DECIMAL_COMMA_LANGUAGES else (".", ",")


def entered_value(raw: Any, input_option: str, locale: str = "en_US") -> dict | None:
    """The ExtendedValue a raw JSON value becomes; None = skip the cell, {} = clear it."""
    entered = entered_cell(raw, input_option, locale)
    return None if entered is None else entered[0]


def entered_cell(raw: Any, input_option: str, locale: str = "en_US") -> tuple[dict, dict | None] | None:
    """(ExtendedValue, inferred numberFormat or None) of a raw JSON value; None = skip the cell."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return {"boolValue": raw}, None
    if isinstance(raw, int | float):
        return {"numberValue": raw}, None
    if not isinstance(raw, str):
        raise TypeError(raw)
    if raw == "":
        return {}, None
    if input_option == "RAW":
        return {"stringValue": raw}, None
    return _user_entered(raw, locale)


def _user_entered(text: str, locale: str) -> tuple[dict, dict | None]:
    if text.startswith("="):
        return {"formulaValue": text}, None
    if text.startswith("'"):
        return {"stringValue": text[1:]}, None
    if text.upper() in ("TRUE", "FALSE"):
        return {"boolValue": text.upper() == "TRUE"}, None
    stripped = text.strip()
    percent = stripped.endswith("%")
    number = parse_localised_number(stripped[:-1].rstrip() if percent else stripped, locale)
    if number is None:
        return {"stringValue": text}, None
    if percent:
        number = round(number / 100, 15)
    return {"numberValue": _plain(number)}, PERCENT_FORMAT if percent else None


def parse_localised_number(text: str, locale: str) -> float | None:
    """A number as a person types it in ``locale``: "1.234,5" in vi_VN, "1,234.5" in en_US
    (grouping optional, in threes); None when it is not a number there (e.g. "1.5" in vi_VN)."""
    decimal, group = separators(locale)
    d, g = re.escape(decimal), re.escape(group)
    grouped = rf"^[+-]?(\d{{1,3}}({g}\d{{3}})+|\d+)({d}\d*)?$|^[+-]?{d}\d+$"
    if re.match(grouped, text):
        return float(text.replace(group, "").replace(decimal, "."))
    if decimal == "." and _NUMBER_RE.match(text):  # en_US also takes 1e3
        return float(text)
    return None


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() and abs(number) < 1e15 else number


def format_number(number: float) -> str:
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = f"{number:.15g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}E{'+' if int(exponent) >= 0 else '-'}{abs(int(exponent)):02d}"
    return text


def display_value(cell: dict, render: str) -> Any:
    """What values.get returns for a cell; "" means empty."""
    value = cell.get("userEnteredValue") or {}
    if "formulaValue" in value:
        return value["formulaValue"] if render == "FORMULA" else ""
    if "numberValue" in value:
        number = value["numberValue"]
        if render == "FORMATTED_VALUE":
            return format_number(number)
        return int(number) if float(number).is_integer() and abs(number) < 1e15 else number
    if "boolValue" in value:
        return (
            ("TRUE" if value["boolValue"] else "FALSE") if render == "FORMATTED_VALUE" else value["boolValue"]
        )
    return value.get("stringValue", "")


def put_entered(sheet: Sheet, row: int, col: int, value: dict, number_format: dict | None) -> None:
    """Store a parsed entry; a format inferred from it ("12%" → percent) replaces the cell's
    number format, as typing it in the UI does. Cell dicts are replaced, never mutated."""
    sheet.set_value(row, col, value)
    if number_format:
        data = dict(sheet.cell(row, col))
        data["userEnteredFormat"] = {
            **(data.get("userEnteredFormat") or {}),
            "numberFormat": dict(number_format),
        }
        sheet.store(row, col, data)


def trimmed_rows(found: dict[tuple[int, int], Any], top: int, left: int) -> list[list]:
    """Rows from ``top`` to the last non-empty one, each cut after its last non-empty cell."""
    if not found:
        return []
    last_row = max(r for r, _ in found)
    widths: dict[int, int] = {}
    for r, c in found:
        widths[r] = max(widths.get(r, 0), c - left + 1)
    return [[found.get((r, left + j), "") for j in range(widths.get(r, 0))] for r in range(top, last_row + 1)]


# ---------------------------------------------------------------------------------------------
# Sheets model
# ---------------------------------------------------------------------------------------------


class Sheet:
    """One tab: properties plus sparse cells ``(row, col) -> CellData``."""

    def __init__(self, properties: dict) -> None:
        self.properties = properties
        self.cells: dict[tuple[int, int], dict] = {}
        self.merges: list[dict] = []
        self.protected_ranges: list[dict] = []
        self.row_meta: dict[int, dict] = {}
        self.column_meta: dict[int, dict] = {}
        self.conditional_formats: list[dict] = []

    @property
    def id(self) -> int:
        return self.properties["sheetId"]

    @property
    def title(self) -> str:
        return self.properties["title"]

    @property
    def row_count(self) -> int:
        return self.properties["gridProperties"]["rowCount"]

    @property
    def column_count(self) -> int:
        return self.properties["gridProperties"]["columnCount"]

    def whole(self) -> Box:
        return Box(self, 0, None, 0, None)

    def check_in_grid(self, row: int, col: int) -> None:
        if row >= self.row_count or col >= self.column_count:
            raise sheets_error(
                400,
                f"Range ({a1_label(self.title, row, row + 1, col, col + 1)}) exceeds grid limits. "
                f"Max rows: {self.row_count}, max columns: {self.column_count}",
            )

    def cell(self, row: int, col: int) -> dict:
        return self.cells.get((row, col), {})

    def store(self, row: int, col: int, data: dict) -> None:
        if data:
            self.cells[(row, col)] = data
        else:
            self.cells.pop((row, col), None)

    def set_value(self, row: int, col: int, value: dict) -> None:
        data = dict(self.cell(row, col))
        if value:
            data["userEnteredValue"] = value
        else:
            data.pop("userEnteredValue", None)
        self.store(row, col, data)

    def cells_in(self, box: Box) -> Iterator[tuple[tuple[int, int], dict]]:
        for key, data in list(self.cells.items()):
            if box.contains(*key):
                yield key, data

    def values(self, box: Box, render: str, major: str) -> list[list]:
        found = {}
        for (r, c), data in self.cells_in(box):
            shown = display_value(data, render)
            if shown != "":
                found[(r, c) if major != "COLUMNS" else (c, r)] = shown
        top, _, left, _ = box.clipped()
        return trimmed_rows(found, top, left) if major != "COLUMNS" else trimmed_rows(found, left, top)

    def truncate_to_grid(self) -> None:
        for row, col in list(self.cells):
            if row >= self.row_count or col >= self.column_count:
                del self.cells[(row, col)]

    def insert_rows(self, at: int, count: int) -> None:
        moved = {((r + count, c) if r >= at else (r, c)): data for (r, c), data in self.cells.items()}
        self.cells = moved
        self.row_meta = {(r + count if r >= at else r): meta for r, meta in self.row_meta.items()}
        self.properties["gridProperties"]["rowCount"] += count

    def to_json(self, data_boxes: list[Box] | None) -> dict:
        result: dict[str, Any] = {"properties": copy.deepcopy(self.properties)}
        if self.merges:
            result["merges"] = copy.deepcopy(self.merges)
        if self.protected_ranges:
            result["protectedRanges"] = copy.deepcopy(self.protected_ranges)
        if self.conditional_formats:
            result["conditionalFormats"] = copy.deepcopy(self.conditional_formats)
        if data_boxes is not None:
            result["data"] = [self.grid_data(box) for box in data_boxes]
        return result

    def grid_data(self, box: Box) -> dict:
        top, bottom, left, right = box.clipped()
        rows: dict[int, dict[int, dict]] = {}
        for (r, c), data in self.cells_in(box):
            rows.setdefault(r, {})[c] = cell_json(data)
        row_data = []
        for r in range(top, max(rows, default=top - 1) + 1):
            cols = rows.get(r, {})
            row_data.append(
                {"values": [cols.get(c, {}) for c in range(left, max(cols, default=left - 1) + 1)]}
            )
        return {
            "startRow": top,
            "startColumn": left,
            "rowData": row_data,
            "rowMetadata": [self.row_meta.get(r, {"pixelSize": 21}) for r in range(top, bottom)],
            "columnMetadata": [self.column_meta.get(c, {"pixelSize": 100}) for c in range(left, right)],
        }


def cell_json(data: dict) -> dict:
    result = copy.deepcopy(data)
    value = data.get("userEnteredValue")
    if value and "formulaValue" not in value:
        result["effectiveValue"] = copy.deepcopy(value)
        result["formattedValue"] = display_value(data, "FORMATTED_VALUE")
    return result


class Spreadsheet:
    """A spreadsheet: properties, ordered sheets, named ranges."""

    def __init__(self, spreadsheet_id: str, title: str) -> None:
        self.id = spreadsheet_id
        self.properties: dict[str, Any] = {
            "title": title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Asia/Ho_Chi_Minh",
            "defaultFormat": {"verticalAlignment": "BOTTOM", "wrapStrategy": "OVERFLOW_CELL"},
        }
        self.sheets: list[Sheet] = []
        self.named_ranges: list[dict] = []

    @property
    def locale(self) -> str:
        """How typed text is parsed here (USER_ENTERED input and :meth:`FakeGoogle.type_text`)."""
        return str(self.properties.get("locale") or "en_US")

    def sheet_by_id(self, sheet_id: int) -> Sheet:
        for sheet in self.sheets:
            if sheet.id == sheet_id:
                return sheet
        raise BadRequest(f"No grid with id: {sheet_id}")

    def sheet_titled(self, title: str) -> Sheet | None:
        exact = [s for s in self.sheets if s.title == title]
        folded = [s for s in self.sheets if s.title.casefold() == title.casefold()]
        return (exact or folded or [None])[0]

    def add_sheet(self, properties: dict) -> Sheet:
        props = copy.deepcopy(properties)
        props.setdefault("title", self._next_sheet_title())
        if self.sheet_titled(props["title"]):
            raise BadRequest(
                f'A sheet with the name "{props["title"]}" already exists. Please enter another name.'
            )
        if "sheetId" not in props:
            props["sheetId"] = 0 if not self.sheets else self._new_sheet_id()
        elif any(s.id == props["sheetId"] for s in self.sheets):
            raise BadRequest(f"A sheet with id {props['sheetId']} already exists.")
        props.setdefault("sheetType", "GRID")
        grid = props.setdefault("gridProperties", {})
        grid.setdefault("rowCount", DEFAULT_ROWS)
        grid.setdefault("columnCount", DEFAULT_COLUMNS)
        sheet = Sheet(props)
        self.sheets.insert(min(props.get("index", len(self.sheets)), len(self.sheets)), sheet)
        self.reindex()
        return sheet

    def _next_sheet_title(self) -> str:
        n = len(self.sheets) + 1
        while self.sheet_titled(f"Sheet{n}"):
            n += 1
        return f"Sheet{n}"

    def _new_sheet_id(self) -> int:
        while True:
            candidate = secrets.randbelow(2**31 - 1) + 1
            if all(s.id != candidate for s in self.sheets):
                return candidate

    def reindex(self) -> None:
        for index, sheet in enumerate(self.sheets):
            sheet.properties["index"] = index

    def parse_range(self, text: str) -> Box:
        try:
            title, cells = split_sheet_name(text)
            if title is None:
                return self._unqualified_range(text)
            sheet = self.sheet_titled(title)
            if sheet is None:
                raise ValueError(text)
            return box_from_cells(sheet, cells) if cells else sheet.whole()
        except (ValueError, BadRequest) as exc:
            raise sheets_error(400, f"Unable to parse range: {text}") from exc

    def _unqualified_range(self, text: str) -> Box:
        sheet = self.sheet_titled(text)
        if sheet:
            return sheet.whole()
        for named in self.named_ranges:
            if named["name"] == text:
                return grid_range_box(self, named["range"])
        return box_from_cells(self.sheets[0], text)

    def snapshot(self) -> tuple:
        """Cheap copy for rollback: stored CellData dicts are replaced on write, never mutated."""
        own = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "sheets"})
        sheets = [
            (sheet, {k: dict(v) if k == "cells" else copy.deepcopy(v) for k, v in sheet.__dict__.items()})
            for sheet in self.sheets
        ]
        return own, list(self.sheets), sheets

    def restore(self, snapshot: tuple) -> None:
        own, order, sheets = snapshot
        self.__dict__.update(own)
        self.sheets = order
        for sheet, state in sheets:
            sheet.__dict__.clear()
            sheet.__dict__.update(state)

    def to_json(self, include_grid_data: bool, ranges: list[str]) -> dict:
        boxes = [self.parse_range(text) for text in ranges]
        sheets = []
        for sheet in self.sheets:
            mine = [box for box in boxes if box.sheet is sheet]
            if boxes and not mine:
                continue
            data = (mine or [sheet.whole()]) if include_grid_data else None
            sheets.append(sheet.to_json(data))
        result = {
            "spreadsheetId": self.id,
            "properties": copy.deepcopy(self.properties),
            "sheets": sheets,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.id}/edit",
        }
        if self.named_ranges:
            result["namedRanges"] = copy.deepcopy(self.named_ranges)
        return result


# ---------------------------------------------------------------------------------------------
# Sheets batchUpdate request kinds
# ---------------------------------------------------------------------------------------------


@dataclass
class BatchContext:
    book: Spreadsheet
    principal: str


def _add_sheet(ctx: BatchContext, request: dict) -> dict:
    sheet = ctx.book.add_sheet(request.get("properties", {}))
    return {"addSheet": {"properties": copy.deepcopy(sheet.properties)}}


def _delete_sheet(ctx: BatchContext, request: dict) -> None:
    sheet = ctx.book.sheet_by_id(request.get("sheetId", 0))
    if len(ctx.book.sheets) == 1:
        raise BadRequest("You can't remove all the sheets in a document.")
    ctx.book.sheets.remove(sheet)
    ctx.book.named_ranges = [n for n in ctx.book.named_ranges if n["range"].get("sheetId", 0) != sheet.id]
    ctx.book.reindex()


def _update_sheet_properties(ctx: BatchContext, request: dict) -> None:
    props = request.get("properties", {})
    sheet = ctx.book.sheet_by_id(props.get("sheetId", 0))
    mask = required_mask(request)
    old_title, old_index = sheet.title, sheet.properties["index"]
    write_masked(sheet.properties, {**props, "sheetId": sheet.id}, mask)
    sheet.properties["sheetId"] = sheet.id
    sheet.properties.setdefault("title", old_title)
    if (
        sheet.title != old_title
        and sum(s.title.casefold() == sheet.title.casefold() for s in ctx.book.sheets) > 1
    ):
        raise BadRequest(f'A sheet with the name "{sheet.title}" already exists. Please enter another name.')
    grid = sheet.properties.setdefault("gridProperties", {})
    if grid.get("rowCount", 1) < 1 or grid.get("columnCount", 1) < 1:
        raise BadRequest("The grid must have at least one row and one column.")
    _move_sheet(ctx.book, sheet, sheet.properties.get("index", old_index))
    sheet.truncate_to_grid()


def _move_sheet(book: Spreadsheet, sheet: Sheet, index: int) -> None:
    book.sheets.remove(sheet)
    book.sheets.insert(min(index, len(book.sheets)), sheet)
    book.reindex()


def _update_cells(ctx: BatchContext, request: dict) -> None:
    mask = required_mask(request)
    if "start" in request:
        start = request["start"]
        sheet = ctx.book.sheet_by_id(start.get("sheetId", 0))
        box = Box(sheet, start.get("rowIndex", 0), None, start.get("columnIndex", 0), None)
    else:
        box = grid_range_box(ctx.book, request.get("range", {}))
    written = set()
    for i, row in enumerate(request.get("rows", [])):
        for j, data in enumerate(row.get("values", [])):
            r, c = box.top + i, box.left + j
            _check_within_requested(box, r, c)
            box.sheet.check_in_grid(r, c)
            _write_cell(box.sheet, r, c, data, mask)
            written.add((r, c))
    if "range" in request:
        _clear_uncovered(box, written, mask)


def _check_within_requested(box: Box, row: int, col: int) -> None:
    if box.bottom is not None and row >= box.bottom:
        raise BadRequest(
            f"Attempting to write row: {row}, beyond the last requested row of: {box.bottom - 1}"
        )
    if box.right is not None and col >= box.right:
        raise BadRequest(
            f"Attempting to write column: {col}, beyond the last requested column of: {box.right - 1}"
        )


def _write_cell(sheet: Sheet, row: int, col: int, data: dict, mask: dict | None, share: bool = False) -> None:
    cell = dict(sheet.cell(row, col))  # stored cells are never mutated: a new dict per write
    write_masked(cell, data, mask, share)
    sheet.store(row, col, cell)


def _clear_uncovered(box: Box, written: set, mask: dict | None) -> None:
    top, bottom, left, right = box.clipped()
    for key, _ in list(box.sheet.cells_in(box)):
        if key not in written:
            _write_cell(box.sheet, key[0], key[1], {}, mask)


def _repeat_cell(ctx: BatchContext, request: dict) -> None:
    mask = required_mask(request)
    box = grid_range_box(ctx.book, request.get("range", {}))
    top, bottom, left, right = box.clipped()
    source = copy.deepcopy(request.get("cell", {}))  # once, shared by every cell of the range
    for r in range(top, bottom):
        for c in range(left, right):
            _write_cell(box.sheet, r, c, source, mask, share=True)


def _grid_range(box: Box, top: int, bottom: int, left: int, right: int) -> dict:
    return {
        "sheetId": box.sheet.id,
        "startRowIndex": top,
        "endRowIndex": bottom,
        "startColumnIndex": left,
        "endColumnIndex": right,
    }


def _intersects(a: dict, b: dict) -> bool:
    return (
        a["startRowIndex"] < b["endRowIndex"]
        and b["startRowIndex"] < a["endRowIndex"]
        and a["startColumnIndex"] < b["endColumnIndex"]
        and b["startColumnIndex"] < a["endColumnIndex"]
    )


def _merge_cells(ctx: BatchContext, request: dict) -> None:
    box = grid_range_box(ctx.book, request.get("range", {}))
    top, bottom, left, right = box.clipped()
    kind = request.get("mergeType", "MERGE_ALL")
    if kind == "MERGE_ROWS":
        merges = [_grid_range(box, r, r + 1, left, right) for r in range(top, bottom)]
    elif kind == "MERGE_COLUMNS":
        merges = [_grid_range(box, top, bottom, c, c + 1) for c in range(left, right)]
    else:
        merges = [_grid_range(box, top, bottom, left, right)]
    for merge in merges:
        box.sheet.merges = [m for m in box.sheet.merges if not _intersects(m, merge)]
        box.sheet.merges.append(merge)
        _keep_only_anchor_value(box.sheet, merge)


def _keep_only_anchor_value(sheet: Sheet, merge: dict) -> None:
    """Sheets keeps only the top-left value of merged cells."""
    anchor = (merge["startRowIndex"], merge["startColumnIndex"])
    for r in range(merge["startRowIndex"], merge["endRowIndex"]):
        for c in range(merge["startColumnIndex"], merge["endColumnIndex"]):
            if (r, c) != anchor:
                sheet.set_value(r, c, {})


def _unmerge_cells(ctx: BatchContext, request: dict) -> None:
    box = grid_range_box(ctx.book, request.get("range", {}))
    area = _grid_range(box, *box.clipped())
    box.sheet.merges = [m for m in box.sheet.merges if not _intersects(m, area)]


def _update_dimension_properties(ctx: BatchContext, request: dict) -> None:
    mask = required_mask(request)
    span = request.get("range", {})
    sheet = ctx.book.sheet_by_id(span.get("sheetId", 0))
    rows = span.get("dimension") == "ROWS"
    meta = sheet.row_meta if rows else sheet.column_meta
    end = span.get("endIndex", sheet.row_count if rows else sheet.column_count)
    for index in range(span.get("startIndex", 0), end):
        entry = meta.setdefault(index, {})
        write_masked(entry, request.get("properties", {}), mask)


def _set_data_validation(ctx: BatchContext, request: dict) -> None:
    box = grid_range_box(ctx.book, request.get("range", {}))
    top, bottom, left, right = box.clipped()
    rule = request.get("rule")
    for r in range(top, bottom):
        for c in range(left, right):
            cell = dict(box.sheet.cell(r, c))
            if rule:
                cell["dataValidation"] = copy.deepcopy(rule)
            else:
                cell.pop("dataValidation", None)
            box.sheet.store(r, c, cell)


def _add_protected_range(ctx: BatchContext, request: dict) -> dict:
    protected = copy.deepcopy(request.get("protectedRange", {}))
    sheet = ctx.book.sheet_by_id(protected.get("range", {}).get("sheetId", 0))
    protected.setdefault("protectedRangeId", secrets.randbelow(2**31 - 1) + 1)
    protected.setdefault("range", {"sheetId": sheet.id})
    if not protected.get("warningOnly"):
        users = protected.setdefault("editors", {}).setdefault("users", [])
        if ctx.principal not in users:
            users.append(ctx.principal)
    protected["requestingUserCanEdit"] = True
    sheet.protected_ranges.append(protected)
    return {"addProtectedRange": {"protectedRange": copy.deepcopy(protected)}}


def _find_protected(book: Spreadsheet, protected_id: int) -> tuple[Sheet, dict]:
    for sheet in book.sheets:
        for protected in sheet.protected_ranges:
            if protected["protectedRangeId"] == protected_id:
                return sheet, protected
    raise BadRequest(f"No protected range with id: {protected_id}")


def _update_protected_range(ctx: BatchContext, request: dict) -> None:
    changes = request.get("protectedRange", {})
    _, protected = _find_protected(ctx.book, changes.get("protectedRangeId"))
    write_masked(protected, {**protected, **changes}, required_mask(request))


def _delete_protected_range(ctx: BatchContext, request: dict) -> None:
    sheet, protected = _find_protected(ctx.book, request.get("protectedRangeId"))
    sheet.protected_ranges.remove(protected)


def _add_named_range(ctx: BatchContext, request: dict) -> dict:
    named = copy.deepcopy(request.get("namedRange", {}))
    name = named.get("name", "")
    if not _PLAIN_TITLE_RE.match(name) or re.match(r"^[A-Za-z]{1,3}\d+$", name):
        raise BadRequest(f"The name {name!r} is not a valid range name.")
    if any(n["name"].casefold() == name.casefold() for n in ctx.book.named_ranges):
        raise BadRequest(f"A named range with the name {name!r} already exists.")
    grid_range_box(ctx.book, named.get("range", {}))
    named.setdefault("namedRangeId", secrets.token_hex(6))
    ctx.book.named_ranges.append(named)
    return {"addNamedRange": {"namedRange": copy.deepcopy(named)}}


def _delete_named_range(ctx: BatchContext, request: dict) -> None:
    before = len(ctx.book.named_ranges)
    ctx.book.named_ranges = [
        n for n in ctx.book.named_ranges if n["namedRangeId"] != request.get("namedRangeId")
    ]
    if len(ctx.book.named_ranges) == before:
        raise BadRequest(f"No named range with id: {request.get('namedRangeId')}")


def _update_spreadsheet_properties(ctx: BatchContext, request: dict) -> None:
    write_masked(ctx.book.properties, request.get("properties", {}), required_mask(request))
    ctx.book.properties.setdefault("title", "Untitled spreadsheet")


def _append_dimension(ctx: BatchContext, request: dict) -> None:
    sheet = ctx.book.sheet_by_id(request.get("sheetId", 0))
    key = "rowCount" if request.get("dimension") == "ROWS" else "columnCount"
    sheet.properties["gridProperties"][key] += int(request.get("length", 0))


def _add_conditional_format_rule(ctx: BatchContext, request: dict) -> None:
    rule = copy.deepcopy(request.get("rule", {}))
    ranges = rule.get("ranges") or [{}]
    sheet = ctx.book.sheet_by_id(ranges[0].get("sheetId", 0))
    sheet.conditional_formats.insert(request.get("index", len(sheet.conditional_formats)), rule)


BATCH_HANDLERS: dict[str, Callable[[BatchContext, dict], dict | None]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateCells": _update_cells,
    "repeatCell": _repeat_cell,
    "mergeCells": _merge_cells,
    "unmergeCells": _unmerge_cells,
    "updateDimensionProperties": _update_dimension_properties,
    "setDataValidation": _set_data_validation,
    "addProtectedRange": _add_protected_range,
    "updateProtectedRange": _update_protected_range,
    "deleteProtectedRange": _delete_protected_range,
    "addNamedRange": _add_named_range,
    "deleteNamedRange": _delete_named_range,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "appendDimension": _append_dimension,
    "addConditionalFormatRule": _add_conditional_format_rule,
}


# ---------------------------------------------------------------------------------------------
# Drive model and the files.list query language
# ---------------------------------------------------------------------------------------------


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    created_time: str
    modified_time: str
    drive_id: str | None = None
    owner: str | None = None
    app_properties: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    trashed: bool = False
    permissions: list[dict] = field(default_factory=list)
    sequence: int = 0

    def to_json(self) -> dict:
        result: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "createdTime": self.created_time,
            "modifiedTime": self.modified_time,
            "trashed": self.trashed,
            "webViewLink": f"https://docs.google.com/spreadsheets/d/{self.id}/edit"
            if self.mime_type == MIME_SPREADSHEET
            else f"https://drive.google.com/drive/folders/{self.id}",
        }
        if self.app_properties:
            result["appProperties"] = dict(self.app_properties)
        if self.properties:
            result["properties"] = dict(self.properties)
        if self.description is not None:
            result["description"] = self.description
        if self.drive_id:
            result["driveId"] = self.drive_id
        if self.owner:
            result["owners"] = [{"kind": "drive#user", "emailAddress": self.owner, "displayName": self.owner}]
        return result


DEFAULT_FILE_FIELDS = {"kind": {}, "id": {}, "name": {}, "mimeType": {}}
DEFAULT_PERMISSION_FIELDS = {"kind": {}, "id": {}, "type": {}, "role": {}}

_Q_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\")|(?P<op>!=|<=|>=|=|<|>|[(){}])|(?P<word>[A-Za-z_][\w.]*))"
)
Predicate = Callable[[DriveFile], bool]


def _q_tokens(text: str) -> list[tuple[str, str]]:
    tokens, i = [], 0
    while i < len(text.rstrip()):
        match = _Q_TOKEN_RE.match(text, i)
        if not match:
            raise ValueError(text)
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        i = match.end()
    return tokens


class DriveQuery:
    """Recursive-descent parser of Drive's ``q`` into a predicate on files."""

    def __init__(self, text: str) -> None:
        self.tokens = _q_tokens(text)
        self.pos = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens")
        return predicate

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def _take(self, kind: str | None = None, value: str | None = None) -> str:
        token_kind, token_value = self._peek()
        if token_kind == "end" or (kind and token_kind != kind):
            raise ValueError(f"expected {kind} {value}")
        if value is not None and token_value.lower() != value:
            raise ValueError(f"expected {value}")
        self.pos += 1
        return token_value

    def _keyword(self, word: str) -> bool:
        kind, value = self._peek()
        return kind == "word" and value.lower() == word

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("or"):
            self._take()
            parts.append(self._and())
        return lambda f: any(p(f) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._keyword("and"):
            self._take()
            parts.append(self._not())
        return lambda f: all(p(f) for p in parts)

    def _not(self) -> Predicate:
        if self._keyword("not"):
            self._take()
            inner = self._not()
            return lambda f: not inner(f)
        return self._atom()

    def _atom(self) -> Predicate:
        kind, _ = self._peek()
        if (kind, self._peek()[1]) == ("op", "("):
            self._take()
            inner = self._or()
            self._take("op", ")")
            return inner
        if kind == "str":
            value = self._take()
            self._take("word", "in")
            return _membership(self._take("word"), value)
        name = self._take("word")
        if self._keyword("has"):
            return self._has(name)
        if self._keyword("in"):
            self._take()
            return _membership(name, self._take("str"))
        operator = self._take("word", "contains") if self._keyword("contains") else self._take("op")
        kind, _ = self._peek()
        return _comparison(name, operator, self._take(kind if kind in ("str", "word") else "str"))

    def _has(self, name: str) -> Predicate:
        self._take()
        self._take("op", "{")
        self._take("word", "key")
        self._take("op", "=")
        key = self._take("str")
        self._take("word", "and")
        self._take("word", "value")
        self._take("op", "=")
        value = self._take("str")
        self._take("op", "}")
        if name not in ("appProperties", "properties"):
            raise ValueError(name)
        return lambda f: (f.app_properties if name == "appProperties" else f.properties).get(key) == value


def _membership(field_name: str, value: str) -> Predicate:
    if field_name != "parents":
        raise ValueError(field_name)
    return lambda f: value in f.parents


def _comparison(name: str, operator: str, value: str) -> Predicate:
    if name in ("trashed", "starred"):
        if value.lower() not in ("true", "false") or operator not in ("=", "!="):
            raise ValueError(value)
        wanted = value.lower() == "true"
        return lambda f: (getattr(f, name, False) == wanted) == (operator == "=")
    if name in ("modifiedTime", "createdTime"):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        attr = "modified_time" if name == "modifiedTime" else "created_time"
        return lambda f: _compare(
            datetime.fromisoformat(getattr(f, attr).replace("Z", "+00:00")), operator, moment
        )
    if name in ("name", "mimeType", "fullText"):
        attr = "mime_type" if name == "mimeType" else "name"
        return lambda f: _compare(getattr(f, attr), operator, value)
    raise ValueError(name)


def _compare(left: Any, operator: str, right: Any) -> bool:
    if operator == "contains":
        return isinstance(left, str) and right.casefold() in left.casefold()
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[operator]


def _order_key(order_by: str | None) -> Callable[[DriveFile], Any] | None:
    if not order_by:
        return None
    keys = []
    for part in order_by.split(","):
        words = part.split()
        attr = {"name": "name", "modifiedTime": "modified_time", "createdTime": "created_time"}.get(words[0])
        if attr is None:
            raise ValueError(order_by)
        keys.append((attr, len(words) > 1 and words[1].lower() == "desc"))
    return lambda f: tuple(_Reversible(getattr(f, attr), desc) for attr, desc in keys)


class _Reversible:
    def __init__(self, value: Any, reverse: bool) -> None:
        self.value, self.reverse = value, reverse

    def __lt__(self, other: _Reversible) -> bool:
        return (other.value < self.value) if self.reverse else (self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversible) and self.value == other.value


# ---------------------------------------------------------------------------------------------
# Identities, calls, faults
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    principal: str
    scopes: frozenset[str]
    service_account: bool


@dataclass
class UserAccount:
    email: str
    client_id: str
    client_secret: str
    scopes: frozenset[str]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    kind: str
    status: int | None = None
    principal: str | None = None
    fault: str | None = None


@dataclass
class Fault:
    kind: str
    remaining: int
    match: re.Pattern | None
    hold: float
    applied: bool

    def applies_to(self, path: str) -> bool:
        if self.match is None:
            return path != "/token"
        return bool(self.match.search(path))


@dataclass
class IncomingRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: Any

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").lower() == "true"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    kind: str
    api: str
    scopes: frozenset[str] | None
    handler: str


def _route(method: str, pattern: str, kind: str, scopes: frozenset[str] | None, handler: str) -> Route:
    api = kind.split(".")[0]
    return Route(method, re.compile(pattern + "$"), kind, api, scopes, handler)


_FILE = r"/drive/v3/files/(?P<file_id>[^/]+)"
_BOOK = r"/v4/spreadsheets/(?P<sid>[^/:]+)"
ROUTES = [
    _route("POST", r"/token", "oauth.token", None, "_token"),
    _route("POST", r"/drive/v3/files", "drive.files.create", DRIVE_WRITE_SCOPES, "_drive_create"),
    _route("GET", r"/drive/v3/files", "drive.files.list", DRIVE_READ_SCOPES, "_drive_list"),
    _route("GET", _FILE, "drive.files.get", DRIVE_READ_SCOPES, "_drive_get"),
    _route("PATCH", _FILE, "drive.files.update", DRIVE_WRITE_SCOPES, "_drive_update"),
    _route("DELETE", _FILE, "drive.files.delete", DRIVE_WRITE_SCOPES, "_drive_delete"),
    _route(
        "POST", _FILE + "/permissions", "drive.permissions.create", DRIVE_WRITE_SCOPES, "_permission_create"
    ),
    _route("GET", _FILE + "/permissions", "drive.permissions.list", DRIVE_READ_SCOPES, "_permission_list"),
    _route(
        "DELETE",
        _FILE + r"/permissions/(?P<permission_id>[^/]+)",
        "drive.permissions.delete",
        DRIVE_WRITE_SCOPES,
        "_permission_delete",
    ),
    _route("POST", r"/v4/spreadsheets", "sheets.spreadsheets.create", SHEETS_WRITE_SCOPES, "_sheets_create"),
    _route("GET", _BOOK, "sheets.spreadsheets.get", SHEETS_READ_SCOPES, "_sheets_get"),
    _route(
        "POST",
        _BOOK + ":batchUpdate",
        "sheets.spreadsheets.batchUpdate",
        SHEETS_WRITE_SCOPES,
        "_batch_update",
    ),
    _route(
        "GET", _BOOK + "/values:batchGet", "sheets.values.batchGet", SHEETS_READ_SCOPES, "_values_batch_get"
    ),
    _route(
        "POST",
        _BOOK + "/values:batchUpdate",
        "sheets.values.batchUpdate",
        SHEETS_WRITE_SCOPES,
        "_values_batch_update",
    ),
    _route(
        "POST",
        _BOOK + "/values:batchClear",
        "sheets.values.batchClear",
        SHEETS_WRITE_SCOPES,
        "_values_batch_clear",
    ),
    _route(
        "POST",
        _BOOK + r"/values/(?P<range>.+):append",
        "sheets.values.append",
        SHEETS_WRITE_SCOPES,
        "_values_append",
    ),
    _route(
        "POST",
        _BOOK + r"/values/(?P<range>.+):clear",
        "sheets.values.clear",
        SHEETS_WRITE_SCOPES,
        "_values_clear",
    ),
    _route("GET", _BOOK + r"/values/(?P<range>.+)", "sheets.values.get", SHEETS_READ_SCOPES, "_values_get"),
    _route(
        "PUT", _BOOK + r"/values/(?P<range>.+)", "sheets.values.update", SHEETS_WRITE_SCOPES, "_values_update"
    ),
]


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        found = route.pattern.match(path)
        if route.method == method and found:
            return route, {key: unquote(value) for key, value in found.groupdict().items()}
    return None, {}


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _new_file_id() -> str:
    return "1" + secrets.token_urlsafe(33)[:43]


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Google's front ends
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid 40 ms stalls
    server: _Server

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeGoogle) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeGoogle:
    """The fake OAuth + Drive v3 + Sheets v4 server. Use ``with FakeGoogle() as fake:``.

    ``clock`` returns the aware "now" used for Drive created/modified times (default
    ``bot.clock.now``); ``latency`` seconds are added to every call (benchmarks).
    """

    def __init__(self, clock: Callable[[], datetime] | None = None, latency: float = 0.0) -> None:
        self.clock = clock or vietnam_now
        self.latency = latency
        self.grantable_scopes: set[str] | None = None
        self.service_accounts_have_quota = False
        self.storage_quota_message = STORAGE_QUOTA_MESSAGE
        self.calls: list[Call] = []
        self.counts: Counter[str] = Counter()
        self.unknown_requests: list[dict] = []
        self.server_errors: list[str] = []
        self.files: dict[str, DriveFile] = {}
        self.books: dict[str, Spreadsheet] = {}
        self._service_accounts: dict[str, ServiceAccountKey] = {}
        self._users: dict[str, UserAccount] = {}
        self._tokens: dict[str, Grant] = {}
        self._faults: list[Fault] = []
        self._sequence = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-google", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # releases held (timeout) and delayed (latency) responses
        self._server.shutdown()
        self._server.close_all_connections()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeGoogle is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    # -- identities -----------------------------------------------------------------------------

    def service_account_info(
        self, client_email: str = "report-bot@fake-project.iam.gserviceaccount.com"
    ) -> dict:
        """Mint (once per email) and register a throwaway service account; returns its JSON."""
        with self._lock:
            if client_email not in self._service_accounts:
                self._service_accounts[client_email] = mint_service_account(self.token_uri, client_email)
            return dict(self._service_accounts[client_email].info)

    def add_user(
        self,
        email: str,
        scopes: Iterable[str] = (SCOPE_SPREADSHEETS, SCOPE_DRIVE),
        client_id: str = "fake-client.apps.googleusercontent.com",
        client_secret: str = "fake-client-secret",
    ) -> dict:
        """A user who consented to ``scopes``; returns authorized-user info for google-auth."""
        refresh_token = "1//fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._users[refresh_token] = UserAccount(email, client_id, client_secret, frozenset(scopes))
        return {
            "type": "authorized_user",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "token_uri": self.token_uri,
        }

    def expire_tokens(self) -> None:
        """Every access token issued so far now answers 401 (clients should refresh)."""
        with self._lock:
            self._tokens.clear()

    # -- Drive setup and inspection -------------------------------------------------------------

    def add_folder(
        self,
        name: str = "Báo cáo",
        *,
        shared_drive: bool = True,
        members: Iterable[str] = (),
        role: str = "writer",
        folder_id: str | None = None,
        parent: str | None = None,
    ) -> str:
        """A folder shared with ``members``; ``shared_drive`` makes it a shared drive's root."""
        with self._lock:
            folder_id = folder_id or _new_file_id()
            parent_file = self.files.get(parent) if parent else None
            drive_id = (
                folder_id if shared_drive and not parent_file else (parent_file and parent_file.drive_id)
            )
            folder = self._new_file(folder_id, name, MIME_FOLDER, [parent] if parent else [], drive_id, None)
            for email in members:
                folder.permissions.append(self._permission("user", role, email))
            return folder_id

    def file(self, file_id: str) -> dict:
        with self._lock:
            return self.files[file_id].to_json()

    def permissions(self, file_id: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self.files[file_id].permissions)

    # -- Sheets inspection ----------------------------------------------------------------------

    def spreadsheet(self, spreadsheet_id: str) -> Spreadsheet:
        return self.books[spreadsheet_id]

    def grid(self, spreadsheet_id: str, tab: str, render: str = "FORMATTED_VALUE") -> list[list]:
        """The whole tab as values.get would return it (trailing empties trimmed)."""
        with self._lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet_titled(tab)
            if sheet is None:
                raise KeyError(tab)
            return sheet.values(sheet.whole(), render, "ROWS")

    def cell(self, spreadsheet_id: str, tab: str, a1: str) -> dict:
        """The stored CellData (userEnteredValue, userEnteredFormat, dataValidation, …)."""
        with self._lock:
            box = self.books[spreadsheet_id].parse_range(f"{quote_title(tab)}!{a1}")
            return copy.deepcopy(box.sheet.cell(box.top, box.left))

    def type_as_user(self, spreadsheet_id: str, tab: str, cells: dict[str, Any]) -> None:
        """What a person typing in the browser leaves behind: each A1 cell's userEnteredValue
        (numbers as numbers, text as text, "=…" as a formula, None clears) and a new
        modifiedTime. The caller decides what the browser parsed (a vi_VN sheet turns a typed
        "1.234" in a number cell into 1234): pass the number or the text accordingly."""
        with self._lock:
            book = self.books[spreadsheet_id]
            for a1, value in cells.items():
                box = book.parse_range(f"{quote_title(tab)}!{a1}")
                if value is None:
                    entered: dict | None = {}
                elif isinstance(value, str) and value.startswith("="):
                    entered = {"formulaValue": value}
                else:
                    entered = entered_value(value, "RAW")
                box.sheet.set_value(box.top, box.left, entered or {})
            self._touch(spreadsheet_id)

    def type_text(self, spreadsheet_id: str, tab: str, cells: dict[str, str]) -> None:
        """Type text into A1 cells as a person in the browser does: parsed in the spreadsheet's
        locale like USER_ENTERED ("12,5%" in vi_VN → 0.125 with a percent format)."""
        with self._lock:
            book = self.books[spreadsheet_id]
            for a1, text in cells.items():
                box = book.parse_range(f"{quote_title(tab)}!{a1}")
                put_entered(box.sheet, box.top, box.left, *entered_cell(text, "USER_ENTERED", book.locale))
            self._touch(spreadsheet_id)

    # -- recording and faults -------------------------------------------------------------------

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.counts.clear()

    def inject(
        self,
        kind: str,
        times: int = 1,
        match: str | None = None,
        hold: float = 2.0,
        applied: bool = False,
    ) -> None:
        """The next ``times`` calls whose path matches regex ``match`` (default: any API call,
        not the token endpoint) fail with ``kind``: "429", "500", "503", "quota" (Drive's 403
        storageQuotaExceeded), "timeout" (hold the answer ``hold`` s, then drop the connection)
        or "drop" (close without answering). ``applied=True`` processes the request first, so
        the change happens but its answer is lost."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        pattern = re.compile(match) if match else None
        with self._lock:
            self._faults.append(Fault(kind, times, pattern, min(hold, MAX_HOLD_SECONDS), applied))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.applies_to(path):
                    fault.remaining -= 1
                    return fault
        return None

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        request = self._read_request(handler)
        route, params = match_route(request.method, request.path)
        call = Call(
            request.method, request.path, request.query, request.body, route.kind if route else "unknown"
        )
        with self._lock:
            self.calls.append(call)
            self.counts[call.kind] += 1
        if self.latency:
            self._stopping.wait(self.latency)
        fault = self._take_fault(request.path)
        call.fault = fault.kind if fault else None
        if fault and not fault.applied:
            return self._fail(handler, fault, route, request, call)
        status, body, headers = self._dispatch(route, params, request, call)
        if fault:
            return self._fail(handler, fault, route, request, call)
        call.status = status
        self._respond(handler, status, body, headers)

    def _read_request(self, handler: _Handler) -> IncomingRequest:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if parts.path == "/token":
            body: Any = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = {"__invalid_json__": raw.decode("utf-8", "replace")}
        query = parse_qs(parts.query, keep_blank_values=True)
        return IncomingRequest(handler.command, parts.path, query, body, handler.headers)

    def _fail(self, handler, fault: Fault, route: Route | None, request: IncomingRequest, call: Call) -> None:
        api = route.api if route else "sheets"
        if fault.kind == "timeout":
            self._stopping.wait(fault.hold)
            return self._drop(handler)
        if fault.kind == "drop":
            return self._drop(handler)
        if fault.kind == "quota":
            error = storage_quota_error(self.storage_quota_message)
        elif fault.kind == "429":
            error = rate_limit_error(api, request.method)
        else:
            error = server_error(api, int(fault.kind))
        call.status = error.status
        self._respond(handler, error.status, error.body, error.headers)

    @staticmethod
    def _drop(handler: _Handler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def _respond(handler: _Handler, status: int, body: Any, headers: dict) -> None:
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            handler.close_connection = True

    def _dispatch(
        self, route: Route | None, params: dict, request: IncomingRequest, call: Call
    ) -> tuple[int, Any, dict]:
        if route is None:
            return (
                404,
                {"error": {"code": 404, "message": f"Not Found: {request.path}", "status": "NOT_FOUND"}},
                {},
            )
        try:
            grant = None if route.api == "oauth" else self._authorize(route, request)
            call.principal = grant.principal if grant else None
            if isinstance(request.body, dict) and "__invalid_json__" in request.body:
                raise sheets_error(400, "Invalid JSON payload received.")
            with self._lock:
                body = getattr(self, route.handler)(request, params, grant)
            return (204 if body is None else 200), body, {}
        except ApiError as error:
            return error.status, error.body, error.headers
        except Exception:  # a bug in the fake: answer 500 and keep the trace for the test
            self.server_errors.append(traceback.format_exc())
            print(self.server_errors[-1], file=sys.stderr)
            return 500, server_error(route.api, 500).body, {}

    def _authorize(self, route: Route, request: IncomingRequest) -> Grant:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None:
            raise unauthenticated_error(route.api)
        if route.scopes and not (grant.scopes & route.scopes):
            raise insufficient_scopes_error(route.api)
        return grant

    def _timestamp(self) -> str:
        moment = self.clock().astimezone(UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- OAuth token endpoint -------------------------------------------------------------------

    def _token(self, request: IncomingRequest, params: dict, grant: None) -> dict:
        form = request.body or {}
        grant_type = form.get("grant_type")
        if grant_type == JWT_BEARER_GRANT:
            email, scopes = self._verify_assertion(form.get("assertion", ""))
            return self._issue(Grant(email, self._granted(scopes), service_account=True))
        if grant_type == "refresh_token":
            user = self._users.get(form.get("refresh_token", ""))
            if user is None or (user.client_id, user.client_secret) != (
                form.get("client_id"),
                form.get("client_secret"),
            ):
                raise oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            requested = set((form.get("scope") or "").split()) or set(user.scopes)
            if not requested <= user.scopes:
                raise oauth_error(400, "invalid_scope", "Bad Request")
            issued = self._issue(Grant(user.email, self._granted(requested), service_account=False))
            return {**issued, "scope": " ".join(sorted(requested))}
        raise oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _granted(self, requested: Iterable[str]) -> frozenset[str]:
        requested = frozenset(requested)
        return requested if self.grantable_scopes is None else requested & frozenset(self.grantable_scopes)

    def _issue(self, grant: Grant) -> dict:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self._tokens[token] = grant
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _verify_assertion(self, assertion: str) -> tuple[str, list[str]]:
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64url_decode(header_b64))
            payload = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(signature_b64)
        except ValueError as exc:
            raise oauth_error(400, "invalid_grant", "Invalid JWT: malformed assertion.") from exc
        account = self._service_accounts.get(payload.get("iss", ""))
        if account is None:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or header.get("kid") != account.key_id:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            signed = f"{header_b64}.{payload_b64}".encode("ascii")
            account.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from exc
        self._check_claims(payload)
        return payload["iss"], payload["scope"].split()

    def _check_claims(self, payload: dict) -> None:
        if payload.get("aud") not in (GOOGLE_TOKEN_URI, self.token_uri):
            raise oauth_error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        lifetime = int(payload.get("exp", 0)) - int(payload.get("iat", 0))
        if not 0 < lifetime <= 3600:
            raise oauth_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        if not payload.get("scope"):
            raise oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")

    # -- Drive helpers --------------------------------------------------------------------------

    def _new_file(
        self, file_id: str, name: str, mime: str, parents: list[str], drive_id: str | None, owner: str | None
    ) -> DriveFile:
        now = self._timestamp()
        self._sequence += 1
        created = DriveFile(file_id, name, mime, parents, now, now, drive_id, owner, sequence=self._sequence)
        if owner:
            created.permissions.append(self._permission("user", "owner", owner))
        self.files[file_id] = created
        return created

    @staticmethod
    def _permission(kind: str, role: str, email: str | None) -> dict:
        permission = {"kind": "drive#permission", "type": kind, "role": role}
        if kind == "anyone":
            permission["id"] = "anyoneWithLink"
        else:
            permission["id"] = str(secrets.randbelow(10**20)).zfill(20)
        if email:
            permission.update(emailAddress=email, displayName=email)
        return permission

    def _role(self, principal: str, drive_file: DriveFile) -> str | None:
        best, node, seen = None, drive_file, set()
        while node and node.id not in seen:
            seen.add(node.id)
            for permission in node.permissions:
                if permission["type"] == "anyone" or permission.get("emailAddress") == principal:
                    if best is None or ROLE_RANK[permission["role"]] > ROLE_RANK[best]:
                        best = permission["role"]
            node = self.files.get(node.parents[0]) if node.parents else None
        return best

    def _visible_file(self, file_id: str, grant: Grant, request: IncomingRequest) -> DriveFile:
        found = self.files.get(file_id)
        if found is None or self._role(grant.principal, found) is None:
            raise file_not_found(file_id)
        if found.drive_id and not request.flag("supportsAllDrives"):
            raise file_not_found(file_id)
        return found

    def _require_writer(self, drive_file: DriveFile, grant: Grant) -> None:
        role = self._role(grant.principal, drive_file)
        if role is None or ROLE_RANK[role] < ROLE_RANK["writer"]:
            raise drive_error(
                403,
                f"The user does not have sufficient permissions for file {drive_file.id}.",
                "insufficientFilePermissions",
            )

    def _file_fields(self, request: IncomingRequest, default: dict) -> dict | None:
        try:
            mask = parse_mask(request.param("fields"))
        except ValueError as exc:
            raise invalid_drive_value("fields") from exc
        return default if request.param("fields") is None else mask

    def _touch(self, file_id: str) -> None:
        if file_id in self.files:
            self.files[file_id].modified_time = self._timestamp()

    # -- Drive files ----------------------------------------------------------------------------

    def _drive_create(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        body = request.body or {}
        parents = body.get("parents") or []
        if len(parents) > 1:
            raise drive_error(
                403, "A shared drive item must have exactly one parent.", "teamDrivesParentLimit"
            )
        parent = self._visible_file(parents[0], grant, request) if parents else None
        if parent is not None:
            if parent.mime_type != MIME_FOLDER:
                raise drive_error(400, "The specified parent is not a folder.", "invalidParent")
            self._require_writer(parent, grant)
        drive_id = parent.drive_id if parent else None
        if drive_id is None and grant.service_account and not self.service_accounts_have_quota:
            raise storage_quota_error(self.storage_quota_message)
        mime = body.get("mimeType") or "application/octet-stream"
        name = body.get("name") or ("Untitled spreadsheet" if mime == MIME_SPREADSHEET else "Untitled")
        created = self._new_file(
            _new_file_id(), name, mime, list(parents), drive_id, None if drive_id else grant.principal
        )
        created.app_properties = {k: str(v) for k, v in (body.get("appProperties") or {}).items()}
        created.properties = {k: str(v) for k, v in (body.get("properties") or {}).items()}
        created.description = body.get("description")
        if mime == MIME_SPREADSHEET:
            self._new_book(created.id, name, [])
        return apply_mask(created.to_json(), self._file_fields(request, DEFAULT_FILE_FIELDS))

    def _drive_list(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        try:
            predicate = (
                DriveQuery(request.param("q") or "").parse() if request.param("q") else (lambda f: True)
            )
            order = _order_key(request.param("orderBy"))
        except (ValueError, KeyError) as exc:
            raise invalid_drive_value("q") from exc
        with_drives = request.flag("supportsAllDrives") and request.flag("includeItemsFromAllDrives")
        matching = [
            f
            for f in sorted(self.files.values(), key=lambda f: f.sequence)
            if self._role(grant.principal, f) and (with_drives or not f.drive_id) and predicate(f)
        ]
        if order:
            matching.sort(key=order)
        return self._page(request, matching)

    def _page(self, request: IncomingRequest, matching: list[DriveFile]) -> dict:
        try:
            size = int(request.param("pageSize") or 100)
            offset = (
                int(_b64url_decode(request.param("pageToken") or "MA").decode())
                if request.param("pageToken")
                else 0
            )
        except ValueError as exc:
            raise invalid_drive_value("pageToken") from exc
        if not 1 <= size <= 1000:
            raise invalid_drive_value("pageSize")
        page = matching[offset : offset + size]
        result: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False}
        if offset + size < len(matching):
            result["nextPageToken"] = (
                base64.urlsafe_b64encode(str(offset + size).encode()).decode().rstrip("=")
            )
        result["files"] = [f.to_json() for f in page]
        mask = self._file_fields(
            request, {"kind": {}, "incompleteSearch": {}, "nextPageToken": {}, "files": DEFAULT_FILE_FIELDS}
        )
        return apply_mask(result, mask)

    def _drive_get(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        found = self._visible_file(params["file_id"], grant, request)
        return apply_mask(found.to_json(), self._file_fields(request, DEFAULT_FILE_FIELDS))

    def _drive_update(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        found = self._visible_file(params["file_id"], grant, request)
        self._require_writer(found, grant)
        body = request.body or {}
        if "name" in body:
            found.name = body["name"]
            if found.id in self.books:
                self.books[found.id].properties["title"] = body["name"]
        for key, attr in (("appProperties", "app_properties"), ("properties", "properties")):
            for name, value in (body.get(key) or {}).items():
                if value is None:
                    getattr(found, attr).pop(name, None)
                else:
                    getattr(found, attr)[name] = str(value)
        if "trashed" in body:
            found.trashed = bool(body["trashed"])
        if "description" in body:
            found.description = body["description"]
        self._move(found, request, grant)
        self._touch(found.id)
        return apply_mask(found.to_json(), self._file_fields(request, DEFAULT_FILE_FIELDS))

    def _move(self, found: DriveFile, request: IncomingRequest, grant: Grant) -> None:
        removed = set((request.param("removeParents") or "").split(",")) - {""}
        added = [p for p in (request.param("addParents") or "").split(",") if p]
        for parent_id in added:
            parent = self._visible_file(parent_id, grant, request)
            self._require_writer(parent, grant)
            if parent.mime_type != MIME_FOLDER:
                raise drive_error(400, "The specified parent is not a folder.", "invalidParent")
            found.drive_id = parent.drive_id
        found.parents = [p for p in found.parents if p not in removed] + added

    def _drive_delete(self, request: IncomingRequest, params: dict, grant: Grant) -> None:
        found = self._visible_file(params["file_id"], grant, request)
        self._require_writer(found, grant)
        del self.files[found.id]
        self.books.pop(found.id, None)

    # -- Drive permissions ----------------------------------------------------------------------

    def _permission_create(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        found = self._visible_file(params["file_id"], grant, request)
        self._require_writer(found, grant)
        body = request.body or {}
        kind, role = body.get("type"), body.get("role")
        if kind not in ("user", "group", "domain", "anyone"):
            raise drive_error(
                400, "The permission type field is required.", "required", location="permission.type"
            )
        if role not in ROLE_RANK:
            raise drive_error(
                400, "The permission role field is required.", "required", location="permission.role"
            )
        if role == "owner" and not request.flag("transferOwnership"):
            raise drive_error(
                403,
                "The transferOwnership parameter must be enabled when the permission role is 'owner'.",
                "forbidden",
            )
        email = body.get("emailAddress") or body.get("domain")
        if kind in ("user", "group") and not email:
            raise drive_error(400, "The permission emailAddress field is required.", "required")
        permission = self._permission(kind, role, email)
        found.permissions.append(permission)
        return apply_mask(permission, self._file_fields(request, DEFAULT_PERMISSION_FIELDS))

    def _permission_list(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        found = self._visible_file(params["file_id"], grant, request)
        result = {"kind": "drive#permissionList", "permissions": copy.deepcopy(found.permissions)}
        return apply_mask(
            result, self._file_fields(request, {"kind": {}, "permissions": DEFAULT_PERMISSION_FIELDS})
        )

    def _permission_delete(self, request: IncomingRequest, params: dict, grant: Grant) -> None:
        found = self._visible_file(params["file_id"], grant, request)
        self._require_writer(found, grant)
        kept = [p for p in found.permissions if p["id"] != params["permission_id"]]
        if len(kept) == len(found.permissions):
            raise drive_error(
                404, f"Permission not found: {params['permission_id']}.", "notFound", location="permissionId"
            )
        found.permissions = kept

    # -- Sheets: spreadsheets -------------------------------------------------------------------

    def _new_book(self, spreadsheet_id: str, title: str, sheets: list[dict]) -> Spreadsheet:
        book = Spreadsheet(spreadsheet_id, title)
        for sheet in sheets or [{"properties": {"title": "Sheet1"}}]:
            book.add_sheet(sheet.get("properties", {}))
        self.books[spreadsheet_id] = book
        return book

    def _book(self, spreadsheet_id: str, grant: Grant, write: bool) -> Spreadsheet:
        book = self.books.get(spreadsheet_id)
        if book is None:
            raise sheets_error(404, "Requested entity was not found.")
        role = self._role(grant.principal, self.files[spreadsheet_id])
        if role is None or (write and ROLE_RANK[role] < ROLE_RANK["writer"]):
            raise sheets_error(403, "The caller does not have permission")
        return book

    def _sheets_create(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        body = request.body or {}
        title = (body.get("properties") or {}).get("title") or "Untitled spreadsheet"
        created = self._new_file(_new_file_id(), title, MIME_SPREADSHEET, [], None, grant.principal)
        try:
            book = self._new_book(created.id, title, body.get("sheets") or [])
        except BadRequest as exc:
            del self.files[created.id]
            raise sheets_error(400, str(exc)) from exc
        book.properties.update({k: v for k, v in (body.get("properties") or {}).items() if k != "title"})
        return book.to_json(False, [])

    def _sheets_get(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=False)
        result = book.to_json(request.flag("includeGridData"), request.query.get("ranges", []))
        try:
            return apply_mask(result, parse_mask(request.param("fields")))
        except ValueError as exc:
            raise sheets_error(400, f"Invalid field selection {request.param('fields')}") from exc

    def _batch_update(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=True)
        body = request.body or {}
        requests_ = body.get("requests") or []
        if not requests_:
            raise sheets_error(400, "Must specify at least one request.")
        replies = self._atomically(book, lambda: self._apply_requests(book, requests_, grant))
        self.files[book.id].name = book.properties["title"]
        self._touch(book.id)
        result: dict[str, Any] = {"spreadsheetId": book.id, "replies": replies}
        if body.get("includeSpreadsheetInResponse"):
            result["updatedSpreadsheet"] = book.to_json(bool(body.get("responseIncludeGridData")), [])
        return result

    @staticmethod
    def _atomically(book: Spreadsheet, change: Callable[[], Any]) -> Any:
        """Google applies a batch entirely or not at all."""
        saved = book.snapshot()
        try:
            return change()
        except BaseException:
            book.restore(saved)
            raise

    def _apply_requests(self, book: Spreadsheet, requests_: list[dict], grant: Grant) -> list[dict]:
        ctx, replies = BatchContext(book, grant.principal), []
        for index, item in enumerate(requests_):
            if not isinstance(item, dict) or len(item) != 1:
                raise sheets_error(400, f"Invalid requests[{index}]: exactly one request kind must be set.")
            ((kind, payload),) = item.items()
            handler = BATCH_HANDLERS.get(kind)
            if handler is None:
                self.unknown_requests.append({"spreadsheetId": book.id, "kind": kind, "request": payload})
                replies.append({})
                continue
            try:
                replies.append(handler(ctx, payload or {}) or {})
            except BadRequest as exc:
                raise sheets_error(400, f"Invalid requests[{index}].{kind}: {exc}") from exc
        return replies

    # -- Sheets: values -------------------------------------------------------------------------

    @staticmethod
    def _value_range(book: Spreadsheet, text: str, render: str, major: str) -> dict:
        box = book.parse_range(text)
        if box.top >= box.sheet.row_count or box.left >= box.sheet.column_count:
            box.sheet.check_in_grid(box.top, box.left)
        result = {"range": box.a1(), "majorDimension": major}
        values = box.sheet.values(box, render, major)
        if values:
            result["values"] = values
        return result

    def _values_get(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=False)
        render = request.param("valueRenderOption") or "FORMATTED_VALUE"
        return self._value_range(book, params["range"], render, request.param("majorDimension") or "ROWS")

    def _values_batch_get(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=False)
        render = request.param("valueRenderOption") or "FORMATTED_VALUE"
        major = request.param("majorDimension") or "ROWS"
        ranges = request.query.get("ranges", [])
        result: dict[str, Any] = {"spreadsheetId": book.id}
        if ranges:
            result["valueRanges"] = [self._value_range(book, text, render, major) for text in ranges]
        return result

    def _write_values(self, book: Spreadsheet, data: dict, input_option: str | None, response: dict) -> dict:
        if input_option not in ("RAW", "USER_ENTERED"):
            raise sheets_error(
                400, f"Invalid valueInputOption: {input_option or 'INPUT_VALUE_OPTION_UNSPECIFIED'}"
            )
        box = book.parse_range(data.get("range") or "")
        if box.single_cell:
            box = Box(box.sheet, box.top, None, box.left, None)
        rows = data.get("values") or []
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise sheets_error(400, "Invalid value at 'data.values': expected a list of lists")
        if data.get("majorDimension") == "COLUMNS":
            width = max((len(column) for column in rows), default=0)
            rows = [[column[i] if i < len(column) else None for column in rows] for i in range(width)]
        return self._put_rows(box, rows, input_option, book.id, response, book.locale)

    def _put_rows(
        self,
        box: Box,
        rows: list[list],
        input_option: str,
        book_id: str,
        response: dict,
        locale: str = "en_US",
    ) -> dict:
        written: set[tuple[int, int]] = set()
        for i, row in enumerate(rows):
            for j, raw in enumerate(row):
                r, c = box.top + i, box.left + j
                self._check_write_target(box, r, c)
                try:
                    entered = entered_cell(raw, input_option, locale)
                except TypeError as exc:
                    raise sheets_error(400, f"Invalid values[{i}][{j}]: {json.dumps(raw)}") from exc
                if entered is not None:
                    put_entered(box.sheet, r, c, *entered)
                    written.add((r, c))
        height, width = len(rows), max((len(row) for row in rows), default=0)
        result = {"spreadsheetId": book_id}
        if written:
            result.update(
                updatedRange=a1_label(box.sheet.title, box.top, box.top + height, box.left, box.left + width),
                updatedRows=len({r for r, _ in written}),
                updatedColumns=len({c for _, c in written}),
                updatedCells=len(written),
            )
            if response.get("includeValuesInResponse"):
                shown = Box(box.sheet, box.top, box.top + height, box.left, box.left + width)
                render = response.get("responseValueRenderOption") or "FORMATTED_VALUE"
                result["updatedData"] = {
                    "range": shown.a1(),
                    "majorDimension": "ROWS",
                    "values": box.sheet.values(shown, render, "ROWS"),
                }
        return result

    @staticmethod
    def _check_write_target(box: Box, row: int, col: int) -> None:
        if box.bottom is not None and row >= box.bottom:
            raise sheets_error(
                400, f"Requested writing within range [{box.a1()}], but tried writing to row [{row + 1}]"
            )
        if box.right is not None and col >= box.right:
            raise sheets_error(
                400,
                f"Requested writing within range [{box.a1()}], but tried writing to column [{column_letters(col)}]",
            )
        box.sheet.check_in_grid(row, col)

    def _values_update(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=True)
        data = {**(request.body or {}), "range": params["range"]}
        options = {k: request.param(k) for k in ("includeValuesInResponse", "responseValueRenderOption")}
        options["includeValuesInResponse"] = request.flag("includeValuesInResponse")
        result = self._atomically(
            book, lambda: self._write_values(book, data, request.param("valueInputOption"), options)
        )
        self._touch(book.id)
        return result

    def _values_batch_update(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=True)
        body = request.body or {}
        data = body.get("data") or []
        responses = self._atomically(
            book,
            lambda: [self._write_values(book, item, body.get("valueInputOption"), body) for item in data],
        )
        self._touch(book.id)
        updated = [r for r in responses if "updatedRange" in r]
        return {
            "spreadsheetId": book.id,
            "totalUpdatedRows": sum(r["updatedRows"] for r in updated),
            "totalUpdatedColumns": sum(r["updatedColumns"] for r in updated),
            "totalUpdatedCells": sum(r["updatedCells"] for r in updated),
            "totalUpdatedSheets": len({split_sheet_name(r["updatedRange"])[0] for r in updated}),
            "responses": responses,
        }

    def _values_append(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=True)
        box = book.parse_range(params["range"])
        if box.single_cell:
            box = Box(box.sheet, box.top, None, box.left, None)
        rows = (request.body or {}).get("values") or []
        start, table_right = self._find_table_end(box)
        if request.param("insertDataOption") == "INSERT_ROWS":
            box.sheet.insert_rows(start, len(rows))
        overflow = start + len(rows) - box.sheet.row_count
        if overflow > 0:
            box.sheet.properties["gridProperties"]["rowCount"] += overflow
        target = Box(box.sheet, start, None, box.left, None)
        options = {"includeValuesInResponse": request.flag("includeValuesInResponse")}
        updates = self._atomically(
            book,
            lambda: self._put_rows(
                target, rows, request.param("valueInputOption") or "", book.id, options, book.locale
            ),
        )
        self._touch(book.id)
        result = {"spreadsheetId": book.id, "updates": updates}
        if start > box.top:
            result["tableRange"] = a1_label(box.sheet.title, box.top, start, box.left, table_right)
        return result

    @staticmethod
    def _find_table_end(box: Box) -> tuple[int, int]:
        """(first free row after the data in the range's columns, right edge of that data)."""
        used = [key for key, data in box.sheet.cells_in(box) if data.get("userEnteredValue")]
        if not used:
            return box.top, box.left + 1
        return max(r for r, _ in used) + 1, max(c for _, c in used) + 1

    def _values_clear(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=True)
        box = book.parse_range(params["range"])
        self._clear(box)
        self._touch(book.id)
        return {"spreadsheetId": book.id, "clearedRange": box.a1()}

    @staticmethod
    def _clear(box: Box) -> None:
        for (r, c), _ in list(box.sheet.cells_in(box)):
            box.sheet.set_value(r, c, {})

    def _values_batch_clear(self, request: IncomingRequest, params: dict, grant: Grant) -> dict:
        book = self._book(params["sid"], grant, write=True)
        boxes = [book.parse_range(text) for text in (request.body or {}).get("ranges", [])]
        for box in boxes:
            self._clear(box)
        self._touch(book.id)
        return {"spreadsheetId": book.id, "clearedRanges": [box.a1() for box in boxes]}


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    """A started FakeGoogle, stopped after the test (import it in a conftest to use it)."""
    with FakeGoogle() as fake:
        yield fake
