package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mattn/go-sqlite3"
)

// Backup writes a consistent copy of the whole store to path, while the
// daemon runs: SQLite's online backup API copies every page inside one read
// transaction, and in WAL mode a reader never blocks the writer, so mail
// keeps being stored and decided meanwhile. The copy is what the store held
// at the instant the copy began.
//
// The copy is written to a temporary file (0600) in path's directory,
// checked with PRAGMA integrity_check, switched to the rollback journal so
// it is one self-contained file, fsynced, and only then renamed onto path:
// path is never a partial copy, and a file already there is replaced whole.
// On failure path is left as it was and the temporary file is removed.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("store: backup %s: %w", path, err)
	}
	if abs == s.path {
		return fmt.Errorf("store: backup %s: that is the store itself", path)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("store: backup %s: not a regular file", path)
	}
	// CreateTemp makes the file 0600 whatever the umask: the copy holds
	// the same personal data as the store.
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*.part")
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpPath)
			os.Remove(tmpPath + "-journal")
		}
	}()

	dst, err := sql.Open("sqlite3", fileURI(tmpPath)+"?_journal_mode=DELETE&_synchronous=FULL")
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer dst.Close()
	if err := copyPages(ctx, dst, s.rdb); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// The pages came from a WAL-mode file, and so does the mode's mark in
	// the header: a copy meant to be moved and opened elsewhere is better
	// one file with nothing beside it.
	if _, err := dst.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return fmt.Errorf("store: backup: journal mode: %w", err)
	}
	if err := IntegrityCheck(ctx, dst); err != nil {
		return fmt.Errorf("store: backup: the copy %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Chmod(tmpPath, fileMode); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Rename(tmpPath, abs); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// The rename is durable once the directory is.
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// copyPages runs SQLite's online backup from src's main database into
// dst's, in one step: one read transaction on src, so the copy is a single
// snapshot (copied in several steps, a write between them would make the
// backup start over).
func copyPages(ctx context.Context, dst, src *sql.DB) error {
	dc, err := dst.Conn(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	sc, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	return dc.Raw(func(d any) error {
		return sc.Raw(func(s any) error {
			dconn, ok1 := d.(*sqlite3.SQLiteConn)
			sconn, ok2 := s.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return errors.New("not a go-sqlite3 connection")
			}
			b, err := dconn.Backup("main", sconn, "main")
			if err != nil {
				return err
			}
			done, err := b.Step(-1)
			if ferr := b.Finish(); err == nil {
				err = ferr
			}
			if err == nil && !done {
				err = errors.New("copy not complete")
			}
			return err
		})
	})
}

// IntegrityCheck runs PRAGMA integrity_check and foreign_key_check on db:
// nil when SQLite finds nothing wrong, else an error naming the first
// problems.
func IntegrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("fails the integrity check: %v", problems[:min(len(problems), 5)])
	}
	var table string
	var rowid sql.NullInt64
	var parent string
	var fkid int
	err = db.QueryRowContext(ctx, `PRAGMA foreign_key_check`).Scan(&table, &rowid, &parent, &fkid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("foreign key check: %w", err)
	default:
		return fmt.Errorf("fails the foreign key check: a row of %s (rowid %d) names a missing %s", table, rowid.Int64, parent)
	}
}

// Check runs IntegrityCheck on the store.
func (s *Store) Check(ctx context.Context) error {
	if err := IntegrityCheck(ctx, s.rdb); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
