-- PostgreSQL form of ../0013_leases.sql (the same table).

CREATE TABLE IF NOT EXISTS leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
