"""The Google fake speaks well enough for the real google-auth + gspread 6.2.1 clients."""

from __future__ import annotations

from datetime import datetime, timedelta

import gspread
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from gspread.urls import DRIVE_FILES_API_V3_URL

from bot.clock import TZ
from tests.fakes.google import (
    MIME_SPREADSHEET,
    SCOPE_DRIVE,
    SCOPE_SPREADSHEETS,
    FakeGoogle,
    gspread_client,
)
from tests.fakes.google_keys import mint_service_account

SCOPES = [SCOPE_SPREADSHEETS, SCOPE_DRIVE]
BOT = "report-bot@fake-project.iam.gserviceaccount.com"


class ManualClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 3, 3, 8, 0, tzinfo=TZ))


@pytest.fixture
def fake(clock: ManualClock):
    with FakeGoogle(clock=clock) as server:
        yield server
    assert server.server_errors == []


def bot_credentials(fake: FakeGoogle, scopes=SCOPES):
    return service_account.Credentials.from_service_account_info(
        fake.service_account_info(BOT), scopes=scopes
    )


@pytest.fixture
def client(fake: FakeGoogle) -> gspread.Client:
    return gspread_client(bot_credentials(fake), base_url=fake.base_url, timeout=5)


@pytest.fixture
def folder(fake: FakeGoogle) -> str:
    return fake.add_folder("Báo cáo CCHC 2025", shared_drive=True, members=[BOT])


def create_in_folder(client: gspread.Client, folder: str, name: str, unit: str = "so-noi-vu") -> str:
    response = client.http_client.request(
        "post",
        DRIVE_FILES_API_V3_URL,
        params={"supportsAllDrives": True, "fields": "id"},
        json={
            "name": name,
            "mimeType": MIME_SPREADSHEET,
            "parents": [folder],
            "appProperties": {"unit": unit},
        },
    )
    return response.json()["id"]


def test_it_issues_a_token_for_a_correctly_signed_service_account_jwt(fake):
    credentials = bot_credentials(fake)

    credentials.refresh(Request())

    assert credentials.token.startswith("ya29.")
    assert fake.counts["oauth.token"] == 1


def test_it_rejects_a_jwt_signed_with_a_key_it_does_not_know(fake):
    genuine = fake.service_account_info(BOT)
    forged = mint_service_account(fake.token_uri, BOT, key_slot=1).info
    forged["private_key_id"] = genuine["private_key_id"]
    credentials = service_account.Credentials.from_service_account_info(forged, scopes=SCOPES)

    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())


def test_it_accepts_a_users_refresh_token_login_and_lets_the_user_create_in_my_drive(fake):
    info = fake.add_user("chuyenvien@sonoivu.gov.vn")
    credentials = user_credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)
    client = gspread_client(credentials, base_url=fake.base_url, timeout=5)

    spreadsheet = client.create("Tổng hợp của tôi")

    assert fake.file(spreadsheet.id)["owners"][0]["emailAddress"] == "chuyenvien@sonoivu.gov.vn"
    assert fake.counts["oauth.token"] == 1


def test_it_creates_a_spreadsheet_through_drive_that_sheets_then_opens(fake, client, folder):
    spreadsheet_id = create_in_folder(client, folder, "Báo cáo tháng 3 - Sở Nội vụ")

    spreadsheet = client.open_by_key(spreadsheet_id)

    assert spreadsheet.title == "Báo cáo tháng 3 - Sở Nội vụ"
    assert [ws.title for ws in spreadsheet.worksheets()] == ["Sheet1"]
    stored = fake.file(spreadsheet_id)
    assert stored["parents"] == [folder]
    assert stored["appProperties"] == {"unit": "so-noi-vu"}
    assert stored["driveId"] == folder


