package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"intake/parser"
)

// Submission states.
const (
	stateCurrent    = "current"    // the accepted version in force for (call, agency, period)
	stateSuperseded = "superseded" // an accepted version replaced by a newer one
	stateDeficient  = "deficient"  // not accepted (error findings)
)

// Current is the accepted version in force for (call, agency, period).
type Current struct {
	SubmissionID int64
	Receipt      string
	Version      int
	Records      []parser.Record
}

// Current returns the current accepted version for (call, agency, period)
// with its records in stored order; nil, nil when there is none.
func (s *Store) Current(ctx context.Context, call, agency, period string) (*Current, error) {
	var cur *Current
	err := s.read(ctx, func(tx *sql.Tx) error {
		var c Current
		err := tx.QueryRowContext(ctx, `SELECT id, receipt, version FROM submissions
			WHERE call = ? AND agency = ? AND period = ? AND state = ?`, call, agency, period, stateCurrent).
			Scan(&c.SubmissionID, &c.Receipt, &c.Version)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: current: %w", err)
		}
		if c.Records, err = currentRecords(ctx, tx, call, agency, period); err != nil {
			return err
		}
		cur = &c
		return nil
	})
	return cur, err
}

// currentRecords are the rows in force for (call, agency, period): of each
// kind, those of the accepted version that last sent that kind.
func currentRecords(ctx context.Context, tx *sql.Tx, call, agency, period string) ([]parser.Record, error) {
	var out []parser.Record
	err := eachRecord(ctx, tx, func(r parser.Record) error { out = append(out, r); return nil },
		`SELECT r.kind, r.file_name, r.sheet, r.row, r.fields
		FROM current_kinds c JOIN records r ON r.submission = c.submission AND r.kind = c.kind
		WHERE c.call = ? AND c.agency = ? AND c.period = ? ORDER BY r.id`, call, agency, period)
	if err != nil {
		return nil, fmt.Errorf("store: current records: %w", err)
	}
	return out, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// eachRecord runs a query of kind, file_name, sheet, row, fields and hands
// each record to fn as it is read: none is kept. An error from fn stops it
// and is returned as is.
func eachRecord(ctx context.Context, q querier, fn func(parser.Record) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CurrentVersion returns the version number of the current accepted
// version for (call, agency, period), 0 when there is none.
func (s *Store) CurrentVersion(ctx context.Context, call, agency, period string) (int, error) {
	var v int
	err := s.rdb.QueryRowContext(ctx, `SELECT version FROM submissions
		WHERE call = ? AND agency = ? AND period = ? AND state = ?`, call, agency, period, stateCurrent).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: current version: %w", err)
	}
	return v, nil
}

// CurrentRecords hands fn, one at a time, kind by kind and each kind's in
// stored order, the records in force for (call, agency, period) of the
// given kinds (for the version diff, parser.Differ.Old): none is held in
// memory here. An error from fn
// stops it and is returned as is.
func (s *Store) CurrentRecords(ctx context.Context, call, agency, period string, kinds []string, fn func(parser.Record) error) error {
	if len(kinds) == 0 {
		return nil
	}
	args := []any{call, agency, period}
	for _, k := range kinds {
		args = append(args, k)
	}
	var fnErr error
	err := s.eachCurrentRecord(ctx, func(r parser.Record) error {
		if fnErr = fn(r); fnErr != nil {
			return fnErr
		}
		return nil
	}, currentParts(len(kinds)), args...)
	if err != nil && fnErr == nil {
		return fmt.Errorf("store: current records: %w", err)
	}
	return err
}

// currentParts selects the parts in force of (call, agency, period) of n
// kinds.
func currentParts(n int) string {
	return `SELECT submission, kind FROM current_kinds
		WHERE call = ? AND agency = ? AND period = ? AND kind IN (?` + strings.Repeat(", ?", n-1) + `)
		ORDER BY kind`
}

// priorParts selects the parts in force of (call, agency, kind) across
// periods.
const priorParts = `SELECT submission, kind FROM current_kinds
	WHERE call = ? AND agency = ? AND kind = ? ORDER BY period`

// partRecords reads the records of one kind of one submission in stored
// order, off the records_submission index (no sort).
const partRecords = `SELECT kind, file_name, sheet, row, fields FROM records
	WHERE submission = ? AND kind = ? ORDER BY id`

// eachCurrentRecord hands fn the records of each (submission, kind) the
// parts query selects, part after part in the query's order, each part's
// in stored order, within one read transaction (one snapshot). One query a
// part reads the records straight off their index: a single join ordered
// by record id had SQLite sort every record in a temporary b-tree before
// the first came (for 950,000 records, most of a minute and hundreds of
// megabytes). An error from fn is returned as is.
func (s *Store) eachCurrentRecord(ctx context.Context, fn func(parser.Record) error, parts string, args ...any) error {
	return s.read(ctx, func(tx *sql.Tx) error {
		type part struct {
			submission int64
			kind       string
		}
		var ps []part
		rows, err := tx.QueryContext(ctx, parts, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p part
			if err := rows.Scan(&p.submission, &p.kind); err != nil {
				rows.Close()
				return err
			}
			ps = append(ps, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, p := range ps {
			if err := eachRecord(ctx, tx, fn, partRecords, p.submission, p.kind); err != nil {
				return err
			}
		}
		return nil
	})
}

// AgencyPrior is a parser.PriorFunc over the agency's current accepted
// records of a call across all periods: it streams one kind's records
// from the store each time it is called, holding none.
func (s *Store) AgencyPrior(ctx context.Context, call, agency string) parser.PriorFunc {
	return func(kind string, fn func(parser.Record) error) error {
		var fnErr error
		err := s.eachCurrentRecord(ctx, func(r parser.Record) error {
			if fnErr = fn(r); fnErr != nil {
				return fnErr
			}
			return nil
		}, priorParts, call, agency, kind)
		if err != nil && fnErr == nil {
			return fmt.Errorf("store: agency records: %w", err)
		}
		return err
	}
}

func submissionRecords(ctx context.Context, tx *sql.Tx, submission int64) ([]parser.Record, error) {
	rows, err := tx.QueryContext(ctx, `SELECT kind, file_name, sheet, row, fields FROM records
		WHERE submission = ? ORDER BY id`, submission)
	if err != nil {
		return nil, fmt.Errorf("store: records: %w", err)
	}
	defer rows.Close()
	var out []parser.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("store: records: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: records: %w", err)
	}
	return out, nil
}

// AgencyRecords returns the agency's current accepted records of a call
// across all periods, by kind (for cross-kind rules). The map is empty, not
// nil, when there are none.
func (s *Store) AgencyRecords(ctx context.Context, call, agency string) (map[string][]parser.Record, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.kind, r.file_name, r.sheet, r.row, r.fields
		FROM current_kinds c JOIN records r ON r.submission = c.submission AND r.kind = c.kind
		WHERE c.call = ? AND c.agency = ?
		ORDER BY c.period, r.id`, call, agency)
	if err != nil {
		return nil, fmt.Errorf("store: agency records: %w", err)
	}
	defer rows.Close()
	out := map[string][]parser.Record{}
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("store: agency records: %w", err)
		}
		out[r.Kind] = append(out[r.Kind], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: agency records: %w", err)
	}
	return out, nil
}

// SubmissionSummary is one submission as listed for staff.
type SubmissionSummary struct {
	ID         int64
	Receipt    string
	Call       string
	Agency     string
	Period     string
	Sender     string
	MessageID  string // Message-ID of the mail that carried it
	Version    int    // 0 unless accepted
	State      string // "current", "superseded", "deficient"
	Late       bool
	ReceivedAt time.Time
	Records    int   // records stored
	Errors     int   // error findings
	Warnings   int   // warning findings
	Message    int64 // id of the stored message
}

// ListFilter selects submissions. Zero values select all.
type ListFilter struct {
	Call, Agency string
	// State is "current", "superseded", "deficient", or "accepted" (current
	// or superseded: every version that was accepted); another value is
	// refused with ErrBadFilter.
	State    string
	Agencies []string  // any of these agency codes (beside Agency); empty: any
	Since    time.Time // received at or after
	Limit    int       // <= 0 = no limit
	Offset   int       // skip this many of the newest first
}

// ErrBadFilter: a filter names a state or status that does not exist.
var ErrBadFilter = errors.New("store: no such state")

// SubmissionStates are the states ListFilter.State takes.
var SubmissionStates = []string{stateCurrent, stateSuperseded, stateDeficient, "accepted"}

const summaryColumns = `s.id, s.receipt, s.call, s.agency, s.period, s.sender, m.message_id, s.version, s.state,
	s.late, s.received_at, s.records, s.errors, s.warnings, s.message`

const summaryFrom = ` FROM submissions s JOIN messages m ON m.id = s.message`

func scanSummary(r rowScanner) (SubmissionSummary, error) {
	var (
		x        SubmissionSummary
		late     int
		received sql.NullString
	)
	if err := r.Scan(&x.ID, &x.Receipt, &x.Call, &x.Agency, &x.Period, &x.Sender, &x.MessageID, &x.Version,
		&x.State, &late, &received, &x.Records, &x.Errors, &x.Warnings, &x.Message); err != nil {
		return x, err
	}
	x.Late = late != 0
	var err error
	x.ReceivedAt, err = parseTS(received)
	return x, err
}

// where returns the WHERE clause of f ("" for none) and its arguments.
func (f ListFilter) where() (string, []any, error) {
	var w where
	if f.Call != "" {
		w.add("s.call = ?", f.Call)
	}
	if f.Agency != "" {
		w.add("s.agency = ?", f.Agency)
	}
	if len(f.Agencies) > 0 {
		w.in("s.agency", f.Agencies)
	}
	if err := w.state("s.state", f.State); err != nil {
		return "", nil, err
	}
	if !f.Since.IsZero() {
		w.add("s.received_at >= ?", tsq(f.Since))
	}
	return w.clause(), w.args, nil
}

// CountSubmissions returns how many submissions f selects, Limit and
// Offset aside.
func (s *Store) CountSubmissions(ctx context.Context, f ListFilter) (int, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM submissions s`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count submissions: %w", err)
	}
	return n, nil
}

// Submissions lists submissions, newest first: Limit of them after
// Offset. An unknown State is ErrBadFilter.
func (s *Store) Submissions(ctx context.Context, f ListFilter) ([]SubmissionSummary, error) {
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	q, args := limitSkip(`SELECT `+summaryColumns+summaryFrom+where+` ORDER BY s.received_at DESC, s.id DESC`, args, f.Limit, f.Offset)
	out, err := queryAll(ctx, s.rdb, scanSummary, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: submissions: %w", err)
	}
	if out == nil {
		out = []SubmissionSummary{} // none is an empty list, not nil
	}
	return out, nil
}

// StoredFile describes a stored attachment (without its bytes).
type StoredFile struct {
	Name, ContentType, SHA256 string
	Size                      int64
}

// SubmissionDetail is everything stored about one submission.
type SubmissionDetail struct {
	SubmissionSummary
	Files    []StoredFile
	Findings []parser.Finding
	Records  []parser.Record
	Replies  []OutboxItem // replies that answer it, oldest first
}

// SubmissionByReceipt returns a submission with its files, findings,
// records and replies, read in one snapshot; ErrNotFound for an unknown
// receipt.
func (s *Store) SubmissionByReceipt(ctx context.Context, receipt string) (*SubmissionDetail, error) {
	var d SubmissionDetail
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		d.SubmissionSummary, err = scanSummary(tx.QueryRowContext(ctx, `SELECT `+summaryColumns+summaryFrom+
			` WHERE s.receipt = ?`, receipt))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: submission %s: %w", receipt, err)
		}
		if d.Files, err = submissionFiles(ctx, tx, d.ID); err != nil {
			return err
		}
		if d.Findings, err = submissionFindings(ctx, tx, d.ID); err != nil {
			return err
		}
		if d.Records, err = submissionRecords(ctx, tx, d.ID); err != nil {
			return err
		}
		if d.Replies, err = queryOutbox(ctx, tx, `SELECT `+outboxColumns+outboxFrom+
			` WHERE o.submission = ? ORDER BY o.id`, d.ID); err != nil {
			return fmt.Errorf("store: submission %s: replies: %w", receipt, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func submissionFiles(ctx context.Context, tx *sql.Tx, submission int64) ([]StoredFile, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, content_type, sha256, size FROM files WHERE submission = ? ORDER BY id`, submission)
	if err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	defer rows.Close()
	var out []StoredFile
	for rows.Next() {
		var f StoredFile
		if err := rows.Scan(&f.Name, &f.ContentType, &f.SHA256, &f.Size); err != nil {
			return nil, fmt.Errorf("store: files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	return out, nil
}

func submissionFindings(ctx context.Context, tx *sql.Tx, submission int64) ([]parser.Finding, error) {
	rows, err := tx.QueryContext(ctx, `SELECT file_name, sheet, row, col, column_name, code, severity, message, fix, cite
		FROM findings WHERE submission = ? ORDER BY id`, submission)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	defer rows.Close()
	var out []parser.Finding
	for rows.Next() {
		var f parser.Finding
		if err := rows.Scan(&f.File, &f.Sheet, &f.Row, &f.Col, &f.Column, &f.Code, &f.Severity, &f.Message,
			&f.Fix, &f.Cite); err != nil {
			return nil, fmt.Errorf("store: findings: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	return out, nil
}

// FileData returns a stored attachment of the submission with that receipt
// by its SHA-256 (hex, any case), with its bytes; ErrNotFound when there is
// none.
func (s *Store) FileData(ctx context.Context, receipt, sha256 string) (StoredFile, []byte, error) {
	var (
		f    StoredFile
		data []byte
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT f.name, f.content_type, f.sha256, f.size, f.data
		FROM files f JOIN submissions s ON s.id = f.submission
		WHERE s.receipt = ? AND lower(f.sha256) = lower(?) ORDER BY f.id LIMIT 1`, receipt, sha256).
		Scan(&f.Name, &f.ContentType, &f.SHA256, &f.Size, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredFile{}, nil, ErrNotFound
	}
	if err != nil {
		return StoredFile{}, nil, fmt.Errorf("store: file %s %s: %w", receipt, sha256, err)
	}
	if data == nil {
		data = []byte{}
	}
	return f, data, nil
}

// SubmissionCall returns the data call of the submission with that
// receipt; ErrNotFound for an unknown receipt.
func (s *Store) SubmissionCall(ctx context.Context, receipt string) (string, error) {
	var call string
	err := s.rdb.QueryRowContext(ctx, `SELECT call FROM submissions WHERE receipt = ?`, receipt).Scan(&call)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: submission %s: %w", receipt, err)
	}
	return call, nil
}

// Attempts returns every submission of call for period ("" for a
// single-deadline call), deficient ones too, in the order they were
// decided, as parser.Status takes them. Each one's Kinds are those it
// spoke for (the kinds of its sheets, as parser.Submission.Kinds).
func (s *Store) Attempts(ctx context.Context, call, period string) ([]parser.Attempt, error) {
	// The kinds of its sheets (an empty sheet speaks for its kind too) and
	// of its records, as insertSubmission gives current_kinds.
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id, s.receipt, s.agency, s.period, s.sender, s.version, s.state, s.late,
		s.received_at, s.file_results,
		COALESCE((SELECT group_concat(kind, char(10)) FROM (SELECT DISTINCT kind FROM records WHERE submission = s.id)), '')
		FROM submissions s WHERE s.call = ? AND s.period = ? ORDER BY s.id`, call, period)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	defer rows.Close()
	out := []parser.Attempt{}
	for rows.Next() {
		var (
			a           parser.Attempt
			state       string
			late        int
			received    sql.NullString
			fileResults []byte
			kinds       string
		)
		if err := rows.Scan(&a.Seq, &a.Receipt, &a.Agency, &a.Period, &a.Sender, &a.Version, &state, &late, &received, &fileResults, &kinds); err != nil {
			return nil, fmt.Errorf("store: attempts: %w", err)
		}
		if a.ReceivedAt, err = parseTS(received); err != nil {
			return nil, err
		}
		a.Accepted, a.Late = state != stateDeficient, late != 0
		var files []parser.FileResult
		if err := json.Unmarshal(fileResults, &files); err != nil {
			return nil, fmt.Errorf("store: attempts: %s: file results: %w", a.Receipt, err)
		}
		counts := map[string]int{}
		for _, k := range strings.Split(kinds, "\n") {
			if k != "" {
				counts[k] = 1
			}
		}
		a.Kinds = (&parser.Submission{Files: files, RecordCounts: counts}).Kinds()
		slices.Sort(a.Kinds)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	return out, nil
}

// AgencyCodes returns the codes of every agency with a submission stored,
// sorted.
func (s *Store) AgencyCodes(ctx context.Context) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT agency FROM submissions ORDER BY agency`)
	if err != nil {
		return nil, fmt.Errorf("store: agency codes: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, fmt.Errorf("store: agency codes: %w", err)
		}
		out = append(out, code)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: agency codes: %w", err)
	}
	return out, nil
}

