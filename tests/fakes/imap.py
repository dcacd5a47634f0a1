"""A minimal IMAP4rev1 server on 127.0.0.1, enough for imap-tools' ``MailBoxUnencrypted``.

It speaks, over a real socket, the commands that client sends, as RFC 3501 describes them:

- greeting ``* OK [CAPABILITY IMAP4rev1] ...`` (§7.1.1, §7.2.1), CAPABILITY (§6.1.1), NOOP
  (§6.1.2), LOGOUT with its untagged BYE (§6.1.3);
- LOGIN with quoted strings (§6.2.3; strings §4.3), a wrong password answers ``NO``;
- SELECT (§6.3.1): FLAGS, EXISTS, RECENT, ``OK [UIDVALIDITY]``, ``OK [UIDNEXT]``, tagged
  ``OK [READ-WRITE]``;
- UID SEARCH (§6.4.8 with §6.4.4): ``[CHARSET x]`` then ALL / SEEN / UNSEEN, answering
  ``* SEARCH`` with UIDs;
- UID FETCH (§6.4.8 with §6.4.5, the response §7.4.2): UID, FLAGS, RFC822.SIZE and ``BODY[]``
  as a literal ``{n}``; ``BODY[]`` sets ``\\Seen``, ``BODY.PEEK[]`` does not;
- UID STORE ``+FLAGS``/``-FLAGS`` (§6.4.6), answering the new FLAGS in an untagged FETCH;
- EXPUNGE (§6.4.3): removes ``\\Deleted`` messages.

Sequence numbers are positions in the mailbox (§2.3.1.2); UIDs only grow (§2.3.1.1).
Anything else answers ``BAD``. One mailbox (INBOX) and one account.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field

USER, PASSWORD = "baocao@sonoivu.example.vn", "Imap-Pass-2026"


@dataclass
class Stored:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


class FakeImap:
    """``with FakeImap() as imap: imap.deliver(raw_bytes)``; ``imap.port``; ``imap.seen(uid)``."""

    def __init__(self) -> None:
        self.messages: list[Stored] = []
        self.commands: list[str] = []
        self._next_uid = 1
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    def __enter__(self) -> FakeImap:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                _Session(fake, self.rfile, self.wfile).run()

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def deliver(self, raw: bytes) -> int:
        with self._lock:
            uid = self._next_uid
            self._next_uid += 1
            self.messages.append(Stored(uid, raw))
            return uid

    def seen(self, uid: int) -> bool:
        return any(m.uid == uid and "\\Seen" in m.flags for m in self.messages)


class _Session:
    def __init__(self, fake: FakeImap, rfile, wfile) -> None:
        self.fake, self.rfile, self.wfile = fake, rfile, wfile
        self.authenticated = self.selected = False

    def send(self, line: bytes | str) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def run(self) -> None:
        self.send("* OK [CAPABILITY IMAP4rev1] fake IMAP ready")
        while line := self.rfile.readline():
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            self.fake.commands.append(text.split(" ", 2)[1].upper() if " " in text else text)
            tag, _, rest = text.partition(" ")
            command, _, args = rest.partition(" ")
            if self.dispatch(tag, command.upper(), args) == "bye":
                return
            self.wfile.flush()

    def dispatch(self, tag: str, command: str, args: str):
        if command == "CAPABILITY":
            self.send("* CAPABILITY IMAP4rev1")
        elif command == "NOOP":
            pass
        elif command == "LOGOUT":
            self.send("* BYE logging out")
            self.send(f"{tag} OK LOGOUT completed")
            self.wfile.flush()
            return "bye"
        elif command == "LOGIN":
            user, password = [_unquote(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', args)[:2]]
            if (user, password) != (USER, PASSWORD):
                return self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            self.authenticated = True
        elif command == "SELECT" and self.authenticated:
            self.select()
        elif command == "UID" and self.selected:
            return self.uid_command(tag, args)
        elif command == "EXPUNGE" and self.selected:
            self.expunge()
        else:
            return self.send(f"{tag} BAD command unknown or not allowed now")
        self.send(f"{tag} OK {command} completed")

    def select(self) -> None:
        messages = self.fake.messages
        self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.send(f"* {len(messages)} EXISTS")
        self.send("* 0 RECENT")
        self.send("* OK [UIDVALIDITY 1] UIDs valid")
        self.send(f"* OK [UIDNEXT {self.fake._next_uid}] Predicted next UID")
        self.selected = True

    def uid_command(self, tag: str, args: str):
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        if sub == "SEARCH":
            self.search(rest)
        elif sub == "FETCH":
            uid_set, _, items = rest.partition(" ")
            self.fetch(uid_set, items)
        elif sub == "STORE":
            uid_set, action, flags = rest.split(" ", 2)
            self.store(uid_set, action.upper(), set(flags.strip("()").split()))
        else:
            return self.send(f"{tag} BAD unknown UID command")
        self.send(f"{tag} OK UID {sub} completed")

    def search(self, criteria: str) -> None:
        words = criteria.upper().replace("(", " ").replace(")", " ").split()
        if words[:1] == ["CHARSET"]:
            words = words[2:]
        keys = set(words) or {"ALL"}
        hits = [
            m.uid
            for m in self.fake.messages
            if ("UNSEEN" not in keys or "\\Seen" not in m.flags)
            and ("SEEN" not in keys or "\\Seen" in m.flags)
        ]
        self.send("* SEARCH" + "".join(f" {uid}" for uid in hits))

    def fetch(self, uid_set: str, items: str) -> None:
        peek = "BODY.PEEK[]" in items.upper()
        for number, message in self.chosen(uid_set):
            if not peek:
                message.flags.add("\\Seen")
            head = (
                f"* {number} FETCH (UID {message.uid} FLAGS ({' '.join(sorted(message.flags))}) "
                f"RFC822.SIZE {len(message.raw)} BODY[] {{{len(message.raw)}}}"
            )
            self.send(head.encode() + b"\r\n" + message.raw + b")")

    def store(self, uid_set: str, action: str, flags: set[str]) -> None:
        for number, message in self.chosen(uid_set):
            message.flags = message.flags | flags if action.startswith("+") else message.flags - flags
            self.send(f"* {number} FETCH (UID {message.uid} FLAGS ({' '.join(sorted(message.flags))}))")

    def expunge(self) -> None:
        with self.fake._lock:
            for number in reversed(range(len(self.fake.messages))):
                if "\\Deleted" in self.fake.messages[number].flags:
                    del self.fake.messages[number]
                    self.send(f"* {number + 1} EXPUNGE")

    def chosen(self, uid_set: str):
        wanted = set()
        for part in uid_set.split(","):
            low, _, high = part.partition(":")
            top = max((m.uid for m in self.fake.messages), default=0)
            first = int(low) if low != "*" else top
            last = (top if high == "*" else int(high)) if high else first
            wanted.update(range(min(first, last), max(first, last) + 1))
        return [(n, m) for n, m in enumerate(self.fake.messages, 1) if m.uid in wanted]


def _unquote(word: str) -> str:
    if word.startswith('"') and word.endswith('"'):
        return re.sub(r"\\(.)", r"\1", word[1:-1])
    return word
