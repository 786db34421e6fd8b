-- Issue 14: several bot processes take Telegram updates (behind a webhook, every process; by
-- long polling, one at a time). handled_by: the process (its lease holder, see
-- 0013_leases.sql) that recorded the update and is handling it; NULL for updates recorded
-- before this migration. An update not done whose process is gone is handled by another one
-- (bot.core.jobs.claims.JobClaims.adopt_updates), never by two at once.

ALTER TABLE inbox ADD COLUMN handled_by TEXT;
