-- Issue 13: saved faces (bot.core.faces). One row per face a member saved; the face itself is
-- an encrypted file in BOT_DATA_DIR/faces/ (Fernet, key FACES_KEY or BOT_DATA_DIR/faces.key).
--
-- requester: the ledger's requester key ('discord:<user id>', 'telegram:<user id>'); name: as
-- the member typed it (trimmed, 1-32 characters); name_key: the same casefolded, so "Me" and
-- "me" are one name; is_default: 1 for the face /portrait uses without a photo (at most one
-- per member); file: the encrypted file's name inside the faces folder; created_at: ISO-8601
-- UTC text like the jobs' times. A job made with a saved face names it in params.face_id.
-- (IF NOT EXISTS: a database rolled back to an older version by hand keeps its faces.)

CREATE TABLE IF NOT EXISTS saved_faces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    requester  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    file       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (requester, name_key)
);

-- default(requester): at most one default face per member.
CREATE UNIQUE INDEX IF NOT EXISTS saved_faces_default ON saved_faces (requester)
    WHERE is_default = 1;
