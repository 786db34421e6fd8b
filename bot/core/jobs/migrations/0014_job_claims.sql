-- Issue 14: several bot processes share one queue. claimed_by: the process (its lease holder,
-- '<host>:<pid>:<random>', see 0013_leases.sql) that works on the job: it took the job from the
-- queue to start it, or picked it up after its earlier process stopped. NULL: nobody yet (a
-- queued job, or a job of a database from before this migration). A process whose lease
-- "process:<holder>" has expired has lost its claims: another one picks its jobs up.

ALTER TABLE jobs ADD COLUMN claimed_by TEXT;

CREATE INDEX IF NOT EXISTS jobs_claimed_by ON jobs (claimed_by) WHERE claimed_by IS NOT NULL;
