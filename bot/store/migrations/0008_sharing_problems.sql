-- Addresses Google Drive refused to share a unit's spreadsheet with (no Google account, sharing
-- outside the domain forbidden, the bot not a manager of the Shared Drive…). Kept until a later
-- share succeeds: status, check and the coordinator's digest list them, provision retries them.
CREATE TABLE sharing_problems (
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    email TEXT NOT NULL,
    problem TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (unit, period, email)
);
