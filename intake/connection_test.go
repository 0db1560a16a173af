package intake_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/localmail"
	"intake/intake/signin"
	"intake/internal/oauthtest"
)

// The IMAP server goes away and comes back on the same address: the
// daemon is back as soon as it answers, not after its backoff (an hour
// here, five minutes at most for a reconnection): it probes the server
// every two seconds once the connection is lost.
func TestReconnect_serverBack(t *testing.T) {
	metrics := intake.NewMetrics(nil)
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Backoff = func(int) time.Duration { return time.Hour }
		o.Metrics = metrics
	}})
	h.deliver(goodSubmission(t, "before@dhs.gov"))
	h.start()
	h.replies(1)
	addr := h.imap.Addr
	h.imap.Close()
	waitFor(t, "the lost connection noticed", func() bool { return testutil.ToFloat64(metrics.IMAPReconnects) >= 1 })
	back, err := localmail.StartIMAP(localmail.IMAPOptions{Addr: addr, Username: h.imap.Username, Password: h.imap.Password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	// The server kept its mail (the in-process one starts empty, with the
	// same UIDVALIDITY: it is given the same first message again).
	if _, err := back.Deliver("INBOX", goodSubmission(t, "before@dhs.gov")); err != nil {
		t.Fatal(err)
	}
	if _, err := back.Deliver("INBOX", goodSubmission(t, "after@dhs.gov")); err != nil {
		t.Fatal(err)
	}
	h.replies(2) // within the harness's 30 s: the backoff alone would wait 5 minutes
}

// freezer is a TCP proxy whose open connections can be frozen: they stay
// open and carry nothing more, as behind a NAT that dropped its state.
// New connections pass.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	go f.serve()
	return f
}

func (f *freezer) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, s)
		f.mu.Unlock()
		gate := &gated{f: f}
		go func() { io.Copy(gate.wrap(s), c) }()
		go func() { io.Copy(gate.wrap(c), s) }()
	}
}

// freeze stops every connection open now.
func (f *freezer) freeze() { f.mu.Lock(); f.frozen = true; f.mu.Unlock() }

type gated struct {
	f    *freezer
	once sync.Once
	dead bool
}

func (g *gated) wrap(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		g.f.mu.Lock()
		frozen := g.f.frozen
		g.f.mu.Unlock()
		if frozen {
			return len(p), nil // swallowed: the peer hears nothing
		}
		return w.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A connection that goes silent (no reset, no answer) is found out by our
// own deadline on each exchange, and the daemon reconnects.
func TestReconnect_silentConnection(t *testing.T) {
	metrics := intake.NewMetrics(nil)
	var proxy *freezer
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.IMAP.Timeout = time.Second
		o.Metrics = metrics
	}})
	proxy = newFreezer(t, h.imap.Addr)
	h.opts.IMAP.Addr = proxy.ln.Addr().String()
	d, err := intake.New(h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.deliver(goodSubmission(t, "one@dhs.gov"))
	h.start()
	h.replies(1)
	proxy.freeze() // the open session hears nothing more; new ones pass
	proxy.mu.Lock()
	proxy.frozen = true
	proxy.mu.Unlock()
	waitFor(t, "the silent connection dropped", func() bool { return testutil.ToFloat64(metrics.IMAPReconnects) >= 1 })
	proxy.mu.Lock()
	proxy.frozen = false // the reconnection goes through
	proxy.mu.Unlock()
	h.deliver(goodSubmission(t, "two@dhs.gov"))
	h.replies(2)
}

// Two mailboxes in one daemon, each with its own folders: mail to each is
// answered and filed where that mailbox files it.
func TestSeveralMailboxes(t *testing.T) {
	second, err := localmail.StartIMAP(localmail.IMAPOptions{Username: "datacall2", Password: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Mailboxes = []intake.Mailbox{{
			Name:    "datacall2",
			IMAP:    intake.IMAPOptions{Addr: second.Addr, TLS: "none", Username: second.Username, Password: second.Password, Timeout: 10 * time.Second},
			Folders: intake.Folders{Accepted: "Filed/Accepted"},
		}}
	}})
	h.deliver(goodSubmission(t, "first-box@dhs.gov"))
	if _, err := second.Deliver("INBOX", goodSubmission(t, "second-box@dhs.gov")); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.replies(2)
	h.waitFolder("Accepted", 1)
	waitFor(t, "the second mailbox's mail in its own folder", func() bool {
		n, err := second.Count("Filed/Accepted")
		return err == nil && n == 1
	})
	if n, _ := second.Count("Accepted"); n > 0 {
		t.Errorf("%d messages of the second mailbox in the first one's folder", n)
	}
	for _, box := range []string{"INBOX", "datacall2"} {
		if _, ok, err := h.store.Cursor(t.Context(), box); err != nil || !ok {
			t.Errorf("no cursor for %s (%v)", box, err)
		}
	}
}

// Two mailboxes must not share a name (their cursors would mix).
func TestSeveralMailboxes_refused(t *testing.T) {
	st, calls, rb := coreParts(t, "x")
	_, err := intake.New(intake.Options{Store: st, Calls: calls, Reply: rb, From: botAddr,
		Mailboxes: []intake.Mailbox{{Name: "INBOX", IMAP: intake.IMAPOptions{Addr: "127.0.0.1:1"}}}})
	if err == nil {
		t.Error("a second mailbox named INBOX, like the first, was accepted")
	}
}

// IMAP with a token: the provider refusing our client makes the daemon
// unhealthy at once, with the reason, and fetches nothing; once it gives
// tokens again, mail is fetched and answered and the daemon is healthy.
func TestIMAPOAuth_refused(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "app", ClientSecret: "s", Username: "intake"})
	metrics := intake.NewMetrics(nil)
	h := newHarnessWith(t, localmail.IMAPOptions{Bearer: func(user, token string) bool { u, ok := idp.Active(token); return ok && u == user }},
		harnessOptions{Modify: func(o *intake.Options) {
			fetch, _ := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "app", ClientSecret: "s"}.Fetcher()
			m, err := signin.Bearer(signin.OAuthBearer, o.IMAP.Username, signin.NewTokens(fetch, signin.TokensOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			o.IMAP.SignIn = m
			o.Metrics = metrics
		}})
	idp.Refuse(true)
	h.deliver(goodSubmission(t, "imap-oauth@dhs.gov"))
	h.start()
	waitFor(t, "the refusal counted", func() bool {
		return testutil.ToFloat64(metrics.SignInFailures.WithLabelValues("imap", "token_refused")) >= 1
	})
	if err := h.d.Health(h.clock.Now()); err == nil {
		t.Error("healthy while the identity provider refuses us")
	}
	if n := len(messagesWith(t, h.store, "")); n != 0 {
		t.Errorf("%d messages fetched without a token", n)
	}
	idp.Refuse(false)
	h.replies(1)
	waitFor(t, "healthy again", func() bool { return h.d.Health(h.clock.Now()) == nil })
}
