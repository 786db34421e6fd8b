-- PostgreSQL form of ../0009_scope_policy.sql (the same table).

CREATE TABLE scope_policy (
    scope TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    updated_by TEXT,
    updated_at TEXT COLLATE "C"
);
