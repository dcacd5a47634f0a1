-- Personal links of units to the web portal. Only a SHA-256 of the link's token is kept; the
-- token is derived from the home folder's secret and the nonce, so reminders can carry it.
-- Rotating revokes the old link (revoked_at) and makes a new nonce.
CREATE TABLE unit_links (
    token_hash TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '',   -- '' : every period of the unit
    nonce TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX unit_links_unit ON unit_links (unit, period);

-- Coordinators' accounts on the portal (argon2 password hashes).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
