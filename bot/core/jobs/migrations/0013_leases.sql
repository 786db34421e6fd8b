-- Issue 14: several bot processes on one database. A lease is a named right that one process
-- holds until expires_at and renews while it lives: "telegram-polling:<bot id>" (one process
-- takes a Telegram bot's updates by long polling at a time) and "process:<holder>" (a
-- process's heartbeat: the jobs it claimed, jobs.claimed_by, go back to the others when it
-- stops renewing). holder: '<host>:<pid>:<random>'; expires_at: ISO-8601 UTC text like the
-- jobs' times.

CREATE TABLE IF NOT EXISTS leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
