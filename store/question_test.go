package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/store"
)

func mustQuestion(t *testing.T, s *store.Store, uid uint32, agency, subject string, now time.Time) int64 {
	t.Helper()
	id := mustSave(t, s, rawMsg(uid, "q-"+subject))
	if _, err := s.Complete(context.Background(), store.Completion{Message: id, Status: store.StatusQuestion, Folder: "Questions",
		From: "hr@dhs.gov", Agency: agency, Question: &store.NewQuestion{Subject: subject, Text: "Does it include vacant positions?"},
		Reply: reply("q-reply-"+subject+"@intake", "question"), Now: now}); err != nil {
		t.Fatal(err)
	}
	return id
}

// Questions wait in a queue, oldest first, until a member of staff marks
// them answered; notes say when and who.
func TestQuestions_queue(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	first := mustQuestion(t, s, 1, "HS", "vacant positions?", t0)
	second := mustQuestion(t, s, 2, "DJ", "deadline?", t0.Add(time.Hour))
	third := mustQuestion(t, s, 3, "HS", "acting incumbents?", t0.Add(2*time.Hour))

	open, err := s.Questions(ctx, store.QuestionFilter{Open: true})
	if err != nil || len(open) != 3 || open[0].Message != first || open[2].Message != third {
		t.Fatalf("open queue = %+v, %v", open, err)
	}
	if q := open[0]; q.Subject != "vacant positions?" || q.Agency != "HS" || q.Sender != "hr@dhs.gov" || !q.AskedAt.Equal(t0) || !q.Open() ||
		!strings.Contains(q.Text, "vacant") {
		t.Errorf("question = %+v", q)
	}
	if m, _ := s.Message(ctx, first); m.Status != store.StatusQuestion {
		t.Errorf("message status %q", m.Status)
	}
	if err := s.NoteQuestion(ctx, second, "alice", "asked the policy office\nabout it", false, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteQuestion(ctx, second, "bob", "answered by phone", true, t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteQuestion(ctx, second, "bob", "", true, t0.Add(5*time.Hour)); !errors.Is(err, store.ErrAnswered) {
		t.Errorf("answered twice: %v", err)
	}
	if err := s.NoteQuestion(ctx, 999, "bob", "x", true, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown question: %v", err)
	}
	q, err := s.Question(ctx, second)
	if err != nil || q.Open() || q.AnsweredBy != "bob" || !q.AnsweredAt.Equal(t0.Add(4*time.Hour)) {
		t.Errorf("answered question = %+v, %v", q, err)
	}
	if lines := strings.Split(q.Notes, "\n"); len(lines) != 2 || !strings.Contains(lines[0], "alice: asked the policy office about it") ||
		!strings.Contains(lines[1], "bob: answered by phone") {
		t.Errorf("notes = %q", q.Notes)
	}
	if n, _ := s.CountQuestions(ctx, store.QuestionFilter{Open: true}); n != 2 {
		t.Errorf("open = %d, want 2", n)
	}
	if a, err := s.Attention(ctx); err != nil || a.Questions != 2 {
		t.Errorf("attention counts %d open questions (%v), want 2", a.Questions, err)
	}
	// Searched in subject, text, sender and notes, with LIKE's own
	// characters taken literally.
	for text, want := range map[string]int{"ACTING": 1, "phone": 1, "vacant positions": 3, "dhs.gov": 3, "100%": 0, "_": 0} {
		if n, err := s.CountQuestions(ctx, store.QuestionFilter{Text: text}); err != nil || n != want {
			t.Errorf("search %q: %d questions (%v), want %d", text, n, err, want)
		}
	}
	all, _ := s.Questions(ctx, store.QuestionFilter{Agencies: []string{"HS", "DJ"}})
	if len(all) != 3 || all[2].Message != second {
		t.Errorf("all = %+v, want the answered one last", all)
	}
	// A question needs its row, and only a question has one.
	id := mustSave(t, s, rawMsg(9, "q-none"))
	if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusQuestion, Now: t0}); err == nil {
		t.Error("a question without its question row was completed")
	}
}

// A store made before migration 0007 keeps every message (and what points
// at them) when messages is rebuilt to allow the status question.
func TestMigrate_0007KeepsMessages(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	mustComplete(t, s, 1, submission("R-1", true, 2), t0)
	s.Close()
	db, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	// Back to the schema before 0007: the old table, without the question.
	for _, q := range []string{`DROP TABLE questions`, `DELETE FROM schema_migrations WHERE version = 7`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s2, err := store.Open(ctx, filepath.Clean(path))
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer s2.Close()
	d, err := s2.SubmissionByReceipt(ctx, "R-1")
	if err != nil || len(d.Records) != 2 || len(d.Replies) != 1 {
		t.Fatalf("after the migration: %+v, %v", d, err)
	}
	m, err := s2.Message(ctx, d.Message)
	if err != nil || m.Status != store.StatusAccepted || len(m.Raw) == 0 {
		t.Errorf("message after the migration = %+v, %v", m, err)
	}
	mustQuestion(t, s2, 2, "HS", "after", t0.Add(time.Hour))
	raw := rawDB(t, path)
	rows, err := raw.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports violations after the migration")
	}
	rows.Close()
	if n := count(t, raw, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('messages_dedupe', 'messages_status', 'messages_message_id')`); n != 3 {
		t.Errorf("%d of the 3 message indexes", n)
	}
}
