-- Every workbook a unit handed in (web page, chat, e-mail, command line), never overwritten:
-- the file itself is kept content-addressed under <home>/versions/, this row says whose it is,
-- who sent it, through which way, when, and what became of its values.
CREATE TABLE versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    sha256 TEXT NOT NULL,           -- of the file's bytes: its name in the version store
    size INTEGER NOT NULL,
    filename TEXT NOT NULL,         -- as the sender named it (shown, never used as a path)
    sender TEXT NOT NULL,
    channel TEXT NOT NULL,          -- web, cli, chat, email
    received_at TEXT NOT NULL,
    based_on TEXT,                  -- content hash of the workbook it was downloaded from, if stamped
    content_hash TEXT NOT NULL,     -- content hash of what the unit typed in it (jobs/poll.content_hash)
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'merged', 'unchanged', 'approved')),
    notes TEXT NOT NULL DEFAULT '[]',   -- JSON list of Vietnamese sentences for the sender
    cells TEXT NOT NULL             -- JSON {field key: [value as text, "'Tab'!A1"]} of its input cells
);
CREATE INDEX versions_unit ON versions (period, unit, id);

-- What a unit's workbook held when it was downloaded (stamped with this content hash), so an
-- upload of an older download is merged against what it was based on.
CREATE TABLE intake_bases (
    content_hash TEXT NOT NULL,
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    cells TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (unit, period, content_hash)
);
