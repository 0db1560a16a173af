package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Audit actions: what a person did with agency data.
const (
	AuditView     = "view"     // records shown (a submission's page or its JSON)
	AuditDownload = "download" // a stored file sent
	AuditExport   = "export"   // records exported (dashboard or command line)
)

// Where an audited action came from.
const (
	AuditViaWeb = "web" // the dashboard or its JSON API; User is the signed-in user
	AuditViaCLI = "cli" // a command; User is the operating system's user
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64     // 1, 2, 3 ... in order of writing
	At     time.Time // when
	User   string    // who
	Via    string    // AuditViaWeb or AuditViaCLI
	Action string    // AuditView, AuditDownload, AuditExport, ...
	Call   string    // the data call concerned, if any
	Object string    // what: a receipt, a file, an export's kind and versions
	Detail string    // more: the client's address, the format
	Prev   string    // hash of the entry before ("" for the first)
	Hash   string    // hash of this entry (auditHash)
}

// auditHash is the SHA-256 (hex) of an entry's fields, the stored time
// text and the previous entry's hash, as a JSON array: every field is
// delimited, so no two entries hash alike by moving text between fields.
func auditHash(id int64, at, user, via, action, call, object, detail, prev string) string {
	b, _ := json.Marshal([]any{id, at, user, via, action, call, object, detail, prev}) // strings and an int: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Audit appends e to the audit log and returns it with its id and hashes.
// User, Via, Action and At are required. The entry's hash chains it to the
// one before, read in the same (immediate) transaction, so concurrent
// writers, in this process or another, still make one chain. Callers write
// the entry before they hand the data out, and hand out nothing when it
// fails: an access that could not be recorded does not happen.
func (s *Store) Audit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.User == "" || e.Via == "" || e.Action == "" || e.At.IsZero() {
		return AuditEntry{}, errors.New("store: audit: user, via, action and time are required")
	}
	at := e.At.UTC().Format(tsLayout)
	e.At, _ = time.Parse(tsLayout, at) // as it reads back
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The next id follows the highest ever given (sqlite_sequence), not
		// the highest present: an entry removed from the end stays a gap.
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'audit'`).Scan(&seq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: audit: %w", err)
		}
		e.Prev = ""
		err = tx.QueryRowContext(ctx, `SELECT hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&e.Prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: audit: %w", err)
		}
		e.ID = seq + 1
		e.Hash = auditHash(e.ID, at, e.User, e.Via, e.Action, e.Call, e.Object, e.Detail, e.Prev)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit (id, at, user, via, action, call, object, detail, prev, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, at, e.User, e.Via, e.Action, e.Call, e.Object, e.Detail, e.Prev, e.Hash); err != nil {
			return fmt.Errorf("store: audit: %w", err)
		}
		return nil
	})
	if err != nil {
		return AuditEntry{}, err
	}
	return e, nil
}

// AuditFilter selects audit entries; zero fields select all.
type AuditFilter struct {
	User   string
	Call   string
	Action string
	Since  time.Time // at or after
	Limit  int       // 0: 100
}

// AuditEntries lists audit entries, newest first.
func (s *Store) AuditEntries(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, user, via, action, call, object, detail, prev, hash FROM audit WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{{"user", f.User}, {"call", f.Call}, {"action", f.Action}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, tsq(f.Since))
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit entries: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		e, _, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit entries: %w", err)
	}
	return out, nil
}

func scanAudit(rows *sql.Rows) (AuditEntry, string, error) {
	var (
		e  AuditEntry
		at string
	)
	if err := rows.Scan(&e.ID, &at, &e.User, &e.Via, &e.Action, &e.Call, &e.Object, &e.Detail, &e.Prev, &e.Hash); err != nil {
		return AuditEntry{}, "", fmt.Errorf("store: audit: %w", err)
	}
	t, err := time.Parse(tsLayout, at)
	if err != nil {
		// A time that does not parse is itself a sign of tampering; the
		// hash check says so, so the text is kept as it is.
		t = time.Time{}
	}
	e.At = t
	return e, at, nil
}

