package store_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"intake/store"
)

// One process at a time decides a store's mail: a second lock is refused
// while the first is held, and granted once it is released.
func TestTakeLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "intake.db")
	l, err := store.TakeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.TakeLock(path); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	// Another process is refused too (flock, not a lock of this process only).
	if flock, err := exec.LookPath("flock"); err == nil {
		if err := exec.Command(flock, "-n", path+".lock", "true").Run(); err == nil {
			t.Error("another process took the lock while it was held")
		}
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := store.TakeLock(path)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	again.Unlock()
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("lock file: %v", err)
	}
}
