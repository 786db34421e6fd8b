-- PostgreSQL form of ../0003_not_before.sql.

ALTER TABLE jobs ADD COLUMN not_before TEXT COLLATE "C";

CREATE INDEX jobs_by_due ON jobs (state, (COALESCE(not_before, created_at)), id);