// AuditHead names an entry by its id and hash: the newest one, as
// VerifyAudit reports it, to be written down outside the store and given
// back to a later VerifyAudit.
type AuditHead struct {
	ID   int64
	Hash string
}

func (h AuditHead) String() string { return fmt.Sprintf("%d:%s", h.ID, h.Hash) }

// ParseAuditHead reads the form String writes (ID:HASH).
func ParseAuditHead(s string) (AuditHead, error) {
	id, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	var h AuditHead
	if _, err := fmt.Sscan(id, &h.ID); !ok || err != nil || h.ID <= 0 || len(hash) != 64 {
		return AuditHead{}, fmt.Errorf("store: audit head %q: want ID:SHA256 (as `intake audit verify` prints it)", s)
	}
	h.Hash = strings.ToLower(hash)
	return h, nil
}

// AuditReport is what VerifyAudit found.
type AuditReport struct {
	Entries  int64     // entries read
	Head     AuditHead // the newest entry (zero when there is none)
	Problems []string  // empty when the log is intact; at most maxAuditProblems
}

const maxAuditProblems = 20

// VerifyAudit reads the whole audit log and checks that it is as written:
// ids follow each other from 1 without a gap, up to the highest id ever
// given; each entry's prev is the hash of the entry before; each hash is
// that of the entry's fields; and the triggers that refuse UPDATE and
// DELETE are in place. So an entry edited, inserted or deleted, newest
// ones included, is reported. Each known head (a head reported earlier
// and kept outside the store) must still be in the log with its hash,
// which catches even a log rebuilt whole with fresh hashes up to that
// point. The error is for a store that cannot be read; what is wrong with
// the log is in the report's Problems.
func (s *Store) VerifyAudit(ctx context.Context, known ...AuditHead) (AuditReport, error) {
	var rep AuditReport
	problem := func(format string, a ...any) {
		if len(rep.Problems) < maxAuditProblems {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...))
		}
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		var triggers int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'
			AND name IN ('audit_no_update', 'audit_no_delete')`).Scan(&triggers); err != nil {
			return fmt.Errorf("store: verify audit: %w", err)
		}
		if triggers != 2 {
			problem("the triggers that keep the audit log append-only were removed")
		}
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'audit'`).Scan(&seq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: verify audit: %w", err)
		}
		want := map[int64]string{}
		for _, h := range known {
			want[h.ID] = h.Hash
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, at, user, via, action, call, object, detail, prev, hash FROM audit ORDER BY id`)
		if err != nil {
			return fmt.Errorf("store: verify audit: %w", err)
		}
		defer rows.Close()
		var last AuditHead
		for rows.Next() {
			e, at, err := scanAudit(rows)
			if err != nil {
				return err
			}
			rep.Entries++
			if e.ID != last.ID+1 {
				problem("entries %d to %d are missing", last.ID+1, e.ID-1)
			}
			if e.Prev != last.Hash {
				problem("entry %d does not follow entry %d: its prev is not that entry's hash", e.ID, last.ID)
			}
			if h := auditHash(e.ID, at, e.User, e.Via, e.Action, e.Call, e.Object, e.Detail, e.Prev); h != e.Hash {
				problem("entry %d was changed: its hash does not match its content", e.ID)
			}
			if h, ok := want[e.ID]; ok {
				if h != e.Hash {
					problem("entry %d has not the hash recorded for it (%s): the log was rewritten", e.ID, h)
				}
				delete(want, e.ID)
			}
			last = AuditHead{ID: e.ID, Hash: e.Hash}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: verify audit: %w", err)
		}
		if seq > last.ID {
			problem("entries %d to %d, the newest, are missing", last.ID+1, seq)
		}
		for id := range want {
			problem("entry %d, recorded earlier, is not in the log", id)
		}
		rep.Head = last
		return nil
	})
	if err != nil {
		return AuditReport{}, err
	}
	return rep, nil
}
