package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"intake/store"
)

func TestOutbox_claimRetryPermanentFailure(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, ok, err := s.NextReplyDue(ctx); ok || err != nil {
		t.Fatalf("NextReplyDue on an empty outbox: ok=%v err=%v", ok, err)
	}
	mustComplete(t, s, 1, submission("R-1", true, 1), t0)
	mustComplete(t, s, 2, submission("R-2", false, 1), t0.Add(time.Second))

	if due, _ := s.DueReplies(ctx, t0.Add(-time.Second), 0); len(due) != 0 {
		t.Errorf("DueReplies before creation = %d", len(due))
	}
	due, err := s.DueReplies(ctx, t0.Add(time.Minute), 0)
	if err != nil || len(due) != 2 || due[0].Receipt != "R-1" {
		t.Fatalf("DueReplies = %+v, %v", due, err)
	}
	if lim, _ := s.DueReplies(ctx, t0.Add(time.Minute), 1); len(lim) != 1 {
		t.Errorf("DueReplies(limit 1) = %d", len(lim))
	}
	a, b := due[0], due[1]
	if a.MessageID != "reply-1@intake.opm.gov" || string(a.Raw) == "" || a.From != "allocation-management@opm.gov" {
		t.Errorf("item = %+v", a)
	}

	// Claim before sending: the next attempt is set, so it is not due again
	// at once even if the daemon dies while sending.
	next := t0.Add(5 * time.Minute)
	if n := claim(t, s, a.ID, next); n != 1 {
		t.Fatalf("claimed = %d attempts, want 1", n)
	}
	if due, _ := s.DueReplies(ctx, t0.Add(time.Minute), 0); len(due) != 1 || due[0].ID != b.ID {
		t.Errorf("DueReplies after claim = %+v, want only the unclaimed one", due)
	}
	if at, ok, _ := s.NextReplyDue(ctx); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("NextReplyDue = %v, %v; want the unclaimed reply's creation", at, ok)
	}
	// A temporary failure keeps it queued for the claimed next attempt.
	if err := s.ReplyFailed(ctx, a.ID, "451 try later", false); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueReplies(ctx, next, 0)
	if len(due) != 2 || due[1].ID != a.ID || due[1].Attempts != 1 || due[1].LastError != "451 try later" ||
		!due[1].NextAttempt.Equal(next) {
		t.Fatalf("DueReplies at next = %+v", due)
	}
	if n := claim(t, s, a.ID, next.Add(10*time.Minute)); n != 2 {
		t.Fatalf("second claim = %d attempts, want 2", n)
	}
	// A permanent failure ends it.
	if err := s.ReplyFailed(ctx, a.ID, "550 mailbox unavailable", true); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueReplies(ctx, next.Add(time.Hour), 0); len(due) != 1 || due[0].ID != b.ID {
		t.Errorf("DueReplies after a permanent failure = %+v", due)
	}
	if n := claim(t, s, a.ID, next); n != 0 {
		t.Error("a failed reply was claimed")
	}
	item, err := s.ReplyByMessageID(ctx, a.MessageID)
	if err != nil || item.Status != store.OutboxFailed || item.Attempts != 2 {
		t.Errorf("failed reply = %+v, %v", item, err)
	}

	// Sent.
	if n := claim(t, s, b.ID, next); n != 1 {
		t.Fatalf("claimed = %d attempts, want 1", n)
	}
	if err := s.ReplySent(ctx, b.ID, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	item, _ = s.ReplyByMessageID(ctx, "<"+b.MessageID+">")
	if item.Status != store.OutboxSent || !item.SentAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("sent reply = %+v", item)
	}
	if err := s.ReplySent(ctx, b.ID, t0); err == nil {
		t.Error("ReplySent twice succeeded")
	}
	if n := claim(t, s, b.ID, next); n != 0 {
		t.Error("a sent reply was claimed (it would be sent twice)")
	}
	if n := claim(t, s, 999, next); n != 0 {
		t.Error("an unknown reply was claimed")
	}
	if _, ok, _ := s.NextReplyDue(ctx); ok {
		t.Error("NextReplyDue reports a due reply with none queued")
	}

	for name, err := range map[string]error{
		"ReplySent":   s.ReplySent(ctx, 999, t0),
		"ReplyFailed": s.ReplyFailed(ctx, 999, "x", true),
		"ReplyByMessageID": func() error {
			_, err := s.ReplyByMessageID(ctx, "nobody@nowhere")
			return err
		}(),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(unknown) err = %v, want ErrNotFound", name, err)
		}
	}
}

