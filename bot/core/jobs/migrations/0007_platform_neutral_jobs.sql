-- Issue 11: the ledger knows no platform's fields. A job records its platform, the requester
-- (a key no two platforms share: 'discord:<user id>'), the quota scope ('discord:guild:<id>',
-- 'discord:dm:<user id>', 'telegram:chat:<id>'), an opaque reply address (JSON text the front
-- end reads back), the secret part of it apart (reply_secret: Discord's interaction token; never
-- in repr or logs) and its status and result messages as text references.
--
-- Every existing job was a Discord job: its Discord columns are converted, then dropped. The
-- table is converted in place (ADD COLUMN, UPDATE, DROP COLUMN; SQLite 3.35+) rather than
-- rebuilt: dropping the jobs table would cascade to job_events (foreign_keys is ON and cannot
-- be switched off inside the migration's transaction), losing every job's history.

ALTER TABLE jobs ADD COLUMN platform TEXT NOT NULL DEFAULT 'discord';
ALTER TABLE jobs ADD COLUMN requester TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN reply_address TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN reply_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN status_message_ref TEXT;
ALTER TABLE jobs ADD COLUMN result_message_ref TEXT;

UPDATE jobs SET
    platform = 'discord',
    requester = 'discord:' || user_id,
    scope = CASE
        WHEN guild_id IS NULL THEN 'discord:dm:' || user_id
        ELSE 'discord:guild:' || guild_id
    END,
    reply_address = json_object(
        'user_id', user_id,
        'guild_id', guild_id,
        'channel_id', channel_id,
        'interaction_id', interaction_id,
        'token_expires_at', token_expires_at
    ),
    reply_secret = interaction_token,
    status_message_ref = CAST(status_message_id AS TEXT),
    result_message_ref = CAST(result_message_id AS TEXT);

DROP INDEX jobs_by_user;
DROP INDEX jobs_by_guild;
ALTER TABLE jobs DROP COLUMN user_id;
ALTER TABLE jobs DROP COLUMN guild_id;
ALTER TABLE jobs DROP COLUMN channel_id;
ALTER TABLE jobs DROP COLUMN interaction_id;
ALTER TABLE jobs DROP COLUMN interaction_token;
ALTER TABLE jobs DROP COLUMN token_expires_at;
ALTER TABLE jobs DROP COLUMN status_message_id;
ALTER TABLE jobs DROP COLUMN result_message_id;

-- recent_for(), count_active(), count_since(requester=), oldest_since(requester=), last_due_at().
CREATE INDEX jobs_by_requester ON jobs (requester, created_at);
-- count_since(scope=), oldest_since(scope=).
CREATE INDEX jobs_by_scope ON jobs (scope, created_at);
