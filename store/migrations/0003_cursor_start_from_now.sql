-- "Start from now" leaves the mail already in a mailbox unanswered. The
-- cursor remembers when that began (skip_before), so a rescan after the
-- server renumbers the mailbox (a new UIDVALIDITY) still leaves that mail
-- alone, and up to which UID the running rescan goes (rescan_to), so a
-- restart in the middle of it keeps doing so. NULL / 0: not set.
ALTER TABLE cursors ADD COLUMN skip_before TEXT;
ALTER TABLE cursors ADD COLUMN rescan_to INTEGER NOT NULL DEFAULT 0;

-- The rescan asks whether a message is already stored by its Message-ID
-- before fetching the whole of it.
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id <> '';