def test_it_applies_add_sheet_and_update_cells_in_one_batch_update(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    bold = {"textFormat": {"bold": True}}
    row = [
        {"userEnteredValue": {"stringValue": "Sở Nội vụ"}, "userEnteredFormat": bold},
        {"userEnteredValue": {"numberValue": 12}},
        {"userEnteredValue": {"boolValue": True}},
        {"userEnteredValue": {"formulaValue": "=B1*2"}},
    ]

    reply = spreadsheet.batch_update(
        {
            "requests": [
                {"addSheet": {"properties": {"sheetId": 7, "title": "Biểu 1"}}},
                {
                    "updateCells": {
                        "start": {"sheetId": 7, "rowIndex": 0, "columnIndex": 0},
                        "rows": [{"values": row}],
                        "fields": "userEnteredValue,userEnteredFormat",
                    }
                },
            ]
        }
    )

    assert reply["replies"][0]["addSheet"]["properties"]["title"] == "Biểu 1"
    assert fake.grid(spreadsheet.id, "Biểu 1") == [["Sở Nội vụ", "12", "TRUE"]]
    assert fake.grid(spreadsheet.id, "Biểu 1", render="FORMULA") == [["Sở Nội vụ", 12, True, "=B1*2"]]
    assert fake.cell(spreadsheet.id, "Biểu 1", "A1")["userEnteredFormat"] == bold
    assert fake.counts["sheets.spreadsheets.batchUpdate"] == 1


def test_it_writes_and_reads_many_ranges_with_one_call_each(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    spreadsheet.batch_update({"requests": [{"addSheet": {"properties": {"title": "Biểu 2"}}}]})
    fake.reset_calls()

    spreadsheet.values_batch_update(
        {
            "valueInputOption": "RAW",
            "data": [
                {
                    "range": "'Sheet1'!A1:C3",
                    "values": [["Đơn vị", "Số TTHC", ""], ["Sở Tư pháp", 4, ""], ["", "", ""]],
                },
                {"range": "'Biểu 2'!B2", "values": [["=SUM(1,2)"]]},
            ],
        }
    )
    answer = spreadsheet.values_batch_get(
        ["'Sheet1'!A1:Z200", "'Biểu 2'"],
        params={"valueRenderOption": "UNFORMATTED_VALUE", "majorDimension": "ROWS"},
    )

    first, second = answer["valueRanges"]
    assert first["range"] == "Sheet1!A1:Z200"
    assert first["values"] == [["Đơn vị", "Số TTHC"], ["Sở Tư pháp", 4]]
    assert second["values"] == [[], ["", "=SUM(1,2)"]]
    assert fake.counts["sheets.values.batchUpdate"] == 1
    assert fake.counts["sheets.values.batchGet"] == 1
    assert len(fake.calls) == 2


def test_it_serves_gspreads_naive_single_range_methods(fake, client, folder):
    worksheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo")).sheet1

    worksheet.update([["Tên", "Điểm"], ["Sở Y tế", 9.5]], "A1")
    worksheet.update_acell("C3", "Đã nộp")

    assert worksheet.get("A1:B2") == [["Tên", "Điểm"], ["Sở Y tế", "9.5"]]
    assert worksheet.acell("C3").value == "Đã nộp"
    assert fake.counts["sheets.values.update"] == 2
    assert fake.counts["sheets.values.get"] == 2


def test_it_pages_a_folder_listing_with_more_files_than_the_page_size(fake, client, folder):
    for month in range(1, 6):
        create_in_folder(client, folder, f"Báo cáo tháng {month}", unit="so-tu-phap")
    create_in_folder(client, folder, "Báo cáo khác", unit="so-y-te")
    fake.reset_calls()

    names, token = [], None
    while True:
        params = {
            "q": f"'{folder}' in parents and trashed = false and appProperties has "
            "{ key='unit' and value='so-tu-phap' }",
            "pageSize": 2,
            "fields": "nextPageToken,files(id,name,modifiedTime)",
            "supportsAllDrives": True,
            "includeItemsFromAllDrives": True,
        }
        if token:
            params["pageToken"] = token
        page = client.http_client.request("get", DRIVE_FILES_API_V3_URL, params=params).json()
        names += [f["name"] for f in page["files"]]
        assert all(f["modifiedTime"] == "2025-03-03T01:00:00.000Z" for f in page["files"])
        token = page.get("nextPageToken")
        if token is None:
            break

    assert names == [f"Báo cáo tháng {m}" for m in range(1, 6)]
    assert fake.counts["drive.files.list"] == 3
    assert len(client.list_spreadsheet_files(folder_id=folder)) == 6


def test_it_moves_drives_modified_time_when_sheets_writes(fake, client, folder, clock):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    clock.moment += timedelta(hours=2)

    spreadsheet.sheet1.update([["Đã cập nhật"]], "A1")

    assert client.get_file_drive_metadata(spreadsheet.id)["modifiedTime"] == "2025-03-03T03:00:00.000Z"


def test_it_refuses_a_service_account_creating_outside_a_shared_drive(fake, client):
    my_drive_folder = fake.add_folder("Thư mục cá nhân", shared_drive=False, members=[BOT])

    with pytest.raises(gspread.exceptions.APIError) as caught:
        client.create("Báo cáo", folder_id=my_drive_folder)

    assert caught.value.code == 403
    assert caught.value.error["errors"][0]["reason"] == "storageQuotaExceeded"
    assert caught.value.error["message"] == "The user's Drive storage quota has been exceeded."


def test_it_answers_file_not_found_for_a_folder_not_shared_with_the_service_account(fake, client):
    stranger_folder = fake.add_folder("Của người khác", members=["someone@else.gov.vn"])

    with pytest.raises(gspread.exceptions.APIError) as caught:
        create_in_folder(client, stranger_folder, "Báo cáo")

    assert caught.value.code == 404
    assert caught.value.error["message"] == f"File not found: {stranger_folder}."


def test_it_answers_403_when_the_token_lacks_the_drive_scope(fake, folder):
    client = gspread_client(bot_credentials(fake, scopes=[SCOPE_SPREADSHEETS]), base_url=fake.base_url)

    with pytest.raises(gspread.exceptions.APIError) as caught:
        create_in_folder(client, folder, "Báo cáo")

    assert caught.value.code == 403
    assert caught.value.error["message"] == "Request had insufficient authentication scopes."
    assert caught.value.error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


def test_it_grants_only_the_scopes_a_test_allows(fake, folder):
    fake.grantable_scopes = {SCOPE_DRIVE}
    client = gspread_client(bot_credentials(fake), base_url=fake.base_url)
    spreadsheet_id = create_in_folder(client, folder, "Báo cáo")
    fake.grantable_scopes = {SCOPE_SPREADSHEETS}
    fake.expire_tokens()

    with pytest.raises(gspread.exceptions.APIError) as caught:
        create_in_folder(client, folder, "Báo cáo 2")

    assert caught.value.code == 403
    assert client.open_by_key(spreadsheet_id).title == "Báo cáo"


def test_it_lets_the_client_refresh_an_expired_token_transparently(fake, client, folder):
    spreadsheet_id = create_in_folder(client, folder, "Báo cáo")
    fake.expire_tokens()

    assert client.open_by_key(spreadsheet_id).title == "Báo cáo"
    assert fake.counts["oauth.token"] == 2


def test_it_shows_an_injected_429_to_the_client_then_recovers(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    fake.inject("429", match=r"values:batchGet")

    with pytest.raises(gspread.exceptions.APIError) as caught:
        spreadsheet.values_batch_get(["Sheet1"])

    assert caught.value.code == 429
    assert caught.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert "valueRanges" in spreadsheet.values_batch_get(["Sheet1"])


def test_it_shows_an_injected_storage_quota_error(fake, client, folder):
    fake.inject("quota", match=r"^/drive/v3/files$")

    with pytest.raises(gspread.exceptions.APIError) as caught:
        create_in_folder(client, folder, "Báo cáo")

    assert caught.value.error["errors"][0]["reason"] == "storageQuotaExceeded"


def test_it_makes_a_short_client_timeout_fire_without_hanging(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    fake.inject("timeout", hold=5)
    client.set_timeout(0.2)

    with pytest.raises(requests.exceptions.ReadTimeout):
        spreadsheet.values_batch_get(["Sheet1"])


def test_it_can_apply_a_write_whose_answer_is_then_lost(fake, client, folder):
    worksheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo")).sheet1
    fake.inject("drop", match=r"/values/", applied=True)

    with pytest.raises(requests.exceptions.ConnectionError):
        worksheet.update([["Đã ghi"]], "A1")

    assert fake.grid(worksheet.spreadsheet_id, "Sheet1") == [["Đã ghi"]]


def test_it_rejects_writes_beyond_the_grid_like_google(fake, client, folder):
    worksheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo")).sheet1

    with pytest.raises(gspread.exceptions.APIError) as caught:
        worksheet.update([["x"]], "A1001")

    assert caught.value.code == 400
    assert "exceeds grid limits. Max rows: 1000, max columns: 26" in caught.value.error["message"]


def test_it_applies_a_batch_update_entirely_or_not_at_all(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))

    with pytest.raises(gspread.exceptions.APIError) as caught:
        spreadsheet.batch_update(
            {
                "requests": [
                    {"addSheet": {"properties": {"title": "Biểu 1"}}},
                    {"addSheet": {"properties": {"title": "Biểu 1"}}},
                ]
            }
        )

    assert "Invalid requests[1].addSheet" in caught.value.error["message"]
    assert [s.title for s in fake.spreadsheet(spreadsheet.id).sheets] == ["Sheet1"]


def test_it_keeps_layout_requests_and_records_kinds_it_does_not_model(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    whole_a1_b2 = {
        "sheetId": 0,
        "startRowIndex": 0,
        "endRowIndex": 2,
        "startColumnIndex": 0,
        "endColumnIndex": 2,
    }
    rule = {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "Có"}]}, "strict": True}

    spreadsheet.batch_update(
        {
            "requests": [
                {"mergeCells": {"range": whole_a1_b2, "mergeType": "MERGE_ALL"}},
                {
                    "setDataValidation": {
                        "range": {**whole_a1_b2, "startRowIndex": 3, "endRowIndex": 4},
                        "rule": rule,
                    }
                },
                {"addProtectedRange": {"protectedRange": {"range": whole_a1_b2, "description": "Tiêu đề"}}},
                {"addNamedRange": {"namedRange": {"name": "tieu_de", "range": whole_a1_b2}}},
                {"autoResizeDimensions": {"dimensions": {"sheetId": 0, "dimension": "COLUMNS"}}},
            ]
        }
    )

    metadata = spreadsheet.fetch_sheet_metadata(
        params={"fields": "sheets(merges,protectedRanges),namedRanges"}
    )
    sheet = metadata["sheets"][0]
    assert sheet["merges"] == [whole_a1_b2]
    assert sheet["protectedRanges"][0]["description"] == "Tiêu đề"
    assert metadata["namedRanges"][0]["name"] == "tieu_de"
    assert fake.cell(spreadsheet.id, "Sheet1", "A4")["dataValidation"] == rule
    assert [r["kind"] for r in fake.unknown_requests] == ["autoResizeDimensions"]


def test_it_records_permissions_given_on_a_spreadsheet(fake, client, folder):
    spreadsheet_id = create_in_folder(client, folder, "Báo cáo")

    client.insert_permission(
        spreadsheet_id, "chuyenvien@sonoivu.gov.vn", perm_type="user", role="writer", notify=False
    )

    emails = [p.get("emailAddress") for p in client.list_permissions(spreadsheet_id)]
    assert "chuyenvien@sonoivu.gov.vn" in emails
    assert fake.permissions(spreadsheet_id)[-1]["role"] == "writer"


def _set_locale(spreadsheet, locale: str) -> None:
    spreadsheet.batch_update(
        {
            "requests": [
                {"updateSpreadsheetProperties": {"properties": {"locale": locale}, "fields": "locale"}}
            ]
        }
    )


def test_it_parses_user_entered_numbers_in_a_vi_vn_spreadsheet_the_vietnamese_way(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    _set_locale(spreadsheet, "vi_VN")

    spreadsheet.values_update(
        "'Sheet1'!A1:D1",
        params={"valueInputOption": "USER_ENTERED"},
        body={"values": [["1.234", "12,5", "12,5%", "1.5"]]},
    )

    book = fake.spreadsheet(spreadsheet.id)
    row = [fake.cell(spreadsheet.id, "Sheet1", a1).get("userEnteredValue") for a1 in ("A1", "B1", "C1", "D1")]
    assert row == [
        {"numberValue": 1234},
        {"numberValue": 12.5},
        {"numberValue": 0.125},
        {"stringValue": "1.5"},
    ]
    assert fake.cell(spreadsheet.id, "Sheet1", "C1")["userEnteredFormat"]["numberFormat"]["type"] == "PERCENT"
    assert "userEnteredFormat" not in fake.cell(spreadsheet.id, "Sheet1", "B1")
    assert book.locale == "vi_VN"


def test_it_keeps_the_decimal_point_in_an_en_us_spreadsheet(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Report"))

    spreadsheet.values_update(
        "'Sheet1'!A1:C1",
        params={"valueInputOption": "USER_ENTERED"},
        body={"values": [["1,234", "12.5", "12.5%"]]},
    )

    row = [fake.cell(spreadsheet.id, "Sheet1", a1)["userEnteredValue"] for a1 in ("A1", "B1", "C1")]
    assert row == [{"numberValue": 1234}, {"numberValue": 12.5}, {"numberValue": 0.125}]


def test_it_types_text_in_the_browser_as_the_spreadsheets_locale_reads_it(fake, client, folder):
    spreadsheet = client.open_by_key(create_in_folder(client, folder, "Báo cáo"))
    _set_locale(spreadsheet, "vi_VN")

    fake.type_text(spreadsheet.id, "Sheet1", {"A1": "45,5%", "B1": "Đã nộp"})

    assert fake.cell(spreadsheet.id, "Sheet1", "A1")["userEnteredValue"] == {"numberValue": 0.455}
    assert fake.cell(spreadsheet.id, "Sheet1", "B1")["userEnteredValue"] == {"stringValue": "Đã nộp"}
