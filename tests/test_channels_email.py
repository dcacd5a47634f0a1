"""E-mail channel against a local aiosmtpd server (plain, STARTTLS and implicit TLS)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.messages.channels import Message, TransportError, build_channel
from bot.messages.channels.email import EmailChannel
from tests.fakes.smtp import ACCOUNTS, PASSWORD, USER, Inbox, free_port, serve

SENDER = "baocao@sonoivu.tinh.gov.vn"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, standing in for a private provincial CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return str(folder / "cert.pem"), context


@pytest.fixture
def inbox():
    return Inbox()


@pytest.fixture
def plain_server(inbox):
    controller = serve(inbox, auth_require_tls=False)
    yield controller
    controller.stop()


def plain_channel(server, **settings) -> EmailChannel:
    return EmailChannel(host="127.0.0.1", port=server.port, security="none", sender=SENDER, **settings)


def test_it_delivers_vietnamese_subject_body_and_attachment_intact(plain_server, inbox, tmp_path):
    export = tmp_path / "Tổng hợp quý 2.xlsx"
    export.write_bytes(bytes(range(256)) * 40)
    text = "Kính gửi Văn phòng UBND tỉnh,\n\nSở Nội vụ gửi bảng tổng hợp kết quả kiểm soát TTHC quý 2."

    message_id = plain_channel(plain_server).send(
        "vanphong@ubnd.tinh.gov.vn", Message(text, attachment=export, subject="Báo cáo CCHC quý 2 năm 2025")
    )

    (mail,) = inbox.received
    assert mail["Subject"] == "Báo cáo CCHC quý 2 năm 2025"
    assert mail["To"] == "vanphong@ubnd.tinh.gov.vn"
    assert mail["Message-ID"] == message_id
    assert mail.get_body(("plain",)).get_content().strip() == text
    (attachment,) = mail.iter_attachments()
    assert attachment.get_filename() == "Tổng hợp quý 2.xlsx"
    assert (
        attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert attachment.get_content() == export.read_bytes()


def test_it_uses_the_default_subject_when_none_is_given(plain_server, inbox):
    plain_channel(plain_server).send("a@b.vn", Message("Nhắc hạn nộp báo cáo"))

    assert inbox.received[0]["Subject"] == "Thông báo từ hệ thống báo cáo"


def test_it_logs_in_when_an_account_is_configured_even_with_a_vietnamese_password(plain_server, inbox):
    plain_channel(plain_server, username=USER, password=PASSWORD).send("a@b.vn", Message("Xin chào"))
    plain_channel(plain_server, username="hethong", password=ACCOUNTS["hethong"]).send(
        "a@b.vn", Message("Lần hai")
    )

    assert len(inbox.received) == 2


def test_it_is_built_from_the_registry_by_kind(plain_server, inbox):
    settings = {"host": "127.0.0.1", "port": plain_server.port, "security": "none", "sender": SENDER}

    build_channel("email", settings).send("a@b.vn", Message("Xin chào"))

    assert len(inbox.received) == 1


@pytest.mark.parametrize("wrong", ["Sai-Mật-Khẩu-Rồi", "Wrong-Ascii-Pass"])
def test_it_reports_a_wrong_password_as_permanent_without_showing_it(plain_server, inbox, caplog, wrong):
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TransportError) as caught:
        plain_channel(plain_server, username=USER, password=wrong).send("a@b.vn", Message("Xin chào"))

    assert caught.value.permanent is True
    assert inbox.received == []
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert wrong not in caplog.text and PASSWORD not in caplog.text


def test_it_reports_a_refused_recipient_as_permanent_and_a_busy_one_as_retryable(plain_server, inbox):
    inbox.refuse = {"khongton@tai.vn": "550 No such user", "day@hop.vn": "452 Mailbox full, try later"}
    channel = plain_channel(plain_server)

    with pytest.raises(TransportError) as unknown:
        channel.send("khongton@tai.vn", Message("Xin chào"))
    with pytest.raises(TransportError) as busy:
        channel.send("day@hop.vn", Message("Xin chào"))

    assert unknown.value.permanent is True
    assert busy.value.permanent is False


def test_it_reports_an_unreachable_server_as_retryable():
    channel = EmailChannel(host="127.0.0.1", port=free_port(), security="none", sender=SENDER, timeout=2)

    with pytest.raises(TransportError) as caught:
        channel.send("a@b.vn", Message("Xin chào"))

    assert caught.value.permanent is False


def test_it_delivers_over_starttls_trusting_the_configured_ca(inbox, certificate):
    ca_file, server_context = certificate
    controller = serve(inbox, tls_context=server_context, require_starttls=True)
    try:
        EmailChannel(
            host="127.0.0.1",
            port=controller.port,
            security="starttls",
            sender=SENDER,
            username="hethong",
            password=ACCOUNTS["hethong"],
            ca_file=ca_file,
        ).send("a@b.vn", Message("Qua STARTTLS"))
    finally:
        controller.stop()

    assert inbox.received[0].get_body(("plain",)).get_content().strip() == "Qua STARTTLS"


def test_it_delivers_over_implicit_tls(inbox, certificate):
    ca_file, server_context = certificate
    controller = serve(inbox, ssl_context=server_context)
    try:
        EmailChannel(
            host="127.0.0.1", port=controller.port, security="ssl", sender=SENDER, ca_file=ca_file
        ).send("a@b.vn", Message("Qua TLS"))
    finally:
        controller.stop()

    assert len(inbox.received) == 1


def test_it_refuses_an_untrusted_certificate_as_permanent(inbox, certificate):
    _, server_context = certificate
    controller = serve(inbox, tls_context=server_context, require_starttls=True)
    try:
        with pytest.raises(TransportError) as caught:
            EmailChannel(host="127.0.0.1", port=controller.port, security="starttls", sender=SENDER).send(
                "a@b.vn", Message("Xin chào")
            )
    finally:
        controller.stop()

    assert caught.value.permanent is True
    assert inbox.received == []


def test_it_sends_every_attempt_at_one_outbox_message_with_the_same_message_id(plain_server, inbox):
    """A copy sent again after a crash is recognisable as the same mail by its Message-ID."""
    channel = plain_channel(plain_server)

    first = channel.send("a@b.vn", Message("Nhắc hạn", key="42.20260311083000"))
    again = channel.send("a@b.vn", Message("Nhắc hạn", key="42.20260311083000"))
    other = channel.send("a@b.vn", Message("Nhắc hạn", key="43.20260311083000"))

    assert [mail["Message-ID"] for mail in inbox.received] == [first, again, other]
    assert first == again != other
    assert first.endswith("@sonoivu.tinh.gov.vn>")
