package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"intake/intake"
	"intake/intake/signin"
	"intake/parser/parsertest"
	"intake/store"
)

func goodSubmission(t *testing.T, id string) []byte {
	return message{from: dhsSender, subject: "SES report", messageID: id, dmarc: "pass",
		files: []attachment{{"report.xlsx", parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())}}}.bytes(t)
}

func countSubmissions(t *testing.T, st *store.Store) int {
	t.Helper()
	subs, err := st.Submissions(context.Background(), store.ListFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(subs)
}

func messagesWith(t *testing.T, st *store.Store, status string) []store.Message {
	t.Helper()
	ms, err := st.Messages(context.Background(), store.MessageFilter{Status: status, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// The same mail delivered to two addresses of the bot (different trace
// headers, same content) is one submission with one reply; both copies
// are filed. The mailbox store adds a Received field of its own: two hops
// of ours.
func TestDedupe_sameMailTwoAddresses(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.Auth.ReceivedHops = 2 }})
	raw := goodSubmission(t, "twice@dhs.gov")
	h.deliver(append([]byte("Delivered-To: allocation-management@opm.gov\r\nReceived: from mx1 by mbox1; Fri, 14 Mar 2025 13:00:01 +0000\r\n"), raw...))
	h.deliver(append([]byte("Delivered-To: ses-review@opm.gov\r\nReceived: from mx2 by mbox1; Fri, 14 Mar 2025 13:00:02 +0000\r\n"), raw...))
	h.start()
	h.waitFolder("Accepted", 2)
	h.waitFolder("INBOX", 0)
	h.replies(1)
	if n := countSubmissions(t, h.store); n != 1 {
		t.Errorf("%d submissions, want 1", n)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
}

// A reused Message-ID on different content, and mail without any
// Message-ID, are still distinct submissions: nothing real is dropped.
func TestDedupe_reusedOrMissingMessageID(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	pos := parsertest.GoodPositions()
	one := message{from: dhsSender, subject: "v1", messageID: "same@dhs.gov", dmarc: "pass",
		files: []attachment{{"a.xlsx", parsertest.SESWorkbook(t, pos[:3], nil)}}}.bytes(t)
	two := message{from: dhsSender, subject: "v2", messageID: "same@dhs.gov", dmarc: "pass",
		files: []attachment{{"a.xlsx", parsertest.SESWorkbook(t, pos[:4], nil)}}}.bytes(t)
	three := stripHeader(message{from: dhsSender, subject: "v3", dmarc: "pass",
		files: []attachment{{"a.xlsx", parsertest.SESWorkbook(t, pos, nil)}}}.bytes(t), "Message-ID")
	four := stripHeader(message{from: dhsSender, subject: "v4", dmarc: "pass",
		files: []attachment{{"a.xlsx", parsertest.SESWorkbook(t, pos[:2], nil)}}}.bytes(t), "Message-ID")
	for _, m := range [][]byte{one, two, three, four} {
		h.deliver(m)
	}
	h.start()
	h.replies(4)
	h.waitFolder("INBOX", 0)
	if n := countSubmissions(t, h.store); n != 4 {
		t.Errorf("%d submissions, want 4", n)
	}
	cur, err := h.store.Current(context.Background(), "ses-designation-review", "HS", "")
	if err != nil || cur == nil || cur.Version != 4 {
		t.Fatalf("current = %+v, %v; want version 4", cur, err)
	}
}

func stripHeader(raw []byte, name string) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	var out [][]byte
	for _, line := range bytes.Split(raw[:end], []byte("\r\n")) {
		if bytes.HasPrefix(bytes.ToLower(line), []byte(strings.ToLower(name)+":")) {
			continue
		}
		out = append(out, line)
	}
	return append(bytes.Join(out, []byte("\r\n")), raw[end:]...)
}

// When the server renumbers the mailbox (UIDVALIDITY changes), the daemon
// rescans it; mail it already has is filed, not answered again.
func TestUIDValidityChange(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	a := goodSubmission(t, "a@dhs.gov")
	h.deliver(a)
	h.start()
	h.replies(1)
	h.waitFolder("Accepted", 1)
	h.stop()
	h.stop = nil
	// The mailbox is rebuilt: the old mail is back under new UIDs, and the
	// store's numbering no longer matches the server's.
	h.deliver(a)
	h.deliver(goodSubmission(t, "b@dhs.gov"))
	if err := h.store.SetCursor(context.Background(), "INBOX", store.Cursor{UIDValidity: 7, LastUID: 99}); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.replies(2)
	h.waitFolder("INBOX", 0)
	h.waitFolder("Accepted", 3)
	if n := countSubmissions(t, h.store); n != 2 {
		t.Errorf("%d submissions, want 2 (a once, b once)", n)
	}
	if n := len(h.smtp.Messages()); n != 2 {
		t.Errorf("%d replies, want 2", n)
	}
}

// SMTP answering 4xx for a while: the reply is retried with backoff and
// delivered exactly once, with the same Message-ID.
func TestOutbox_temporaryFailureRetried(t *testing.T) {
	var tries atomic.Int32
	h := newHarness(t, harnessOptions{SMTPReject: func(n int, _ string, _ []string) error {
		tries.Add(1)
		if n <= 2 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}})
	h.deliver(goodSubmission(t, "retry@dhs.gov"))
	h.start()
	r := h.replies(1)
	waitFor(t, "the reply marked sent", func() bool {
		it, err := h.store.ReplyByMessageID(context.Background(), parseReply(t, r[0]).MessageID)
		return err == nil && it.Status == store.OutboxSent && it.Attempts == 3
	})
	if got := tries.Load(); got != 3 {
		t.Errorf("%d SMTP attempts, want 3", got)
	}
	if len(h.smtp.Messages()) != 1 {
		t.Errorf("delivered %d times", len(h.smtp.Messages()))
	}
}

// A 5xx is final: recorded as failed with the server's reason, not retried.
func TestOutbox_permanentFailureRecorded(t *testing.T) {
	var tries atomic.Int32
	h := newHarness(t, harnessOptions{SMTPReject: func(int, string, []string) error {
		tries.Add(1)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}})
	h.deliver(goodSubmission(t, "perm@dhs.gov"))
	h.start()
	waitFor(t, "a failed reply", func() bool {
		_, ob, err := h.store.Counts(context.Background())
		return err == nil && ob[store.OutboxFailed] == 1
	})
	subs, _ := h.store.Submissions(context.Background(), store.ListFilter{})
	d, err := h.store.SubmissionByReceipt(context.Background(), subs[0].Receipt)
	if err != nil || len(d.Replies) != 1 {
		t.Fatalf("replies %v %v", d, err)
	}
	if r := d.Replies[0]; !strings.Contains(r.LastError, "550") || r.Attempts != 1 {
		t.Errorf("reply %s attempts %d error %q", r.Status, r.Attempts, r.LastError)
	}
	if tries.Load() != 1 {
		t.Errorf("%d attempts, want 1", tries.Load())
	}
}

func TestPermanent(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&textproto.Error{Code: 550, Msg: "no such user"}, true},
		{fmt.Errorf("outbox: %w", &textproto.Error{Code: 554, Msg: "rejected"}), true},
		{&textproto.Error{Code: 451, Msg: "later"}, false},
		{io.ErrUnexpectedEOF, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: io.EOF}, false},
	} {
		if got := intake.Permanent(c.err); got != c.want {
			t.Errorf("Permanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// One poisonous mail is retried, then quarantined; the rest flow; replay
// runs it again once fixed.
func TestPoisonQuarantinedThenReplayed(t *testing.T) {
	var poisoned atomic.Bool
	poisoned.Store(true)
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.MaxAttempts = 3
		o.Failpoint = func(point string, id int64) {
			if point == intake.PointDecide && id == 1 && poisoned.Load() {
				panic("poison")
			}
		}
	}})
	h.deliver(goodSubmission(t, "poison@dhs.gov"))
	h.deliver(message{from: "hr.director@treasury.gov", subject: "TR", messageID: "tr@treasury.gov", dmarc: "pass",
		files: []attachment{{"tr.xlsx", parsertest.SESWorkbook(t, trPositions(), nil)}}}.bytes(t))
	h.start()
	h.replies(1) // the good one flows past the poisonous one
	h.waitFolder("Quarantine", 1)
	q := messagesWith(t, h.store, store.StatusQuarantined)
	if len(q) != 1 || q[0].ID != 1 || q[0].Attempts != 3 || !strings.Contains(q[0].LastError, "poison") {
		t.Fatalf("quarantined %+v", q)
	}
	poisoned.Store(false)
	if err := h.d.Replay(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	h.replies(2)
	m, err := h.store.Message(context.Background(), 1)
	if err != nil || m.Status != store.StatusAccepted {
		t.Fatalf("after replay: %+v %v", m, err)
	}
}

func trPositions() []parsertest.Position {
	pos := parsertest.GoodPositions()
	for i := range pos {
		pos[i].AgencyCode = "TR"
		pos[i].PositionNumber = strings.Replace(pos[i].PositionNumber, "HS", "TR", 1)
		pos[i].ReversionStatus = strings.Replace(pos[i].ReversionStatus, "Retention requested", "In process", 1)
	}
	return pos
}

// No loops, no backscatter (RFC 3834): automatic mail is filed and never
// answered.
func TestNoReplyToAutomaticMail(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	cases := []message{
		{from: dhsSender, subject: "Out of office", headers: map[string]string{"Auto-Submitted": "auto-replied"}},
		{from: dhsSender, subject: "Digest", headers: map[string]string{"Precedence": "bulk"}},
		{from: dhsSender, subject: "Looped", headers: map[string]string{"X-Loop": botAddr}},
		{from: "mailer-daemon@dhs.gov", subject: "Undeliverable", files: []attachment{{"r.xlsx", wb}}},
		{from: botAddr, subject: "Our own message"},
		{from: dhsSender, subject: "List", headers: map[string]string{"List-Id": "<ses.lists.dhs.gov>"}},
	}
	for i, c := range cases {
		c.messageID = fmt.Sprintf("auto-%d@dhs.gov", i)
		h.deliver(c.bytes(t))
	}
	h.deliver(append([]byte("Return-Path: <>\r\n"), message{from: dhsSender, subject: "null sender", messageID: "null@dhs.gov", files: []attachment{{"r.xlsx", wb}}}.bytes(t)...))
	h.start()
	// mailer-daemon's message looks like a (non-standard) bounce, but it
	// names no reply of ours: it marks nothing and is ignored like the rest
	// (issue 14).
	h.waitFolder("Ignored", len(cases)+1)
	h.waitFolder("Bounces", 0)
	h.waitFolder("INBOX", 0)
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d replies to automatic mail", n)
	}
	for _, m := range messagesWith(t, h.store, store.StatusIgnored) {
		if !strings.HasPrefix(m.Note, "not answered: ") {
			t.Errorf("message %d note %q", m.ID, m.Note)
		}
	}
}

