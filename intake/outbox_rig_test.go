package intake_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"intake/intake"
	"intake/intake/localmail"
	"intake/reply"
	"intake/store"
)

// outboxRig is a daemon that only sends: one reply is queued in a fresh
// store, and the test drives the outbox round by round with SendDue, on a
// clock that moves only when the test moves it.
type outboxRig struct {
	t     *testing.T
	smtp  *localmail.SMTPServer
	store *store.Store
	opts  intake.Options
	d     *intake.Daemon
	clock *manualClock
	reply string // Message-ID of the queued reply
}

// manualClock is the injected time; it stands still between moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newOutboxRig starts an SMTP server with so, and a daemon whose SMTP
// options smtp builds from the server's host and port.
func newOutboxRig(t *testing.T, so localmail.SMTPOptions, smtp func(host string, port int) intake.SMTPOptions, modify func(*intake.Options)) *outboxRig {
	t.Helper()
	srv, err := localmail.StartSMTP(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	st, calls, rb := coreParts(t, "")
	clk := &manualClock{t: time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC)}
	host, port := splitAddr(t, srv.Addr)
	r := &outboxRig{t: t, smtp: srv, store: st, clock: clk, reply: "reply-1@intake.test"}
	r.opts = intake.Options{
		Store: st, Calls: calls, Reply: rb, From: botAddr,
		SMTP:    smtp(host, port),
		Now:     clk.Now,
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute },
		Logger:  testLogger(t),
	}
	if modify != nil {
		modify(&r.opts)
	}
	r.d = r.daemon(r.opts)
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Reminder\r\nMessage-ID: <%s>\r\nAuto-Submitted: auto-generated\r\n\r\nA reminder.\r\n", botAddr, dhsSender, r.reply)
	queued, err := st.QueueReminder(context.Background(), "ses-designation-review", "HS", time.Date(2025, 3, 24, 23, 59, 0, 0, time.UTC),
		store.NewReply{MessageID: r.reply, Kind: reply.KindReminder, From: botAddr, To: []string{dhsSender}, Raw: []byte(raw)}, clk.Now())
	if err != nil || !queued {
		t.Fatalf("queue a reply: %v %v", queued, err)
	}
	return r
}

func (r *outboxRig) daemon(o intake.Options) *intake.Daemon {
	r.t.Helper()
	d, err := intake.New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// item returns the queued reply as the store has it now.
func (r *outboxRig) item() *store.OutboxItem {
	r.t.Helper()
	it, err := r.store.ReplyByMessageID(context.Background(), r.reply)
	if err != nil {
		r.t.Fatal(err)
	}
	return it
}
