"""A workbook handed in by chat or e-mail: time from the file arriving to the answer queued.

Provisions the generated unit list of ``bench_provision`` (``--units``, default 50), polls and
checks once (the steady state), then, against the local fakes (tests/fakes: the Telegram Bot
API over HTTP, an IMAP4rev1 server over a socket):

* chat: from a document update taken from ``getUpdates`` to the reply ready to send
  (``bot.intake.chat_files.take_file``: getFile, the download, ``submit``, the reply text);
  one file, then ``--files`` files (default 20) from as many unit chats in one poll;
* e-mail: from the IMAP fetch to the answer queued in the outbox (``fetch_mail``: fetch,
  ``submit``, the outbox row, ``\\Seen``); one message, then ``--files`` messages in one round.

Every file is a filled workbook of a different unit. Prints each figure and the process max RSS.

    .venv/bin/python bench/bench_files.py [--units 50] [--files 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_provision import bench_home, max_rss_mib  # noqa: E402
from bench.bench_submit import filled_file  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.intake.chat_files import ChatFile, take_file  # noqa: E402
from bot.messages.channels.telegram import TelegramChannel  # noqa: E402
from bot.messages.registration import issue_code, redeem  # noqa: E402
from jobs.check import check  # noqa: E402
from jobs.demo import PERIOD  # noqa: E402
from jobs.mail import fetch_mail  # noqa: E402
from jobs.poll import poll  # noqa: E402
from jobs.provision import provision  # noqa: E402
from jobs.submit import submit  # noqa: E402
from tests.fakes.imap import PASSWORD, USER, FakeImap  # noqa: E402
from tests.fakes.telegram import VALID_TOKEN, FakeTelegram  # noqa: E402

CHAT_BASE = 5_000_000


def by_chat(ctx, codes: list[str], files: dict[str, bytes]) -> tuple[float, float]:
    """(wall, CPU) seconds from the updates fetched to every reply ready, for these units' files."""
    with FakeTelegram() as telegram:
        channel = TelegramChannel(
            token=VALID_TOKEN, base_url=telegram.bot_base_url, base_file_url=telegram.file_base_url
        )
        for code in codes:
            telegram.push_document(CHAT_BASE + int(code[2:]), f"{code}.xlsx", files[code])
        updates = channel.get_updates()
        started, cpu = time.perf_counter(), time.process_time()
        for update in updates:
            message, document = update["message"], update["message"]["document"]
            replies = take_file(
                ctx,
                "telegram",
                str(message["chat"]["id"]),
                ChatFile(document["file_name"], document["file_id"], document["file_size"]),
                channel.download,
                submit,
            )
            assert replies[0].startswith("Đã nhận tệp"), replies
        return time.perf_counter() - started, time.process_time() - cpu


def by_mail(ctx, codes: list[str], files: dict[str, bytes]) -> tuple[float, float]:
    """(wall, CPU) seconds of one mailbox round (fetch to answers queued) over these units' messages."""
    with FakeImap() as imap:
        ctx.config.mailbox = load_config(ctx.config.home, {"IMAP_PASSWORD": PASSWORD}).mailbox.model_copy(
            update={"port": imap.port}
        )
        for code in codes:
            imap.deliver(_mail(ctx.unit_by_code[code].emails[0], code, files[code]))
        started, cpu = time.perf_counter(), time.process_time()
        result = fetch_mail(ctx)
        seconds = time.perf_counter() - started, time.process_time() - cpu
        assert result.files == len(codes), result
        return seconds


def _mail(sender: str, code: str, data: bytes) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, USER, f"Báo cáo {code}"
    message["Message-ID"] = f"<{code}-{time.time_ns()}@bench>"
    message.set_content("Đơn vị gửi báo cáo.")
    message.add_attachment(
        data,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=f"{code}.xlsx",
    )
    return message.as_bytes()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ctx = bench_home(home, args.units, args.seed)
        (home / "config.json").write_text(
            json.dumps({"mailbox": {"host": "127.0.0.1", "security": "none", "username": USER}})
        )
        period = ctx.period(PERIOD)
        provision(ctx, period)
        poll(ctx, period)
        check(ctx, period)
        codes = [u.code for u in ctx.units]
        need = 2 * (1 + args.files)
        if len(codes) < need:
            raise SystemExit(f"--units must be at least {need} (each file is a different unit's)")
        for code in codes[: 1 + args.files]:
            redeem(
                ctx.store, code, issue_code(ctx.store, code).code, "telegram", str(CHAT_BASE + int(code[2:]))
            )
        files = {code: filled_file(ctx, code, 1 + i % 4) for i, code in enumerate(codes[:need])}
        chat_one, chat_many = codes[:1], codes[1 : 1 + args.files]
        mail_one, mail_many = codes[1 + args.files : 2 + args.files], codes[2 + args.files : need]
        print(
            f"{len(ctx.units)} units, period {PERIOD}, embedded backend; filled workbooks of "
            f"{sum(len(f) for f in files.values()) // len(files) // 1024} KiB"
        )
        for label, way, one, many in (
            ("chat", by_chat, chat_one, chat_many),
            ("e-mail", by_mail, mail_one, mail_many),
        ):
            (wall, cpu) = way(ctx, one, files)
            print(
                f"{label}, 1 file: {wall:.2f} s ({cpu:.2f} s CPU) from the file arriving to the answer ready"
            )
            (wall, cpu) = way(ctx, many, files)
            print(
                f"{label}, {len(many)} files in one poll: {wall:.2f} s ({cpu:.2f} s CPU), "
                f"{wall / len(many):.2f} s per file"
            )
        print(f"process max RSS {max_rss_mib():.0f} MiB")
        ctx.close()


if __name__ == "__main__":
    main()
