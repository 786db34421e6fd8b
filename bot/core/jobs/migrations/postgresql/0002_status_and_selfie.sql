-- PostgreSQL form of ../0002_status_and_selfie.sql.

ALTER TABLE jobs ADD COLUMN status_message_id BIGINT;
ALTER TABLE jobs ADD COLUMN selfie_path TEXT;
ALTER TABLE jobs ADD COLUMN selfie_expires_at TEXT COLLATE "C";

CREATE INDEX jobs_by_selfie_expiry ON jobs (selfie_expires_at) WHERE selfie_path IS NOT NULL;
