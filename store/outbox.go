package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Outbox statuses.
const (
	OutboxQueued  = "queued"  // to be sent at NextAttempt
	OutboxSent    = "sent"    // accepted by the SMTP server
	OutboxFailed  = "failed"  // permanent failure: not retried
	OutboxBounced = "bounced" // sent, then a permanent bounce came back
	OutboxHeld    = "held"    // kept, never sent (queued during a dry run); LastError says why
)

// OutboxStatuses are the statuses a reply can have.
var OutboxStatuses = []string{OutboxQueued, OutboxSent, OutboxFailed, OutboxBounced, OutboxHeld}

type holdKey struct{}

// HoldReplies returns a context under which every reply the store queues
// (Complete, QueueReminder) is stored held, with reason as its LastError:
// kept for staff to read, never due, never sent, not even by a later run
// on the same file. A dry run queues its replies this way, in the same
// transaction as the rest of the outcome, so no crash can leave one of
// them queued. An empty reason is "held".
func HoldReplies(ctx context.Context, reason string) context.Context {
	if reason == "" {
		reason = OutboxHeld
	}
	return context.WithValue(ctx, holdKey{}, reason)
}

// heldReason is the reason replies queued under ctx are held, or "".
func heldReason(ctx context.Context) string {
	r, _ := ctx.Value(holdKey{}).(string)
	return r
}

// NewReply is a reply to queue. MessageID is its stable Message-ID (set
// once, kept across retries); To must not be empty.
type NewReply struct {
	MessageID string
	Kind      string // acknowledgement, deficiency, reminder
	From      string
	To        []string
	Raw       []byte // the whole message as it is to be sent
}

// OutboxItem is a queued or sent reply.
type OutboxItem struct {
	ID          int64
	MessageID   string
	Kind        string
	From        string
	To          []string
	Raw         []byte
	Status      string // one of the Outbox constants
	Attempts    int    // send attempts claimed
	NextAttempt time.Time
	LastError   string
	Receipt     string // receipt of the submission the reply answers, if any
	Created     time.Time
	SentAt      time.Time // zero until sent
}

