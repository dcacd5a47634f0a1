"""The chat bot: one handler for every chat channel, and thin glue to Zalo Bot and Telegram.

* :mod:`.handlers`: who is asking, and the replies to each command (``handle``);
* :mod:`.transports`: Zalo Bot (long polling, webhook) and Telegram turned into ``handle``;
* :mod:`.runner`: the threads that run the transports and the outbox sender, and the console.
"""

from bot.messages.chat.handlers import (
    COORDINATOR_ONLY,
    NO_DECISIONS,
    NOT_REGISTERED,
    Caller,
    Jobs,
    current_period,
    handle,
    identify,
)
from bot.messages.chat.runner import run, run_console
from bot.messages.chat.transports import (
    answer,
    serve_zalo_once,
    telegram_application,
    zalo_oa_webhook,
    zalo_text,
    zalo_webhook,
)

__all__ = [
    "COORDINATOR_ONLY",
    "NO_DECISIONS",
    "NOT_REGISTERED",
    "Caller",
    "Jobs",
    "answer",
    "current_period",
    "handle",
    "identify",
    "run",
    "run_console",
    "serve_zalo_once",
    "telegram_application",
    "zalo_oa_webhook",
    "zalo_text",
    "zalo_webhook",
]
