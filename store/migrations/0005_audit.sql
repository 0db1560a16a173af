-- 0005: the audit log: who viewed records, downloaded a file or exported,
-- when, and what. Append-only: the triggers refuse every UPDATE and DELETE
-- made through SQL, and each entry holds the hash of the one before it
-- (audit.go), so an entry edited or deleted by other means breaks the
-- chain, which `intake audit verify` reports. AUTOINCREMENT keeps the
-- highest id ever given in sqlite_sequence, so the newest entries deleted
-- leave a gap that is seen too.
CREATE TABLE audit (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	at      TEXT    NOT NULL,             -- when, UTC (the store's fixed-width form)
	user    TEXT    NOT NULL,             -- the dashboard user, or the OS user of a command
	via     TEXT    NOT NULL,             -- web | cli
	action  TEXT    NOT NULL,             -- view | download | export | ...
	call    TEXT    NOT NULL DEFAULT '',  -- the data call concerned
	object  TEXT    NOT NULL DEFAULT '',  -- receipt, file, or what was exported
	detail  TEXT    NOT NULL DEFAULT '',  -- e.g. the client's address, the format
	prev    TEXT    NOT NULL,             -- hash of the entry before ('' for the first)
	hash    TEXT    NOT NULL              -- SHA-256 of this entry's fields and prev
);
CREATE INDEX audit_user ON audit (user, id);
CREATE INDEX audit_call ON audit (call, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
