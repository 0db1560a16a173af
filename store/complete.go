package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"intake/parser"
)

// Completion is the outcome of processing one message, stored by Complete.
type Completion struct {
	Message    int64
	Status     string // any status but StatusReceived
	Folder     string // where to file it on the server ("" = leave it where it is)
	Note       string
	From       string
	Agency     string
	Call       string
	Submission *NewSubmission // nil when none
	Reply      *NewReply      // nil when no reply
	Bounce     *Bounce        // nil unless Status == StatusBounce
	Question   *NewQuestion   // required with StatusQuestion, nil otherwise
	Now        time.Time
	// Wait, when set, does not end the message's processing: the message
	// waits for its workbook's password (WaitForPassword, with Reply as
	// the waiting acknowledgement); Status and Submission are not used.
	Wait *PasswordWait
	// PasswordMail, when set, keeps this message, a workbook's password
	// that came before the workbook, for the sender's next encrypted
	// workbook (EarlierPasswordMail).
	PasswordMail *PasswordMail
	// PurgeRaw: messages whose raw bytes are purged in the same
	// transaction (the mail that brought a workbook's password, once the
	// workbook is decided: the password is never kept).
	PurgeRaw []int64
}

// NewSubmission is a submission to store.
type NewSubmission struct {
	Receipt, Call, Agency, Period, Sender string
	// Accepted (no error findings): it becomes the current version for
	// (call, agency, period) and the previous current one is marked
	// superseded.
	Accepted   bool
	Late       bool
	ReceivedAt time.Time
	Files      []File            // attachment bytes as received
	Result     parser.Submission // records, findings, file results
	// Spool holds the records of a checked submission (parser.CheckStream
	// hands each row to Spool.Add); Complete stores them, after any in
	// Result.Records. The caller closes it once Complete returns.
	Spool *Spool
}

// File is an attachment as received.
type File struct {
	Name, ContentType, SHA256 string
	Data                      []byte
}

// Bounce is a delivery failure report about one of our replies.
type Bounce struct {
	ReplyMessageID string // Message-ID of our reply, with or without <>
	Recipient      string
	Reason         string
	Permanent      bool // a temporary (delayed) report leaves the reply's status alone
}

// Completed says what Complete stored.
type Completed struct {
	SubmissionID int64 // 0 when there was no submission
	Version      int   // 0 when not accepted
}

// finalStatus reports whether a message may end its processing in status.
func finalStatus(status string) bool {
	switch status {
	case StatusAccepted, StatusDeficient, StatusRejected, StatusIgnored, StatusBounce, StatusQuarantined, StatusQuestion:
		return true
	}
	return false
}

// Complete ends the processing of a message in ONE transaction: the
// message's status, folder and note; the submission with its files, records
// and findings; the reply in the outbox; a bounce recorded on the outbox row
// it answers (an unknown ReplyMessageID is only noted on the message, not an
// error). Either all of it is stored or none of it, so a reply never exists
// without its records. Completing a message that is not in status received
// is an error (nothing is done twice); ErrNotFound for an unknown message.
func (s *Store) Complete(ctx context.Context, c Completion) (Completed, error) {
	if c.Wait != nil {
		return Completed{}, s.WaitForPassword(ctx, *c.Wait, c.Reply, c.Now) // pii.go
	}
	if !finalStatus(c.Status) {
		return Completed{}, fmt.Errorf("store: complete %d: status %q is not a final status", c.Message, c.Status)
	}
	if c.Bounce != nil && c.Status != StatusBounce {
		return Completed{}, fmt.Errorf("store: complete %d: a bounce with status %s", c.Message, c.Status)
	}
	if (c.Question != nil) != (c.Status == StatusQuestion) {
		return Completed{}, fmt.Errorf("store: complete %d: status %s with question %v", c.Message, c.Status, c.Question != nil)
	}
	if c.Now.IsZero() {
		return Completed{}, fmt.Errorf("store: complete %d: zero time", c.Message)
	}
	var done Completed
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireStatus(ctx, tx, c.Message, StatusReceived); err != nil {
			return err
		}
		receipt := ""
		if c.Submission != nil {
			var err error
			if done, err = insertSubmission(ctx, tx, c.Message, c.Submission, c.Now); err != nil {
				return err
			}
			receipt = c.Submission.Receipt
		}
		if c.Reply != nil {
			if _, err := insertReply(ctx, tx, *c.Reply, done.SubmissionID, c.Message, c.Now); err != nil {
				return err
			}
		}
		if c.Question != nil {
			if err := insertQuestion(ctx, tx, c, c.Now); err != nil {
				return err
			}
		}
		note := c.Note
		if c.Bounce != nil {
			bn, err := recordBounce(ctx, tx, c.Message, *c.Bounce, c.Now)
			if err != nil {
				return err
			}
			if note != "" {
				note += "; "
			}
			note += bn
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?, folder = ?, note = ?, from_addr = ?,
			agency = ?, call = ?, receipt = ?, processed_at = ?, last_error = '' WHERE id = ?`,
			c.Status, c.Folder, note, c.From, c.Agency, c.Call, receipt, ts(c.Now), c.Message); err != nil {
			return fmt.Errorf("store: complete %d: %w", c.Message, err)
		}
		if pm := c.PasswordMail; pm != nil {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO password_mails (message, agency, sender, until, created_at)
				VALUES (?, ?, ?, ?, ?)`, c.Message, pm.Agency, normAddr(pm.Sender), ts(pm.Until), ts(c.Now)); err != nil {
				return fmt.Errorf("store: complete %d: password mail: %w", c.Message, err)
			}
		}
		if err := purgeRaw(ctx, tx, c.PurgeRaw, c.Now); err != nil { // pii.go
			return err
		}
		return nil
	})
	if err != nil {
		return Completed{}, err
	}
	if len(c.PurgeRaw) > 0 {
		s.dropLog(ctx) // pii.go
	}
	return done, nil
}