// insertReply queues r inside tx and returns its outbox id, held when ctx
// says so (HoldReplies). submission and answers are 0 when the reply has
// none.
func insertReply(ctx context.Context, tx *sql.Tx, r NewReply, submission, answers int64, now time.Time) (int64, error) {
	if strings.TrimSpace(r.MessageID) == "" {
		return 0, errors.New("store: queue reply: empty Message-ID (it must be set at enqueue)")
	}
	if len(r.To) == 0 {
		return 0, fmt.Errorf("store: queue reply %s: no recipient", r.MessageID)
	}
	if now.IsZero() {
		return 0, fmt.Errorf("store: queue reply %s: zero time", r.MessageID)
	}
	to, err := json.Marshal(r.To)
	if err != nil {
		return 0, fmt.Errorf("store: queue reply %s: %w", r.MessageID, err)
	}
	raw := r.Raw
	if raw == nil {
		raw = []byte{}
	}
	var sub, ans any
	if submission != 0 {
		sub = submission
	}
	if answers != 0 {
		ans = answers
	}
	status, note := OutboxQueued, ""
	if reason := heldReason(ctx); reason != "" {
		status, note = OutboxHeld, reason
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO outbox
		(message_id, kind, from_addr, recipients, raw, status, last_error, next_attempt_at, submission, answers, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.MessageID, r.Kind, r.From, string(to), raw, status, note, ts(now), sub, ans, ts(now))
	if err != nil {
		return 0, fmt.Errorf("store: queue reply %s: %w", r.MessageID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: queue reply %s: %w", r.MessageID, err)
	}
	for _, a := range r.To {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox_recipients (outbox, addr, created_at) VALUES (?, ?, ?)`,
			id, normAddr(a), ts(now)); err != nil {
			return 0, fmt.Errorf("store: queue reply %s: recipient: %w", r.MessageID, err)
		}
	}
	return id, nil
}

// normAddr reduces an address to its lower-case bare form, so that
// "Jane <Jane@Agency.gov>" and "jane@agency.gov" count as one sender.
func normAddr(a string) string {
	if p, err := mail.ParseAddress(a); err == nil {
		a = p.Address
	}
	return strings.ToLower(strings.TrimSpace(a))
}

// trimID strips the angle brackets and spaces around a Message-ID.
func trimID(id string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
}

const outboxColumns = `o.id, o.message_id, o.kind, o.from_addr, o.recipients, o.raw, o.status, o.attempts,
	o.next_attempt_at, o.last_error, COALESCE(s.receipt, ''), o.created_at, o.sent_at`

const outboxFrom = ` FROM outbox o LEFT JOIN submissions s ON s.id = o.submission`

func scanOutbox(r rowScanner) (OutboxItem, error) {
	var (
		o                   OutboxItem
		to                  string
		next, created, sent sql.NullString
	)
	if err := r.Scan(&o.ID, &o.MessageID, &o.Kind, &o.From, &to, &o.Raw, &o.Status, &o.Attempts,
		&next, &o.LastError, &o.Receipt, &created, &sent); err != nil {
		return o, err
	}
	if err := json.Unmarshal([]byte(to), &o.To); err != nil {
		return o, fmt.Errorf("store: outbox %d: recipients: %w", o.ID, err)
	}
	var err error
	if o.NextAttempt, err = parseTS(next); err != nil {
		return o, err
	}
	if o.Created, err = parseTS(created); err != nil {
		return o, err
	}
	if o.SentAt, err = parseTS(sent); err != nil {
		return o, err
	}
	return o, nil
}

func queryOutbox(ctx context.Context, q querier, query string, args ...any) ([]OutboxItem, error) {
	return queryAll(ctx, q, scanOutbox, query, args...)
}

// DueReplies returns the queued replies whose next attempt is at or before
// now, the most overdue first; limit <= 0 means no limit.
func (s *Store) DueReplies(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error) {
	q := `SELECT ` + outboxColumns + outboxFrom + ` WHERE o.status = ? AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id`
	args := []any{OutboxQueued, tsq(now)}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	out, err := queryOutbox(ctx, s.rdb, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: due replies: %w", err)
	}
	return out, nil
}

// Claim is a send attempt to record on a reply: when to try again should
// this one not get through.
type Claim struct {
	ID   int64
	Next time.Time
}

// ClaimReplies records a send attempt and the time of the next one on each
// reply, all in one transaction, BEFORE they are sent, so a crash while
// sending cannot cause a retry storm. It returns, claim by claim, the
// number of attempts including this one, or 0 for a reply that is not
// queued (held, sent, failed or bounced meanwhile, or unknown): such a
// reply must not be sent.
func (s *Store) ClaimReplies(ctx context.Context, claims []Claim) ([]int, error) {
	for _, c := range claims {
		if c.Next.IsZero() {
			return nil, fmt.Errorf("store: claim reply %d: zero next attempt time", c.ID)
		}
	}
	attempts := make([]int, len(claims))
	err := s.write(ctx, func(tx *sql.Tx) error {
		for i, c := range claims {
			err := tx.QueryRowContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?
				WHERE id = ? AND status = ? RETURNING attempts`, ts(c.Next), c.ID, OutboxQueued).Scan(&attempts[i])
			if errors.Is(err, sql.ErrNoRows) {
				attempts[i] = 0
				continue
			}
			if err != nil {
				return fmt.Errorf("store: claim reply %d: %w", c.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attempts, nil
}

func requireOutboxStatus(ctx context.Context, tx *sql.Tx, id int64, want string) error {
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: reply %d: %w", id, err)
	}
	if status != want {
		return fmt.Errorf("store: reply %d is %s, not %s", id, status, want)
	}
	return nil
}

// ReplySent marks a reply sent. ErrNotFound for an unknown id; an error if
// it is not queued.
func (s *Store) ReplySent(ctx context.Context, id int64, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := requireOutboxStatus(ctx, tx, id, OutboxQueued); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, sent_at = ?, last_error = '' WHERE id = ?`,
			OutboxSent, ts(now), id); err != nil {
			return fmt.Errorf("store: reply sent %d: %w", id, err)
		}
		return nil
	})
}

// ReplyFailed records why sending failed. A permanent failure sets the
// status failed (never retried); a temporary one leaves the reply queued
// for the next attempt set by ClaimReply. ErrNotFound for an unknown id.
func (s *Store) ReplyFailed(ctx context.Context, id int64, reason string, permanent bool) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		q := `UPDATE outbox SET last_error = ? WHERE id = ?`
		args := []any{reason, id}
		if permanent {
			q = `UPDATE outbox SET last_error = ?, status = ? WHERE id = ?`
			args = []any{reason, OutboxFailed, id}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: reply failed %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("store: reply failed %d: %w", id, err)
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// RepliesWaiting records reason as the last error of the replies ids that
// are still queued, without charging them an attempt or changing when they
// are due: why they wait when the SMTP server cannot be reached or refuses
// our login. Other replies, and unknown ids, are left alone.
func (s *Store) RepliesWaiting(ctx context.Context, ids []int64, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET last_error = ? WHERE id = ? AND status = ?`,
				reason, id, OutboxQueued); err != nil {
				return fmt.Errorf("store: replies waiting: %w", err)
			}
		}
		return nil
	})
}

