-- 0010: a message's submission found by the message. EarlierCopy (and the
-- joins from a message to its submission) scanned every submission, and a
-- scan that reaches a message's columns after its raw bytes reads the
-- whole mail from its overflow pages: seconds per mail on deadline day.
CREATE INDEX submissions_message ON submissions (message);
