-- PostgreSQL form of ../0007_platform_neutral_jobs.sql: the Discord columns become the
-- platform-neutral ones (json_build_object for SQLite's json_object), then go.

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
    reply_address = json_build_object(
        'user_id', user_id,
        'guild_id', guild_id,
        'channel_id', channel_id,
        'interaction_id', interaction_id,
        'token_expires_at', token_expires_at
    )::text,
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

CREATE INDEX jobs_by_requester ON jobs (requester, created_at);
CREATE INDEX jobs_by_scope ON jobs (scope, created_at);
