"""The one intake: a unit's workbook handed back is checked, kept as a version, and applied."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from bot.intake import IntakeRefused
from bot.intake.download import download
from bot.outline.layout import CHECK_TAB
from cli.main import main
from jobs.approve import decide
from jobs.submit import mark_submitted, submit
from tests.intake_helpers import (
    APPROVED_KEY,
    PERIOD,
    TOTAL_KEY,
    UNITS,
    cell_value,
    fill,
    filled_report,
)

NARRATIVE = "i1_chi_dao"


@pytest.fixture
def ctx(provisioned):
    return provisioned(UNITS)


def downloaded(ctx, code="STP") -> bytes:
    return download(ctx, code, ctx.period(PERIOD))[0]


def send(ctx, data: bytes, **kwargs):
    return submit(ctx, data, kwargs.pop("filename", "STP.xlsx"), sender="Văn thư", channel="web", **kwargs)


def stored(ctx) -> tuple:
    """Everything an intake could change: versions, snapshots, findings, the unit's workbook."""
    home = ctx.config.home
    files = sorted(p.name for p in (home / "versions").rglob("*")) if (home / "versions").exists() else []
    rows = [tuple(r) for r in ctx.store.conn.execute("SELECT * FROM versions")]
    snaps = ctx.store.conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    with open(ctx.store.sheet("STP", PERIOD).sheet_id, "rb") as f:
        return files, rows, snaps, f.read()


def test_it_applies_a_filled_workbook_as_if_the_clerk_had_typed_in_place(ctx):
    values = filled_report(ctx, mistakes=True)
    result = send(ctx, fill(ctx, downloaded(ctx), values))
    assert result.outcome == "applied"
    assert cell_value(ctx, TOTAL_KEY) == 402 and cell_value(ctx, APPROVED_KEY) == 5
    snapshot = json.loads(ctx.store.snapshot_history("STP", PERIOD)[-1]["report_json"])
    assert snapshot["values"][TOTAL_KEY] == 402  # the poll read the values where they now are
    rules = {f["rule"] for f in result.findings if f["severity"] == "error"}
    assert len(rules) >= 2 and all(f["cell"] for f in result.findings if f["severity"] == "error")
    assert ctx.store.unit_state("STP", PERIOD)["errors"] == result.errors >= 2
    import openpyxl

    check_tab = openpyxl.load_workbook(ctx.store.sheet("STP", PERIOD).sheet_id)[CHECK_TAB]
    assert any("402" in str(c.value) for row in check_tab.iter_rows() for c in row if c.value)


def test_it_keeps_every_accepted_file_as_a_content_addressed_version(ctx):
    data = fill(ctx, downloaded(ctx), filled_report(ctx))
    first = send(ctx, data)
    again = send(ctx, data)
    rows = ctx.store.versions("STP", PERIOD)
    assert [r["id"] for r in rows] == [first.version_id, again.version_id]
    assert (
        rows[0]["sha256"] == rows[1]["sha256"]
        and rows[0]["sender"] == "Văn thư"
        and rows[0]["channel"] == "web"
    )
    kept = ctx.config.home / "versions" / rows[0]["sha256"][:2] / f"{rows[0]['sha256']}.xlsx"
    assert kept.read_bytes() == data
    assert again.outcome == "unchanged"


def test_it_reports_both_planted_mistakes_then_none_once_fixed(ctx):
    values = filled_report(ctx, mistakes=True)
    wrong = send(ctx, fill(ctx, downloaded(ctx), values))
    assert {"402", "5"} <= {
        str(v) for f in wrong.findings if f["severity"] == "error" for v in f["values"].values()
    }
    fixed = send(ctx, fill(ctx, downloaded(ctx), filled_report(ctx)))
    assert fixed.errors == 0
    assert cell_value(ctx, TOTAL_KEY) == 420


def test_it_refuses_a_file_of_another_unit_or_period_and_stores_nothing(ctx):
    data = fill(ctx, downloaded(ctx), filled_report(ctx))
    before = stored(ctx)
    with pytest.raises(IntakeRefused, match="không phải của đơn vị SNV"):
        send(ctx, data, unit="SNV")
    with pytest.raises(IntakeRefused, match="không phải kỳ 2026-6T"):
        send(ctx, data, period="2026-6T")
    assert stored(ctx) == before


