-- 0008: retention. The raw bytes of mail that was not a submission (rejected,
-- ignored, bounces) are purged after a configured number of days, and the
-- raw bytes of a mail that carried a workbook's password as soon as it is
-- used; the message row stays (its dedupe key, hash, status and note), so
-- the same mail seen again is still known and never answered twice. This
-- table says which and when. (A table of its own, not a column of
-- messages, so it does not depend on how messages is laid out.)
CREATE TABLE purged (
	message   INTEGER PRIMARY KEY REFERENCES messages (id),
	purged_at TEXT    NOT NULL
);
