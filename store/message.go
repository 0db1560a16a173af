package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Message statuses.
const (
	StatusReceived    = "received"    // raw stored, not yet processed
	StatusAccepted    = "accepted"    // submission accepted, acknowledgement queued
	StatusDeficient   = "deficient"   // deficiency notice queued
	StatusRejected    = "rejected"    // not from an authorised sender (forged/unknown): quarantined, no reply
	StatusIgnored     = "ignored"     // auto-reply, list mail, own message: no reply
	StatusBounce      = "bounce"      // a bounce of one of our replies, recorded
	StatusQuarantined = "quarantined" // processing failed too often
	StatusQuestion    = "question"    // no workbook, a question for staff: a holding reply queued (questions table)
)

// RawMessage is a message as fetched from the server.
type RawMessage struct {
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	DedupeKey   string // same mail delivered twice has the same key; "" never matches
	MessageID   string // may be ""
	SHA256      string // hex of Raw
	Raw         []byte
	Truncated   bool  // only the header was fetched (message over the size limit)
	Size        int64 // size on the server

	InternalDate, ReceivedAt time.Time
}

// Message is a stored message and where its processing stands.
type Message struct {
	ID        int64
	MessageID string
	SHA256    string
	Size      int64
	Truncated bool
	Raw       []byte // not loaded by Messages
	Status    string // one of the Status constants
	Attempts  int    // processing attempts begun
	LastError string // why the last attempt failed
	Folder    string // where to file it on the server ("" while received)
	Note      string
	From      string
	Agency    string
	Call      string
	Receipt   string // receipt of its submission, if any
	// InternalDate is when the mail server received it (IMAP INTERNALDATE):
	// timeliness is judged by it, not by when the daemon got round to it.
	InternalDate time.Time
	ReceivedAt   time.Time // when the daemon fetched it
	ProcessedAt  time.Time // zero while received
}

// SaveRaw stores a fetched message, in one transaction. If the location
// (mailbox, uidvalidity, uid) is known, it returns that location's message
// id and created=false. Else if DedupeKey matches a stored message, it adds
// this location to that message (to be filed like it) and returns
// created=false. Else it inserts the message (status received) and its
// location and returns created=true.
func (s *Store) SaveRaw(ctx context.Context, m RawMessage) (id int64, created bool, err error) {
	if m.Mailbox == "" {
		return 0, false, errors.New("store: save raw: empty mailbox")
	}
	if m.Raw == nil {
		m.Raw = []byte{} // raw is NOT NULL; an empty fetch is still a message
	}
	now := m.ReceivedAt
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT message FROM locations WHERE mailbox = ? AND uidvalidity = ? AND uid = ?`,
			m.Mailbox, m.UIDValidity, m.UID).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: save raw: find location: %w", err)
		}
		if m.DedupeKey != "" {
			err := tx.QueryRowContext(ctx, `SELECT id FROM messages WHERE dedupe_key = ?`, m.DedupeKey).Scan(&id)
			switch {
			case err == nil:
				return insertLocation(ctx, tx, id, m, now)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("store: save raw: find dedupe key: %w", err)
			}
		}
		var key any
		if m.DedupeKey != "" {
			key = m.DedupeKey
		}
		received := m.ReceivedAt
		if received.IsZero() {
			received = time.Unix(0, 0)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO messages
			(message_id, dedupe_key, sha256, size, truncated, raw, internal_date, received_at, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.MessageID, key, m.SHA256, m.Size, boolInt(m.Truncated), m.Raw, ts(m.InternalDate), ts(received), StatusReceived)
		if err != nil {
			return fmt.Errorf("store: save raw: insert message: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("store: save raw: %w", err)
		}
		created = true
		return insertLocation(ctx, tx, id, m, now)
	})
	if err != nil {
		return 0, false, err
	}
	return id, created, nil
}

func insertLocation(ctx context.Context, tx *sql.Tx, id int64, m RawMessage, now time.Time) error {
	if now.IsZero() {
		now = time.Unix(0, 0)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO locations (message, mailbox, uidvalidity, uid, saved_at) VALUES (?, ?, ?, ?, ?)`,
		id, m.Mailbox, m.UIDValidity, m.UID, ts(now)); err != nil {
		return fmt.Errorf("store: save raw: insert location: %w", err)
	}
	return nil
}

const messageColumns = `id, message_id, sha256, size, truncated, status, attempts, last_error, folder, note,
	from_addr, agency, call, receipt, internal_date, received_at, processed_at`

type rowScanner interface{ Scan(dest ...any) error }

