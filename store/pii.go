package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PasswordWait is a mail whose encrypted workbook waits for its password.
type PasswordWait struct {
	Message int64
	Agency  string
	Sender  string // lower-case bare address
	Receipt string // the receipt the waiting acknowledgement gave
	Until   time.Time
	Created time.Time
	// Resolved: the wait ended, with the password mail PasswordMessage
	// (0: the window closed without one).
	Resolved        bool
	PasswordMessage int64
}

// WaitForPassword records, in one transaction, that message waits for the
// password of its workbook until w.Until, and queues the acknowledgement
// that says so (reply, answering the message). The message stays
// received and is left out of Pending until the wait is resolved.
func (s *Store) WaitForPassword(ctx context.Context, w PasswordWait, reply *NewReply, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := requireStatus(ctx, tx, w.Message, StatusReceived); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO password_waits (message, agency, sender, receipt, until, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, w.Message, w.Agency, normAddr(w.Sender), w.Receipt, ts(w.Until), ts(now)); err != nil {
			return fmt.Errorf("store: wait for password: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET note = ?, agency = ?, from_addr = ?, receipt = '' WHERE id = ?`,
			"waiting for the password of its workbook until "+w.Until.UTC().Format(time.DateTime)+" UTC ("+w.Receipt+")", w.Agency, normAddr(w.Sender), w.Message); err != nil {
			return fmt.Errorf("store: wait for password: %w", err)
		}
		if reply != nil {
			if _, err := insertReply(ctx, tx, *reply, 0, w.Message, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// OpenWaits returns the unresolved password waits of sender, oldest first.
func (s *Store) OpenWaits(ctx context.Context, sender string) ([]PasswordWait, error) {
	return s.waits(ctx, `WHERE resolved_at IS NULL AND sender = ? ORDER BY message`, normAddr(sender))
}

// WaitByPasswordMessage returns the wait a password mail resolved;
// ErrNotFound when it resolved none.
func (s *Store) WaitByPasswordMessage(ctx context.Context, passwordMail int64) (PasswordWait, error) {
	ws, err := s.waits(ctx, `WHERE password_message = ?`, passwordMail)
	if err != nil {
		return PasswordWait{}, err
	}
	if len(ws) == 0 {
		return PasswordWait{}, ErrNotFound
	}
	return ws[0], nil
}

// ExpiredWaits returns the unresolved waits whose window closed before now.
func (s *Store) ExpiredWaits(ctx context.Context, now time.Time) ([]PasswordWait, error) {
	return s.waits(ctx, `WHERE resolved_at IS NULL AND until < ? ORDER BY message`, tsq(now))
}

// WaitOf returns the password wait of a message, resolved or not;
// ErrNotFound when it never waited.
func (s *Store) WaitOf(ctx context.Context, message int64) (PasswordWait, error) {
	ws, err := s.waits(ctx, `WHERE message = ?`, message)
	if err != nil {
		return PasswordWait{}, err
	}
	if len(ws) == 0 {
		return PasswordWait{}, ErrNotFound
	}
	return ws[0], nil
}

func (s *Store) waits(ctx context.Context, where string, args ...any) ([]PasswordWait, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT message, agency, sender, receipt, until, created_at, resolved_at IS NOT NULL, coalesce(password_message, 0) FROM password_waits `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: password waits: %w", err)
	}
	defer rows.Close()
	var out []PasswordWait
	for rows.Next() {
		var w PasswordWait
		var until, created sql.NullString
		if err := rows.Scan(&w.Message, &w.Agency, &w.Sender, &w.Receipt, &until, &created, &w.Resolved, &w.PasswordMessage); err != nil {
			return nil, fmt.Errorf("store: password waits: %w", err)
		}
		if w.Until, err = parseTS(until); err != nil {
			return nil, err
		}
		if w.Created, err = parseTS(created); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// ResolveWait ends a message's wait (the password came with message
// passwordMail, or 0 when the window closed without one), so the message is
// pending again and is decided.
func (s *Store) ResolveWait(ctx context.Context, message, passwordMail int64, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var pm any
		if passwordMail != 0 {
			pm = passwordMail
		}
		res, err := tx.ExecContext(ctx, `UPDATE password_waits SET resolved_at = ?, password_message = ? WHERE message = ? AND resolved_at IS NULL`,
			ts(now), pm, message)
		if err != nil {
			return fmt.Errorf("store: resolve wait %d: %w", message, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// PasswordMail is a workbook's password that came before its workbook:
// the mail is kept for the sender's next encrypted workbook received until
// Until.
type PasswordMail struct {
	Agency, Sender string
	Until          time.Time
}

// EarlierPasswordMail returns the newest password mail of sender that came
// before message (a lower id) and may still be used by a workbook received
// at: its window open then and its raw bytes not purged (used, or
// expired). 0 when there is none.
func (s *Store) EarlierPasswordMail(ctx context.Context, sender string, message int64, received time.Time) (int64, error) {
	var id int64
	err := s.rdb.QueryRowContext(ctx, `SELECT p.message FROM password_mails p
		WHERE p.sender = ? AND p.message < ? AND p.until >= ?
		AND NOT EXISTS (SELECT 1 FROM purged WHERE purged.message = p.message)
		ORDER BY p.message DESC LIMIT 1`, normAddr(sender), message, tsq(received)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: earlier password mail: %w", err)
	}
	return id, nil
}

// ExpiredPasswordMails returns the password mails whose window closed
// before now unused (their raw bytes not purged yet).
func (s *Store) ExpiredPasswordMails(ctx context.Context, now time.Time) ([]int64, error) {
	ids, err := queryAll(ctx, s.rdb, scanID, `SELECT p.message FROM password_mails p
		WHERE p.until < ? AND NOT EXISTS (SELECT 1 FROM purged WHERE purged.message = p.message) ORDER BY p.message`, tsq(now))
	if err != nil {
		return nil, fmt.Errorf("store: expired password mails: %w", err)
	}
	return ids, nil
}

// PurgeRawNow deletes the raw bytes of one message at once (a mail that
// carried a workbook's password: the password is never kept), recording
// note on it. Its row, hash and dedupe key stay, so the same mail fetched
// again is recognised; the freed pages are zeroed (secure_delete).
func (s *Store) PurgeRawNow(ctx context.Context, id int64, note string, now time.Time) error {
	defer s.dropLog(ctx)
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET note = ? WHERE id = ?`, note, id)
		if err != nil {
			return fmt.Errorf("store: purge %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return purgeRaw(ctx, tx, []int64{id}, now)
	})
}

// SaveSenderCert records the certificate of a sender whose S/MIME
// signature was verified, replacing an older one: replies holding personal
// data are encrypted to it.
func (s *Store) SaveSenderCert(ctx context.Context, addr string, der []byte, notAfter, now time.Time) error {
	if len(der) == 0 || strings.TrimSpace(addr) == "" {
		return errors.New("store: save sender certificate: empty address or certificate")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO smime_certs (addr, cert, not_after, seen_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (addr) DO UPDATE SET cert = excluded.cert, not_after = excluded.not_after, seen_at = excluded.seen_at
			WHERE excluded.seen_at >= smime_certs.seen_at`, normAddr(addr), der, ts(notAfter), ts(now))
		if err != nil {
			return fmt.Errorf("store: save sender certificate: %w", err)
		}
		return nil
	})
}

// SenderCert returns the DER certificate last verified for addr, if it is
// still valid at now; nil when none.
func (s *Store) SenderCert(ctx context.Context, addr string, now time.Time) ([]byte, error) {
	var der []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT cert FROM smime_certs WHERE addr = ? AND not_after > ?`, normAddr(addr), tsq(now)).Scan(&der)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: sender certificate: %w", err)
	}
	return der, nil
}

// purgeRaw deletes the raw bytes of messages inside tx.
func purgeRaw(ctx context.Context, tx *sql.Tx, ids []int64, now time.Time) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET raw = x'' WHERE id = ?`, id); err != nil {
			return fmt.Errorf("store: purge %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO purged (message, purged_at) VALUES (?, ?)`, id, ts(now)); err != nil {
			return fmt.Errorf("store: purge %d: %w", id, err)
		}
	}
	return nil
}

// dropLog checkpoints the write-ahead log and truncates it, so bytes just
// purged (their pages zeroed by secure_delete) do not linger in the log's
// older frames. Best effort: a reader holding an old snapshot keeps the log
// until it ends; it is tried a few times.
func (s *Store) dropLog(ctx context.Context) {
	for i := 0; i < 5; i++ {
		var busy, logged, done int
		err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &done)
		if err != nil || busy == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
