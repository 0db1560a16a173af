package intake_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"intake/intake"
	"intake/parser"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

// runDaemon runs d until the returned stop is called (or the test ends).
func runDaemon(t *testing.T, d *intake.Daemon) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// sesOnly keeps only the SES review among the data calls, so reminders
// are predictable: the clock reads 14 March, the review is due 24 March.
func sesOnly(t *testing.T, o *intake.Options) {
	calls, err := parser.NewRegistry(o.Calls.Get("ses-designation-review"))
	if err != nil {
		t.Fatal(err)
	}
	o.Calls = calls
}

// A dry run decides the mail and stores its reply held, with the reason.
// A normal run afterwards, on the same store and mailbox, files the mail
// but never sends that reply: not at once, not on a later round.
func TestDryRun_replyHeldNeverSentByLaterRun(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.DryRun = true }})
	h.deliver(goodSubmission(t, "dry@dhs.gov"))
	h.start()
	waitFor(t, "the message decided", func() bool { return len(messagesWith(t, h.store, store.StatusAccepted)) == 1 })
	h.stop()
	h.stop = nil

	m := messagesWith(t, h.store, store.StatusAccepted)[0]
	sub, err := h.store.SubmissionByReceipt(ctx, m.Receipt)
	if err != nil || len(sub.Replies) != 1 {
		t.Fatalf("submission %s: %v, %v; want one reply stored", m.Receipt, sub, err)
	}
	held := sub.Replies[0]
	if held.Status != store.OutboxHeld || held.LastError != "dry run" || held.Attempts != 0 {
		t.Fatalf("dry-run reply %s, error %q, %d attempts; want held, \"dry run\", none", held.Status, held.LastError, held.Attempts)
	}

	opts := h.opts
	opts.DryRun = false
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, d)
	h.waitFolder("Accepted", 1) // the normal run files what the dry run decided
	h.waitFolder("INBOX", 0)
	stop()
	h.clock.Add(48 * time.Hour) // two days on: any retry would be due
	if sent, err := d.SendDue(ctx); err != nil || sent != 0 {
		t.Errorf("a later round sent %d (%v), want 0", sent, err)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d messages sent for mail answered in a dry run, want 0", n)
	}
	it, err := h.store.ReplyByMessageID(ctx, held.MessageID)
	if err != nil || it.Status != store.OutboxHeld || it.Attempts != 0 {
		t.Errorf("the dry-run reply after the normal run: %+v, %v; want still held", it, err)
	}
}

// A dry run queues no reminders: a reminder goes once per agency and
// deadline, so one held would be one the agency never gets. The normal
// run that follows queues it.
func TestDryRun_queuesNoReminders(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		sesOnly(t, o)
		o.DryRun = true
		o.ReminderDays = 12
	}})
	h.deliver(goodSubmission(t, "dry@dhs.gov")) // HS answers; TR never does
	h.start()
	waitFor(t, "the message decided", func() bool { return len(messagesWith(t, h.store, store.StatusAccepted)) == 1 })
	h.stop()
	h.stop = nil
	if _, ob, err := h.store.Counts(ctx); err != nil || ob[store.OutboxHeld] != 1 || len(ob) != 1 {
		t.Fatalf("outbox after the dry run %v, %v; want only the held reply", ob, err)
	}

	opts := h.opts
	opts.DryRun = false
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.QueueReminders(ctx); err != nil || n != 1 {
		t.Fatalf("the normal run queued %d reminders (%v), want 1: TR's", n, err)
	}
	if sent, err := d.SendDue(ctx); err != nil || sent != 1 {
		t.Fatalf("SendDue = %d, %v; want the reminder sent", sent, err)
	}
	if msgs := h.smtp.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"hr.director@treasury.gov"}) {
		t.Errorf("sent %d messages (%+v), want only TR's reminder", len(msgs), msgs)
	}
}

// Under a dry run, mail processed outside the fetch loop (pending mail, a
// replay) is held the same way: no path queues a reply to be sent.
func TestDryRun_pendingAndReplayHeld(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.DryRun = true }})
	now := h.clock.Now()
	save := func(uid uint32, raw []byte) int64 {
		id, _, err := h.store.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uid, DedupeKey: email.DedupeKey(raw),
			SHA256: fmt.Sprint(uid), Raw: raw, ReceivedAt: now, InternalDate: now})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	save(1, goodSubmission(t, "pending@dhs.gov"))
	if n, err := h.d.ProcessPending(ctx); err != nil || n != 1 {
		t.Fatalf("ProcessPending = %d, %v", n, err)
	}
	// An unknown sender's mail is rejected, then replayed.
	rejected := save(2, message{from: "someone@example.com", subject: "SES", messageID: "x@example.com",
		files: []attachment{{"r.xlsx", parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}}}.bytes(t))
	if _, err := h.d.ProcessPending(ctx); err != nil {
		t.Fatal(err)
	}
	// The operator allowlists the sender and replays the mail, still in
	// the dry run.
	opts := h.opts
	opts.Agencies = append(slices.Clone(opts.Agencies), intake.Agency{Code: "XX", Name: "Example", Senders: []string{"@example.com"}})
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Replay(ctx, rejected); err != nil {
		t.Fatal(err)
	}
	_, ob, err := h.store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ob[store.OutboxHeld] != 2 || ob[store.OutboxQueued] != 0 {
		t.Errorf("outbox %v, want two held replies (pending, replayed) and none queued", ob)
	}
}
