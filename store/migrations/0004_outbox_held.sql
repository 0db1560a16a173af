-- 0004: outbox status 'held': a reply kept and never sent (one queued
-- during a dry run). SQLite cannot change a CHECK constraint in place, so
-- the table is rebuilt with the same columns, in the same order.
--
-- Foreign keys stay on (a migration runs inside a transaction, where
-- PRAGMA foreign_keys cannot change). Deferring them lets the old table go
-- while outbox_recipients and reminders still point at its rows: the rows
-- come back under the same ids before the commit, which checks them.
-- The copy is positional (SELECT *): should an earlier migration have added
-- a column to outbox, this one fails and changes nothing rather than drop
-- that column.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE outbox_0004 AS SELECT * FROM outbox;
DROP TABLE outbox;

CREATE TABLE outbox (
	id               INTEGER PRIMARY KEY,
	message_id       TEXT    NOT NULL UNIQUE,      -- stable, set at enqueue
	kind             TEXT    NOT NULL,             -- acknowledgement, deficiency, reminder
	from_addr        TEXT    NOT NULL DEFAULT '',
	recipients       TEXT    NOT NULL,             -- JSON array, as given
	raw              BLOB    NOT NULL,
	status           TEXT    NOT NULL DEFAULT 'queued'
	                 CHECK (status IN ('queued', 'sent', 'failed', 'bounced', 'held')),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  TEXT    NOT NULL,
	last_error       TEXT    NOT NULL DEFAULT '',  -- for a held reply: why it is held
	submission       INTEGER REFERENCES submissions (id),
	answers          INTEGER REFERENCES messages (id), -- the incoming message replied to
	created_at       TEXT    NOT NULL,
	sent_at          TEXT,
	bounced_at       TEXT,
	bounce_recipient TEXT    NOT NULL DEFAULT '',
	bounce_reason    TEXT    NOT NULL DEFAULT '',
	bounce_message   INTEGER REFERENCES messages (id) -- the bounce that reported it
);
INSERT INTO outbox SELECT * FROM outbox_0004;
DROP TABLE outbox_0004;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_submission ON outbox (submission);