// claim claims one reply and returns its attempts (0: not claimed).
func claim(t *testing.T, s *store.Store, id int64, next time.Time) int {
	t.Helper()
	n, err := s.ClaimReplies(context.Background(), []store.Claim{{ID: id, Next: next}})
	if err != nil {
		t.Fatal(err)
	}
	return n[0]
}

func TestQueueReminder_once(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	due := time.Date(2025, 3, 24, 23, 59, 0, 0, time.UTC)
	r := store.NewReply{MessageID: "reminder-1@intake.opm.gov", Kind: "reminder", From: "allocation-management@opm.gov",
		To: []string{"hr@dhs.gov"}, Raw: []byte("Subject: reminder\r\n\r\n")}
	queued, err := s.QueueReminder(ctx, "ses-designation-review", "HS", due, r, t0)
	if err != nil || !queued {
		t.Fatalf("first QueueReminder = %v, %v", queued, err)
	}
	r.MessageID = "reminder-2@intake.opm.gov"
	queued, err = s.QueueReminder(ctx, "ses-designation-review", "HS", due, r, t0.Add(time.Hour))
	if err != nil || queued {
		t.Fatalf("second QueueReminder = %v, %v; want false, nil", queued, err)
	}
	if _, err := s.ReplyByMessageID(ctx, "reminder-2@intake.opm.gov"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the second reminder was queued: %v", err)
	}
	// Another agency, or another due date, gets its own.
	r.MessageID = "reminder-3@intake.opm.gov"
	if q, err := s.QueueReminder(ctx, "ses-designation-review", "DJ", due, r, t0); err != nil || !q {
		t.Errorf("QueueReminder(other agency) = %v, %v", q, err)
	}
	r.MessageID = "reminder-4@intake.opm.gov"
	if q, err := s.QueueReminder(ctx, "ses-designation-review", "HS", due.AddDate(0, 0, 7), r, t0); err != nil || !q {
		t.Errorf("QueueReminder(other due) = %v, %v", q, err)
	}
	dueNow, _ := s.DueReplies(ctx, t0, 0)
	if len(dueNow) != 3 || dueNow[0].Kind != "reminder" || dueNow[0].Receipt != "" {
		t.Errorf("DueReplies = %+v, want 3 reminders", dueNow)
	}
}

