-- Every message the bot decided to send, written in the same transaction as the decision.
-- A reminder is identified by (unit, period, stage, channel, address): re-running a job inserts
-- nothing new (INSERT OR IGNORE). The address is part of the key because a unit may have
-- several chats on one channel (two clerks registered) and every one of them gets the message.
-- unit is '*' for messages to coordinators (digests, exports).
-- state: pending -> sending -> sent | failed. 'sending' is committed before the provider is
-- called and carries a lease, so a message left 'sending' by a killed process is recognised.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    recipient TEXT NOT NULL,
    period TEXT NOT NULL,
    stage TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    subject TEXT,
    text TEXT NOT NULL,
    attachment TEXT,
    fallback_emails TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    interruptions INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    lease_until TEXT,
    last_error TEXT,
    provider_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (unit, period, stage, channel, address)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- Chats linked to a unit by /dangky, and any address whose delivery failed permanently
-- (blocked bot, unknown chat, refused e-mail): the coordinator sees those in the digest.
CREATE TABLE contacts (
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    unit TEXT,
    registered_at TEXT,
    label TEXT,
    problem TEXT,
    problem_at TEXT,
    PRIMARY KEY (channel, address)
);
CREATE INDEX contacts_unit ON contacts (unit);

-- One-time registration codes: only a SHA-256 of the code is kept.
CREATE TABLE registration_codes (
    code_hash TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);