def test_it_refuses_a_file_of_an_older_schema_version(ctx):
    data = fill(ctx, downloaded(ctx), {}, props={"schema_version": "2015.1"})
    before = stored(ctx)
    with pytest.raises(IntakeRefused, match="phiên bản 2015.1"):
        send(ctx, data)
    assert stored(ctx) == before


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return out.getvalue()


def _with_member(data: bytes, name: str, body: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    return _zip({**members, name: body})


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: b"Kinh gui So Noi vu, bao cao dinh kem.", "không phải bảng tính Excel"),
        (lambda d: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "kiểu cũ (.xls)"),
        (
            lambda d: (
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptionInfo".encode("utf-16-le") + b"\0" * 600
            ),
            "mật khẩu",
        ),
        (lambda d: _with_member(d, "xl/vbaProject.bin", b"\0" * 64), "macro"),
        (lambda d: d + b"\0" * (10 * 1024 * 1024), "lớn hơn 10 MB"),
        (
            lambda d: _zip({"xl/workbook.xml": b"<w/>", "xl/bomb.xml": b"\0" * (101 * 1024 * 1024)}),
            "giải nén quá lớn",
        ),
        (lambda d: _zip({"word/document.xml": b"<w/>"}), "không phải bảng tính Excel"),
    ],
    ids=["text", "xls", "encrypted", "macro", "too-big", "zip-bomb", "docx"],
)
def test_it_refuses_what_is_not_a_plain_workbook_and_stores_nothing(ctx, make, words):
    data = make(fill(ctx, downloaded(ctx), filled_report(ctx)))
    before = stored(ctx)
    with pytest.raises(IntakeRefused) as refused:
        send(ctx, data)
    assert words in refused.value.user_message()
    assert stored(ctx) == before


def test_it_keeps_newer_values_when_an_older_download_comes_back_and_says_what_differs(ctx):
    yesterday = downloaded(ctx)  # the clerk keeps this copy and edits it later
    send(ctx, fill(ctx, downloaded(ctx), {TOTAL_KEY: 420, NARRATIVE: "Bản mới hơn"}))
    result = send(ctx, fill(ctx, yesterday, {APPROVED_KEY: 3, NARRATIVE: "Bản cũ"}))
    assert result.outcome == "merged"
    assert cell_value(ctx, TOTAL_KEY) == 420  # not undone by the older file, which had it empty
    assert cell_value(ctx, NARRATIVE) == "Bản mới hơn"
    assert cell_value(ctx, APPROVED_KEY) == 3  # what the older file changed is taken
    said = " ".join(result.notes)
    assert "Bản mới hơn" in said and "Bản cũ" in said and "420" in said
    assert len(ctx.store.versions("STP", PERIOD)) == 2


def test_it_applies_a_file_downloaded_from_the_current_workbook_whole(ctx):
    send(ctx, fill(ctx, downloaded(ctx), {TOTAL_KEY: 420}))
    result = send(ctx, fill(ctx, downloaded(ctx), {TOTAL_KEY: 421}))
    assert result.outcome == "applied" and not result.notes
    assert cell_value(ctx, TOTAL_KEY) == 421


def test_it_does_not_replace_the_values_of_an_approved_report(ctx):
    send(ctx, fill(ctx, downloaded(ctx), filled_report(ctx)))
    decide(ctx, "STP", ctx.period(PERIOD), "approved")
    result = send(ctx, fill(ctx, downloaded(ctx), {TOTAL_KEY: 999}))
    assert result.outcome == "approved" and "đã được duyệt" in result.summary()
    assert cell_value(ctx, TOTAL_KEY) == 420
    assert ctx.store.versions("STP", PERIOD)[-1]["outcome"] == "approved"
    with pytest.raises(IntakeRefused, match="đã được duyệt"):
        mark_submitted(ctx, "STP", ctx.period(PERIOD))


