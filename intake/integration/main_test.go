package integration_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"intake/internal/testenv"
	"intake/parser/email"
)

const (
	botAddr     = "allocation-management@opm.gov"
	defaultCall = "ses-designation-review"
)

// binDir holds the intake binary built for this package's tests; TestMain
// removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "intake-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	bin       string
)

// intakeBinary builds cmd/intake once per test binary (the first test that
// needs it pays for the build) and returns its path.
func intakeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { bin = testenv.BuildIntake(t, binDir) })
	if bin == "" {
		t.Fatal("cmd/intake was not built (see the first test that needed it)")
	}
	return bin
}

// waitFor polls cond until it holds or the deadline passes (no fixed
// sleeps: the condition is what the test waits for).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submission is one agency email with a workbook attached.
type submission struct {
	from, to, subject, messageID string
	file                         string
	data                         []byte
}

// bytes is the mail as it reaches the bot's mailbox from a receiving
// server that authenticated it (for tests that deliver into the mailbox
// directly): raw, with that server's Authentication-Results and its
// Received field on top.
func (s submission) bytes(t *testing.T) []byte {
	t.Helper()
	domain := s.from[strings.LastIndexByte(s.from, '@')+1:]
	trace := fmt.Sprintf("Authentication-Results: %s; dkim=pass header.d=%s; dmarc=pass header.from=%s\r\n"+
		"Received: from mail.%s (mail.%s [192.0.2.25]) by %s (Postfix) with ESMTPS id 4ZT1; %s\r\n",
		receivingID, domain, domain, domain, domain, receivingID, time.Now().Format(time.RFC1123Z))
	return append([]byte(trace), s.raw(t)...)
}

// raw renders the mail as an agency's mail client would.
func (s submission) raw(t *testing.T) []byte {
	t.Helper()
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		t.Fatal(err)
	}
	to := s.to
	if to == "" {
		to = botAddr
	}
	if err := msg.To(to); err != nil {
		t.Fatal(err)
	}
	msg.Subject(s.subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(s.messageID)
	msg.SetBodyString(mail.TypeTextPlain, "Our submission is attached.")
	if err := msg.AttachReader(s.file, bytes.NewReader(s.data),
		mail.WithFileContentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parseMail parses a reply as the daemon's own parser does.
func parseMail(t *testing.T, raw []byte) *email.Message {
	t.Helper()
	m, err := email.Parse(raw, email.DefaultLimits())
	if err != nil {
		t.Fatalf("mail does not parse: %v", err)
	}
	return m
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tail returns the last n bytes of a log file, for failure messages.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

var receiptRE = regexp.MustCompile(`SES-\d{4}-\d{6}`)

// tlogWriter sends the daemon's log to the test log (shown on failure).
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
