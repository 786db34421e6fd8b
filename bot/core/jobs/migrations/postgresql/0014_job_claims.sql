-- PostgreSQL form of ../0014_job_claims.sql (the same column and index).

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS claimed_by TEXT;

CREATE INDEX IF NOT EXISTS jobs_claimed_by ON jobs (claimed_by) WHERE claimed_by IS NOT NULL;
