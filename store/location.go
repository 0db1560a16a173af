package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Location is where a message lies on the server, and the folder it is to
// be filed in.
type Location struct {
	ID          int64
	Message     int64
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	Folder      string // the message's folder
}

// Unfiled returns the locations in mailbox/uidValidity that are not filed
// yet and whose message has its folder decided (status not received, folder
// not ""), ascending UID. A message completed with Folder "" stays where it
// is.
func (s *Store) Unfiled(ctx context.Context, mailbox string, uidValidity uint32) ([]Location, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT l.id, l.message, l.mailbox, l.uidvalidity, l.uid, m.folder
		FROM locations l JOIN messages m ON m.id = l.message
		WHERE l.mailbox = ? AND l.uidvalidity = ? AND l.filed_at IS NULL AND m.status != ? AND m.folder != ''
		ORDER BY l.uid`, mailbox, uidValidity, StatusReceived)
	if err != nil {
		return nil, fmt.Errorf("store: unfiled: %w", err)
	}
	defer rows.Close()
	var out []Location
	for rows.Next() {
		var l Location
		if err := rows.Scan(&l.ID, &l.Message, &l.Mailbox, &l.UIDValidity, &l.UID, &l.Folder); err != nil {
			return nil, fmt.Errorf("store: unfiled: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unfiled: %w", err)
	}
	return out, nil
}

// MarkFiled records that the locations were moved to their folders, in one
// transaction. Locations filed before keep their first time.
func (s *Store) MarkFiled(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if now.IsZero() {
		return errors.New("store: mark filed: zero time")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		// Chunks keep the statement under SQLite's parameter limit.
		const chunk = 500
		for len(ids) > 0 {
			n := min(chunk, len(ids))
			args := make([]any, 0, n+1)
			args = append(args, ts(now))
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			q := `UPDATE locations SET filed_at = ? WHERE filed_at IS NULL AND id IN (?` + strings.Repeat(",?", n-1) + `)`
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("store: mark filed: %w", err)
			}
			ids = ids[n:]
		}
		return nil
	})
}