func TestRepliesTo(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i, to := range []string{"hr@dhs.gov", "HR Office <HR@DHS.gov>", "other@dhs.gov"} {
		r := store.NewReply{MessageID: string(rune('a'+i)) + "@intake", Kind: "reminder", To: []string{to, "hr@dhs.gov"}}
		if _, err := s.QueueReminder(ctx, "c", "HS", t0.AddDate(0, 0, i), r, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		addr  string
		since time.Time
		want  int
	}{
		{"hr@dhs.gov", t0, 3},
		{"Hr@Dhs.Gov", t0, 3},
		{"<hr@dhs.gov>", t0.Add(time.Hour), 2},
		{"other@dhs.gov", t0, 1},
		{"hr@dhs.gov", t0.Add(3 * time.Hour), 0},
		{"nobody@dhs.gov", time.Time{}, 0},
	} {
		if n, err := s.RepliesTo(ctx, tc.addr, tc.since); err != nil || n != tc.want {
			t.Errorf("RepliesTo(%q, %v) = %d, %v; want %d", tc.addr, tc.since, n, err, tc.want)
		}
	}
	// A dry run's reply is held, never sent: it does not use up the limit.
	held := store.NewReply{MessageID: "held@intake", Kind: "reminder", To: []string{"hr@dhs.gov"}}
	if _, err := s.QueueReminder(store.HoldReplies(ctx, "dry run"), "c", "HS", t0.AddDate(0, 1, 0), held, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RepliesTo(ctx, "hr@dhs.gov", t0); err != nil || n != 3 {
		t.Errorf("RepliesTo after a held reply = %d, %v; want still 3", n, err)
	}
}

func TestQueueReply_requiresMessageIDAndRecipient(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, r := range []store.NewReply{
		{Kind: "reminder", To: []string{"hr@dhs.gov"}},
		{MessageID: "x@intake", Kind: "reminder"},
	} {
		if q, err := s.QueueReminder(ctx, "c", "HS", t0, r, t0); err == nil || q {
			t.Errorf("QueueReminder(%+v) = %v, %v; want an error", r, q, err)
		}
	}
	// The refused reminder was not recorded: a valid one can be queued.
	if q, err := s.QueueReminder(ctx, "c", "HS", t0, store.NewReply{MessageID: "ok@intake", To: []string{"a@b.gov"}}, t0); err != nil || !q {
		t.Errorf("QueueReminder after refusals = %v, %v", q, err)
	}
}

// A reply queued under HoldReplies (a dry run) is stored held with its
// reason: never due, never claimed, counted apart; replies queued without
// it are due as usual.
func TestOutbox_heldRepliesNeverDue(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	dry := store.HoldReplies(ctx, "dry run")
	id := mustSave(t, s, rawMsg(1, "held"))
	if _, err := s.Complete(dry, store.Completion{Message: id, Status: store.StatusAccepted, Folder: "Accepted",
		From: "hr@dhs.gov", Agency: "HS", Call: "ses-designation-review", Submission: submission("R-1", true, 1),
		Reply: reply("held-1@intake.opm.gov", "acknowledgement"), Now: t0}); err != nil {
		t.Fatal(err)
	}
	r := store.NewReply{MessageID: "held-2@intake.opm.gov", Kind: "reminder", To: []string{"hr@dhs.gov"}}
	if q, err := s.QueueReminder(dry, "ses-designation-review", "TR", t0.AddDate(0, 0, 7), r, t0); err != nil || !q {
		t.Fatalf("QueueReminder held = %v, %v", q, err)
	}
	mustComplete(t, s, 2, submission("R-2", true, 1), t0) // an ordinary one

	for _, mid := range []string{"held-1@intake.opm.gov", "held-2@intake.opm.gov"} {
		it, err := s.ReplyByMessageID(ctx, mid)
		if err != nil || it.Status != store.OutboxHeld || it.LastError != "dry run" || it.Attempts != 0 {
			t.Fatalf("%s = %+v, %v; want held, \"dry run\"", mid, it, err)
		}
		if n := claim(t, s, it.ID, t0.Add(time.Hour)); n != 0 {
			t.Errorf("claimed %s: a held reply would be sent", mid)
		}
	}
	due, err := s.DueReplies(ctx, t0.AddDate(1, 0, 0), 0)
	if err != nil || len(due) != 1 || due[0].MessageID != "reply-2@intake.opm.gov" {
		t.Errorf("DueReplies a year on = %+v, %v; want only the ordinary reply", due, err)
	}
	if at, ok, err := s.NextReplyDue(ctx); err != nil || !ok || !at.Equal(t0) {
		t.Errorf("NextReplyDue = %v, %v, %v; want the ordinary reply's time", at, ok, err)
	}
	if _, ob, err := s.Counts(ctx); err != nil || ob[store.OutboxHeld] != 2 || ob[store.OutboxQueued] != 1 {
		t.Errorf("Counts outbox = %v, %v; want 2 held, 1 queued", ob, err)
	}
}

// RepliesWaiting notes why queued replies wait, charging no attempt and
// moving no due time; replies no longer queued keep what they have.
func TestRepliesWaiting(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	mustComplete(t, s, 1, submission("R-1", true, 1), t0)
	mustComplete(t, s, 2, submission("R-2", true, 1), t0)
	due, _ := s.DueReplies(ctx, t0, 0)
	if len(due) != 2 {
		t.Fatalf("due %d", len(due))
	}
	a, b := due[0], due[1]
	if _, err := s.ClaimReplies(ctx, []store.Claim{{ID: b.ID, Next: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplySent(ctx, b.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RepliesWaiting(ctx, []int64{a.ID, b.ID, 999}, "535 authentication failed"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ReplyByMessageID(ctx, a.MessageID)
	if got.Status != store.OutboxQueued || got.Attempts != 0 || !got.NextAttempt.Equal(a.NextAttempt) || got.LastError != "535 authentication failed" {
		t.Errorf("waiting reply = %+v", got)
	}
	if got, _ := s.ReplyByMessageID(ctx, b.MessageID); got.Status != store.OutboxSent || got.LastError != "" {
		t.Errorf("sent reply = %+v, want it untouched", got)
	}
}

// A file made before migration 0004 keeps every outbox row, and what
// points at them (recipients, reminders), when the table is rebuilt to
// allow 'held'; foreign keys hold and are still enforced afterwards.
func TestMigrate_0004KeepsOutboxRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	old, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	const layout = "2006-01-02T15:04:05.000000000Z07:00"
	at := func(d time.Duration) string { return t0.Add(d).UTC().Format(layout) }
	stmts := []string{
		readFile(t, "migrations/0001_init.sql"),
		readFile(t, "migrations/0002_current_kinds.sql"),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', ''), (2, '0002_current_kinds.sql', '')`,
		`INSERT INTO messages (id, sha256, size, raw, received_at, status) VALUES (1, 'x', 1, X'41', '` + at(0) + `', 'accepted')`,
		`INSERT INTO outbox (id, message_id, kind, from_addr, recipients, raw, status, attempts, next_attempt_at, last_error, answers, created_at, sent_at)
			VALUES (1, 'sent@intake', 'acknowledgement', 'bot@opm.gov', '["hr@dhs.gov"]', X'0102', 'sent', 1, '` + at(time.Minute) + `', '', 1, '` + at(0) + `', '` + at(time.Second) + `')`,
		`INSERT INTO outbox (id, message_id, kind, recipients, raw, status, attempts, next_attempt_at, last_error, created_at)
			VALUES (2, 'retry@intake', 'reminder', '["hr@dhs.gov"]', X'03', 'queued', 2, '` + at(time.Hour) + `', '451 later', '` + at(0) + `')`,
		`INSERT INTO outbox_recipients VALUES (1, 'hr@dhs.gov', '` + at(0) + `'), (2, 'hr@dhs.gov', '` + at(0) + `')`,
		`INSERT INTO reminders VALUES ('ses-designation-review', 'HS', '` + at(240*time.Hour) + `', 2, '` + at(0) + `')`,
	}
	for _, q := range stmts {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	old.Close()

	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer s.Close()
	sent, err := s.ReplyByMessageID(ctx, "sent@intake")
	if err != nil || sent.Status != store.OutboxSent || !sent.SentAt.Equal(t0.Add(time.Second)) || string(sent.Raw) != "\x01\x02" ||
		sent.From != "bot@opm.gov" || len(sent.To) != 1 || sent.To[0] != "hr@dhs.gov" {
		t.Errorf("sent reply after the migration = %+v, %v", sent, err)
	}
	retry, err := s.ReplyByMessageID(ctx, "retry@intake")
	if err != nil || retry.Status != store.OutboxQueued || retry.Attempts != 2 || retry.LastError != "451 later" ||
		!retry.NextAttempt.Equal(t0.Add(time.Hour)) {
		t.Errorf("queued reply after the migration = %+v, %v", retry, err)
	}
	if n, err := s.RepliesTo(ctx, "hr@dhs.gov", t0); err != nil || n != 2 {
		t.Errorf("RepliesTo = %d, %v; want the 2 recipients rows kept", n, err)
	}
	r := store.NewReply{MessageID: "again@intake", Kind: "reminder", To: []string{"hr@dhs.gov"}}
	if q, err := s.QueueReminder(ctx, "ses-designation-review", "HS", t0.Add(240*time.Hour), r, t0); err != nil || q {
		t.Errorf("QueueReminder for a reminded deadline = %v, %v; want false: the reminder row is kept", q, err)
	}
	if q, err := s.QueueReminder(store.HoldReplies(ctx, "dry run"), "ses-designation-review", "TR", t0, r, t0); err != nil || !q {
		t.Errorf("QueueReminder held after the migration = %v, %v", q, err)
	}

	db := rawDB(t, path)
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports violations after the migration")
	}
	rows.Close()
	for _, q := range []string{
		`SELECT COUNT(*) FROM pragma_foreign_key_list('reminders') WHERE "table" = 'outbox'`,
		`SELECT COUNT(*) FROM pragma_foreign_key_list('outbox_recipients') WHERE "table" = 'outbox'`,
		`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('outbox_due', 'outbox_submission')`,
	} {
		if n := count(t, db, q); n < 1 {
			t.Errorf("%s = %d", q, n)
		}
	}
	fk, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	if _, err := fk.Exec(`INSERT INTO outbox_recipients VALUES (999, 'x@dhs.gov', '')`); err == nil {
		t.Error("a recipient of a missing reply was stored: foreign keys lost")
	}
}

// A migration numbered below one already applied still runs: 0003 and
// 0004 were written side by side, and a file may have met 0004 first.
func TestMigrate_appliesAnEarlierNumberLate(t *testing.T) {
	_, path := newStore(t)
	db := rawDB(t, path)
	for _, q := range []string{`DELETE FROM schema_migrations WHERE version = 2`, `DROP TABLE current_kinds`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := count(t, db, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'current_kinds'`); n != 1 {
		t.Error("migration 0002 was not applied after later ones")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations WHERE version = 2`); n != 1 {
		t.Error("migration 0002 not recorded")
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
