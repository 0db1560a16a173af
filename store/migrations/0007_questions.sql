-- 0007: questions. Mail from an agency with no workbook that asks
-- something ends in message status 'question' and waits in the questions
-- table until a member of staff marks it answered.
--
-- SQLite cannot change a CHECK constraint in place, so messages is
-- rebuilt with the same columns, in the same order, as 0004 rebuilt the
-- outbox: foreign keys stay on and are deferred to the commit, the rows
-- come back under the same ids, and the positional copy (SELECT *) fails
-- rather than drop a column an earlier migration might have added.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE messages_0007 AS SELECT * FROM messages;
DROP TABLE messages;

CREATE TABLE messages (
	id              INTEGER PRIMARY KEY,
	message_id      TEXT    NOT NULL DEFAULT '',   -- Message-ID header, may be ''
	dedupe_key      TEXT,                          -- NULL when none: never matches
	sha256          TEXT    NOT NULL,              -- hex of raw
	size            INTEGER NOT NULL,              -- size on the server
	truncated       INTEGER NOT NULL DEFAULT 0,    -- only the header was fetched
	raw             BLOB    NOT NULL,
	internal_date   TEXT,
	received_at     TEXT    NOT NULL,
	status          TEXT    NOT NULL DEFAULT 'received'
	                CHECK (status IN ('received', 'accepted', 'deficient', 'rejected',
	                                  'ignored', 'bounce', 'quarantined', 'question')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_attempt_at TEXT,
	last_error      TEXT    NOT NULL DEFAULT '',
	folder          TEXT    NOT NULL DEFAULT '',   -- where to file it on the server
	note            TEXT    NOT NULL DEFAULT '',
	from_addr       TEXT    NOT NULL DEFAULT '',
	agency          TEXT    NOT NULL DEFAULT '',
	call            TEXT    NOT NULL DEFAULT '',
	receipt         TEXT    NOT NULL DEFAULT '',
	processed_at    TEXT
);
INSERT INTO messages SELECT * FROM messages_0007;
DROP TABLE messages_0007;
CREATE UNIQUE INDEX messages_dedupe ON messages (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX messages_status ON messages (status, id);
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id <> '';

-- One row per question: who asked what, and whether staff answered.
CREATE TABLE questions (
	message     INTEGER PRIMARY KEY REFERENCES messages (id),
	agency      TEXT    NOT NULL,
	call        TEXT    NOT NULL DEFAULT '',  -- the call it names, if any
	sender      TEXT    NOT NULL,
	subject     TEXT    NOT NULL DEFAULT '',
	text        TEXT    NOT NULL DEFAULT '',  -- the mail's text, as decoded (bounded by the e-mail limits)
	asked_at    TEXT    NOT NULL,             -- when OPM's server received it
	answered_at TEXT,                         -- NULL while open
	answered_by TEXT    NOT NULL DEFAULT '',
	notes       TEXT    NOT NULL DEFAULT ''   -- staff notes, one per line: "<time> <user>: <text>"
);
CREATE INDEX questions_open ON questions (answered_at, message);