// A bounce of one of our replies is recorded on the reply, and not
// answered.
func TestBounceRecorded(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.deliver(goodSubmission(t, "b1@dhs.gov"))
	h.start()
	r := h.replies(1)[0]
	replyID := parseReply(t, r).MessageID
	h.deliver(dsn(replyID, dhsSender))
	h.waitFolder("Bounces", 1)
	waitFor(t, "the reply marked bounced", func() bool {
		it, err := h.store.ReplyByMessageID(context.Background(), replyID)
		return err == nil && it.Status == store.OutboxBounced
	})
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d messages sent, want only the first reply", n)
	}
}

// dsn is a delivery status notification (RFC 3464) returning our reply.
func dsn(replyID, rcpt string) []byte {
	return []byte(strings.ReplaceAll(`Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.dhs.gov>
To: `+botAddr+`
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.dhs.gov>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail system could not deliver your message.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.dhs.gov

Final-Recipient: rfc822; `+rcpt+`
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B
Content-Type: text/rfc822-headers

From: `+botAddr+`
To: `+rcpt+`
Subject: Re: SES report
Message-ID: <`+replyID+`>

--B--
`, "\n", "\r\n"))
}

// Only agencies get in: an unknown sender, a forged one (DMARC fails at the
// trusted server) and one whose "pass" comes from an untrusted server are
// quarantined without a reply.
func TestForgedAndUnknownSendersQuarantined(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	h.deliver(message{from: "someone@example.com", subject: "x", messageID: "u@example.com", dmarc: "pass", files: []attachment{{"r.xlsx", wb}}}.bytes(t))
	h.deliver(message{from: dhsSender, subject: "x", messageID: "f@dhs.gov", dmarc: "fail", files: []attachment{{"r.xlsx", wb}}}.bytes(t))
	h.deliver(append([]byte("Authentication-Results: evil.example; dmarc=pass header.from=dhs.gov\r\n"),
		message{from: dhsSender, subject: "x", messageID: "e@dhs.gov", dmarc: "absent", files: []attachment{{"r.xlsx", wb}}}.bytes(t)...))
	h.deliver(goodSubmission(t, "real@dhs.gov"))
	h.start()
	h.waitFolder("Quarantine", 3)
	h.waitFolder("Accepted", 1)
	rs := h.replies(1)
	if len(h.smtp.Messages()) != 1 || rs[0].To[0] != dhsSender {
		t.Errorf("replies %d", len(h.smtp.Messages()))
	}
	rejected := messagesWith(t, h.store, store.StatusRejected)
	if len(rejected) != 3 {
		t.Fatalf("%d rejected, want 3", len(rejected))
	}
	if n := countSubmissions(t, h.store); n != 1 {
		t.Errorf("%d submissions, want only the real one", n)
	}
}

