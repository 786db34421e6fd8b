-- Issue 12: each Discord server's and Telegram chat's own policy (bot.core.policy).
--
-- scope: the ledger's scope string ('discord:guild:<id>', 'telegram:chat:<chat id>');
-- policy: a ScopePolicy as JSON text (read tolerantly: unknown keys are dropped and a value
-- of the wrong shape falls back to its default, so an older or newer bot can read it);
-- updated_by: the requester key of who changed it last ('discord:<user id>');
-- updated_at: when, ISO-8601 UTC text like the jobs' times. A scope without a row has the
-- defaults, which inherit the bot owner's settings.

CREATE TABLE scope_policy (
    scope TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    updated_by TEXT,
    updated_at TEXT
);
