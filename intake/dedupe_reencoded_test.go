package intake_test

import (
	"bytes"
	"context"
	"testing"

	"intake/intake/localmail"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

// rewrapBase64 re-wraps every base64 body line of raw at 60 characters
// instead of 76, as a relay re-encoding a mail may: the decoded content is
// the same, the bytes (and so the content hash) are not.
func rewrapBase64(t *testing.T, raw []byte) []byte {
	t.Helper()
	lines := bytes.Split(raw, []byte("\r\n"))
	var out [][]byte
	var run []byte
	isB64 := func(l []byte) bool {
		if len(l) != 76 {
			return false
		}
		for _, c := range l {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return false
			}
		}
		return true
	}
	flush := func(last []byte) {
		run = append(run, last...)
		for len(run) > 60 {
			out = append(out, run[:60])
			run = run[60:]
		}
		if len(run) > 0 {
			out = append(out, run)
		}
		run = nil
	}
	for i, l := range lines {
		switch {
		case isB64(l):
			run = append(run, l...)
		case run != nil && len(l) > 0 && i > 0:
			flush(l) // the short last line of a base64 body
		default:
			if run != nil {
				flush(nil)
			}
			out = append(out, l)
		}
	}
	if run != nil {
		flush(nil)
	}
	return bytes.Join(out, []byte("\r\n"))
}

// The same mail delivered twice, the second copy re-encoded on the way
// (another content hash), is one submission with one reply; both copies
// are filed. A reused Message-ID with another workbook is still a new mail
// (TestDedupe_reusedOrMissingMessageID).
func TestDedupe_reencodedCopy(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	raw := goodSubmission(t, "twice@dhs.gov")
	again := rewrapBase64(t, raw)
	if bytes.Equal(raw, again) || email.DedupeKey(raw) == email.DedupeKey(again) {
		t.Fatal("the re-encoded copy has the same bytes or content hash: the test proves nothing")
	}
	m1, err := email.Parse(raw, email.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := email.Parse(again, email.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m1.Attachments) != 1 || len(m2.Attachments) != 1 || !bytes.Equal(m1.Attachments[0].Data, m2.Attachments[0].Data) {
		t.Fatal("the re-encoded copy does not carry the same workbook")
	}
	h.deliver(raw)
	h.start()
	h.replies(1)
	h.deliver(again)
	h.waitFolder("Accepted", 2)
	h.waitFolder("INBOX", 0)
	if n := countSubmissions(t, h.store); n != 1 {
		t.Errorf("%d submissions, want 1", n)
	}
	// A later, different mail is answered: the outbox is not stuck, and
	// nothing more went to the sender of the copy.
	h.deliver(message{from: "hr.director@treasury.gov", subject: "TR", messageID: "tr@treasury.gov",
		files: []attachment{{"tr.xlsx", parsertest.SESWorkbook(t, trPositions(), nil)}}}.bytes(t))
	rs := h.replies(2)
	if n := countTo(rs, dhsSender); n != 1 {
		t.Errorf("%d replies to %s, want 1", n, dhsSender)
	}
	msgs, err := h.store.Messages(context.Background(), store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, m := range msgs {
		if m.MessageID == "twice@dhs.gov" {
			copies++
			if m.Folder != "Accepted" {
				t.Errorf("copy %d filed in %q, want Accepted", m.ID, m.Folder)
			}
		}
	}
	if copies != 2 {
		t.Errorf("%d copies stored, want 2 (both kept)", copies)
	}
}

func countTo(rs []localmail.Received, addr string) int {
	n := 0
	for _, r := range rs {
		if len(r.To) == 1 && r.To[0] == addr {
			n++
		}
	}
	return n
}
