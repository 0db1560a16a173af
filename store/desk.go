package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"intake/parser"
)

// The staff desk's queries: lists with search, sorting and pages; what
// needs attention; the versions of an agency's submission; and the staff's
// actions on replies.

// Audit actions of the staff desk: what a person did to the mail.
const (
	AuditReplay  = "replay"  // a stored message decided again
	AuditRelease = "release" // a held reply released to be sent
	AuditResend  = "resend"  // a reply sent, failed or bounced queued again
	AuditAnswer  = "answer"  // a question marked answered
	AuditNote    = "note"    // a staff note added to a question
	AuditMail    = "mail"    // an incoming mail's text shown
)

// ErrStatus is returned by a staff action on a row whose status does not
// allow it (releasing a reply that is not held, say).
var ErrStatus = errors.New("store: not in a status that allows this")

// likeEscape makes s a LIKE pattern matching s anywhere, with '\' as the
// escape character.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// placeholders is "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// orderBy is the ORDER BY clause for sort (a key of cols, else def), with
// tie, a unique column, last so that pages never overlap.
func orderBy(cols map[string]string, sort, def string, desc bool, tie string) string {
	col, ok := cols[sort]
	if !ok {
		col = cols[def]
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	return ` ORDER BY ` + col + dir + `, ` + tie + dir
}

// SubmissionQuery selects, orders and pages submissions. Zero fields
// select all.
type SubmissionQuery struct {
	Call     string
	Periods  []string // any of these periods; nil: any period
	Agencies []string // any of these agency codes (exact); nil: any agency, empty: none
	// State is current, superseded, deficient, or accepted (current or
	// superseded); another is refused with ErrBadFilter.
	State string
	// LatestOnly keeps only each (call, agency, period)'s latest
	// submission; with State "deficient", the agencies whose newest
	// attempt failed.
	LatestOnly bool
	// Text is searched for in the receipt, the sender, the agency code and
	// the names of the files (anywhere in them, any case), and in the
	// values of the records' fields named by RecordKeys (whole value, any
	// case): a position number, say. AgencyCodes are codes whose agency's
	// name matched Text (the store does not know the names): a submission
	// of one of them matches too.
	Text        string
	AgencyCodes []string
	RecordKeys  []string
	// Sort is one of received (default), receipt, agency, call, state,
	// version, records, errors; Desc reverses it.
	Sort          string
	Desc          bool
	Limit, Offset int // a page; Limit <= 0: all
}

var submissionSorts = map[string]string{
	"received": "s.received_at", "receipt": "s.receipt", "agency": "s.agency", "call": "s.call",
	"state": "s.state", "version": "s.version", "records": "s.records", "errors": "s.errors",
}

// SearchSubmissions returns a page of the submissions q selects, and how
// many it selects in all, from one snapshot. An unknown State is
// ErrBadFilter.
func (s *Store) SearchSubmissions(ctx context.Context, q SubmissionQuery) ([]SubmissionSummary, int, error) {
	var w where
	if q.Call != "" {
		w.add("s.call = ?", q.Call)
	}
	w.in("s.period", q.Periods)
	w.in("s.agency", q.Agencies)
	if err := w.state("s.state", q.State); err != nil {
		return nil, 0, err
	}
	if q.LatestOnly {
		w.add(`s.id = (SELECT MAX(l.id) FROM submissions l WHERE l.call = s.call AND l.agency = s.agency AND l.period = s.period)`)
	}
	if t := strings.TrimSpace(q.Text); t != "" {
		more := []string{`EXISTS (SELECT 1 FROM files f WHERE f.submission = s.id AND f.name LIKE ? ESCAPE '\')`}
		margs := []any{likeEscape(t)}
		if len(q.AgencyCodes) > 0 {
			more = append(more, "s.agency IN ("+placeholders(len(q.AgencyCodes))+")")
			margs = append(margs, anys(q.AgencyCodes)...)
		}
		if len(q.RecordKeys) > 0 {
			more = append(more, `EXISTS (SELECT 1 FROM records r, json_each(r.fields) j WHERE r.submission = s.id
				AND j.key IN (`+placeholders(len(q.RecordKeys))+`) AND j.value = ? COLLATE NOCASE)`)
			margs = append(margs, anys(q.RecordKeys)...)
			margs = append(margs, t)
		}
		w.contains(t, []string{"s.receipt", "s.sender", "s.agency"}, more, margs...)
	}
	cond, args := w.clause(), w.args
	out, total, err := page(ctx, s, `SELECT COUNT(*)`+summaryFrom+cond,
		`SELECT `+summaryColumns+summaryFrom+cond+orderBy(submissionSorts, q.Sort, "received", q.Desc, "s.id"),
		args, q.Limit, q.Offset, scanSummary)
	if err != nil {
		return nil, 0, fmt.Errorf("store: search submissions: %w", err)
	}
	return out, total, nil
}

// knownStatuses refuses, with ErrBadFilter, a status not in known.
func knownStatuses(statuses, known []string) error {
	for _, st := range statuses {
		if !slices.Contains(known, st) {
			return fmt.Errorf("%w %q (want one of %s)", ErrBadFilter, st, strings.Join(known, ", "))
		}
	}
	return nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}

// MessageQuery selects, orders and pages stored messages. Zero fields
// select all.
type MessageQuery struct {
	Statuses []string // any of these (MessageStatuses; another is ErrBadFilter); nil: any status
	// Text is searched for, anywhere and in any case, in the sender, the
	// Message-ID, the note, the agency, the receipt and the last error.
	Text string
	// Sort is one of received (default: the order they were stored in),
	// from, status, attempts; Desc reverses it.
	Sort          string
	Desc          bool
	Limit, Offset int
}

var messageSorts = map[string]string{"received": "id", "from": "from_addr", "status": "status", "attempts": "attempts"}

// SearchMessages returns a page of the messages q selects (without their
// raw bytes), and how many it selects in all, from one snapshot. An
// unknown status is ErrBadFilter.
func (s *Store) SearchMessages(ctx context.Context, q MessageQuery) ([]Message, int, error) {
	if err := knownStatuses(q.Statuses, MessageStatuses); err != nil {
		return nil, 0, err
	}
	var w where
	w.in("status", q.Statuses)
	w.contains(q.Text, []string{"from_addr", "message_id", "note", "agency", "receipt", "last_error"}, nil)
	cond, args := w.clause(), w.args
	out, total, err := page(ctx, s, `SELECT COUNT(*) FROM messages`+cond,
		`SELECT `+messageColumns+` FROM messages`+cond+orderBy(messageSorts, q.Sort, "received", q.Desc, "id"),
		args, q.Limit, q.Offset, scanListedMessage)
	if err != nil {
		return nil, 0, fmt.Errorf("store: search messages: %w", err)
	}
	return out, total, nil
}

// ReplyQuery selects, orders and pages the outbox. Zero fields select all.
type ReplyQuery struct {
	Statuses []string // any of these (OutboxStatuses; another is ErrBadFilter); nil: any status
	Answers  int64    // only replies to this stored message; 0: any
	// Text is searched for, anywhere and in any case, in the recipients,
	// the Message-ID, the kind, the receipt and the last error.
	Text string
	// Sort is one of created (default), status, kind, attempts; Desc
	// reverses it.
	Sort          string
	Desc          bool
	Limit, Offset int
}

var replySorts = map[string]string{"created": "o.created_at", "status": "o.status", "kind": "o.kind", "attempts": "o.attempts"}

// outboxListColumns are outboxColumns without the raw bytes (an empty
// blob in their place), for lists.
const outboxListColumns = `o.id, o.message_id, o.kind, o.from_addr, o.recipients, x'', o.status, o.attempts,
	o.next_attempt_at, o.last_error, COALESCE(s.receipt, ''), o.created_at, o.sent_at`

// SearchReplies returns a page of the replies q selects, without their raw
// bytes, and how many it selects in all, from one snapshot. An unknown
// status is ErrBadFilter.
func (s *Store) SearchReplies(ctx context.Context, q ReplyQuery) ([]OutboxItem, int, error) {
	if err := knownStatuses(q.Statuses, OutboxStatuses); err != nil {
		return nil, 0, err
	}
	var w where
	w.in("o.status", q.Statuses)
	if q.Answers != 0 {
		w.add("o.answers = ?", q.Answers)
	}
	w.contains(q.Text, []string{"o.recipients", "o.message_id", "o.kind", "s.receipt", "o.last_error"}, nil)
	cond, args := w.clause(), w.args
	out, total, err := page(ctx, s, `SELECT COUNT(*)`+outboxFrom+cond,
		`SELECT `+outboxListColumns+outboxFrom+cond+orderBy(replySorts, q.Sort, "created", q.Desc, "o.id"),
		args, q.Limit, q.Offset, scanOutbox)
	if err != nil {
		return nil, 0, fmt.Errorf("store: search replies: %w", err)
	}
	return out, total, nil
}

// Reply returns the reply with that outbox id, with its raw bytes, or
// ErrNotFound.
func (s *Store) Reply(ctx context.Context, id int64) (*OutboxItem, error) {
	out, err := queryOutbox(ctx, s.rdb, `SELECT `+outboxColumns+outboxFrom+` WHERE o.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("store: reply %d: %w", id, err)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}

// ReleaseReply lets a held reply (one a dry run kept) go out: it is queued,
// due at now. ErrNotFound for an unknown id, ErrStatus unless it is held.
func (s *Store) ReleaseReply(ctx context.Context, id int64, now time.Time) error {
	return s.requeue(ctx, id, now, OutboxHeld)
}

// ResendReply queues again a reply that was sent, failed or bounced, due at
// now, its attempts counted from zero. It goes out byte for byte as before,
// under the same Message-ID. ErrNotFound for an unknown id, ErrStatus for a
// reply still queued or held.
func (s *Store) ResendReply(ctx context.Context, id int64, now time.Time) error {
	return s.requeue(ctx, id, now, OutboxSent, OutboxFailed, OutboxBounced)
}

func (s *Store) requeue(ctx context.Context, id int64, now time.Time, from ...string) error {
	if now.IsZero() {
		return fmt.Errorf("store: requeue reply %d: zero time", id)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: requeue reply %d: %w", id, err)
		}
		ok := false
		for _, f := range from {
			ok = ok || status == f
		}
		if !ok {
			return fmt.Errorf("%w: reply %d is %s", ErrStatus, id, status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, attempts = 0, last_error = '', next_attempt_at = ?
			WHERE id = ?`, OutboxQueued, ts(now), id); err != nil {
			return fmt.Errorf("store: requeue reply %d: %w", id, err)
		}
		return nil
	})
}

