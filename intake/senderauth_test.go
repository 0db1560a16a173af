package intake_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"intake/intake"
	"intake/internal/testenv"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

// Issue 14, item 1: Authentication-Results the sender wrote, under the
// receiving server's Received field, never authenticate it, whatever the
// receiving server added above (nothing, dmarc=none) and in whatever case
// the id is written. None of the forgeries is answered or makes a version;
// the agency's real submission stays the current one.
func TestForgedAuthenticationResults(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	forged := func(id, dmarc, field string) []byte {
		return message{from: dhsSender, subject: "SES report (updated)", messageID: id, dmarc: dmarc,
			headers: map[string]string{"Authentication-Results": field}, files: []attachment{{"r.xlsx", wb}}}.bytes(t)
	}
	h.deliver(goodSubmission(t, "real@dhs.gov"))
	h.deliver(forged("f1@evil.test", "absent", authServID+"; dmarc=pass header.from=dhs.gov"))
	h.deliver(forged("f2@evil.test", "none", authServID+"; dmarc=pass header.from=dhs.gov"))
	h.deliver(forged("f3@evil.test", "none", authServID+"; dkim=pass header.d=dhs.gov"))
	h.deliver(forged("f4@evil.test", "absent", strings.ToUpper(authServID)+"; dmarc=pass header.from=dhs.gov"))
	h.start()
	h.waitFolder("Quarantine", 4)
	h.waitFolder("Accepted", 1)
	h.replies(1)
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d replies, want only the real submission's", n)
	}
	if n := countSubmissions(t, h.store); n != 1 {
		t.Errorf("%d submissions, want only the real one", n)
	}
	for _, m := range messagesWith(t, h.store, store.StatusRejected) {
		if !strings.Contains(m.Note, "sender authentication failed") || !strings.Contains(m.Note, "below it ignored") {
			t.Errorf("message %d note %q: want the forged field named as ignored", m.ID, m.Note)
		}
	}
}

// Issue 14, item 3: a From naming two addresses is refused, saying so,
// even when one of them is an agency's and the receiving server passed it.
func TestFromWithSeveralAddressesRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	raw := message{from: "x@evil.example", subject: "SES report", messageID: "two@evil.example", files: []attachment{{"r.xlsx", wb}}}.bytes(t)
	raw = bytes.Replace(raw, []byte("From: <x@evil.example>"), []byte("From: <x@evil.example, y@dhs.gov>"), 1)
	raw = bytes.Replace(raw, []byte("header.from=evil.example"), []byte("header.from=dhs.gov"), 1)
	if !bytes.Contains(raw, []byte("From: <x@evil.example, y@dhs.gov>")) {
		t.Fatalf("test mail lacks the two-address From:\n%s", raw)
	}
	h.deliver(raw)
	h.start()
	h.waitFolder("Quarantine", 1)
	ms := messagesWith(t, h.store, store.StatusRejected)
	if len(ms) != 1 || !strings.Contains(ms[0].Note, "names 2 addresses") {
		t.Fatalf("rejected %+v, want one with a note saying the From names 2 addresses", ms)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d replies to a mail of two authors", n)
	}
}

// testDNS serves the TXT records of a test; any other name does not exist.
type testDNS map[string][]string

func (r testDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if txt, ok := r[strings.TrimSuffix(name, ".")]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// dkimKey is a signing key of a test domain and the record publishing it.
type dkimKey struct {
	domain, selector string
	signer           crypto.Signer
}

func newDKIMKey(t *testing.T, domain string) dkimKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return dkimKey{domain: domain, selector: "sel2025", signer: k}
}

// publish adds the key's DNS record (RFC 6376 section 3.6.1).
func (k dkimKey) publish(t *testing.T, dns testDNS) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	dns[k.selector+"._domainkey."+k.domain] = []string{"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}
}

