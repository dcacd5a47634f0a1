-- Every changed read of a unit's spreadsheet: the audit trail of which value each field had at
-- which poll. Unchanged spreadsheets add nothing.
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    modified_at TEXT,
    content_hash TEXT NOT NULL,
    report_json TEXT NOT NULL
);
CREATE INDEX snapshots_unit ON snapshots (period, unit, id);

-- What the last poll saw of each spreadsheet, so an unchanged one is not read again.
CREATE TABLE poll_marks (
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    modified_at TEXT,
    content_hash TEXT,
    polled_at TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (unit, period)
);

-- The outcome of the last check of each unit's report.
CREATE TABLE unit_states (
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    state TEXT NOT NULL,
    filled INTEGER NOT NULL DEFAULT 0,
    required INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    incomplete_sections TEXT NOT NULL DEFAULT '[]',
    last_change TEXT,
    submitted_at TEXT,
    checked_at TEXT NOT NULL,
    snapshot_id INTEGER,
    feedback_hash TEXT,
    feedback_written_hash TEXT,
    approval TEXT CHECK (approval IN ('approved', 'returned')),
    approval_comment TEXT,
    approval_at TEXT,
    PRIMARY KEY (unit, period)
);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    cell TEXT,
    message TEXT NOT NULL,
    finding_json TEXT NOT NULL
);
CREATE INDEX findings_unit ON findings (period, unit);