// Replies per sender are rate-limited.
func TestRateLimitPerSender(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.RatePerSender = 2; o.RateWindow = time.Hour }})
	for i := range 3 {
		h.deliver(goodSubmission(t, fmt.Sprintf("r%d@dhs.gov", i)))
	}
	h.start()
	h.waitFolder("Accepted", 3)
	h.replies(2)
	var suppressed int
	for _, m := range messagesWith(t, h.store, store.StatusAccepted) {
		if strings.Contains(m.Note, "rate limit") {
			suppressed++
		}
	}
	if suppressed != 1 || len(h.smtp.Messages()) != 2 {
		t.Errorf("suppressed %d, sent %d; want 1 and 2", suppressed, len(h.smtp.Messages()))
	}
}

// Dry run: mail is read and decided, but the mailbox is not touched and
// nothing is sent.
func TestDryRunLeavesMailboxAlone(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.DryRun = true }})
	h.deliver(goodSubmission(t, "dry@dhs.gov"))
	h.start()
	waitFor(t, "the message decided", func() bool { return len(messagesWith(t, h.store, store.StatusAccepted)) == 1 })
	h.stop()
	h.stop = nil
	if n, _ := h.imap.Count("INBOX"); n != 1 {
		t.Errorf("INBOX holds %d, want the message left in place", n)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d replies sent in a dry run", n)
	}
}

