package store_test

import (
	"context"
	"errors"
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
	if n, err := s.ClaimReply(ctx, a.ID, next); err != nil || n != 1 {
		t.Fatalf("ClaimReply = %d, %v", n, err)
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
	if n, err := s.ClaimReply(ctx, a.ID, next.Add(10*time.Minute)); err != nil || n != 2 {
		t.Fatalf("second ClaimReply = %d, %v", n, err)
	}
	// A permanent failure ends it.
	if err := s.ReplyFailed(ctx, a.ID, "550 mailbox unavailable", true); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueReplies(ctx, next.Add(time.Hour), 0); len(due) != 1 || due[0].ID != b.ID {
		t.Errorf("DueReplies after a permanent failure = %+v", due)
	}
	if _, err := s.ClaimReply(ctx, a.ID, next); err == nil {
		t.Error("ClaimReply on a failed reply succeeded")
	}
	item, err := s.ReplyByMessageID(ctx, a.MessageID)
	if err != nil || item.Status != store.OutboxFailed || item.Attempts != 2 {
		t.Errorf("failed reply = %+v, %v", item, err)
	}

	// Sent.
	if _, err := s.ClaimReply(ctx, b.ID, next); err != nil {
		t.Fatal(err)
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
	if _, err := s.ClaimReply(ctx, b.ID, next); err == nil {
		t.Error("ClaimReply on a sent reply succeeded (it would be sent twice)")
	}
	if _, ok, _ := s.NextReplyDue(ctx); ok {
		t.Error("NextReplyDue reports a due reply with none queued")
	}

	for name, err := range map[string]error{
		"ClaimReply":  func() error { _, err := s.ClaimReply(ctx, 999, next); return err }(),
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
