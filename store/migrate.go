package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles are the schema migrations, applied in the order of the
// number that starts each name (0001_init.sql, 0002_....sql). A migration
// is never edited once released: a change is a new file. Numbers are
// unique but may have gaps, and each is applied once whatever was applied
// before it: two changes written side by side (0003 and 0004) can land in
// either order, and a file that applied 0004 first still gets 0003 when
// it arrives. Such side-by-side migrations must not depend on each other.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations, ordered by version,
// checking that no version is used twice.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s: name must start with a positive number and '_'", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: migrations %s and %s have the same number", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate brings the schema up to date: each migration not recorded yet
// runs in its own transaction together with the row that records it, so a
// failed migration leaves the schema as it was. A database holding a
// migration the code does not know is refused: old code must not write to
// a schema it does not understand.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	known := make([]int, len(ms))
	for i, m := range ms {
		known[i] = m.version
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, known); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration applies m unless it is recorded already. The checks are
// inside the (immediate) transaction, so two processes opening the same new
// file do not both apply it.
func applyMigration(ctx context.Context, db *sql.DB, m migration, known []int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := refuseUnknown(ctx, tx, known); err != nil {
		return err
	}
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UTC().Format(tsLayout)); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	return nil
}

// refuseUnknown fails when the database records a migration that is not
// among known (sorted): it was made by a newer program.
func refuseUnknown(ctx context.Context, tx *sql.Tx, known []int) error {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		if _, ok := slices.BinarySearch(known, v); !ok {
			return fmt.Errorf("store: the database has schema migration %d, which this program does not know: it was made by a newer intake; use that", v)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// schemaCurrent fails unless db records exactly the migrations this code
// knows, without changing anything (for a read-only open).
func schemaCurrent(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("not an intake store, or never migrated (run intake run once): %w", err)
	}
	defer rows.Close()
	have := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return err
		}
		have[v] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range ms {
		if !have[m.version] {
			return fmt.Errorf("the schema lacks migration %s: this read-only command does not migrate; run intake run (or intake replay) once with this program to bring it up to date", m.name)
		}
		delete(have, m.version)
	}
	for v := range have {
		return fmt.Errorf("the database has schema migration %d, which this program does not know: it was made by a newer intake; use that", v)
	}
	return nil
}