// Start from now: mail already in the mailbox is left alone; new mail is
// answered.
func TestStartFromNow(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.StartFromNow = true }})
	h.deliver(goodSubmission(t, "old1@dhs.gov"))
	h.deliver(goodSubmission(t, "old2@dhs.gov"))
	h.start()
	waitFor(t, "the cursor set", func() bool {
		c, ok, err := h.store.Cursor(context.Background(), "INBOX")
		return err == nil && ok && c.LastUID == 2
	})
	h.deliver(goodSubmission(t, "new@dhs.gov"))
	rs := h.replies(1)
	if got := parseReply(t, rs[0]).InReplyTo; got != "new@dhs.gov" {
		t.Errorf("answered %q, want only the new message", got)
	}
	h.waitFolder("Accepted", 1)
	if n, _ := h.imap.Count("INBOX"); n != 2 {
		t.Errorf("INBOX %d, want the 2 old messages untouched", n)
	}
}

// A message over the size limit is fetched header-only, stored, and
// answered with what to send instead.
func TestOversizedMessageAnswered(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.MaxMessageBytes = 2000 }})
	h.deliver(goodSubmission(t, "big@dhs.gov"))
	h.start()
	m := parseReply(t, h.replies(1)[0])
	if !strings.Contains(m.Text, "over the") {
		t.Errorf("notice does not explain the size limit:\n%s", m.Text)
	}
	h.waitFolder("Deficient", 1)
}

// Without MOVE or UIDPLUS, filing copies and flags \Deleted but never
// issues a plain EXPUNGE (which would remove other clients' deleted mail).
func TestFilingWithoutMove(t *testing.T) {
	h := newHarness(t, harnessOptions{NoMove: true})
	h.deliver(goodSubmission(t, "nomove@dhs.gov"))
	h.start()
	h.replies(1)
	h.waitFolder("Accepted", 1)
	if n, _ := h.imap.Count("INBOX"); n != 1 {
		t.Errorf("INBOX %d: the original must stay (flagged \\Deleted), not be expunged", n)
	}
}