// sign DKIM-signs raw as the agency's outgoing server would (From,
// Subject, Date, Message-ID, To and the MIME fields signed).
func (k dkimKey) sign(t *testing.T, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: k.domain, Selector: k.selector, Signer: k.signer,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Issue 14, item 2: where no trusted server adds results (auth mode
// verify, which a zero email.AuthPolicy means), the daemon verifies DKIM
// itself and the DMARC alignment its record asks for. Unsigned mail from
// an allowlisted address is refused whatever Authentication-Results it
// carries; so are a signature of another domain, a signature the body
// no longer matches and one not aligned as a strict record asks.
func TestVerifySenders(t *testing.T) {
	dns := testDNS{
		"_dmarc.dhs.gov":      {"v=DMARC1; p=reject; adkim=r"},
		"_dmarc.treasury.gov": {"v=DMARC1; p=quarantine; adkim=s"},
	}
	dhs, hq, evil, trMail := newDKIMKey(t, "dhs.gov"), newDKIMKey(t, "hq.dhs.gov"), newDKIMKey(t, "evil.example"), newDKIMKey(t, "mail.treasury.gov")
	for _, k := range []dkimKey{dhs, hq, evil, trMail} {
		k.publish(t, dns)
	}
	var lookups atomic.Int64
	countingDNS := resolverFunc(func(ctx context.Context, name string) ([]string, error) {
		lookups.Add(1)
		return dns.LookupTXT(ctx, name)
	})
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Auth = email.AuthPolicy{}
		o.Resolver = countingDNS
	}})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	mail := func(from, id string) []byte {
		return message{from: from, subject: "SES report", messageID: id, files: []attachment{{"r.xlsx", wb}}}.raw(t)
	}
	// Each arrives with a receiving server's "dmarc=pass" on top: in mode
	// verify no Authentication-Results field counts.
	deliver := func(from string, raw []byte) { h.deliver(receivedBy(from, "pass", raw)) }
	tampered := dhs.sign(t, mail(dhsSender, "tampered@dhs.gov"))
	tampered = bytes.Replace(tampered, []byte("Our submission is attached."), []byte("Our submission is attachet."), 1)
	deliver(dhsSender, mail(dhsSender, "unsigned@dhs.gov"))
	deliver(dhsSender, evil.sign(t, mail(dhsSender, "evil@dhs.gov")))
	deliver(dhsSender, tampered)
	deliver("hr.director@treasury.gov", trMail.sign(t, mail("hr.director@treasury.gov", "strict@treasury.gov")))
	deliver(dhsSender, dhs.sign(t, mail(dhsSender, "good@dhs.gov")))
	deliver(dhsSender, hq.sign(t, mail(dhsSender, "relaxed@dhs.gov")))
	h.start()
	h.waitFolder("Quarantine", 4)
	h.waitFolder("Accepted", 2)
	h.replies(2)
	notes := map[string]string{}
	for _, status := range []string{store.StatusRejected, store.StatusAccepted} {
		for _, m := range messagesWith(t, h.store, status) {
			notes[m.MessageID] = status + ": " + m.Note
		}
	}
	want := map[string]string{
		"unsigned@dhs.gov":    "rejected: sender authentication failed: no valid DKIM signature",
		"evil@dhs.gov":        "rejected: sender authentication failed: no DKIM signature aligned (relaxed) with dhs.gov: signed by evil.example",
		"tampered@dhs.gov":    "rejected: sender authentication failed: no valid DKIM signature (d=dhs.gov: dkim: body hash did not verify)",
		"strict@treasury.gov": "rejected: sender authentication failed: no DKIM signature aligned (strict) with treasury.gov",
		"good@dhs.gov":        "accepted: ",
		"relaxed@dhs.gov":     "accepted: ",
	}
	for id, w := range want {
		if !strings.HasPrefix(notes[id], w) {
			t.Errorf("%s: %q, want %q...", id, notes[id], w)
		}
	}
	if lookups.Load() == 0 {
		t.Error("no DNS lookup went through the daemon's resolver")
	}
}

type resolverFunc func(ctx context.Context, name string) ([]string, error)

func (f resolverFunc) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return f(ctx, name)
}

// A DNS failure is not the sender's fault: the mail is not refused for it,
// and is decided once the records can be had.
func TestVerifySenders_dnsTemporaryFailure(t *testing.T) {
	dns := testDNS{"_dmarc.dhs.gov": {"v=DMARC1; p=reject"}}
	key := newDKIMKey(t, "dhs.gov")
	key.publish(t, dns)
	var up atomic.Bool
	flaky := resolverFunc(func(ctx context.Context, name string) ([]string, error) {
		if !up.Load() {
			return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
		}
		return dns.LookupTXT(ctx, name)
	})
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Auth = email.AuthPolicy{Mode: email.AuthVerify}
		o.Resolver = flaky
		o.MaxAttempts = 1000
	}})
	raw := message{from: dhsSender, subject: "SES report", messageID: "dns@dhs.gov",
		files: []attachment{{"r.xlsx", parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}}}.raw(t)
	h.deliver(receivedBy(dhsSender, "absent", key.sign(t, raw)))
	h.start()
	waitFor(t, "a failed attempt for the DNS failure", func() bool {
		ms, err := h.store.Messages(context.Background(), store.MessageFilter{Limit: 10})
		return err == nil && len(ms) == 1 && strings.Contains(ms[0].LastError, "server misbehaving")
	})
	if n := len(messagesWith(t, h.store, store.StatusRejected)); n != 0 {
		t.Fatalf("%d messages refused for a DNS failure", n)
	}
	up.Store(true)
	h.waitFolder("Accepted", 1)
}

// Running without sender authentication takes an explicit mode, is refused
// unless both mail servers are on loopback, and is warned about at start.
func TestAuthNone(t *testing.T) {
	st, calls, rb := coreParts(t, "OPM Data Call Intake")
	base := intake.Options{Store: st, Calls: calls, Reply: rb, From: botAddr, Auth: email.AuthPolicy{Mode: email.AuthNone}}
	for _, c := range []struct {
		imap, smtp string
		ok         bool
	}{
		{"127.0.0.1:1143", "127.0.0.1", true},
		{"[::1]:1143", "localhost", true},
		{"imap.opm.gov:993", "127.0.0.1", false},
		{"127.0.0.1:1143", "smtp.opm.gov", false},
		{"10.0.0.5:143", "10.0.0.5", false},
	} {
		o := base
		o.IMAP.Addr, o.SMTP.Host = c.imap, c.smtp
		var log testenv.SyncBuffer
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
		_, err := intake.New(o)
		if c.ok != (err == nil) {
			t.Errorf("imap %s smtp %s: err %v, want ok=%v", c.imap, c.smtp, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "loopback") {
			t.Errorf("error %q does not say why", err)
		}
		if c.ok && !strings.Contains(log.String(), "SENDER AUTHENTICATION IS OFF") {
			t.Errorf("no warning at start: %q", log.String())
		}
	}
	o := base
	o.Auth = email.AuthPolicy{Mode: email.AuthServer}
	if _, err := intake.New(o); err == nil {
		t.Error("mode authserv without an authserv-id accepted")
	}
}
