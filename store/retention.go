package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Purgeable is a message whose raw bytes retention would purge.
type Purgeable struct {
	ID         int64
	Status     string
	From       string
	Size       int64 // bytes of raw mail held
	ReceivedAt time.Time
	Note       string
}

// purgeWhere selects mail that was not a submission, whose raw bytes
// retention purges: refused senders (rejected), automatic mail and copies
// (ignored), and bounces of our replies (what a bounce reported is kept on
// the reply). Accepted and deficient mail is a submission and keeps its raw
// message and files; quarantined mail waits for staff (intake replay) and
// is kept too.
const purgeWhere = `status IN ('rejected', 'ignored', 'bounce') AND received_at < ?
	AND id NOT IN (SELECT message FROM purged)
	AND NOT EXISTS (SELECT 1 FROM submissions WHERE submissions.message = messages.id)`

// Purgeable lists the messages Purge would purge for this cutoff (raw mail
// that was not a submission, received before it, not purged yet), oldest
// first: what `intake purge --dry-run` shows.
func (s *Store) Purgeable(ctx context.Context, before time.Time) ([]Purgeable, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, status, from_addr, length(raw), received_at, note
		FROM messages WHERE `+purgeWhere+` ORDER BY id`, tsq(before))
	if err != nil {
		return nil, fmt.Errorf("store: purgeable: %w", err)
	}
	defer rows.Close()
	var out []Purgeable
	for rows.Next() {
		var p Purgeable
		var rec sql.NullString
		if err := rows.Scan(&p.ID, &p.Status, &p.From, &p.Size, &rec, &p.Note); err != nil {
			return nil, fmt.Errorf("store: purgeable: %w", err)
		}
		if p.ReceivedAt, err = parseTS(rec); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: purgeable: %w", err)
	}
	return out, nil
}

// purgeBatch bounds one purge transaction, so the daemon's writes wait
// for at most one batch.
const purgeBatch = 200

// Purge deletes the raw bytes of every message Purgeable lists for this
// cutoff, recording now as their purged_at, and returns how many messages
// and bytes went. The row stays, with its hash, dedupe key, status and
// note: the same mail fetched again is still recognised and not answered.
//
// The freed pages are overwritten with zeros (the store's connections run
// with SQLite's secure_delete) and the write-ahead log is checkpointed
// afterwards, so the purged mail does not linger in the file's free pages.
func (s *Store) Purge(ctx context.Context, before, now time.Time) (n int, bytes int64, err error) {
	for {
		var ids []any
		var size int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT id, length(raw) FROM messages WHERE `+purgeWhere+` ORDER BY id LIMIT ?`, tsq(before), purgeBatch)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id, l int64
				if err := rows.Scan(&id, &l); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
				size += l
			}
			rows.Close()
			if err := rows.Err(); err != nil || len(ids) == 0 {
				return err
			}
			q := `UPDATE messages SET raw = x'' WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
			if _, err := tx.ExecContext(ctx, q, ids...); err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO purged (message, purged_at) VALUES (?, ?)`, id, ts(now)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, bytes, fmt.Errorf("store: purge: %w", err)
		}
		n += len(ids)
		bytes += size
		if len(ids) < purgeBatch {
			break
		}
	}
	if n > 0 {
		s.dropLog(ctx)
	}
	return n, bytes, nil
}