// NextReplyDue returns the earliest next attempt time of the queued
// replies; ok is false when none is queued.
func (s *Store) NextReplyDue(ctx context.Context) (t time.Time, ok bool, err error) {
	var v sql.NullString
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM outbox WHERE status = ?`, OutboxQueued).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next reply due: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	t, err = parseTS(v)
	if err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// ReplyByMessageID returns the reply with that Message-ID (with or without
// angle brackets), or ErrNotFound.
func (s *Store) ReplyByMessageID(ctx context.Context, messageID string) (*OutboxItem, error) {
	o, err := replyByMessageID(ctx, s.rdb, messageID)
	if err != nil {
		return nil, err
	}
	return &o, nil
}

func replyByMessageID(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, messageID string) (OutboxItem, error) {
	id := trimID(messageID)
	if id == "" {
		return OutboxItem{}, ErrNotFound
	}
	items, err := queryOutbox(ctx, q, `SELECT `+outboxColumns+outboxFrom+
		` WHERE o.message_id IN (?, ?) ORDER BY o.id LIMIT 1`, id, "<"+id+">")
	if err != nil {
		return OutboxItem{}, fmt.Errorf("store: reply %s: %w", messageID, err)
	}
	if len(items) == 0 {
		return OutboxItem{}, ErrNotFound
	}
	return items[0], nil
}

// RepliesTo counts the outbox rows addressed to addr (compared as a
// lower-case bare address) created at or after since: the per-sender rate
// limit. Held replies (a dry run's) are never sent, so they do not count.
func (s *Store) RepliesTo(ctx context.Context, addr string, since time.Time) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_recipients r JOIN outbox o ON o.id = r.outbox
		WHERE r.addr = ? AND r.created_at >= ? AND o.status <> ?`,
		normAddr(addr), tsq(since), OutboxHeld).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: replies to: %w", err)
	}
	return n, nil
}

// QueueReminder queues reminder r once per (call, agency, due): it returns
// queued=false, and queues nothing, if one was queued for them before.
func (s *Store) QueueReminder(ctx context.Context, call, agency string, due time.Time, r NewReply, now time.Time) (queued bool, err error) {
	if due.IsZero() {
		return false, errors.New("store: queue reminder: zero due time")
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM reminders WHERE call = ? AND agency = ? AND due = ?`,
			call, agency, ts(due)).Scan(&one)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: queue reminder: %w", err)
		}
		id, err := insertReply(ctx, tx, r, 0, 0, now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reminders (call, agency, due, outbox, created_at) VALUES (?, ?, ?, ?, ?)`,
			call, agency, ts(due), id, ts(now)); err != nil {
			return fmt.Errorf("store: queue reminder: %w", err)
		}
		queued = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return queued, nil
}
