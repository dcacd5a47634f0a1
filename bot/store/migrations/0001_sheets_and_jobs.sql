-- Which spreadsheet was provisioned for which unit and period, and where it is.
CREATE TABLE sheets (
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    backend TEXT NOT NULL,
    sheet_id TEXT NOT NULL,
    url TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('allocated', 'ready')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (unit, period)
);

-- Every run of every scheduled job, so a restarted scheduler knows what it missed.
CREATE TABLE job_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    due_key TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_log_job ON job_log (job, due_key);