// ExportRow is one record with its provenance, for exports.
type ExportRow struct {
	Receipt, MessageID, FileName, FileSHA256, Sheet, Agency, Period, Kind string
	Row, Version                                                          int
	ReceivedAt                                                            time.Time
	Fields                                                                map[string]string
}

// ExportRecords streams the records of a call to fn, by submission then in
// stored order: of one kind if kind != "", and only of current versions if
// currentOnly (else of every submission, superseded and deficient ones
// too). An error from fn stops the export and is returned as is.
func (s *Store) ExportRecords(ctx context.Context, call, kind string, currentOnly bool, fn func(ExportRow) error) error {
	q := `SELECT s.receipt, m.message_id, r.file_name, COALESCE(f.sha256, ''), r.sheet, s.agency, s.period, r.kind,
		r.row, s.version, s.received_at, r.fields
		FROM submissions s
		JOIN messages m ON m.id = s.message
		JOIN records r ON r.submission = s.id
		LEFT JOIN files f ON f.id = r.file
		WHERE s.call = ?`
	args := []any{call}
	if kind != "" {
		q += ` AND r.kind = ?`
		args = append(args, kind)
	}
	if currentOnly {
		// The rows in force: of each kind, those of the version that last sent it.
		q += ` AND EXISTS (SELECT 1 FROM current_kinds c WHERE c.submission = s.id AND c.kind = r.kind)`
	}
	q += ` ORDER BY s.id, r.id`
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			x        ExportRow
			received sql.NullString
			fields   []byte
		)
		if err := rows.Scan(&x.Receipt, &x.MessageID, &x.FileName, &x.FileSHA256, &x.Sheet, &x.Agency, &x.Period,
			&x.Kind, &x.Row, &x.Version, &received, &fields); err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		if x.ReceivedAt, err = parseTS(received); err != nil {
			return err
		}
		if x.Fields, err = decodeFields(fields); err != nil {
			return err
		}
		if err := fn(x); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	return nil
}
