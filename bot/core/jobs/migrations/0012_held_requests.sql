-- Issue 13: requests held back by the face check (bot.core.request.held). When the local face
-- check finds no face, the request is not queued: the prepared selfie and the member's choices
-- wait here, so the member can still "use it anyway" with one click, also after a restart.
--
-- platform / requester / scope: the ledger's keys, as on jobs; params: JSON text, what the
-- front end needs to queue the request later (options, spoiler, ...); selfie_path: the
-- prepared selfie in BOT_DATA_DIR/selfies (0600); created_at / expires_at: ISO-8601 UTC text
-- like the jobs' times. A row is deleted when the member goes ahead, when it expires, and
-- when the member is forgotten.

CREATE TABLE IF NOT EXISTS held_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT NOT NULL,
    requester   TEXT NOT NULL,
    scope       TEXT,
    params      TEXT NOT NULL,
    selfie_path TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS held_requests_requester ON held_requests (requester);
CREATE INDEX IF NOT EXISTS held_requests_expires ON held_requests (expires_at);
