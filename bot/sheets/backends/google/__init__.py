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

from bot.sheets.backends.google.backend import GoogleBackend
from bot.sheets.backends.google.credentials import SCOPES, Identity, load_identity
from bot.sheets.backends.google.session import (
    REQUEST_TIMEOUT,
    GoogleApiSession,
    NoQuota,
    Quota,
    RetryPolicy,
    gspread_client,
    rewrite_google_url,
)
from bot.sheets.backends.google.sheet_requests import parse_where, tab_sheet_id

__all__ = [
    "REQUEST_TIMEOUT",
    "SCOPES",
    "GoogleApiSession",
    "GoogleBackend",
    "Identity",
    "NoQuota",
    "Quota",
    "RetryPolicy",
    "gspread_client",
    "load_identity",
    "parse_where",
    "rewrite_google_url",
    "tab_sheet_id",
]
