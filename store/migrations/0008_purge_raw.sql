-- 0008: retention. The raw bytes of mail that was not a submission (rejected,
-- ignored, bounces) are purged after a configured number of days; the row
-- stays (its dedupe key, hash, status and note), so the same mail seen again
-- is still known and never answered twice. purged_at says when.
ALTER TABLE messages ADD COLUMN purged_at TEXT;
CREATE INDEX messages_purge ON messages (status, received_at) WHERE purged_at IS NULL;