// scanMessage reads messageColumns (and, with raw, the raw column after them).
func scanMessage(r rowScanner, withRaw bool) (*Message, error) {
	var (
		m                             Message
		truncated                     int
		internal, received, processed sql.NullString
	)
	dest := []any{&m.ID, &m.MessageID, &m.SHA256, &m.Size, &truncated, &m.Status, &m.Attempts, &m.LastError,
		&m.Folder, &m.Note, &m.From, &m.Agency, &m.Call, &m.Receipt, &internal, &received, &processed}
	if withRaw {
		dest = append(dest, &m.Raw)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	m.Truncated = truncated != 0
	var err error
	if m.InternalDate, err = parseTS(internal); err != nil {
		return nil, err
	}
	if m.ReceivedAt, err = parseTS(received); err != nil {
		return nil, err
	}
	if m.ProcessedAt, err = parseTS(processed); err != nil {
		return nil, err
	}
	return &m, nil
}

// scanListedMessage reads messageColumns, for lists (without the raw bytes).
func scanListedMessage(r rowScanner) (Message, error) {
	m, err := scanMessage(r, false)
	if err != nil {
		return Message{}, err
	}
	return *m, nil
}

// Message returns the stored message with its raw bytes, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id int64) (*Message, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+messageColumns+`, raw FROM messages WHERE id = ?`, id)
	m, err := scanMessage(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: message %d: %w", id, err)
	}
	return m, nil
}

// Pending returns the ids of the messages in status received, ascending.
func (s *Store) Pending(ctx context.Context) ([]int64, error) {
	// A message waiting for its workbook's password (pii.go) is not
	// pending until its wait is resolved.
	ids, err := queryAll(ctx, s.rdb, scanID, `SELECT id FROM messages WHERE status = ?
		AND id NOT IN (SELECT message FROM password_waits WHERE resolved_at IS NULL) ORDER BY id`, StatusReceived)
	if err != nil {
		return nil, fmt.Errorf("store: pending: %w", err)
	}
	return ids, nil
}

// MessageHead returns the first n bytes of a stored message (its header,
// for a scheduler that needs the sender before the whole message is read)
// and the size of the whole; ErrNotFound for an unknown id.
func (s *Store) MessageHead(ctx context.Context, id int64, n int) (head []byte, size int64, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT substr(raw, 1, ?), length(raw) FROM messages WHERE id = ?`, n, id).Scan(&head, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: message %d head: %w", id, err)
	}
	return head, size, nil
}

// BeginAttempt counts an attempt before processing and commits it, so a
// message that crashes the daemon is seen on restart. It returns the number
// of attempts including this one; ErrNotFound for an unknown id.
func (s *Store) BeginAttempt(ctx context.Context, id int64, now time.Time) (attempts int, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE messages SET attempts = attempts + 1, last_attempt_at = ?
			WHERE id = ? RETURNING attempts`, ts(now), id).Scan(&attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: begin attempt %d: %w", id, err)
		}
		return nil
	})
	return attempts, err
}