// Attention counts what staff should look at: mail quarantined (failed too
// often, forged or unknown senders are rejected, not counted), mail not yet
// decided, replies that failed or bounced, replies held, agencies whose
// latest submission (per call and period) was not accepted, and questions
// not yet answered.
type Attention struct {
	Quarantined     int `json:"quarantined"`
	Undecided       int `json:"undecided"`
	FailedReplies   int `json:"failed_replies"`
	HeldReplies     int `json:"held_replies"`
	DeficientLatest int `json:"deficient_latest"`
	Questions       int `json:"questions"`
}

// Attention returns the counts, from one snapshot.
func (s *Store) Attention(ctx context.Context) (Attention, error) {
	var a Attention
	err := s.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM messages WHERE status = ?),
			(SELECT COUNT(*) FROM messages WHERE status = ?),
			(SELECT COUNT(*) FROM outbox WHERE status IN (?, ?)),
			(SELECT COUNT(*) FROM outbox WHERE status = ?),
			(SELECT COUNT(*) FROM submissions s WHERE s.state = ? AND s.id =
				(SELECT MAX(l.id) FROM submissions l WHERE l.call = s.call AND l.agency = s.agency AND l.period = s.period)),
			(SELECT COUNT(*) FROM questions WHERE answered_at IS NULL)`,
			StatusQuarantined, StatusReceived, OutboxFailed, OutboxBounced, OutboxHeld, stateDeficient).
			Scan(&a.Quarantined, &a.Undecided, &a.FailedReplies, &a.HeldReplies, &a.DeficientLatest, &a.Questions)
	})
	if err != nil {
		return Attention{}, fmt.Errorf("store: attention: %w", err)
	}
	return a, nil
}

// PreviousVersion returns the accepted version of (call, agency, period)
// numbered version-1, with its records of the given kinds (all kinds when
// kinds is empty), in stored order; ErrNotFound when there is none.
func (s *Store) PreviousVersion(ctx context.Context, call, agency, period string, version int, kinds []string) (SubmissionSummary, []parser.Record, error) {
	var (
		prev SubmissionSummary
		recs []parser.Record
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		prev, err = scanSummary(tx.QueryRowContext(ctx, `SELECT `+summaryColumns+summaryFrom+
			` WHERE s.call = ? AND s.agency = ? AND s.period = ? AND s.version = ? AND s.state <> ?`,
			call, agency, period, version-1, stateDeficient))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: previous version: %w", err)
		}
		all, err := submissionRecords(ctx, tx, prev.ID)
		if err != nil {
			return err
		}
		for _, r := range all {
			if len(kinds) == 0 || slices.Contains(kinds, r.Kind) {
				recs = append(recs, r)
			}
		}
		return nil
	})
	if err != nil {
		return SubmissionSummary{}, nil, err
	}
	return prev, recs, nil
}

// KindCounts returns, per submission id asked for, its records per kind.
func (s *Store) KindCounts(ctx context.Context, ids []int64) (map[int64]map[string]int, error) {
	out := map[int64]map[string]int{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT submission, kind, COUNT(*) FROM records
		WHERE submission IN (`+placeholders(len(ids))+`) GROUP BY submission, kind`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: kind counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			kind string
			n    int
		)
		if err := rows.Scan(&id, &kind, &n); err != nil {
			return nil, fmt.Errorf("store: kind counts: %w", err)
		}
		if out[id] == nil {
			out[id] = map[string]int{}
		}
		out[id][kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: kind counts: %w", err)
	}
	return out, nil
}

// KindTotals returns the records in force for call (of each agency and
// period, those of the version that last sent the kind), per kind.
func (s *Store) KindTotals(ctx context.Context, call string) (map[string]int, error) {
	out, err := countBy(ctx, s.rdb, `SELECT c.kind, COUNT(r.id)
		FROM current_kinds c JOIN records r ON r.submission = c.submission AND r.kind = c.kind
		WHERE c.call = ? GROUP BY c.kind`, call)
	if err != nil {
		return nil, fmt.Errorf("store: kind totals: %w", err)
	}
	return out, nil
}
