-- Small facts the jobs remember between runs (e.g. what the master sheet was compiled from).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
