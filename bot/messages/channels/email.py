"""E-mail over SMTP: STARTTLS (default), implicit TLS ("ssl") or plain, login optional.

Subject and body are UTF-8 (``EmailMessage`` encodes Vietnamese headers per RFC 2047).
A provincial mail server with a private CA is trusted through ``ca_file``; certificates
are always verified. The address is the recipient's e-mail address; the id returned is
the Message-ID header.
"""

from __future__ import annotations

import base64
import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from bot import clock
from bot.http import DEFAULT_TIMEOUT, redact, register_secret
from bot.messages.channels.base import (
    Channel,
    ChannelConfigError,
    Message,
    TransportError,
    require_attachment,
)

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_SUBJECT = "Thông báo từ hệ thống báo cáo"


class EmailChannel(Channel):
    kind = "email"
    label = "Thư điện tử"
    secrets = {"password": "SMTP_PASSWORD"}
    max_length = 1_000_000  # no provider limit worth splitting for

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        default_subject: str = DEFAULT_SUBJECT,
    ):
        if security not in DEFAULT_PORTS:
            raise ChannelConfigError(
                f"Chế độ bảo mật thư «{security}» không hợp lệ (starttls, ssl hoặc none)."
            )
        register_secret(password)
        self._host, self._port = host, port or DEFAULT_PORTS[security]
        self._security, self._ca_file, self._timeout = security, ca_file, timeout
        self._sender, self._username, self._password = sender, username, password
        self._default_subject = default_subject

    def send(self, address: str, message: Message) -> str | None:
        email = self._compose(address, message)
        try:
            with self._session() as smtp:
                if self._username:
                    _login(smtp, self._username, self._password or "")
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise _transport_error(exc) from None
        return email["Message-ID"]

    def _compose(self, address: str, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"], email["To"] = self._sender, address
        email["Subject"] = message.subject or self._default_subject
        email["Date"] = format_datetime(clock.now())
        email["Message-ID"] = _message_id(message.key, self._sender.rpartition("@")[2] or None)
        if message.in_reply_to:  # RFC 5322 §3.6.4: the answer stays in the sender's thread
            email["In-Reply-To"] = email["References"] = message.in_reply_to
        email.set_content(message.text, charset="utf-8")
        if message.attachment is not None:
            _attach(email, message.attachment)
        return email

    def _session(self) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=self._ca_file)
        if self._security == "ssl":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._security == "starttls":
            try:
                smtp.starttls(context=context)
            except BaseException:
                smtp.close()
                raise
        return smtp


def _message_id(key: str | None, domain: str | None) -> str:
    """The same Message-ID for every attempt at one outbox row, so that a copy sent again after
    a crash is recognised as the same message by mail systems that de-duplicate on it."""
    if not key:
        return make_msgid(domain=domain)
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "." for ch in key)
    return f"<baocao.{safe}@{domain or 'localhost'}>"


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """``smtp.login``, except for non-ASCII credentials, which smtplib cannot encode.

    Those go as AUTH PLAIN in UTF-8 (RFC 4616), so a Vietnamese password works.
    """
    if (username + password).isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPNotSupportedError("máy chủ không nhận đăng nhập AUTH PLAIN cho mật khẩu có dấu")
    credentials = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {credentials}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _attach(email: EmailMessage, path: Path) -> None:
    mime_type, _ = mimetypes.guess_type(path.name)
    maintype, subtype = (mime_type or "application/octet-stream").split("/", 1)
    email.add_attachment(
        require_attachment(path).read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
    )


def _transport_error(exc: BaseException) -> TransportError:
    detail = redact(str(exc))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return TransportError(
            f"Thư điện tử: đăng nhập máy chủ thư thất bại ({detail})", permanent=True, channel_wide=True
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return TransportError(
            f"Thư điện tử: máy chủ từ chối địa chỉ người nhận ({detail})",
            permanent=all(code >= 500 for code in codes),
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # 4xx: try later, 5xx: will not change
        return TransportError(f"Thư điện tử: máy chủ thư từ chối ({detail})", permanent=exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        return TransportError(
            f"Thư điện tử: cấu hình kết nối máy chủ thư không dùng được ({detail})", permanent=True
        )
    return TransportError(f"Thư điện tử: không kết nối được máy chủ thư ({detail})", permanent=False)
