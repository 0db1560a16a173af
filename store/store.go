// Package store keeps everything the intake bot knows in one SQLite file:
// every fetched message (raw bytes first, before anything else happens),
// where it lies on the server, each submission with its files, records and
// findings, the outbox of replies, reminders, and the fetch cursors.
//
// It knows SQL and nothing of IMAP or SMTP. There is one Store type with a
// method per query, grouped by table (message.go, location.go, cursor.go,
// submission.go, complete.go, outbox.go, audit.go, question.go). Every multi-step write is one
// transaction, so a reply can never exist without the records it reports.
// A submission's records wait on disk in a Spool (spool.go) while it is
// checked, and go from there into that transaction.
//
// Schema (migrations/*.sql, applied in order by migrate.go and recorded in
// schema_migrations):
//
//	messages           one row per distinct mail: raw bytes, sha256, dedupe key,
//	                   processing status, attempts, the folder it is to be filed in
//	locations          (mailbox, uidvalidity, uid) where a message was seen; filed_at
//	                   once it was moved to its folder on the server
//	cursors            per mailbox: uidvalidity, the last UID fetched, and for
//	                   start-from-now the time it began and how far a rescan reaches
//	submissions        one per processed submission: receipt, call, agency, period,
//	                   version, state (current | superseded | deficient), counts
//	files              attachment bytes as received, per submission
//	records            one data row each: provenance columns (submission, kind, file,
//	                   sheet, row) and the row's fields as a JSON object, so any
//	                   data call's columns fit
//	findings           validation findings per submission
//	outbox             replies to send: stable Message-ID, raw bytes, status (queued |
//	                   sent | failed | bounced | held: a dry run's, never sent), attempts,
//	                   next attempt, last error, bounce details
//	outbox_recipients  normalised recipient addresses (per-sender rate limits)
//	reminders          one row per (call, agency, due): a reminder is queued once
//	audit              who viewed records, downloaded a file or exported, when and
//	                   what: append-only and hash-chained (audit.go)
//	purged             messages whose raw bytes retention (retention.go) or a
//	                   used password mail (pii.go) purged, and when
//	password_waits     a mail whose encrypted workbook waits for its password,
//	                   until when, and the mail that brought it (pii.go)
//	smime_certs        the certificate of each sender's last verified S/MIME
//	                   signature, to encrypt replies holding PII to (pii.go)
//	questions          one per message in status question: agency, subject, text,
//	                   asked, answered (when, by whom) and staff notes (question.go)
//
// Files: the database, its -wal and -shm, and the lock (lock.go) are the
// daemon's user's only (0600), in a directory made 0700 when the store
// makes it (files.go). PRAGMA user_version is the health check's counter
// (CheckWrite). OpenReadOnly serves the commands that only read.
//
// Times are stored as fixed-width UTC text (RFC 3339 with nanoseconds), so
// they sort and compare as strings; the zero time is stored as NULL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver "sqlite3" (cgo)
)

