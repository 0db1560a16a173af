package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked is returned by Lock when another process holds the store.
var ErrLocked = errors.New("store: in use by another process")

// Lock is a process's exclusive claim on a store for deciding mail: the
// daemon holds it while it runs, and a replay takes it for its one
// decision, so two processes never decide mail of the same store at once.
// It is an flock(2) on "<store path>.lock", released by Unlock or by the
// process's end, however it ends (a SIGKILL included). Reading the store
// (status, list, export, the dashboard) needs no lock.
type Lock struct{ f *os.File }

// TakeLock takes the store's lock without waiting: ErrLocked when another
// process (or another Lock of this one) holds it.
//
// The store's directory is made first (0700) when it is missing, and the
// lock file is the daemon's user's only (0600), like the store's.
func TakeLock(path string) (*Lock, error) {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := narrow(path + ".lock"); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
