-- Answers to a unit's e-mail go in the same thread: the Message-ID they answer (In-Reply-To,
-- References). NULL for every other message.
ALTER TABLE outbox ADD COLUMN in_reply_to TEXT;

-- Messages in the report mailbox that the bot leaves unread for a person: an unknown sender,
-- or no workbook attached. Listed for the coordinator (digest, outbox page); never answered.
-- One row per message (its Message-ID, or the mailbox UID when it has none).
CREATE TABLE mail_held (
    message_key TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    received_at TEXT,
    first_seen_at TEXT NOT NULL
);
