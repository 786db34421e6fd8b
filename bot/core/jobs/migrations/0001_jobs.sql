-- Jobs and their state changes. Timestamps are ISO-8601 UTC text with microseconds and a
-- trailing Z ("2025-01-02T03:04:05.000006Z"): fixed width, so text order is time order.
-- params and outputs are JSON text. Secrets (interaction_token, wiro_socket_token) are kept
-- only as long as the row.

CREATE TABLE jobs (
    -- AUTOINCREMENT: an id is never reused after pruning (ids travel in button custom_ids).
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           INTEGER NOT NULL,
    guild_id          INTEGER,                      -- NULL in DMs
    channel_id        INTEGER NOT NULL,
    interaction_id    INTEGER NOT NULL,
    interaction_token TEXT    NOT NULL,
    token_expires_at  TEXT    NOT NULL,
    params            TEXT    NOT NULL DEFAULT '{}',
    state             TEXT    NOT NULL DEFAULT 'queued',
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    submitted_at      TEXT,                         -- run call begun; quotas count on it
    finished_at       TEXT,                         -- reached a final state
    attempts          INTEGER NOT NULL DEFAULT 0,   -- times it went back to the queue
    wiro_task_id      TEXT,
    wiro_socket_token TEXT,
    input_url         TEXT,
    outputs           TEXT    NOT NULL DEFAULT '[]',
    result_message_id INTEGER,
    failure_reason    TEXT    NOT NULL DEFAULT '',
    failure_message   TEXT    NOT NULL DEFAULT '',
    cost              REAL
);

CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    from_state TEXT,                                -- NULL for the job's creation
    to_state   TEXT    NOT NULL,
    at         TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT ''
);

-- events(job_id) and the cascade on prune.
CREATE INDEX job_events_by_job ON job_events (job_id, id);
-- queued(), queue_position(), unfinished(), prune(): by state, in queue order.
CREATE INDEX jobs_by_state ON jobs (state, created_at, id);
-- recent_for_user(), count_active(), count_since(user_id=), last_created_at().
CREATE INDEX jobs_by_user ON jobs (user_id, created_at);
-- count_since(guild_id=), oldest_since(guild_id=).
CREATE INDEX jobs_by_guild ON jobs (guild_id, created_at);
-- Start-up reconciliation matches Wiro's tasks to jobs: one task belongs to one job.
CREATE UNIQUE INDEX jobs_by_wiro_task ON jobs (wiro_task_id) WHERE wiro_task_id IS NOT NULL;
