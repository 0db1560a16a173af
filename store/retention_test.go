package store_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"intake/parser"
	"intake/store"
)

// TestPurge_onlyOldMailThatWasNotASubmission: raw mail of refused senders,
// automatic mail and bounces goes after the cutoff; submissions (accepted
// or deficient), quarantined mail and anything newer keep their bytes; the
// row stays, so the same mail fetched again is still known.
func TestPurge_onlyOldMailThatWasNotASubmission(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	old, recent := t0, t0.Add(40*24*time.Hour)
	type msg struct {
		key    string
		status string
		at     time.Time
		purged bool
	}
	msgs := []msg{
		{"rejected-old", store.StatusRejected, old, true},
		{"ignored-old", store.StatusIgnored, old, true},
		{"bounce-old", store.StatusBounce, old, true},
		{"accepted-old", store.StatusAccepted, old, false},
		{"deficient-old", store.StatusDeficient, old, false},
		{"quarantined-old", store.StatusQuarantined, old, false},
		{"received-old", store.StatusReceived, old, false},
		{"rejected-new", store.StatusRejected, recent, false},
	}
	ids := map[string]int64{}
	for i, m := range msgs {
		r := rawMsg(uint32(i+1), m.key)
		r.ReceivedAt = m.at
		r.Raw = append(r.Raw, bytes.Repeat([]byte("body-of-"+m.key+" "), 1000)...)
		id := mustSave(t, s, r)
		ids[m.key] = id
		switch m.status {
		case store.StatusReceived:
		case store.StatusQuarantined:
			for a := 0; a < 3; a++ {
				if _, err := s.BeginAttempt(ctx, id, m.at); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.FailAttempt(ctx, id, "boom", "Quarantine", m.at); err != nil {
				t.Fatal(err)
			}
		case store.StatusAccepted, store.StatusDeficient:
			c := store.Completion{Message: id, Status: m.status, Folder: "F", Now: m.at,
				Submission: &store.NewSubmission{Receipt: "R-" + m.key, Call: "c", Agency: "HS", Accepted: m.status == store.StatusAccepted,
					ReceivedAt: m.at, Files: []store.File{{Name: "a.xlsx", SHA256: "00", Data: []byte("x")}},
					Result: parser.Submission{}}}
			if _, err := s.Complete(ctx, c); err != nil {
				t.Fatal(err)
			}
		default:
			c := store.Completion{Message: id, Status: m.status, Folder: "F", Now: m.at}
			if m.status == store.StatusBounce {
				c.Bounce = &store.Bounce{ReplyMessageID: "none@x", Recipient: "a@b", Reason: "gone"}
			}
			if _, err := s.Complete(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	cutoff := old.Add(30 * 24 * time.Hour)
	list, err := s.Purgeable(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]bool{}
	for _, m := range msgs {
		if m.purged {
			want[ids[m.key]] = true
		}
	}
	if len(list) != len(want) {
		t.Fatalf("Purgeable lists %d messages, want %d: %+v", len(list), len(want), list)
	}
	for _, p := range list {
		if !want[p.ID] || p.Size < 12000 {
			t.Errorf("Purgeable lists %+v", p)
		}
	}
	// The dry run changed nothing.
	for _, m := range msgs {
		got, err := s.Message(ctx, ids[m.key])
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Raw) == 0 {
			t.Fatalf("%s: raw gone after listing only", m.key)
		}
	}
	n, size, err := s.Purge(ctx, cutoff, recent)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) || size < int64(12000*len(want)) {
		t.Errorf("Purge = %d messages, %d bytes", n, size)
	}
	for _, m := range msgs {
		got, err := s.Message(ctx, ids[m.key])
		if err != nil {
			t.Fatal(err)
		}
		if gone := len(got.Raw) == 0; gone != m.purged {
			t.Errorf("%s: raw purged = %v, want %v", m.key, gone, m.purged)
		}
		if got.Status != m.status {
			t.Errorf("%s: status %s after the purge", m.key, got.Status)
		}
	}
	// The row stays: the same mail at another location is the same message.
	r := rawMsg(100, "rejected-old")
	if id, created, err := s.SaveRaw(ctx, r); err != nil || created || id != ids["rejected-old"] {
		t.Errorf("SaveRaw of purged mail again = %d, %v, %v; want the old row", id, created, err)
	}
	// A purged message cannot be replayed (there is nothing to read).
	if err := s.Replay(ctx, ids["rejected-old"]); err == nil {
		t.Error("Replay of a purged message succeeded")
	}
	// Twice is nothing more.
	if n, _, err := s.Purge(ctx, cutoff, recent); err != nil || n != 0 {
		t.Errorf("second Purge = %d, %v", n, err)
	}
	// The purged bytes are not left in the file's free pages.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The purged bytes are not left anywhere in the file, not even in free
	// pages: neither from the purge nor from the row's earlier rewrites.
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, m := range msgs {
			n := bytes.Count(b, []byte("body-of-"+m.key+" "))
			if m.purged && n > 0 {
				t.Errorf("%s still holds %d pieces of the purged %s", p, n, m.key)
			}
			if !m.purged && n == 0 && p == path {
				t.Errorf("%s lost the kept %s", p, m.key)
			}
		}
	}
}

// TestPurge_manyInBatches: more than one batch is purged in full.
func TestPurge_manyInBatches(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 450
	for i := 0; i < n; i++ {
		r := rawMsg(uint32(i+1), "k"+string(rune('a'+i%26))+time.Duration(i).String())
		id := mustSave(t, s, r)
		if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusIgnored, Folder: "Ignored", Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := s.Purge(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
	if err != nil || got != n {
		t.Fatalf("Purge = %d, %v; want %d", got, err, n)
	}
}
