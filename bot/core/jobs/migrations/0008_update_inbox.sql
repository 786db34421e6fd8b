-- Issue 11: every update a chat platform delivers is processed exactly once. A front end records
-- an update here (committed) before it confirms it to the platform (Telegram: the next
-- getUpdates offset, or the webhook's 200 answer), marks it done once its handler has run, and
-- at start-up processes every update recorded but not done. An update delivered again whose
-- (source, update_id) is already here is not processed again.
--
-- source: whose updates these are ('telegram:<bot id>'); update_id: the platform's id;
-- payload: the update as received (JSON text); done_at: NULL until handled.
-- A job made from an update names it in params.origin ('telegram:<bot id>:<update id>'), so an
-- update whose handler was cut short after the job was queued does not queue it twice.

CREATE TABLE inbox (
    source TEXT NOT NULL,
    update_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    done_at TEXT,
    PRIMARY KEY (source, update_id)
);

CREATE INDEX inbox_pending ON inbox (source, update_id) WHERE done_at IS NULL;

CREATE INDEX jobs_origin ON jobs (json_extract(params, '$.origin'));
