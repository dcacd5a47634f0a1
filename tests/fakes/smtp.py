"""An SMTP server on 127.0.0.1 for the e-mail tests: aiosmtpd's own ``Controller``, with a handler
that keeps what it accepted and an authenticator with known accounts.

aiosmtpd is the real server (RFC 5321 with AUTH, RFC 4954, and STARTTLS, RFC 3207); this module
only supplies its documented hooks (aiosmtpd docs, "Handler hooks" and "Authentication"):
``handle_RCPT`` may answer an SMTP status line to refuse a recipient, ``handle_DATA`` receives the
envelope, and the authenticator returns an ``AuthResult``.
"""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER, PASSWORD = "baocao", "Mật-khẩu-Bí-Mật-2025"
ACCOUNTS = {USER: PASSWORD, "hethong": "Plain-Ascii-Pass-2025"}


class Inbox:
    """A handler keeping every accepted message and its envelope's recipients; it can refuse some."""

    def __init__(self):
        self.received = []  # parsed messages
        self.recipients = []  # each accepted message's RCPT TO addresses
        self.refuse = {}  # address -> SMTP status line

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def check_login(server, session, envelope, mechanism, auth_data):
    known = ACCOUNTS.get(auth_data.login.decode())
    return AuthResult(success=known is not None and auth_data.password == known.encode(), handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(inbox: Inbox, **options) -> Controller:
    """A started server on a free port; the caller stops it."""
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=check_login, **options
    )
    controller.start()
    return controller
