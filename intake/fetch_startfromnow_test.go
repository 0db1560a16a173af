package intake_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/localmail"
	"intake/store"
)

// oldMail is what an INBOX held when the daemon first met it with "start
// from now": two messages with a Message-ID, one without.
type oldMail struct {
	raw  []byte
	date time.Time
}

func oldInbox(t *testing.T) []oldMail {
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	return []oldMail{
		{goodSubmission(t, "old1@dhs.gov"), at},
		{goodSubmission(t, "old2@dhs.gov"), at.Add(time.Hour)},
		{stripHeader(goodSubmission(t, "old3@dhs.gov"), "Message-ID"), at.Add(2 * time.Hour)},
	}
}

func (h *harness) deliverAt(raw []byte, at time.Time) {
	h.t.Helper()
	if _, err := h.imap.DeliverAt("INBOX", raw, at); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) cursor() store.Cursor {
	h.t.Helper()
	c, _, err := h.store.Cursor(context.Background(), "INBOX")
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// startFromNowThenMigrate runs a daemon that starts from now on an INBOX
// holding old mail, answers one message that came later (dated a minute
// before the start: the server's clock runs behind ours), stops it, and
// moves the mailbox to a new server: a new UIDVALIDITY, the later message
// first, then the old mail, with their original dates.
func startFromNowThenMigrate(t *testing.T, h *harness) (later []byte) {
	t.Helper()
	old := oldInbox(t)
	for _, m := range old {
		h.deliverAt(m.raw, m.date)
	}
	h.start()
	waitFor(t, "the cursor set from now", func() bool {
		c, ok, err := h.store.Cursor(context.Background(), "INBOX")
		return err == nil && ok && c.LastUID == 3 && !c.SkipBefore.IsZero()
	})
	later = goodSubmission(t, "later@dhs.gov")
	laterDate := h.clock.Now().Add(-time.Minute)
	h.deliverAt(later, laterDate)
	if got := parseReply(t, h.replies(1)[0]).InReplyTo; got != "later@dhs.gov" {
		t.Fatalf("answered %q, want only the later message", got)
	}
	h.waitFolder("Accepted", 1)
	h.stop()
	h.stop = nil

	if err := h.imap.Recreate("INBOX"); err != nil {
		t.Fatal(err)
	}
	h.deliverAt(later, laterDate)
	for _, m := range old {
		h.deliverAt(m.raw, m.date)
	}
	return later
}

// checkOldMailAlone checks, once everything else is done, that only the
// later message and the one after the migration were stored and answered,
// the later one's copy was filed, and the old mail is still in the INBOX.
func checkOldMailAlone(t *testing.T, h *harness) {
	t.Helper()
	h.replies(2)
	h.waitFolder("Accepted", 3) // the later message, its copy, the one after the migration
	h.waitFolder("INBOX", 3)
	waitFor(t, "the rescan done", func() bool { return h.cursor().LastUID == 5 })
	h.stop()
	h.stop = nil
	var answered []string
	for _, r := range h.smtp.Messages() {
		answered = append(answered, parseReply(t, r).InReplyTo)
	}
	slices.Sort(answered)
	if !slices.Equal(answered, []string{"after@dhs.gov", "later@dhs.gov"}) {
		t.Errorf("answered %v, want only later@ and after@: the old mail must be left alone", answered)
	}
	if ms := messagesWith(t, h.store, ""); len(ms) != 2 {
		t.Errorf("%d messages stored, want 2 (later, after)", len(ms))
	}
}

// "Start from now" keeps protecting the old mail when the server renumbers
// the mailbox (a migration): the rescan leaves alone what was there before
// the start and was never stored, counts it, files the copy of what it had
// answered, and answers what is new.
func TestStartFromNow_oldMailLeftAloneAfterUIDValidityChange(t *testing.T) {
	logs := &syncBuffer{}
	metrics := intake.NewMetrics(nil)
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.StartFromNow = true
		o.Logger = slogTo(io.MultiWriter(logs, tlogWriter{t}))
		o.Metrics = metrics
	}})
	startFromNowThenMigrate(t, h)
	h.deliver(goodSubmission(t, "after@dhs.gov"))
	h.start()
	checkOldMailAlone(t, h)
	if c := h.cursor(); c.RescanTo != 5 || c.SkipBefore.IsZero() {
		t.Errorf("cursor %+v, want the mark kept and the rescan bound at 5 (the last UID on reconnecting)", c)
	}
	if !strings.Contains(logs.String(), "count=3") {
		t.Errorf("the log does not count the 3 messages left alone:\n%s", logs)
	}
	if got := testutil.ToFloat64(metrics.LeftAlone); got != 3 {
		t.Errorf("intake_messages_left_alone_total = %v, want 3", got)
	}
}

// A stop in the middle of that rescan does not end the protection: the
// restart goes on leaving the old mail alone.
func TestStartFromNow_rescanResumedAfterStop(t *testing.T) {
	var stopAtStore atomic.Bool
	var stopRun atomic.Value // func()
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.StartFromNow = true
		o.IMAP.BatchBytes = 1 // a message a batch: the stop falls between batches
		o.Failpoint = func(point string, _ int64) {
			if point == intake.PointStored && stopAtStore.CompareAndSwap(true, false) {
				stopRun.Load().(func())()
			}
		}
	}})
	startFromNowThenMigrate(t, h)
	// The rescan stores the copy of the later message (UID 1) and stops.
	ctx, cancel := context.WithCancel(context.Background())
	stopRun.Store(func() { cancel() })
	stopAtStore.Store(true)
	if err := h.d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if c := h.cursor(); c.RescanTo != 4 || c.LastUID >= c.RescanTo {
		t.Fatalf("cursor after the stop %+v, want the rescan under way up to UID 4", c)
	}
	h.deliver(goodSubmission(t, "after@dhs.gov"))
	h.start()
	checkOldMailAlone(t, h)
}

// A server that sends no UIDNEXT: "start from now" still starts after the
// mail already there, not from UID 1.
func TestStartFromNow_withoutUIDNext(t *testing.T) {
	h := newHarnessWith(t, localmail.IMAPOptions{NoUIDNext: true}, harnessOptions{Modify: func(o *intake.Options) { o.StartFromNow = true }})
	h.deliver(goodSubmission(t, "old1@dhs.gov"))
	h.deliver(goodSubmission(t, "old2@dhs.gov"))
	h.start()
	h.waitFirstRound()
	if c := h.cursor(); c.LastUID != 2 {
		t.Fatalf("cursor %+v, want it after the 2 messages already there", c)
	}
	h.deliver(goodSubmission(t, "new@dhs.gov"))
	if got := parseReply(t, h.replies(1)[0]).InReplyTo; got != "new@dhs.gov" {
		t.Errorf("answered %q, want only the new message", got)
	}
	h.waitFolder("Accepted", 1)
	if n, _ := h.imap.Count("INBOX"); n != 2 {
		t.Errorf("INBOX %d, want the 2 old messages untouched", n)
	}
}
