package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"intake/store"
)

// TestBackup_whileWriting: backups taken while another goroutine stores
// mail are each a whole store (integrity check, foreign keys), 0600 whatever
// the umask, hold every message completely, and open as a store.
func TestBackup_whileWriting(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	const total = 300
	var wg sync.WaitGroup
	wg.Add(1)
	written := make(chan int, total)
	go func() {
		defer wg.Done()
		for i := 1; i <= total; i++ {
			r := rawMsg(uint32(i), fmt.Sprintf("flood-%d", i))
			r.Raw = append(r.Raw, make([]byte, 20000)...) // overflow pages
			r.SHA256 = hexSHA(r.Raw)
			if _, _, err := s.SaveRaw(ctx, r); err != nil {
				t.Error(err)
				return
			}
			written <- i
		}
		close(written)
	}()
	dir := t.TempDir()
	var backups []string
	for i := range written {
		if i%60 != 0 {
			continue
		}
		p := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		if err := s.Backup(ctx, p); err != nil {
			t.Fatal(err)
		}
		backups = append(backups, p)
	}
	wg.Wait()
	if len(backups) == 0 {
		t.Fatal("no backup taken")
	}
	for _, p := range backups {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		for _, extra := range []string{"-wal", "-journal"} {
			if _, err := os.Stat(p + extra); err == nil {
				t.Errorf("%s%s left beside the backup", p, extra)
			}
		}
		b, err := store.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Check(ctx); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		msgs, err := b.Messages(ctx, store.MessageFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Errorf("%s: empty", p)
		}
		for _, m := range msgs {
			full, err := b.Message(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if hexSHA(full.Raw) != full.SHA256 {
				t.Errorf("%s: message %d incomplete", p, m.ID)
			}
		}
		b.Close()
	}
	// The last backup of a quiet store holds it all.
	p := filepath.Join(dir, "final.db")
	if err := s.Backup(ctx, p); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if msgs, _ := b.Messages(ctx, store.MessageFilter{}); len(msgs) != total {
		t.Errorf("final backup holds %d messages, want %d", len(msgs), total)
	}
}

// TestBackup_refusesTheStoreItselfAndKeepsOldOnFailure: a backup onto the
// store file is refused; a failed backup leaves no partial file behind.
func TestBackup_refusesTheStoreItself(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	if err := s.Backup(ctx, path); err == nil {
		t.Fatal("backup onto the store itself succeeded")
	}
	dir := t.TempDir()
	if err := s.Backup(ctx, dir); err == nil {
		t.Fatal("backup onto a directory succeeded")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	parts, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*.part"))
	if len(left)+len(parts) != 0 {
		t.Errorf("left behind: %v %v", left, parts)
	}
}
