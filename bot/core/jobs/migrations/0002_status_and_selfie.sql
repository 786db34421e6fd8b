-- The status message a job is followed in (Cancel button, progress edits) and a kept selfie
-- for re-rolls, deleted once selfie_expires_at (ISO-8601 UTC text, like 0001) has passed.

ALTER TABLE jobs ADD COLUMN status_message_id INTEGER;
ALTER TABLE jobs ADD COLUMN selfie_path TEXT;
ALTER TABLE jobs ADD COLUMN selfie_expires_at TEXT;

-- expired_selfies(): only rows that still hold a file.
CREATE INDEX jobs_by_selfie_expiry ON jobs (selfie_expires_at) WHERE selfie_path IS NOT NULL;