// The IMAP connection dropped in the middle of a fetch: the daemon
// reconnects and the mail is stored and answered exactly once.
func TestIMAPDroppedMidFetch(t *testing.T) {
	var p *dropProxy
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		p = newDropProxy(t, o.IMAP.Addr, []byte("BODY.PEEK[]"), 1)
		o.IMAP.Addr = p.addr
	}})
	h.deliver(goodSubmission(t, "drop@dhs.gov"))
	h.start()
	h.replies(1)
	h.waitFolder("Accepted", 1)
	if p.dropped.Load() != 1 {
		t.Errorf("proxy dropped %d connections, want 1", p.dropped.Load())
	}
	if n := countSubmissions(t, h.store); n != 1 {
		t.Errorf("%d submissions", n)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d replies", n)
	}
}

// dropProxy forwards TCP to an IMAP server and cuts the connection the
// first `times` times the client sends `trigger`.
type dropProxy struct {
	addr    string
	dropped atomic.Int32
}

func newDropProxy(t *testing.T, target string, trigger []byte, times int32) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
			go func() {
				defer wg.Done()
				defer s.Close()
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 && bytes.Contains(buf[:n], trigger) && p.dropped.Load() < times {
						p.dropped.Add(1)
						return
					}
					if n > 0 {
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// A stop asked for just after the SMTP server took a reply: the daemon
// still records it as sent, so the restart does not send it again.
func TestStopAfterSendDoesNotResend(t *testing.T) {
	var cancelRun func()
	var once sync.Once
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Failpoint = func(point string, _ int64) {
			if point == intake.PointSent {
				once.Do(func() { cancelRun() })
			}
		}
	}})
	h.deliver(goodSubmission(t, "stop@dhs.gov"))
	ctx, cancel := context.WithCancel(context.Background())
	cancelRun = cancel
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Fatalf("%d replies before the restart, want 1", n)
	}
	h.start()
	h.waitFolder("Accepted", 1)
	h.stop()
	h.stop = nil
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d replies after the restart, want still 1", n)
	}
	_, ob, err := h.store.Counts(context.Background())
	if err != nil || ob[store.OutboxSent] != 1 || ob[store.OutboxQueued] != 0 {
		t.Errorf("outbox %v %v", ob, err)
	}
}

// A new version replaces only the kinds it contains: retention requests
// sent earlier stay in force when only the position report is resent, and
// an empty retention sheet withdraws them.
func TestResubmissionSupersedesPerKind(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	pos := parsertest.GoodPositions()
	send := func(id string, wb []byte) {
		h.deliver(message{from: dhsSender, subject: "SES", messageID: id, dmarc: "pass", files: []attachment{{"r.xlsx", wb}}}.bytes(t))
	}
	send("v1@dhs.gov", parsertest.SESWorkbook(t, pos, parsertest.GoodRetentions()))
	send("v2@dhs.gov", parsertest.SESWorkbook(t, pos[:4], nil))
	h.start()
	rs := h.replies(2)
	ctx := context.Background()
	cur, err := h.store.Current(ctx, "ses-designation-review", "HS", "")
	if err != nil || cur == nil {
		t.Fatal(cur, err)
	}
	kinds := map[string]int{}
	for _, r := range cur.Records {
		kinds[r.Kind]++
	}
	if cur.Version != 2 || kinds["position-report"] != 4 || kinds["retention-request"] != 1 {
		t.Errorf("version %d, current rows %v; want 2, 4 positions and the earlier retention request", cur.Version, kinds)
	}
	ack2 := parseReply(t, rs[1]).Text
	if !strings.Contains(ack2, "HS-0005") || strings.Contains(strings.ToLower(ack2), "retention request: hs-0002") {
		t.Errorf("second acknowledgement should list HS-0005 removed and not the retention request:\n%s", ack2)
	}
	// Export of current rows keeps each row's own provenance.
	receipts := map[string]string{}
	if err := h.store.ExportRecords(ctx, "ses-designation-review", "", true, func(x store.ExportRow) error {
		receipts[x.Kind] = x.Receipt
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if receipts["retention-request"] == receipts["position-report"] || receipts["retention-request"] == "" {
		t.Errorf("export provenance %v: the retention request comes from the first version", receipts)
	}
	// An empty retention sheet withdraws the request.
	f := parsertest.SESWorkbook(t, pos[:4], []parsertest.Retention{})
	send("v3@dhs.gov", f)
	h.replies(3)
	waitFor(t, "version 3", func() bool {
		c, err := h.store.Current(ctx, "ses-designation-review", "HS", "")
		if err != nil || c == nil || c.Version != 3 {
			return false
		}
		for _, r := range c.Records {
			if r.Kind == "retention-request" {
				return false
			}
		}
		return true
	})
}

// Without IDLE the daemon polls: mail arriving after the start is found
// on the next poll.
func TestPollingWithoutIdle(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.IMAP.DisableIdle = true }})
	h.start()
	waitFor(t, "the first poll", func() bool {
		_, ok, err := h.store.Cursor(context.Background(), "INBOX")
		return err == nil && ok
	})
	h.deliver(goodSubmission(t, "poll@dhs.gov"))
	if got := parseReply(t, h.replies(1)[0]).InReplyTo; got != "poll@dhs.gov" {
		t.Errorf("answered %q", got)
	}
	h.waitFolder("Accepted", 1)
}

