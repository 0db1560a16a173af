package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Cursor is how far a mailbox has been fetched.
type Cursor struct {
	UIDValidity uint32
	LastUID     uint32 // highest UID fetched and saved
}

// Cursor returns the fetch cursor of mailbox; ok is false when there is none.
func (s *Store) Cursor(ctx context.Context, mailbox string) (c Cursor, ok bool, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT uidvalidity, last_uid FROM cursors WHERE mailbox = ?`, mailbox).
		Scan(&c.UIDValidity, &c.LastUID)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursor{}, false, nil
	}
	if err != nil {
		return Cursor{}, false, fmt.Errorf("store: cursor %s: %w", mailbox, err)
	}
	return c, true, nil
}

// SetCursor sets the fetch cursor of mailbox.
func (s *Store) SetCursor(ctx context.Context, mailbox string, c Cursor) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cursors (mailbox, uidvalidity, last_uid) VALUES (?, ?, ?)
			ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid`,
			mailbox, c.UIDValidity, c.LastUID); err != nil {
			return fmt.Errorf("store: set cursor %s: %w", mailbox, err)
		}
		return nil
	})
}
