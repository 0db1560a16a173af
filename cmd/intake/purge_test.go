package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/store"
)

// `intake purge --dry-run` lists the old raw mail that was not a
// submission and purges nothing; `intake purge` then purges it.
func TestPurgeCommand(t *testing.T) {
	clearIntakeEnv(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-100 * 24 * time.Hour)
	raw := []byte("From: x@stranger.example\r\nSubject: hi\r\n\r\nbody\r\n")
	id, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 1, SHA256: "00", Raw: raw, ReceivedAt: old})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Complete(ctx, store.Completion{Message: id, Status: store.StatusRejected, From: "x@stranger.example", Note: "sender is not on any agency's allowlist", Now: old}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	rawOf := func() int {
		st, err := store.OpenReadOnly(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		m, err := st.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(m.Raw)
	}
	out, errOut, err := runCmd(t, "purge", "--dry-run", "--store", db)
	if err != nil || !strings.Contains(out, "x@stranger.example") || !strings.Contains(out, "1 messages") {
		t.Fatalf("purge --dry-run: %v\n%s%s", err, out, errOut)
	}
	if rawOf() == 0 {
		t.Fatal("the dry run purged")
	}
	if out, errOut, err := runCmd(t, "purge", "--days", "200", "--store", db); err != nil || !strings.Contains(out, "of 0 messages") {
		t.Fatalf("purge --days 200: %v\n%s%s", err, out, errOut)
	}
	if out, errOut, err := runCmd(t, "purge", "--store", db); err != nil || !strings.Contains(out, "of 1 messages") {
		t.Fatalf("purge: %v\n%s%s", err, out, errOut)
	}
	if rawOf() != 0 {
		t.Fatal("purge left the raw mail")
	}
}
