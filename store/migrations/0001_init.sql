-- 0001: the whole first schema. See the package doc comment (store.go).

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
	                                  'ignored', 'bounce', 'quarantined')),
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
CREATE UNIQUE INDEX messages_dedupe ON messages (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX messages_status ON messages (status, id);

CREATE TABLE locations (
	id          INTEGER PRIMARY KEY,
	message     INTEGER NOT NULL REFERENCES messages (id),
	mailbox     TEXT    NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid         INTEGER NOT NULL,
	saved_at    TEXT    NOT NULL,
	filed_at    TEXT,                              -- NULL until moved to its folder
	UNIQUE (mailbox, uidvalidity, uid)
);
CREATE INDEX locations_message ON locations (message);

CREATE TABLE cursors (
	mailbox     TEXT    PRIMARY KEY,
	uidvalidity INTEGER NOT NULL,
	last_uid    INTEGER NOT NULL
);

CREATE TABLE submissions (
	id           INTEGER PRIMARY KEY,
	receipt      TEXT    NOT NULL UNIQUE,
	message      INTEGER NOT NULL REFERENCES messages (id),
	call         TEXT    NOT NULL,
	agency       TEXT    NOT NULL,
	period       TEXT    NOT NULL DEFAULT '',
	sender       TEXT    NOT NULL DEFAULT '',
	version      INTEGER NOT NULL DEFAULT 0,       -- 0 unless accepted
	state        TEXT    NOT NULL CHECK (state IN ('current', 'superseded', 'deficient')),
	late         INTEGER NOT NULL DEFAULT 0,
	received_at  TEXT    NOT NULL,
	created_at   TEXT    NOT NULL,
	records      INTEGER NOT NULL DEFAULT 0,
	errors       INTEGER NOT NULL DEFAULT 0,
	warnings     INTEGER NOT NULL DEFAULT 0,
	file_results TEXT    NOT NULL DEFAULT '[]'     -- JSON of parser.FileResult
);
-- At most one current version per (call, agency, period).
CREATE UNIQUE INDEX submissions_current ON submissions (call, agency, period) WHERE state = 'current';
CREATE INDEX submissions_call ON submissions (call, agency, period, id);
CREATE INDEX submissions_received ON submissions (received_at);

CREATE TABLE files (
	id           INTEGER PRIMARY KEY,
	submission   INTEGER NOT NULL REFERENCES submissions (id),
	name         TEXT    NOT NULL,
	content_type TEXT    NOT NULL DEFAULT '',
	sha256       TEXT    NOT NULL,
	size         INTEGER NOT NULL,
	data         BLOB    NOT NULL
);
CREATE INDEX files_submission ON files (submission);

CREATE TABLE records (
	id         INTEGER PRIMARY KEY,
	submission INTEGER NOT NULL REFERENCES submissions (id),
	file       INTEGER REFERENCES files (id),      -- the stored file of that name, if any
	kind       TEXT    NOT NULL,
	file_name  TEXT    NOT NULL DEFAULT '',
	sheet      TEXT    NOT NULL DEFAULT '',
	row        INTEGER NOT NULL DEFAULT 0,
	fields     TEXT    NOT NULL                    -- JSON object: column key -> value
);
CREATE INDEX records_submission ON records (submission, kind);

CREATE TABLE findings (
	id          INTEGER PRIMARY KEY,
	submission  INTEGER NOT NULL REFERENCES submissions (id),
	file_name   TEXT    NOT NULL DEFAULT '',
	sheet       TEXT    NOT NULL DEFAULT '',
	row         INTEGER NOT NULL DEFAULT 0,
	col         INTEGER NOT NULL DEFAULT 0,
	column_name TEXT    NOT NULL DEFAULT '',
	code        TEXT    NOT NULL,
	severity    TEXT    NOT NULL,
	message     TEXT    NOT NULL DEFAULT '',
	fix         TEXT    NOT NULL DEFAULT '',
	cite        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX findings_submission ON findings (submission);

CREATE TABLE outbox (
	id               INTEGER PRIMARY KEY,
	message_id       TEXT    NOT NULL UNIQUE,      -- stable, set at enqueue
	kind             TEXT    NOT NULL,             -- acknowledgement, deficiency, reminder
	from_addr        TEXT    NOT NULL DEFAULT '',
	recipients       TEXT    NOT NULL,             -- JSON array, as given
	raw              BLOB    NOT NULL,
	status           TEXT    NOT NULL DEFAULT 'queued'
	                 CHECK (status IN ('queued', 'sent', 'failed', 'bounced')),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  TEXT    NOT NULL,
	last_error       TEXT    NOT NULL DEFAULT '',
	submission       INTEGER REFERENCES submissions (id),
	answers          INTEGER REFERENCES messages (id), -- the incoming message replied to
	created_at       TEXT    NOT NULL,
	sent_at          TEXT,
	bounced_at       TEXT,
	bounce_recipient TEXT    NOT NULL DEFAULT '',
	bounce_reason    TEXT    NOT NULL DEFAULT '',
	bounce_message   INTEGER REFERENCES messages (id) -- the bounce that reported it
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_submission ON outbox (submission);

CREATE TABLE outbox_recipients (
	outbox     INTEGER NOT NULL REFERENCES outbox (id),
	addr       TEXT    NOT NULL,                   -- lower-case bare address
	created_at TEXT    NOT NULL,
	PRIMARY KEY (outbox, addr)
);
CREATE INDEX outbox_recipients_addr ON outbox_recipients (addr, created_at);

CREATE TABLE reminders (
	call       TEXT    NOT NULL,
	agency     TEXT    NOT NULL,
	due        TEXT    NOT NULL,
	outbox     INTEGER NOT NULL REFERENCES outbox (id),
	created_at TEXT    NOT NULL,
	PRIMARY KEY (call, agency, due)
);
