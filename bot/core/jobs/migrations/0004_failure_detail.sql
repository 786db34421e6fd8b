-- The raw reason Wiro gave for a failed task (its stderr tail, or the bot's own detail): kept
-- for the owner and for /portrait-history, never shown to members as their failure message.

ALTER TABLE jobs ADD COLUMN failure_detail TEXT NOT NULL DEFAULT '';