// XOAUTH2 login (Google, Microsoft 365): the token from the token source
// is presented; a wrong token never gets in.
func TestIMAPLogin_xoauth2(t *testing.T) {
	for _, c := range []struct {
		name, token string
		ok          bool
	}{{"right token", "tok-123", true}, {"wrong token", "expired", false}} {
		t.Run(c.name, func(t *testing.T) {
			metrics := intake.NewMetrics(nil)
			h := newHarness(t, harnessOptions{XOAuth2Token: "tok-123", Modify: func(o *intake.Options) {
				m, err := signin.Bearer(signin.XOAuth2, o.IMAP.Username, signin.NewTokens(func(context.Context) (*oauth2.Token, error) {
					return &oauth2.Token{AccessToken: c.token}, nil
				}, signin.TokensOptions{}))
				if err != nil {
					t.Fatal(err)
				}
				o.IMAP.SignIn = m
				o.Metrics = metrics
			}})
			h.deliver(goodSubmission(t, "oauth@dhs.gov"))
			h.start()
			if c.ok {
				h.replies(1)
				return
			}
			waitFor(t, "two failed logins", func() bool { return testutil.ToFloat64(metrics.IMAPReconnects) >= 2 })
			if n := len(messagesWith(t, h.store, "")); n != 0 {
				t.Errorf("%d messages fetched with a wrong token", n)
			}
		})
	}
}

// XOAUTH2 for SMTP submission. A refused login (an expired token) is the
// operator's to fix, not the reply's: the reply waits, loses no attempt,
// and goes out once the token is good again. (Each round asks twice: the
// second time with a fresh token.)
func TestSMTPAuth_xoauth2(t *testing.T) {
	var logins atomic.Int32
	metrics := intake.NewMetrics(nil)
	h := newHarness(t, harnessOptions{SMTPToken: "smtp-tok", Modify: func(o *intake.Options) {
		tokens := signin.NewTokens(func(context.Context) (*oauth2.Token, error) {
			if logins.Add(1) <= 3 {
				return &oauth2.Token{AccessToken: "expired"}, nil
			}
			return &oauth2.Token{AccessToken: "smtp-tok"}, nil
		}, signin.TokensOptions{})
		m, err := signin.Bearer(signin.XOAuth2, "bot", tokens)
		if err != nil {
			t.Fatal(err)
		}
		o.SMTP.SignIn = m
		o.Metrics = metrics
	}})
	h.deliver(goodSubmission(t, "smtp-oauth@dhs.gov"))
	h.start()
	r := h.replies(1)
	if got := testutil.ToFloat64(metrics.SMTPUnavailable); got < 1 {
		t.Errorf("%v rounds without SMTP counted, want at least 1", got)
	}
	if got := testutil.ToFloat64(metrics.SignInFailures.WithLabelValues("smtp", "refused")); got != 3 {
		t.Errorf("%v refused sign-ins counted, want 3", got)
	}
	it, err := h.store.ReplyByMessageID(context.Background(), parseReply(t, r[0]).MessageID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reply marked sent", func() bool {
		it, err = h.store.ReplyByMessageID(context.Background(), it.MessageID)
		return err == nil && it.Status == store.OutboxSent
	})
	if it.Attempts != 1 {
		t.Errorf("reply used %d attempts, want 1: refused logins are not the reply's", it.Attempts)
	}
}
