package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"intake/store"
)

// The start-from-now mark and the rescan bound survive a round trip, and a
// later SetCursor without them clears them.
func TestCursor_startFromNowMark(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	mark := time.Date(2025, 3, 14, 9, 30, 15, 250, time.FixedZone("EDT", -4*3600))
	want := store.Cursor{UIDValidity: 9, LastUID: 120, SkipBefore: mark, RescanTo: 118}
	if err := s.SetCursor(ctx, "INBOX", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Cursor(ctx, "INBOX")
	if err != nil || !ok || got.UIDValidity != 9 || got.LastUID != 120 || got.RescanTo != 118 || !got.SkipBefore.Equal(mark) {
		t.Fatalf("Cursor = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if err := s.SetCursor(ctx, "INBOX", store.Cursor{UIDValidity: 10, LastUID: 3}); err != nil {
		t.Fatal(err)
	}
	got, _, err = s.Cursor(ctx, "INBOX")
	if err != nil || got != (store.Cursor{UIDValidity: 10, LastUID: 3}) {
		t.Fatalf("Cursor = %+v, %v; want the mark cleared", got, err)
	}
}

// A database made before the mark existed keeps its cursor, without a mark.
func TestCursor_migratedFromSchemaWithoutMark(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	db := rawDB(t, path)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v, name := range []string{"0001_init.sql", "0002_current_kinds.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, '')`, v+1, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO cursors (mailbox, uidvalidity, last_uid) VALUES ('INBOX', 5, 77)`); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Cursor(ctx, "INBOX")
	if err != nil || !ok || got != (store.Cursor{UIDValidity: 5, LastUID: 77}) {
		t.Fatalf("Cursor after migration = %+v, %v, %v", got, ok, err)
	}
}

// Known finds a stored message by Message-ID or by dedupe key; empty
// values match nothing.
func TestKnown(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	m := rawMsg(1, "key-A")
	m.MessageID = "a.1@agency.gov"
	mustSave(t, s, m)
	bare := rawMsg(2, "key-B")
	bare.MessageID = ""
	mustSave(t, s, bare)
	for _, c := range []struct {
		id, key string
		want    bool
	}{
		{"a.1@agency.gov", "", true},
		{"", "key-A", true},
		{"", "key-B", true},
		{"other@agency.gov", "key-B", true},
		{"other@agency.gov", "", false},
		{"", "key-C", false},
		{"", "", false}, // message 2 has an empty Message-ID: "" is not a match
	} {
		if got, err := s.Known(ctx, c.id, c.key); err != nil || got != c.want {
			t.Errorf("Known(%q, %q) = %v, %v; want %v", c.id, c.key, got, err, c.want)
		}
	}
}
