package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Cursor is how far a mailbox has been fetched.
type Cursor struct {
	UIDValidity uint32
	LastUID     uint32 // highest UID fetched and saved
	// SkipBefore is set when "start from now" established the cursor: mail
	// the server received before it was in the mailbox then, and is never
	// to be answered. Zero: not set.
	SkipBefore time.Time
	// RescanTo is, while the mailbox is rescanned after a change of
	// UIDVALIDITY, the highest UID that rescan covers: up to it, mail
	// received before SkipBefore and not already stored is left alone.
	RescanTo uint32
}

// Cursor returns the fetch cursor of mailbox; ok is false when there is none.
func (s *Store) Cursor(ctx context.Context, mailbox string) (c Cursor, ok bool, err error) {
	var skip sql.NullString
	err = s.rdb.QueryRowContext(ctx, `SELECT uidvalidity, last_uid, skip_before, rescan_to FROM cursors WHERE mailbox = ?`, mailbox).
		Scan(&c.UIDValidity, &c.LastUID, &skip, &c.RescanTo)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursor{}, false, nil
	}
	if err == nil {
		c.SkipBefore, err = parseTS(skip)
	}
	if err != nil {
		return Cursor{}, false, fmt.Errorf("store: cursor %s: %w", mailbox, err)
	}
	return c, true, nil
}

// SetCursor sets the fetch cursor of mailbox.
func (s *Store) SetCursor(ctx context.Context, mailbox string, c Cursor) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cursors (mailbox, uidvalidity, last_uid, skip_before, rescan_to) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
				skip_before = excluded.skip_before, rescan_to = excluded.rescan_to`,
			mailbox, c.UIDValidity, c.LastUID, ts(c.SkipBefore), c.RescanTo); err != nil {
			return fmt.Errorf("store: set cursor %s: %w", mailbox, err)
		}
		return nil
	})
}

// Known reports whether a stored message has this Message-ID (when
// messageID is not "") or this dedupe key (when dedupeKey is not ""). A
// rescan uses it to tell mail it has seen from mail it must leave alone.
func (s *Store) Known(ctx context.Context, messageID, dedupeKey string) (bool, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM messages WHERE message_id = ? AND message_id <> '') OR
		EXISTS (SELECT 1 FROM messages WHERE dedupe_key = ?)`,
		messageID, nullIfEmpty(dedupeKey)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: known: %w", err)
	}
	return n != 0, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
