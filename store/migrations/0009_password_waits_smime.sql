-- 0009: personal data in transit.
-- password_waits: a mail whose encrypted workbook waits for its password,
-- sent in a second mail (the password itself is never stored). While a
-- wait is open the message stays 'received' but is not pending; once
-- resolved (the password came, or the window closed) it is decided.
CREATE TABLE password_waits (
	message     INTEGER PRIMARY KEY REFERENCES messages (id),
	agency      TEXT    NOT NULL,
	sender      TEXT    NOT NULL,                  -- lower-case bare address
	receipt     TEXT    NOT NULL,                  -- given in the waiting acknowledgement
	until       TEXT    NOT NULL,                  -- the password is awaited until then
	created_at  TEXT    NOT NULL,
	resolved_at TEXT,                              -- NULL while waiting
	password_message INTEGER REFERENCES messages (id) -- the mail that brought it, if any
);
CREATE INDEX password_waits_open ON password_waits (sender, until) WHERE resolved_at IS NULL;

-- smime_certs: the certificate of each sender whose S/MIME signature was
-- verified (the latest), to encrypt replies holding personal data to.
CREATE TABLE smime_certs (
	addr      TEXT PRIMARY KEY,                    -- lower-case bare address
	cert      BLOB NOT NULL,                       -- DER
	not_after TEXT NOT NULL,
	seen_at   TEXT NOT NULL
);