// insertSubmission stores sub, its files, records and findings inside tx.
func insertSubmission(ctx context.Context, tx *sql.Tx, message int64, sub *NewSubmission, now time.Time) (Completed, error) {
	if sub.Receipt == "" {
		return Completed{}, errors.New("store: insert submission: empty receipt")
	}
	if sub.Call == "" {
		return Completed{}, fmt.Errorf("store: insert submission %s: empty call", sub.Receipt)
	}
	fail := func(err error) (Completed, error) {
		return Completed{}, fmt.Errorf("store: insert submission %s: %w", sub.Receipt, err)
	}
	var errs, warns int
	for _, f := range sub.Result.Findings {
		if f.Severity == parser.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	fileResults, err := json.Marshal(sub.Result.Files)
	if err != nil {
		return fail(err)
	}
	state, version := stateDeficient, 0
	if sub.Accepted {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM submissions
			WHERE call = ? AND agency = ? AND period = ?`, sub.Call, sub.Agency, sub.Period).Scan(&version); err != nil {
			return fail(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE submissions SET state = ?
			WHERE call = ? AND agency = ? AND period = ? AND state = ?`,
			stateSuperseded, sub.Call, sub.Agency, sub.Period, stateCurrent); err != nil {
			return fail(err)
		}
		state = stateCurrent
	}
	received := sub.ReceivedAt
	if received.IsZero() {
		received = now
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO submissions
		(receipt, message, call, agency, period, sender, version, state, late, received_at, created_at,
		 records, errors, warnings, file_results)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sub.Receipt, message, sub.Call, sub.Agency, sub.Period, sub.Sender, version, state, boolInt(sub.Late),
		ts(received), ts(now), len(sub.Result.Records)+sub.Spool.Len(), errs, warns, string(fileResults))
	if err != nil {
		return fail(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fail(err)
	}

	fileIDs := map[string]int64{} // name -> first stored file of that name
	for _, f := range sub.Files {
		data := f.Data
		if data == nil {
			data = []byte{}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO files (submission, name, content_type, sha256, size, data)
			VALUES (?, ?, ?, ?, ?, ?)`, id, f.Name, f.ContentType, f.SHA256, len(f.Data), data)
		if err != nil {
			return fail(fmt.Errorf("file %q: %w", f.Name, err))
		}
		if _, ok := fileIDs[f.Name]; !ok {
			if fileIDs[f.Name], err = res.LastInsertId(); err != nil {
				return fail(err)
			}
		}
	}

	if err := insertRecords(ctx, tx, id, fileIDs, sliceRecords(sub.Result.Records)); err != nil {
		return fail(err)
	}
	if sub.Spool != nil {
		sr, err := sub.Spool.reader()
		if err != nil {
			return fail(err)
		}
		if err := insertRecords(ctx, tx, id, fileIDs, sr.next); err != nil {
			return fail(err)
		}
	}
	if sub.Accepted {
		// The kinds this version contains are now its own; the others stay
		// with the version that sent them.
		for _, kind := range sub.Result.Kinds() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO current_kinds (call, agency, period, kind, submission)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (call, agency, period, kind) DO UPDATE SET submission = excluded.submission`,
				sub.Call, sub.Agency, sub.Period, kind, id); err != nil {
				return fail(err)
			}
		}
	}

	if len(sub.Result.Findings) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO findings
			(submission, file_name, sheet, row, col, column_name, code, severity, message, fix, cite)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fail(err)
		}
		defer stmt.Close()
		for _, f := range sub.Result.Findings {
			sev := f.Severity
			if sev == "" {
				sev = parser.SeverityError
			}
			if _, err := stmt.ExecContext(ctx, id, f.File, f.Sheet, f.Row, f.Col, f.Column, f.Code, sev,
				f.Message, f.Fix, f.Cite); err != nil {
				return fail(fmt.Errorf("finding: %w", err))
			}
		}
	}
	return Completed{SubmissionID: id, Version: version}, nil
}

