package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"intake/intake"
	"intake/intake/localmail"
	"intake/parser"
	"intake/parser/email"
	"intake/reply"
	"intake/store"
)

const (
	botAddr    = "allocation-management@opm.gov"
	authServID = "mx.test.opm.example"
	dhsSender  = "chco@dhs.gov"
)

// harness is a daemon wired to in-process IMAP and SMTP servers and a
// SQLite file, the way `intake run` wires it to real ones.
type harness struct {
	t     *testing.T
	imap  *localmail.IMAPServer
	smtp  *localmail.SMTPServer
	store *store.Store
	opts  intake.Options
	d     *intake.Daemon
	clock *clock
	stop  func()
}

type harnessOptions struct {
	NoMove       bool
	XOAuth2Token string // the IMAP server accepts only XOAUTH2 with this token
	SMTPToken    string // the SMTP server requires AUTH XOAUTH2 with this token
	SMTPReject   func(n int, from string, to []string) error
	Modify       func(*intake.Options)
}

// clock is the injected time: it starts on 14 March 2025, ten days before
// the SES review is due, runs at the real pace, and jumps when a test
// moves it.
type clock struct {
	mu     sync.Mutex
	start  time.Time
	real   time.Time
	offset time.Duration
}

func newClock(start time.Time) *clock { return &clock{start: start, real: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start.Add(time.Since(c.real) + c.offset)
}

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.offset += d; c.mu.Unlock() }

func newHarness(t *testing.T, ho harnessOptions) *harness {
	t.Helper()
	imapSrv, err := localmail.StartIMAP(localmail.IMAPOptions{NoMove: ho.NoMove, XOAuth2Token: ho.XOAuth2Token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imapSrv.Close() })
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{Reject: ho.SMTPReject, XOAuth2User: "bot", XOAuth2Token: ho.SMTPToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })
	st, calls, rb := coreParts(t, "OPM Data Call Intake")
	clk := newClock(time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC))
	host, port := splitAddr(t, smtpSrv.Addr)
	opts := intake.Options{
		Store: st, Calls: calls, Reply: rb, From: botAddr, DefaultCall: "ses-designation-review",
		Agencies: []intake.Agency{
			{Code: "HS", Name: "Department of Homeland Security", Senders: []string{"@dhs.gov"}},
			{Code: "TR", Name: "Department of the Treasury", Senders: []string{"hr.director@treasury.gov"}},
		},
		IMAP:         intake.IMAPOptions{Addr: imapSrv.Addr, TLS: "none", Username: imapSrv.Username, Password: imapSrv.Password, Timeout: 10 * time.Second},
		SMTP:         intake.SMTPOptions{Host: host, Port: port, TLS: "none", Timeout: 10 * time.Second},
		Auth:         email.AuthPolicy{TrustedAuthServID: authServID},
		PollInterval: 200 * time.Millisecond,
		Now:          clk.Now,
		Backoff:      func(int) time.Duration { return 10 * time.Millisecond },
		Logger:       testLogger(t),
	}
	if ho.Modify != nil {
		ho.Modify(&opts)
	}
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, imap: imapSrv, smtp: smtpSrv, store: st, opts: opts, d: d, clock: clk}
}

// coreParts opens a store in a temporary file and gives the built-in data
// calls and a reply builder from botAddr.
func coreParts(t *testing.T, fromName string) (*store.Store, *parser.Registry, *reply.Builder) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	calls, err := parser.NewRegistry(defs...)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := reply.NewBuilder(reply.Options{From: botAddr, FromName: fromName})
	if err != nil {
		t.Fatal(err)
	}
	return st, calls, rb
}

// start runs the daemon until the test ends.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}
	h.t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
	})
}

func (h *harness) deliver(raw []byte) {
	h.t.Helper()
	if _, err := h.imap.Deliver("INBOX", raw); err != nil {
		h.t.Fatal(err)
	}
}

// replies waits for n replies at the SMTP server.
func (h *harness) replies(n int) []localmail.Received {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := h.smtp.Wait(ctx, n)
	if err != nil {
		h.t.Fatal(err)
	}
	return msgs
}

// waitFolder waits until a mailbox holds n messages.
func (h *harness) waitFolder(box string, n int) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%d messages in %s", n, box), func() bool {
		c, err := h.imap.Count(box)
		return err == nil && c == n
	})
}

// waitFor polls a condition with a deadline (no fixed sleeps).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type attachment struct {
	name string
	data []byte
}

// message builds an agency's email as a mail client would.
type message struct {
	from, subject, messageID string
	// dmarc is the result the receiving (trusted) server stamps: "pass"
	// (also for ""), "fail" or "none"; "absent" adds no
	// Authentication-Results. Its Received field is always added.
	dmarc   string
	headers map[string]string // the sender's own fields
	files   []attachment
	body    string
}

// bytes is the mail as the mailbox has it: raw, with what the receiving
// server adds on top (receivedBy).
func (m message) bytes(t testing.TB) []byte {
	t.Helper()
	return receivedBy(m.from, m.dmarc, m.raw(t))
}

// raw is the mail as the agency's client sends it.
func (m message) raw(t testing.TB) []byte {
	t.Helper()
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(m.from); err != nil {
		t.Fatal(err)
	}
	if err := msg.To(botAddr); err != nil {
		t.Fatal(err)
	}
	msg.Subject(m.subject)
	msg.SetDateWithValue(time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC))
	if m.messageID != "" {
		msg.SetMessageIDWithValue(m.messageID)
	}
	for k, v := range m.headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	body := m.body
	if body == "" {
		body = "Our submission is attached."
	}
	msg.SetBodyString(mail.TypeTextPlain, body)
	for _, f := range m.files {
		if err := msg.AttachReader(f.name, bytes.NewReader(f.data), mail.WithFileContentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// receivedBy prepends what the receiving server adds to a message from
// sender: its Authentication-Results with the dmarc result ("" is pass,
// "absent" none at all) above its own Received field.
func receivedBy(sender, dmarc string, raw []byte) []byte {
	domain := sender[strings.IndexByte(sender, '@')+1:]
	trace := fmt.Sprintf("Received: from mail.%s (mail.%s [192.0.2.25]) by %s with ESMTPS id 4Zt7Yq; Fri, 14 Mar 2025 13:00:01 +0000\r\n", domain, domain, authServID)
	switch dmarc {
	case "absent":
	case "":
		dmarc = "pass"
		fallthrough
	default:
		trace = fmt.Sprintf("Authentication-Results: %s; dkim=%s header.d=%s; dmarc=%s header.from=%s\r\n", authServID, dmarc, domain, dmarc, domain) + trace
	}
	return append([]byte(trace), raw...)
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscan(addr[i+1:], &port); err != nil {
		t.Fatal(err)
	}
	return addr[:i], port
}

// parseReply parses a reply the SMTP server received.
func parseReply(t *testing.T, r localmail.Received) *email.Message {
	t.Helper()
	m, err := email.Parse(r.Data, email.DefaultLimits())
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return m
}
