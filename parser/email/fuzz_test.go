package email_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"unicode/utf8"

	"intake/parser/email"
)

func FuzzParse(f *testing.F) {
	small := []byte("PK\x03\x04 not really a workbook")
	f.Add([]byte(outlookMessage(small)))
	f.Add([]byte(gmailMessage(small)))
	f.Add([]byte(forwardedMessage(small)))
	f.Add(nested(4))
	f.Add([]byte("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n--X\r\nContent-Disposition: attachment; filename*0*=UTF-8''a%20b; filename*1=.xlsx\r\n\r\ndata"))
	f.Add([]byte("Return-Path: <>\r\nFrom: MAILER-DAEMON@x.y\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; u@v.w\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <r@opm.gov>\r\n\r\n--R--\r\n"))
	lim := email.Limits{MaxParts: 5, MaxDepth: 3, MaxHeaderBytes: 2048, MaxPartBytes: 1000, MaxAttachmentsBytes: 2500}
	f.Fuzz(func(t *testing.T, raw []byte) {
		k := email.DedupeKey(raw)
		if k != email.DedupeKey(raw) || len(k) != 64 {
			t.Fatalf("DedupeKey not stable: %q", k)
		}
		m, err := email.Parse(raw, lim)
		email.ParseBounce(m, raw)
		if err != nil {
			if m != nil {
				t.Fatal("a message returned with an error")
			}
			return
		}
		email.AutoReplyReason(m, []string{"intake@opm.gov"})
		email.Authenticate(m, email.AuthPolicy{TrustedAuthServID: "mx.opm.gov"})
		if len(m.Attachments) > lim.MaxParts+1 {
			t.Errorf("%d attachments over %d parts", len(m.Attachments), lim.MaxParts)
		}
		var total int64
		for _, a := range m.Attachments {
			n := int64(len(a.Data))
			total += n
			if n > lim.MaxPartBytes {
				t.Errorf("attachment of %d bytes over the part limit", n)
			}
			if a.Name == "" || strings.ContainsAny(a.Name, "/\\\x00") || email.SanitizeFilename(a.Name) != a.Name {
				t.Errorf("unsanitised name %q", a.Name)
			}
		}
		if total > lim.MaxAttachmentsBytes {
			t.Errorf("attachments total %d over the limit", total)
		}
		if len(m.Text) > email.MaxTextBytes || !utf8.ValidString(m.Text) {
			t.Errorf("Text of %d bytes, valid UTF-8 %v", len(m.Text), utf8.ValidString(m.Text))
		}
		if !utf8.ValidString(m.Subject) {
			t.Errorf("Subject not UTF-8: %q", m.Subject)
		}
	})
}

// BenchmarkParse parses a message with a 5 MB (random, incompressible)
// attachment, base64-encoded as a mail client sends it.
func BenchmarkParse(b *testing.B) {
	data := make([]byte, 5<<20)
	rand.Read(data)
	raw := buildMessage(b, baseHeader(), "Report attached.\n", testAttachment{"big.xlsx", xlsxType, data})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := email.Parse(raw, email.DefaultLimits())
		if err != nil || len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data[:64], data[:64]) {
			b.Fatalf("err %v, attachments %d", err, len(m.Attachments))
		}
	}
}

// BenchmarkDedupeKey hashes the same 5 MB message.
func BenchmarkDedupeKey(b *testing.B) {
	data := make([]byte, 5<<20)
	rand.Read(data)
	raw := buildMessage(b, baseHeader(), "Report attached.\n", testAttachment{"big.xlsx", xlsxType, data})
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		email.DedupeKey(raw)
	}
}
