"""run: the scheduler that carries the reporting periods by itself."""

from __future__ import annotations

import logging

from bot.context import open_context
from cli.main import UsageError, arg, command
from jobs.scheduler import AlreadyRunning, InstanceLock, Runner, default_jobs, run_due


@arg("--once", action="store_true", help="chạy một lần mọi việc đến hạn rồi thoát (dùng với cron)")
@command("run", "chạy bộ lập lịch: tạo bảng tính, đọc, kiểm tra, nhắc hạn, tổng hợp")
def run_command(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ctx = open_context(args.home)
    try:
        with InstanceLock(ctx.config.home):
            if args.once:
                ran = run_due(ctx, default_jobs(ctx))
                for name, key, ok in ran:
                    print(f"{name:<14} {key:<18} {'xong' if ok else 'LỖI (xem nhật ký)'}")
                if not ran:
                    print("Không có việc nào đến hạn.")
                return 0 if all(ok for *_, ok in ran) else 1
            print(f"Bot đang chạy với thư mục {ctx.config.home}; dừng bằng Ctrl-C.")
            if ctx.config.web:  # the portal too, from the same process
                from web.app import start_in_thread

                start_in_thread(args.home, ctx.config.web.host, ctx.config.web.port)
                print(f"Cổng thông tin: http://{ctx.config.web.host}:{ctx.config.web.port}/")
            Runner(ctx).run_forever()
            print("Đã dừng.")
    except AlreadyRunning as e:
        raise UsageError(e.user_message()) from None
    return 0
