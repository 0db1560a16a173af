-- Which accepted submission's rows are in force, per kind. A new version
-- takes over the kinds it contains; a kind it leaves out (retention requests
-- sent in an earlier mail, say) stays with the submission that sent it, so a
-- later partial submission never drops what an agency already sent.
CREATE TABLE current_kinds (
	call       TEXT    NOT NULL,
	agency     TEXT    NOT NULL,
	period     TEXT    NOT NULL DEFAULT '',
	kind       TEXT    NOT NULL,
	submission INTEGER NOT NULL REFERENCES submissions (id),
	PRIMARY KEY (call, agency, period, kind)
);
CREATE INDEX current_kinds_submission ON current_kinds (submission, kind);

INSERT INTO current_kinds (call, agency, period, kind, submission)
	SELECT DISTINCT s.call, s.agency, s.period, r.kind, s.id
	FROM submissions s JOIN records r ON r.submission = s.id
	WHERE s.state = 'current';
