-- A request made inside the member's cooldown is queued but may not start before not_before
-- (ISO-8601 UTC text, like 0001); NULL = as soon as its turn comes. The queue is ordered by
-- when a job became due: COALESCE(not_before, created_at), then id.

ALTER TABLE jobs ADD COLUMN not_before TEXT;

-- queued(), queue_position(): by state, in the order jobs became due.
CREATE INDEX jobs_by_due ON jobs (state, COALESCE(not_before, created_at), id);
