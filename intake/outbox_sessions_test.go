package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"sync"
	"testing"
	"time"

	"intake/intake"
	"intake/intake/localmail"
	"intake/reply"
	"intake/store"
)

// sessionsRig queues replies to addrs addresses, perAddr each, on a daemon
// sending to an in-process server made with so, and returns the daemon,
// the server, the store and the Message-IDs queued for each address in
// their order.
func sessionsRig(t *testing.T, so localmail.SMTPOptions, addrs, perAddr int) (*intake.Daemon, *localmail.SMTPServer, *store.Store, map[string][]string) {
	t.Helper()
	srv, err := localmail.StartSMTP(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	st, calls, rb := coreParts(t, "")
	now := time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC)
	host, port := splitAddr(t, srv.Addr)
	d, err := intake.New(intake.Options{
		Store: st, Calls: calls, Reply: rb, From: botAddr,
		SMTP:    intake.SMTPOptions{Host: host, Port: port, TLS: "none"},
		Now:     func() time.Time { return now },
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute },
		Logger:  testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	due := time.Date(2025, 3, 24, 23, 59, 0, 0, time.UTC)
	for k := 0; k < perAddr; k++ {
		for a := 0; a < addrs; a++ {
			to := fmt.Sprintf("chco%d@agency%d.gov", a, a)
			id := fmt.Sprintf("reply-%d-%d@intake.test", a, k)
			raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Reminder %d\r\nMessage-ID: <%s>\r\nAuto-Submitted: auto-generated\r\n\r\nA reminder.\r\n", botAddr, to, k, id)
			due = due.Add(time.Minute) // one reminder per deadline
			queued, err := st.QueueReminder(context.Background(), "ses-designation-review", "HS", due,
				store.NewReply{MessageID: id, Kind: reply.KindReminder, From: botAddr, To: []string{to}, Raw: []byte(raw)}, now)
			if err != nil || !queued {
				t.Fatalf("queue a reply: %v %v", queued, err)
			}
			want[to] = append(want[to], "<"+id+">")
		}
	}
	return d, srv, st, want
}

// receivedIDs is the Message-IDs the server took, by recipient, in the
// order it took them.
func receivedIDs(t *testing.T, srv *localmail.SMTPServer) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, r := range srv.Messages() {
		m, err := mail.ReadMessage(bytes.NewReader(r.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range r.To {
			got[to] = append(got[to], m.Header.Get("Message-ID"))
		}
	}
	return got
}

// Replies go out over several sessions side by side (a reply's round trips
// to the server, not its work, bound one session), and the replies to one
// address over one session, in the order they were queued.
func TestOutbox_sessionsSideBySide(t *testing.T) {
	var (
		mu             sync.Mutex
		inFlight, most int
	)
	d, srv, _, want := sessionsRig(t, localmail.SMTPOptions{Reject: func(int, string, []string) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a server slow to take each message
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil
	}}, 12, 3)
	sent, err := d.SendDue(context.Background())
	if err != nil || sent != 36 {
		t.Fatalf("SendDue = %d, %v; want all 36 sent", sent, err)
	}
	if most < 2 {
		t.Errorf("at most %d message at a time reached the server: the replies went over one session", most)
	}
	got := receivedIDs(t, srv)
	for to, ids := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ids) {
			t.Errorf("%s got %v, want %v in this order", to, got[to], ids)
		}
	}
	waitFor(t, "every session ended (with QUIT)", func() bool { return srv.Sessions() == 0 && srv.Quits() >= 2 })
}

// A server that takes one session from us gets every reply over it: the
// sessions it refused cost no reply an attempt, and leave none behind.
func TestOutbox_serverTakingOneSession(t *testing.T) {
	d, srv, st, want := sessionsRig(t, localmail.SMTPOptions{MaxSessions: 1}, 12, 3)
	sent, err := d.SendDue(context.Background())
	if err != nil || sent != 36 {
		t.Fatalf("SendDue = %d, %v; want all 36 sent over the one session", sent, err)
	}
	got := receivedIDs(t, srv)
	for to, ids := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ids) {
			t.Errorf("%s got %v, want %v in this order", to, got[to], ids)
		}
		for _, id := range ids {
			it, err := st.ReplyByMessageID(context.Background(), id)
			if err != nil || it.Status != store.OutboxSent || it.Attempts != 1 {
				t.Errorf("%s: %+v, %v; want sent at the first attempt", id, it, err)
			}
		}
	}
}
