-- The nonce a result post carries (Discord's enforce_nonce deduplicates a resend after a
-- crash), recorded before the post is sent. A result Discord refused everywhere is kept
-- (state 'kept', files in BOT_DATA_DIR/results/<job id>/) until the member asks again.

ALTER TABLE jobs ADD COLUMN delivery_nonce TEXT;
