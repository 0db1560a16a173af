-- 0011: a workbook's password that came before its workbook. The password
-- mail is kept (its raw bytes, never the password alone) until its window
-- closes, for the sender's next encrypted workbook; it is purged once that
-- workbook is decided, or unused when the window closes (purged marks both).
CREATE TABLE password_mails (
	message    INTEGER PRIMARY KEY REFERENCES messages (id),
	agency     TEXT    NOT NULL,
	sender     TEXT    NOT NULL,                  -- lower-case bare address
	until      TEXT    NOT NULL,                  -- a workbook received until then may use it
	created_at TEXT    NOT NULL
);
CREATE INDEX password_mails_sender ON password_mails (sender, until);
