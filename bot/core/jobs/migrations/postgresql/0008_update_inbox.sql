-- PostgreSQL form of ../0008_update_inbox.sql. The origin index is on the same expression the
-- ledger's query uses (bot.core.jobs.sql.POSTGRESQL.json_text).

CREATE TABLE inbox (
    source TEXT NOT NULL,
    update_id BIGINT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT COLLATE "C" NOT NULL,
    done_at TEXT COLLATE "C",
    PRIMARY KEY (source, update_id)
);

CREATE INDEX inbox_pending ON inbox (source, update_id) WHERE done_at IS NULL;

CREATE INDEX jobs_origin ON jobs ((params::json ->> 'origin'));
