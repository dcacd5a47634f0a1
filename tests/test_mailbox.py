"""Workbooks e-mailed to the report mailbox: a unit's file is taken and answered in its thread,
anything else is left unread for a person, and a crash never loses or doubles a file. Against a
real IMAP server on 127.0.0.1 (tests/fakes/imap.py) and the aiosmtpd server of the e-mail tests."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from bot.context import open_context
from bot.intake import mailbox
from bot.intake.download import download
from bot.intake.mailbox import held_lines
from bot.messages.outbox import messages
from cli.main import main
from jobs.mail import fetch_mail
from jobs.provision import provision
from tests.fakes.imap import PASSWORD, USER, FakeImap
from tests.fakes.smtp import Inbox, serve
from tests.intake_helpers import PERIOD, TWO_UNITS, fill, filled_report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def imap():
    with FakeImap() as server:
        yield server


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = serve(inbox, auth_require_tls=False)
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def ctx(tmp_path, imap, smtp, monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(TWO_UNITS, encoding="utf-8")
    (home / "config.json").write_text(
        json.dumps(
            {
                "coordinators": [{"name": "Phòng CCHC", "emails": ["cchc@snv.example.vn"]}],
                "mailbox": {"host": "127.0.0.1", "port": imap.port, "security": "none", "username": USER},
                "channels": {
                    "email": {
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "security": "none",
                        "sender": "baocao@sonoivu.example.vn",
                    }
                },
            }
        )
    )
    ctx = open_context(home)
    provision(ctx, ctx.period(PERIOD))
    yield ctx
    ctx.close()


def mail(sender: str, subject: str, attachments: dict[str, bytes], message_id: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = sender, USER
    message["Subject"], message["Message-ID"] = subject, message_id
    message.set_content("Kính gửi Sở Nội vụ, đơn vị gửi báo cáo quý I.")
    for name, data in attachments.items():
        message.add_attachment(data, maintype="application", subtype=XLSX.split("/")[1], filename=name)
    return message.as_bytes()


def workbook(ctx, code: str = "STP") -> bytes:
    return fill(
        ctx, download(ctx, code, ctx.period(PERIOD))[0], filled_report(ctx, code, mistakes=True), code
    )


def test_it_takes_a_units_emailed_workbook_and_answers_in_the_same_thread(ctx, imap, smtp, capsys):
    uid = imap.deliver(
        mail("Văn thư <VT@stp.example.vn>", "Báo cáo quý I", {"STP.xlsx": workbook(ctx)}, "<q1@stp.vn>")
    )

    assert main(["--home", str(ctx.config.home), "mail", "--once"]) == 0

    (answer,) = smtp.received
    assert answer["To"] == "vt@stp.example.vn" and answer["Subject"] == "Re: Báo cáo quý I"
    assert answer["In-Reply-To"] == "<q1@stp.vn>" and answer["References"] == "<q1@stp.vn>"
    body = answer.get_body(("plain",)).get_content()
    assert body.startswith("Đã nhận tệp «STP.xlsx» của Sở Tư pháp (STP)") and "[Lỗi] Bảng" in body
    (version,) = ctx.store.versions("STP", PERIOD)
    assert version["channel"] == "email" and "<q1@stp.vn>" in version["sender"]
    assert imap.seen(uid)
    assert "nhận 1 tệp trong 1 thư" in capsys.readouterr().out


def test_it_answers_a_refused_file_with_the_reason(ctx, imap):
    imap.deliver(mail("vt@stp.example.vn", "Báo cáo", {"SNV.xlsx": workbook(ctx, "SNV")}, "<x@stp.vn>"))

    fetch_mail(ctx)

    (row,) = messages(ctx.store)
    assert row["text"].startswith("Chưa nhận tệp «SNV.xlsx»: ") and "không phải của đơn vị STP" in row["text"]
    assert ctx.store.versions("SNV", PERIOD) == []


def test_it_leaves_an_unknown_sender_and_a_mail_without_workbook_unread_and_unanswered(ctx, imap):
    stranger = imap.deliver(mail("ai.do@gmail.example.com", "Hóa đơn", {"STP.xlsx": workbook(ctx)}, "<s@g>"))
    no_file = imap.deliver(mail("vt@stp.example.vn", "Hỏi hạn nộp", {}, "<h@stp.vn>"))

    fetch_mail(ctx)
    fetch_mail(ctx)  # still unread, listed once

    assert messages(ctx.store) == [] and ctx.store.versions("STP", PERIOD) == []
    assert not imap.seen(stranger) and not imap.seen(no_file)
    listed = held_lines(ctx.store)
    assert "2 thư" in listed and "ai.do@gmail.example.com" in listed and "không có tệp .xlsx" in listed

    next(m for m in imap.messages if m.uid == no_file).flags.add("\\Seen")  # a person read it
    fetch_mail(ctx)
    assert "1 thư" in held_lines(ctx.store) and "Hỏi hạn nộp" not in held_lines(ctx.store)


def test_it_refetches_after_a_crash_and_counts_the_file_once(ctx, imap, monkeypatch):
    uid = imap.deliver(mail("vt@stp.example.vn", "Báo cáo", {"STP.xlsx": workbook(ctx)}, "<c@stp.vn>"))
    real_queue = mailbox.queue

    def crash(*args, **kwargs):
        raise SystemExit("killed between recording the version and answering")

    monkeypatch.setattr(mailbox, "queue", crash)
    with pytest.raises(SystemExit):
        fetch_mail(ctx)
    assert not imap.seen(uid) and len(ctx.store.versions("STP", PERIOD)) == 1

    monkeypatch.setattr(mailbox, "queue", real_queue)
    fetch_mail(ctx)
    fetch_mail(ctx)

    assert len(ctx.store.versions("STP", PERIOD)) == 1
    (row,) = messages(ctx.store)
    assert row["text"].startswith("Đã nhận tệp «STP.xlsx»") and row["in_reply_to"] == "<c@stp.vn>"
    assert imap.seen(uid)


def test_it_lists_mail_left_for_a_person_in_the_digest_and_on_the_outbox_page(ctx, imap):
    from datetime import date

    from fastapi.testclient import TestClient

    from jobs.remind import remind
    from tests.helpers import at, log_in
    from web.app import create_app
    from web.auth import set_password

    imap.deliver(mail("ai.do@gmail.example.com", "Quảng cáo", {}, "<ad@g>"))
    fetch_mail(ctx)

    remind(ctx, ctx.period(PERIOD), now=at(date(2026, 3, 19), 16, 0))
    set_password(ctx.store, "cchc", "mat-khau-dai-1")
    with TestClient(create_app(ctx.config.home)) as client:
        log_in(client)
        page = client.get("/hop-thu").text

    digest = next(row["text"] for row in messages(ctx.store) if row["unit"] == "*")
    assert "ai.do@gmail.example.com" in digest and "Quảng cáo" in digest
    assert "cần người xem" in page and "ai.do@gmail.example.com" in page


def test_it_reads_the_mailbox_from_the_scheduler_each_poll_slot(ctx, imap):
    from jobs.scheduler import default_jobs, run_due

    uid = imap.deliver(mail("vt@stp.example.vn", "Báo cáo", {"STP.xlsx": workbook(ctx)}, "<s1@stp.vn>"))

    ran = run_due(ctx, [job for job in default_jobs(ctx) if job.name == "mail"])

    assert [(name, ok) for name, _, ok in ran] == [("mail", True)]
    assert imap.seen(uid) and len(ctx.store.versions("STP", PERIOD)) == 1


def test_it_says_the_mailbox_cannot_be_read_without_showing_the_password(ctx, monkeypatch, capsys):
    wrong = "Sai-Mat-Khau-123"
    monkeypatch.setenv("IMAP_PASSWORD", wrong)

    assert main(["--home", str(ctx.config.home), "mail", "--once"]) != 0

    shown = capsys.readouterr()
    assert "Không đọc được hộp thư" in shown.err + shown.out
    assert wrong not in shown.err + shown.out


def test_it_refuses_a_mailbox_it_could_never_answer_from(tmp_path):
    from bot.config import ConfigError, load_config

    home = tmp_path / "home"
    home.mkdir()
    mailbox = {"host": "imap.example.vn", "username": "baocao@snv.example.vn"}
    (home / "config.json").write_text(json.dumps({"mailbox": mailbox}), encoding="utf-8")
    with pytest.raises(ConfigError, match="channels.email"):
        load_config(home)
