-- A message is worth sending until expires_at (a reminder: the end of the day it speaks of);
-- transient failures are retried until then, not a fixed number of times.
ALTER TABLE outbox ADD COLUMN expires_at TEXT;

-- A channel that failed as a whole (revoked token, refused SMTP login): its messages stay
-- queued and the coordinator is told once; cleared by the channel's next successful send.
CREATE TABLE channel_problems (
    channel TEXT PRIMARY KEY,
    problem TEXT NOT NULL,
    problem_at TEXT NOT NULL
);

-- Wrong /dangky codes per chat: after a few, the chat is refused for a growing time.
CREATE TABLE registration_failures (
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    blocked_until TEXT,
    PRIMARY KEY (channel, address)
);
