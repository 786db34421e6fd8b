-- Issue 12: the audit log and the bot owner's alerts.
--
-- audit_log: one row per request a member made (kind 'request': queued or refused) and per
-- policy change an administrator made (kind 'change'). Times are the ledger's ISO-8601 UTC text.
-- platform/requester/scope are the ledger's keys ('discord:<user id>', 'discord:guild:<id>');
-- member_name the display name at the time; place the channel or chat id; style the model and
-- LoRA ids; outcome 'queued', 'refused', 'changed' (a change), then the job's end
-- ('delivered', 'failed', 'cancelled', 'kept', 'unconfirmed'); reason the limit or refusal
-- kind, the job's failure_reason, or what a change set; cost Wiro's totalcost in dollars;
-- detail: a change's fields (JSON text).
-- Rows go with the jobs' retention (JOB_RETENTION_DAYS).
-- (IF NOT EXISTS: a database rolled back to an older version by hand keeps its log.)

CREATE TABLE IF NOT EXISTS audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    platform    TEXT    NOT NULL,
    requester   TEXT    NOT NULL,
    member_name TEXT    NOT NULL DEFAULT '',
    scope       TEXT    NOT NULL,
    place       TEXT,
    prompt      TEXT,
    style       TEXT,
    outcome     TEXT    NOT NULL,
    reason      TEXT,
    cost        REAL,
    job_id      INTEGER,
    detail      TEXT
);

-- recent(scope): the newest first.
CREATE INDEX IF NOT EXISTS audit_by_scope ON audit_log (scope, id);
-- The job-end trigger below: by job id.
CREATE INDEX IF NOT EXISTS audit_by_job ON audit_log (job_id) WHERE job_id IS NOT NULL;
-- prune(): by time.
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_log (at);

-- A job's end is written into its request's row in the same transaction as the job's own state
-- change (one indexed UPDATE), whichever code path ends it (the queue, a front end's "Send
-- again"). KEPT may later become DELIVERED: the row follows.
CREATE TRIGGER IF NOT EXISTS audit_job_end AFTER UPDATE OF state ON jobs
WHEN NEW.state IN ('delivered', 'failed', 'cancelled', 'kept', 'unconfirmed')
    AND NEW.state IS NOT OLD.state
BEGIN
    UPDATE audit_log
    SET outcome = NEW.state,
        reason = CASE WHEN NEW.state IN ('failed', 'kept') THEN NULLIF(NEW.failure_reason, '')
                      ELSE NULL END,
        cost = NEW.cost
    WHERE job_id = NEW.id AND kind = 'request';
END;

-- The last time the bot's owner was told of each Wiro health state ('out_of_credit', ...), so
-- an alert goes at most once an hour per state, across restarts.
CREATE TABLE IF NOT EXISTS owner_alerts (
    state   TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL,
    text    TEXT NOT NULL DEFAULT ''
);
