package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"intake/parser"
	"intake/store"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newStore opens a store on a fresh file in t.TempDir and closes it at the
// end of the test. It returns the file's path too.
func newStore(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "intake.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s, path
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// rawMsg is a message at INBOX/1/uid with dedupe key key.
func rawMsg(uid uint32, key string) store.RawMessage {
	raw := []byte(fmt.Sprintf("Message-ID: <%s@agency.gov>\r\nSubject: data call\r\n\r\nuid %d\r\n", key, uid))
	return store.RawMessage{
		Mailbox: "INBOX", UIDValidity: 1, UID: uid,
		DedupeKey: key, MessageID: "<" + key + "@agency.gov>",
		SHA256: hexSHA(raw), Raw: raw, Size: int64(len(raw)),
		InternalDate: t0.Add(-time.Minute), ReceivedAt: t0,
	}
}

// mustSave saves a new message and returns its id.
func mustSave(tb testing.TB, s *store.Store, m store.RawMessage) int64 {
	tb.Helper()
	id, created, err := s.SaveRaw(context.Background(), m)
	if err != nil {
		tb.Fatal(err)
	}
	if !created {
		tb.Fatalf("SaveRaw(uid %d): created = false, want a new message", m.UID)
	}
	return id
}

// records makes n records of kind with 12 fields each.
func records(kind string, n int) []parser.Record {
	out := make([]parser.Record, n)
	for i := range out {
		f := make(map[string]string, 12)
		f["position_number"] = fmt.Sprintf("P%06d", i)
		f["agency"] = "HS"
		for c := 2; c < 12; c++ {
			f[fmt.Sprintf("col%02d", c)] = fmt.Sprintf("value %d/%d", i, c)
		}
		out[i] = parser.Record{Kind: kind, File: "report.xlsx", Sheet: "Positions", Row: i + 2, Fields: f}
	}
	return out
}

// submission makes a submission of agency HS to the SES call with n
// position-report records; deficient ones carry one error finding. Every
// one has a warning finding.
func submission(receipt string, accepted bool, n int) *store.NewSubmission {
	data := []byte("PK\x03\x04 workbook " + receipt)
	sub := &store.NewSubmission{
		Receipt: receipt, Call: "ses-designation-review", Agency: "HS", Sender: "hr@dhs.gov",
		Accepted: accepted, // ReceivedAt zero: Complete takes its Now
		Files: []store.File{{Name: "report.xlsx", ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
			SHA256: hexSHA(data), Data: data}},
		Result: parser.Submission{
			Call: "ses-designation-review", Agency: "HS",
			Files:   []parser.FileResult{{Name: "report.xlsx", SHA256: hexSHA(data), Size: int64(len(data))}},
			Records: records("position-report", n),
			Findings: []parser.Finding{{File: "report.xlsx", Sheet: "Positions", Row: 2, Col: 3, Column: "Title",
				Code: "long", Severity: parser.SeverityWarning, Message: "long title"}},
		},
	}
	if !accepted {
		sub.Result.Findings = append(sub.Result.Findings, parser.Finding{File: "report.xlsx", Sheet: "Positions",
			Row: 3, Col: 6, Column: "Designation", Code: "not-allowed", Severity: parser.SeverityError,
			Message: "not an allowed value", Fix: "choose General or Career Reserved"})
	}
	return sub
}

func reply(id, kind string) *store.NewReply {
	return &store.NewReply{MessageID: id, Kind: kind, From: "allocation-management@opm.gov",
		To: []string{"hr@dhs.gov"}, Raw: []byte("Subject: Re: data call\r\n\r\nthanks\r\n")}
}

// mustComplete saves a new message (uid) and completes it with sub and a
// reply; it returns the message id and what Complete stored.
func mustComplete(tb testing.TB, s *store.Store, uid uint32, sub *store.NewSubmission, now time.Time) (int64, store.Completed) {
	tb.Helper()
	ctx := context.Background()
	id := mustSave(tb, s, rawMsg(uid, fmt.Sprintf("key-%d", uid)))
	status, kind := store.StatusAccepted, "acknowledgement"
	if !sub.Accepted {
		status, kind = store.StatusDeficient, "deficiency"
	}
	done, err := s.Complete(ctx, store.Completion{
		Message: id, Status: status, Folder: "Processed/" + status, From: sub.Sender, Agency: sub.Agency,
		Call: sub.Call, Submission: sub, Reply: reply(fmt.Sprintf("reply-%d@intake.opm.gov", uid), kind), Now: now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return id, done
}

// rawDB opens the store's file directly (for checks the API cannot make).
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func count(tb testing.TB, db *sql.DB, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestOpen_migrationsIdempotentOnReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	for i := 0; i < 3; i++ {
		s, err := store.Open(ctx, path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		if i == 0 {
			mustSave(t, s, rawMsg(1, "a"))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); n != len(files) {
		t.Errorf("schema_migrations has %d rows after three opens, want %d (one per migration)", n, len(files))
	}
	if n := count(t, db, `SELECT COUNT(*) FROM messages`); n != 1 {
		t.Errorf("messages = %d after reopening, want 1", n)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
}

func TestOpen_refusesNewerSchema(t *testing.T) {
	_, path := newStore(t)
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open on a schema newer than the code succeeded")
	}
	if !strings.Contains(err.Error(), "newer") || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("error = %q, want a store: error saying the schema is newer", err)
	}
}

func TestOpen_foreignKeysEnforced(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	// A submission for a message that does not exist must not be stored:
	// Complete refuses before, so check the schema via a missing message.
	_, err := s.Complete(ctx, store.Completion{Message: 42, Status: store.StatusAccepted,
		Submission: submission("R-1", true, 1), Now: t0})
	if err != store.ErrNotFound {
		t.Fatalf("Complete(unknown message) = %v, want ErrNotFound", err)
	}
}

func TestReopen_pendingSurvivesClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := mustSave(t, s, rawMsg(7, "crash"))
	if _, err := s.BeginAttempt(ctx, id, t0); err != nil {
		t.Fatal(err)
	}
	// No Complete: the daemon died while processing.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != id {
		t.Fatalf("Pending after reopen = %v, want [%d]", ids, id)
	}
	m, err := s.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Attempts != 1 {
		t.Errorf("attempts after reopen = %d, want 1 (counted before processing)", m.Attempts)
	}
	if string(m.Raw) != string(rawMsg(7, "crash").Raw) {
		t.Errorf("raw after reopen = %q", m.Raw)
	}
}

func TestOpen_badPath(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, ""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	dir := t.TempDir()
	if s, err := store.Open(ctx, dir); err == nil {
		s.Close()
		t.Error("Open(a directory) succeeded")
	}
	// A path with URI metacharacters is a file name, not parameters.
	odd := filepath.Join(t.TempDir(), "a?b#c%20.db")
	s, err := store.Open(ctx, odd)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(odd); err != nil {
		t.Errorf("database not created at %q: %v", odd, err)
	}
}

func TestTimes_zoneIndependent(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ny, err := time.LoadLocation("America/New_York") // zone data is embedded (parser imports time/tzdata)
	if err != nil {
		t.Fatal(err)
	}
	mustComplete(t, s, 1, submission("R-1", true, 1), t0) // reply due at t0 (12:00 UTC)
	// 07:30 in New York is 12:30 UTC: due. 06:30 is 11:30 UTC: not due.
	if due, _ := s.DueReplies(ctx, time.Date(2025, 3, 1, 7, 30, 0, 0, ny), 0); len(due) != 1 {
		t.Errorf("DueReplies(07:30 New York) = %d, want 1", len(due))
	}
	if due, _ := s.DueReplies(ctx, time.Date(2025, 3, 1, 6, 30, 0, 0, ny), 0); len(due) != 0 {
		t.Errorf("DueReplies(06:30 New York) = %d, want 0", len(due))
	}
	at, ok, err := s.NextReplyDue(ctx)
	if err != nil || !ok || !at.Equal(t0) {
		t.Errorf("NextReplyDue = %v, %v, %v; want %v", at, ok, err, t0)
	}
}

func TestComplete_cancelledContextWritesNothing(t *testing.T) {
	s, path := newStore(t)
	id := mustSave(t, s, rawMsg(1, "a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusAccepted,
		Submission: submission("R-1", true, 10), Reply: reply("r@intake", "acknowledgement"), Now: t0}); err == nil {
		t.Fatal("Complete with a cancelled context succeeded")
	}
	db := rawDB(t, path)
	if n := count(t, db, `SELECT COUNT(*) FROM records`) + count(t, db, `SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Errorf("%d rows written by a cancelled Complete", n)
	}
	if ids, _ := s.Pending(context.Background()); len(ids) != 1 {
		t.Errorf("Pending = %v, want the message still pending", ids)
	}
}

// Sync makes the commits durable: it succeeds with the write-ahead log in
// use and once everything was checkpointed into the database file.
func TestSync(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Sync(); err != nil {
		t.Fatalf("Sync on a new store: %v", err)
	}
	if _, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 1, SHA256: "x", Raw: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("write-ahead log after a commit: %v", err)
	}
	if err := st.Sync(); err != nil {
		t.Fatalf("Sync with the log in use: %v", err)
	}
}
