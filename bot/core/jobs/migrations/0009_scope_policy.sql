CREATE TABLE IF NOT EXISTS scope_policy (scope TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_by TEXT, updated_at TEXT);
