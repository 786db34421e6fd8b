-- PostgreSQL form of ../0015_inbox_claims.sql (the same column).

ALTER TABLE inbox ADD COLUMN IF NOT EXISTS handled_by TEXT;
