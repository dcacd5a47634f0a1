"""The Google backend's test rig, shared by the Google backend and Google Forms tests: the local
fake Google, a home folder that uses it, a backend whose waits cost no real time, and helpers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import requests

from bot.clock import TZ
from bot.config import load_config
from bot.context import open_context
from bot.outline.layout import build_layout
from bot.sheets.backends.base import SheetRef
from bot.sheets.backends.google import GoogleBackend, NoQuota, RetryPolicy
from jobs.provision import provision
from tests.fakes.google import GOOGLE_TOKEN_URI, FakeGoogle

BOT = "report-bot@fake-project.iam.gserviceaccount.com"
COORDINATOR = "tonghop@sonoivu.example.vn"
UNITS = (
    "code,name,kind,emails,chat_ids\n"
    "STP,Sở Tư pháp,so_nganh,vanthu@stp.example.vn;phong.hc@stp.example.vn,\n"
    "H_A,UBND huyện A,huyen,vanphong@huyena.example.vn,\n"
    "X_B,UBND xã B,xa,,\n"
)
PERIOD = "2026-Q1"


class ManualClock:
    """The fake's clock for Drive's modifiedTime: moves only when a test says so."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, minutes: int = 5) -> None:
        self.moment += timedelta(minutes=minutes)


class FakeTime:
    """monotonic + sleep for the retry policy and the quota: sleeping costs no real time."""

    def __init__(self) -> None:
        self.now, self.sleeps = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def fake(clock):
    with FakeGoogle(clock=clock) as server:
        yield server
    assert server.server_errors == []


@pytest.fixture
def folder(fake):
    return fake.add_folder("Báo cáo CCHC 2026", shared_drive=True, members=[BOT])


@pytest.fixture
def ticks():
    return FakeTime()


def write_home(tmp_path, fake, folder, **google):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "units.csv").write_text(UNITS, encoding="utf-8")
    key = home / "bot-key.json"  # as Google's console hands it out: tokens from Google's own URL
    key.write_text(
        json.dumps({**fake.service_account_info(BOT), "token_uri": GOOGLE_TOKEN_URI}), encoding="utf-8"
    )
    settings = {
        "credentials": str(key),
        "folder_id": folder,
        "coordinator_emails": [COORDINATOR],
        "base_urls": {"oauth2": fake.base_url, "drive": fake.base_url, "sheets": fake.base_url},
        **google,
    }
    (home / "config.json").write_text(json.dumps({"backend": "google", "google": settings}), encoding="utf-8")
    return home


def time_out_calls(backend, ticks, match: str, times: int = 1, seconds: float | None = None) -> list[str]:
    """The next ``times`` requests whose URL contains ``match`` time out on the client, as if
    ``seconds`` (default ``backend.timeout``) had passed (injected: no real clock is raced)."""
    session, send, timed_out = backend.http.session, backend.http.session.request, []

    def request(method, url, *args, **kwargs):
        if match in url and len(timed_out) < times:
            timed_out.append(url)
            ticks.now += backend.timeout if seconds is None else seconds
            raise requests.exceptions.ReadTimeout(f"Read timed out. (read timeout={backend.timeout})")
        return send(method, url, *args, **kwargs)

    session.request = request
    return timed_out


def make_backend(home, ticks, **overrides):
    policy = RetryPolicy(attempts=4, budget=30, sleep=ticks.sleep, monotonic=ticks.monotonic)
    # Timeouts are injected (time_out_calls); the real one only guards against a hung test, so it is
    # far above what a loaded machine takes to answer a whole layout (10 s was seen to expire in CI).
    overrides = {"retry": policy, "quota": NoQuota(), "timeout": 120, **overrides}
    return GoogleBackend.from_config(load_config(home), **overrides)


@pytest.fixture
def home(tmp_path, fake, folder):
    return write_home(tmp_path, fake, folder)


@pytest.fixture
def backend(home, ticks):
    return make_backend(home, ticks)


@pytest.fixture
def ctx(home, backend):
    context = open_context(home, backend=backend)
    yield context
    context.close()


@pytest.fixture
def provisioned(ctx, fake):
    period = ctx.period(PERIOD)
    results = provision(ctx, period)
    assert {r.action for r in results} == {"created"}
    fake.reset_calls()
    return period


def sheet_id_of(ctx, code):
    return ctx.store.sheet(code, PERIOD).sheet_id


def ref_of(ctx, code):
    record = ctx.store.sheet(code, PERIOD)
    return SheetRef(record.sheet_id, record.url)


def layout_of(ctx, code):
    return build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(PERIOD))


def type_in_browser(fake, spreadsheet_id, layout, values):
    """Type ``values`` (field key → what the browser stores) into the fake, tab by tab."""
    by_tab: dict[str, dict] = {}
    for key, value in values.items():
        spec = layout.fields[key]
        by_tab.setdefault(spec.tab, {})[spec.a1] = value
    for tab, cells in by_tab.items():
        fake.type_as_user(spreadsheet_id, tab, cells)


def cells_of(grid_range):
    return {
        (r, c)
        for r in range(grid_range["startRowIndex"] + 1, grid_range["endRowIndex"] + 1)
        for c in range(grid_range["startColumnIndex"] + 1, grid_range["endColumnIndex"] + 1)
    }