// recordBatch is how many records one INSERT statement carries: a
// multi-row INSERT costs one statement step and one trip through
// database/sql for the batch instead of one per record, which halves the
// time of a 100k-record submission. 7 parameters x 128 rows stays far
// under SQLite's limit of 32766 parameters.
const recordBatch = 128

const recordInsert = `INSERT INTO records (submission, file, kind, file_name, sheet, row, fields) VALUES `

// sliceRecords reads records held in memory, their fields encoded as
// they are stored.
func sliceRecords(records []parser.Record) func() (*spooledRecord, error) {
	var (
		rec  spooledRecord
		keys []string
		i    int
	)
	return func() (*spooledRecord, error) {
		if i == len(records) {
			return nil, io.EOF
		}
		r := &records[i]
		i++
		rec.kind, rec.file, rec.sheet, rec.row = r.Kind, r.File, r.Sheet, r.Row
		rec.fields, keys = appendFields(rec.fields[:0], r.Fields, keys)
		return &rec, nil
	}
}

// insertRecords stores the records next gives (until io.EOF) with
// prepared multi-row statements (one for full batches, one for the rest);
// the fields of a batch are gathered into one reused buffer. Only one batch
// is in memory at a time, and ctx is checked between batches.
func insertRecords(ctx context.Context, tx *sql.Tx, submission int64, fileIDs map[string]int64, next func() (*spooledRecord, error)) error {
	values := func(n int) string {
		return recordInsert + "(?, ?, ?, ?, ?, ?, ?)" + strings.Repeat(", (?, ?, ?, ?, ?, ?, ?)", n-1)
	}
	var (
		full  *sql.Stmt
		buf   []byte
		ends  []int
		batch []spooledRecord
		args  = make([]any, 0, 7*recordBatch)
		first = 1
	)
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// One string for the batch; each record's fields are a substring
		// of it (no copy per record).
		all, start := string(buf), 0
		args = args[:0]
		for i := range batch {
			r := &batch[i]
			var file any
			if fid, ok := fileIDs[r.file]; ok {
				file = fid
			}
			args = append(args, submission, file, r.kind, r.file, r.sheet, r.row, all[start:ends[i]])
			start = ends[i]
		}
		var err error
		if len(batch) == recordBatch {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, values(recordBatch)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, values(len(batch)), args...)
		}
		if err != nil {
			return fmt.Errorf("records %d-%d: %w", first, first+len(batch)-1, err)
		}
		first += len(batch)
		buf, ends, batch = buf[:0], ends[:0], batch[:0]
		return nil
	}
	for {
		r, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		buf = append(buf, r.fields...)
		ends = append(ends, len(buf))
		batch = append(batch, spooledRecord{kind: r.kind, file: r.file, sheet: r.sheet, row: r.row})
		if len(batch) == recordBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// recordBounce records b on the outbox row it reports on, and returns the
// note for the bounce message.
func recordBounce(ctx context.Context, tx *sql.Tx, message int64, b Bounce, now time.Time) (string, error) {
	o, err := replyByMessageID(ctx, tx, b.ReplyMessageID)
	kind := "temporary"
	if b.Permanent {
		kind = "permanent"
	}
	if errors.Is(err, ErrNotFound) {
		return fmt.Sprintf("%s bounce of unknown reply <%s> to %s: %s", kind, trimID(b.ReplyMessageID), b.Recipient, b.Reason), nil
	}
	if err != nil {
		return "", err
	}
	q := `UPDATE outbox SET bounced_at = ?, bounce_recipient = ?, bounce_reason = ?, bounce_message = ?, last_error = ?
		WHERE id = ?`
	args := []any{ts(now), b.Recipient, b.Reason, message, "bounce: " + b.Reason, o.ID}
	if b.Permanent {
		q = `UPDATE outbox SET bounced_at = ?, bounce_recipient = ?, bounce_reason = ?, bounce_message = ?, last_error = ?,
			status = ? WHERE id = ?`
		args = []any{ts(now), b.Recipient, b.Reason, message, "bounce: " + b.Reason, OutboxBounced, o.ID}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return "", fmt.Errorf("store: record bounce: %w", err)
	}
	return fmt.Sprintf("%s bounce of reply %d <%s> to %s: %s", kind, o.ID, o.MessageID, b.Recipient, b.Reason), nil
}