// FailAttempt records why processing of a received message failed. With
// quarantineFolder != "" the message becomes quarantined and is to be
// filed in that folder. ErrNotFound for an unknown id; an error if the
// message is no longer in status received.
func (s *Store) FailAttempt(ctx context.Context, id int64, reason, quarantineFolder string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := requireStatus(ctx, tx, id, StatusReceived); err != nil {
			return err
		}
		var err error
		if quarantineFolder == "" {
			_, err = tx.ExecContext(ctx, `UPDATE messages SET last_error = ? WHERE id = ?`, reason, id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE messages SET last_error = ?, status = ?, folder = ?, processed_at = ?
				WHERE id = ?`, reason, StatusQuarantined, quarantineFolder, ts(now), id)
		}
		if err != nil {
			return fmt.Errorf("store: fail attempt %d: %w", id, err)
		}
		return nil
	})
}

// requireStatus checks, inside tx, that message id exists (else
// ErrNotFound) and is in status want.
func requireStatus(ctx context.Context, tx *sql.Tx, id int64, want string) error {
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: message %d: %w", id, err)
	}
	if status != want {
		return fmt.Errorf("store: message %d is %s, not %s", id, status, want)
	}
	return nil
}

// Replay puts a message back to status received with attempts 0, so it is
// processed again. Its locations already filed stay filed (the mail is not
// moved a second time). ErrNotFound for an unknown id.
func (s *Store) Replay(ctx context.Context, id int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var purged string
		if err := tx.QueryRowContext(ctx, `SELECT purged_at FROM purged WHERE message = ?`, id).Scan(&purged); err == nil {
			return fmt.Errorf("store: replay %d: its raw mail was purged on %s (retention)", id, purged[:min(10, len(purged))])
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: replay %d: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?, attempts = 0, last_error = '' WHERE id = ?`,
			StatusReceived, id)
		if err != nil {
			return fmt.Errorf("store: replay %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("store: replay %d: %w", id, err)
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// MessageFilter selects messages for Messages. Zero values select all.
type MessageFilter struct {
	Status string // "" = any; else one of MessageStatuses (ErrBadFilter otherwise)
	Limit  int    // <= 0 = no limit
	Offset int    // skip this many of the newest first
}

// MessageStatuses are the statuses a message can have.
var MessageStatuses = []string{StatusReceived, StatusAccepted, StatusDeficient, StatusRejected, StatusIgnored,
	StatusBounce, StatusQuarantined, StatusQuestion}

func (f MessageFilter) where() (string, []any, error) {
	if f.Status == "" {
		return "", nil, nil
	}
	if !slices.Contains(MessageStatuses, f.Status) {
		return "", nil, fmt.Errorf("%w %q (want one of %s)", ErrBadFilter, f.Status, strings.Join(MessageStatuses, ", "))
	}
	return ` WHERE status = ?`, []any{f.Status}, nil
}

// CountMessages returns how many messages f selects, Limit and Offset
// aside.
func (s *Store) CountMessages(ctx context.Context, f MessageFilter) (int, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count messages: %w", err)
	}
	return n, nil
}

// Messages lists messages, newest first, without their raw bytes: Limit of
// them after Offset. An unknown Status is ErrBadFilter.
func (s *Store) Messages(ctx context.Context, f MessageFilter) ([]Message, error) {
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	q, args := limitSkip(`SELECT `+messageColumns+` FROM messages`+where+` ORDER BY id DESC`, args, f.Limit, f.Offset)
	out, err := queryAll(ctx, s.rdb, scanListedMessage, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return out, nil
}

// Counts returns the number of messages per status and of outbox rows per
// status (statuses without rows are absent).
func (s *Store) Counts(ctx context.Context) (messages map[string]int, outbox map[string]int, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if messages, err = countBy(ctx, tx, `SELECT status, COUNT(*) FROM messages GROUP BY status`); err != nil {
			return err
		}
		outbox, err = countBy(ctx, tx, `SELECT status, COUNT(*) FROM outbox GROUP BY status`)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return messages, outbox, nil
}

// countBy reads a (key, count) query into a map.
func countBy(ctx context.Context, q querier, query string, args ...any) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("store: counts: %w", err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	return out, nil
}

// earlierCopies are the processed messages with a Message-ID and sender,
// other than one, and their submissions. The condition that message_id is
// not empty lets SQLite use the partial index on message_id (it cannot
// tell that a bound parameter is not empty); without it, it scanned the
// submissions and read each one's message, raw bytes and all.
const earlierCopies = `SELECT m.id, m.folder, s.id FROM messages m JOIN submissions s ON s.message = m.id
	WHERE m.message_id = ? AND m.message_id <> '' AND m.from_addr = ? AND m.id <> ? AND m.status IN (?, ?) ORDER BY m.id`

// EarlierCopy finds an earlier processed message that is the same mail as
// message id, arrived again re-encoded on the way (another transfer
// encoding, other line lengths: another content hash): the same
// Message-ID and sender, and a submission whose files have the same
// decoded content (the set of SHA-256 hex digests, in any order). A reused
// Message-ID with other attachments is not a copy. It returns the earlier
// message's id and folder, or 0 when there is none; an empty messageID or
// no files never match.
func (s *Store) EarlierCopy(ctx context.Context, id int64, messageID, from string, fileSHA256 []string) (int64, string, error) {
	if messageID == "" || from == "" || len(fileSHA256) == 0 {
		return 0, "", nil
	}
	want := slices.Clone(fileSHA256)
	slices.Sort(want)
	rows, err := s.rdb.QueryContext(ctx, earlierCopies, messageID, from, id, StatusAccepted, StatusDeficient)
	if err != nil {
		return 0, "", fmt.Errorf("store: earlier copy: %w", err)
	}
	type candidate struct {
		id, sub int64
		folder  string
	}
	var cs []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.folder, &c.sub); err != nil {
			rows.Close()
			return 0, "", fmt.Errorf("store: earlier copy: %w", err)
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, "", fmt.Errorf("store: earlier copy: %w", err)
	}
	for _, c := range cs {
		var got []string
		frows, err := s.rdb.QueryContext(ctx, `SELECT sha256 FROM files WHERE submission = ? ORDER BY sha256`, c.sub)
		if err != nil {
			return 0, "", fmt.Errorf("store: earlier copy: files: %w", err)
		}
		for frows.Next() {
			var h string
			if err := frows.Scan(&h); err != nil {
				frows.Close()
				return 0, "", fmt.Errorf("store: earlier copy: files: %w", err)
			}
			got = append(got, h)
		}
		frows.Close()
		if slices.Equal(got, want) {
			return c.id, c.folder, nil
		}
	}
	return 0, "", nil
}
