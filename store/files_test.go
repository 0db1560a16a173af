package store_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"intake/store"
)

// withUmask runs the test under umask u (the most permissive, 0, shows
// that the modes come from the code, not from the environment).
func withUmask(t *testing.T, u int) {
	old := syscall.Umask(u)
	t.Cleanup(func() { syscall.Umask(old) })
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// Issue 14: the store (PII) was created 0644, readable by every local user,
// and `intake run` failed with ENOENT when the store's directory did not
// exist, because the lock was taken before the directory was made.
func TestOpen_privateFiles(t *testing.T) {
	withUmask(t, 0)
	dir := filepath.Join(t.TempDir(), "var", "intake")
	path := filepath.Join(dir, "intake.db")
	l, err := store.TakeLock(path) // before Open, as intake run does
	if err != nil {
		t.Fatalf("lock in a missing directory: %v", err)
	}
	defer l.Unlock()
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSave(t, s, rawMsg(1, "a")) // the -wal and -shm files exist from here
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("directory %s: mode %o, want 700", filepath.Base(d), m)
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), m)
		}
	}
}

// A store an earlier version left readable by others is narrowed at open.
func TestOpen_narrowsOldFiles(t *testing.T) {
	withUmask(t, 0)
	_, path := newStore(t)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path+".lock", nil, 0o666); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := store.TakeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %o after reopening, want 600", filepath.Base(p), m)
		}
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Issue 14: the read-only commands opened the store for writing and
// migrated it, so they failed on a store file they may only read.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	id := mustSave(t, s, rawMsg(1, "a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o444); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	before := [2][32]byte{fileSum(t, path), fileSum(t, path+"-wal")}
	ro, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly on a read-only file: %v", err)
	}
	m, err := ro.Message(ctx, id)
	if err != nil || m.MessageID != "<a@agency.gov>" {
		t.Fatalf("read: %+v, %v", m, err)
	}
	if _, _, err := ro.SaveRaw(ctx, rawMsg(2, "b")); err == nil {
		t.Error("a write through a read-only store succeeded")
	}
	if err := ro.CheckWrite(ctx, 0); err == nil {
		t.Error("CheckWrite on a read-only store: nil, want an error")
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := [2][32]byte{fileSum(t, path), fileSum(t, path+"-wal")}; after != before {
		t.Error("the store's files changed under a read-only open")
	}
}

// A read-only open never migrates: a store of an older schema is refused
// with what to do, and left as it was.
func TestOpenReadOnly_neverMigrates(t *testing.T) {
	ctx := context.Background()
	_, path := newStore(t)
	db := rawDB(t, path)
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	n := count(t, db, `SELECT COUNT(*) FROM schema_migrations`)
	ro, err := store.OpenReadOnly(ctx, path)
	if err == nil {
		ro.Close()
		t.Fatal("OpenReadOnly on an older schema succeeded")
	}
	if !strings.Contains(err.Error(), "intake run") {
		t.Errorf("error = %q, want it to say how to migrate", err)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); got != n {
		t.Errorf("schema_migrations: %d rows after a read-only open, want %d (unchanged)", got, n)
	}
	if _, err := store.OpenReadOnly(ctx, filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("OpenReadOnly created a missing store")
	}
}

// CheckWrite commits a real write (the log grows) and reports too little
// free space.
func TestCheckWrite(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	if _, err := rawDB(t, path).Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("wal after a truncating checkpoint: %v, %v", fi, err)
	}
	if err := s.CheckWrite(ctx, 1<<20); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Errorf("CheckWrite wrote nothing to the log (%v)", err)
	}
	err := s.CheckWrite(ctx, 1<<62)
	if err == nil || !strings.Contains(err.Error(), "free") {
		t.Errorf("CheckWrite with 4 EiB required free: %v, want a free-space error", err)
	}
}