// ErrNotFound is returned when the message, submission, file or reply asked
// for does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is the intake bot's database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB // writes (and reads inside write transactions): BEGIN IMMEDIATE
	rdb  *sql.DB // reads that span several queries: deferred, query-only
	path string  // the database file, absolute
}

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date. It refuses a file whose schema is newer than this
// code knows.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	uri := fileURI(abs)
	if err := prepareFile(abs); err != nil {
		return nil, err
	}

	// Why each parameter:
	//   _journal_mode=WAL: readers never block the writer nor the writer the
	//     readers (the dashboard reads while the daemon writes).
	//   _busy_timeout=5000: a writer waits up to 5 s for the write lock
	//     instead of failing at once with "database is locked".
	//   _foreign_keys=on: SQLite leaves foreign keys unchecked unless asked,
	//     per connection; a record must never point at a missing submission.
	//   _txlock=immediate: every transaction takes the write lock at BEGIN.
	//     With the default (deferred) a read-then-write transaction upgrades
	//     its lock late and fails "database is locked" when another writer
	//     got there first, whatever the busy timeout.
	//   _synchronous=NORMAL: in WAL mode this never corrupts the database and
	//     loses nothing on a process crash (the common case: the daemon is
	//     killed or panics); only an OS crash or power loss may roll back the
	//     last commits. Those are made durable by Sync, which the daemon calls
	//     before it acts on them outside the store (moving mail on the server,
	//     sending a reply): one fsync for a round of commits, where FULL would
	//     fsync each commit.
	//   _cache_size=-65536: a 64 MiB page cache for the writer, so storing a
	//     100,000-row submission in one transaction does not spill pages to
	//     the log before its commit (SQLite's default is 2 MiB).
	//   _secure_delete=on: a page freed by a write is overwritten with zeros,
	//     so mail retention purges (retention.go) and rows rewritten on
	//     the way (a message's row when its status is set) leave no copy of
	//     the raw mail in the file's free pages. It costs a write of each
	//     freed page; storing a submission frees none.
	wdsn := uri + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL&_cache_size=-65536&_secure_delete=on"
	db, err := sql.Open("sqlite3", wdsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One connection writes. Several deciders commit side by side, and one
	// of them may hold the write lock for seconds (a large submission's
	// records go in one transaction): with one connection the others wait
	// their turn here, for as long as their context allows, instead of in
	// SQLite's busy handler, which gives up after the busy timeout with
	// "database is locked".
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	// The read pool uses deferred transactions (a read-only snapshot must
	// not take the write lock) and is query-only, so a mistake there cannot
	// write. The file is already in WAL mode (persistent), set above.
	rdsn := uri + "?_busy_timeout=5000&_foreign_keys=on&_txlock=deferred&_query_only=true"
	rdb, err := sql.Open("sqlite3", rdsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := rdb.PingContext(ctx); err != nil {
		db.Close()
		rdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Store{db: db, rdb: rdb, path: abs}, nil
}

// fileURI is a "file:" URI with the path escaped, so a '?' or '#' in a
// directory name is not taken for the start of the parameters.
func fileURI(abs string) string {
	return "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
}

// OpenReadOnly opens an existing store for reading only, for the commands
// that only read (status, list, show, export): SQLite opens the file
// read-only (mode=ro) and every connection is query-only, so it works on a
// store file this user may not write, and it never migrates. It refuses a
// store whose schema is not the one this code knows (older: run the daemon
// once to migrate it; newer: use the newer program). Every writing method
// of the returned Store fails.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	dsn := fileURI(abs) + "?mode=ro&_busy_timeout=5000&_foreign_keys=on&_txlock=deferred&_query_only=true"
	if !writableDir(filepath.Dir(abs)) && !exists(abs+"-shm") && emptyOrMissing(abs+"-wal") {
		// SQLite reads a WAL-mode file through its -shm index, which it
		// cannot create here; with no -shm and no log, no writer has the
		// file open and every commit is in the file itself, so it is read
		// as immutable (no locks, no index).
		dsn += "&immutable=1"
	}
	open := func() (*sql.DB, error) {
		db, err := sql.Open("sqlite3", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		return db, nil
	}
	db, err := open()
	if err != nil {
		return nil, err
	}
	if err := schemaCurrent(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	rdb, err := open()
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, rdb: rdb, path: abs}, nil
}

// Path is the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Sync makes every commit so far durable, through an OS crash or a power
// loss: it fsyncs the write-ahead log, which under synchronous=NORMAL SQLite
// syncs only at checkpoints (and a checkpoint syncs the database file, so
// what the log no longer holds is durable already). Call it before acting
// outside the store on what was committed, an act that cannot be undone
// (moving mail on the server, sending a reply), so the world is never
// ahead of the store.
func (s *Store) Sync() error {
	f, err := os.Open(s.path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// CheckWrite reports whether the store can take a write now, for a health
// check. It commits a real write, one step of a counter in the database
// header (PRAGMA user_version, which nothing else uses), so a full disk, a
// read-only file or a write lock held elsewhere fails it; and it fails when
// the file system holding the store has fewer than minFree bytes left for
// this user (a commit may still fit in the log's room while the next mail
// does not).
func (s *Store) CheckWrite(ctx context.Context, minFree int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var v int64
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, (v+1)%(1<<31)))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: cannot write: %w", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(s.path), &st); err != nil {
		return fmt.Errorf("store: free space: %w", err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < minFree {
		return fmt.Errorf("store: %d bytes free on the store's file system, under the %d required", free, minFree)
	}
	return nil
}

// Close closes the database. Every write is committed or rolled back when
// its method returns, so closing never loses a completed call.
func (s *Store) Close() error {
	err := errors.Join(s.rdb.Close(), s.db.Close())
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// write runs fn in one write transaction (BEGIN IMMEDIATE): committed when
// fn returns nil, rolled back otherwise.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// read runs fn in one read-only transaction: the queries in fn see one
// snapshot of the database.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	return fn(tx)
}

// tsLayout is fixed-width so that stored times sort as strings.
const tsLayout = "2006-01-02T15:04:05.000000000Z07:00"

// ts turns a time into its stored form: NULL for the zero time.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(tsLayout)
}

// tsq is ts for a comparison operand: the zero time compares as the
// smallest stored value.
func tsq(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(tsLayout)
}

// parseTS reads a stored time back; NULL gives the zero time.
func parseTS(v sql.NullString) (time.Time, error) {
	if !v.Valid || v.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(tsLayout, v.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: bad stored time %q: %w", v.String, err)
	}
	return t, nil
}

// boolInt stores a bool as 0 or 1.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