def test_it_sets_the_submitted_state_when_asked(ctx):
    send(ctx, fill(ctx, downloaded(ctx), filled_report(ctx)))
    result = mark_submitted(ctx, "STP", ctx.period(PERIOD))
    assert cell_value(ctx, "_cover/status") == "Đã nộp"
    assert result.state == "hop_le"


def test_it_lists_versions_and_shows_which_cells_changed_on_the_command_line(ctx, capsys, tmp_path):
    first = tmp_path / "lan1.xlsx"
    first.write_bytes(fill(ctx, downloaded(ctx), {TOTAL_KEY: 402}))
    home = str(ctx.config.home)
    assert main(["--home", home, "submit", str(first), "--unit", "STP", "--period", PERIOD]) == 0
    second = tmp_path / "lan2.xlsx"
    second.write_bytes(fill(ctx, downloaded(ctx), {TOTAL_KEY: 420}))
    main(["--home", home, "submit", str(second)])
    capsys.readouterr()
    assert main(["--home", home, "history", "--unit", "STP", "--period", PERIOD]) == 0
    listing = capsys.readouterr().out
    assert "lan1.xlsx" in listing and "lan2.xlsx" in listing and "cli" in listing
    ids = [r["id"] for r in ctx.store.versions("STP", PERIOD)]
    assert main(["--home", home, "diff", str(ids[0]), str(ids[1])]) == 0
    out = capsys.readouterr().out
    assert "Bảng" in out and "«402» → «420»" in out


def test_it_tells_the_command_line_user_why_a_file_is_refused(ctx, capsys, tmp_path):
    path = tmp_path / "SNV.xlsx"
    path.write_bytes(fill(ctx, downloaded(ctx), {}))
    assert main(["--home", str(ctx.config.home), "submit", str(path), "--unit", "SNV"]) == 2
    assert "không phải của đơn vị SNV" in capsys.readouterr().err


def _lock_is_held(ctx) -> bool:
    """Whether some open file holds the intake lock (flock conflicts between open files)."""
    import fcntl

    with open(ctx.config.home / ".intake.lock", "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(other, fcntl.LOCK_UN)
        return False


@pytest.mark.parametrize("writer", ["decision", "scheduler", "submit"])
def test_it_writes_workbooks_under_the_intake_lock_so_an_upload_is_never_undone(ctx, monkeypatch, writer):
    import jobs.approve
    import jobs.check
    from jobs.scheduler import run_poll_and_check

    seen = []
    original = jobs.check.check

    def watched(*args, **kwargs):
        seen.append(_lock_is_held(ctx))
        return original(*args, **kwargs)

    for module in ("jobs.approve", "jobs.check", "jobs.submit"):
        monkeypatch.setattr(f"{module}.check", watched)
    assert not _lock_is_held(ctx)
    if writer == "decision":
        jobs.approve.decide(ctx, "STP", ctx.period(PERIOD), "approved")
    elif writer == "scheduler":
        from datetime import datetime

        from bot.clock import TZ

        run_poll_and_check(ctx, datetime(2026, 3, 10, 9, 0, tzinfo=TZ))
    else:
        send(ctx, fill(ctx, downloaded(ctx), {TOTAL_KEY: 420}))
    assert seen and all(seen)


def test_it_takes_nothing_from_a_part_of_the_file_it_cannot_read_and_says_so(ctx):
    send(ctx, fill(ctx, downloaded(ctx), {TOTAL_KEY: 420, NARRATIVE: "Đã ban hành kế hoạch"}))
    import openpyxl

    from bot.outline.layout import build_layout

    tab = build_layout(ctx.schema, ctx.unit_by_code["STP"], ctx.period(PERIOD)).fields[TOTAL_KEY].tab
    wb = openpyxl.load_workbook(io.BytesIO(fill(ctx, downloaded(ctx), {NARRATIVE: "Bản sửa"})))
    wb[tab].title = "Trang đổi tên"
    out = io.BytesIO()
    wb.save(out)
    result = send(ctx, out.getvalue())
    assert cell_value(ctx, TOTAL_KEY) == 420 and cell_value(ctx, NARRATIVE) == "Bản sửa"
    assert any(tab in note and "giữ nguyên" in note for note in result.notes)
