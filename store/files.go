package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The store holds personal data (the records of a call with PII, and every
// raw mail), so its files are the daemon's user's alone: the database and
// the lock are created 0600, and SQLite gives its -wal and -shm files the
// database file's mode. A directory the store makes for itself is 0700; a
// directory that exists already is left as the operator made it.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// prepareFile makes the store's directory when it is missing and creates
// the database file 0600 before SQLite opens it (SQLite would create it
// 0644 less the umask). A database, -wal or -shm file left readable by
// others by an earlier version is narrowed to 0600 where this user may
// change it.
func prepareFile(path string) error {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		if err := narrow(p); err != nil {
			return err
		}
	}
	return nil
}

// makeDir creates dir (and its missing parents) 0700.
func makeDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("store: directory: %w", err)
	}
	return nil
}

// narrow takes away the group's and others' access to the file at p, if it
// exists. A file owned by another user (EPERM) is left alone: the open
// that follows says whether it can be used.
func narrow(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// writableDir reports whether this process may create files in dir.
func writableDir(dir string) bool {
	return syscall.Access(dir, 0o2|0o1) == nil // W_OK|X_OK
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func emptyOrMissing(p string) bool {
	fi, err := os.Stat(p)
	return err != nil || fi.Size() == 0
}
