package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"intake/intake"
	"intake/intake/demo"
	"intake/internal/testenv"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

// smimeMail is an agency's mail whose content entity was signed and/or
// encrypted by openssl, under the routing fields, as the receiving server
// delivers it with its dmarc result.
func smimeMail(from, messageID, subject, dmarc string, entity []byte) []byte {
	fields := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: Fri, 14 Mar 2025 13:00:00 +0000", from, botAddr, subject, messageID)
	return receivedBy(from, dmarc, testenv.WithHeader(fields, entity))
}

func smimeHarness(t *testing.T, ca *testenv.CA, box *testenv.Identity, logs *syncBuffer) *harness {
	return newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.SMIME = email.SMIMEKeys{Roots: ca.Roots, Cert: box.Cert, Key: box.Key}
		if logs != nil {
			o.Logger = slogTo(logs)
		}
	}})
}

// A valid S/MIME signature of the From address authenticates the sender on
// its own: the mail is accepted though DMARC failed. A signature from a
// certificate of another CA does not: that mail is quarantined unanswered.
func TestSMIME_signatureAuthenticatesSender(t *testing.T) {
	ca, other := testenv.NewCA(t), testenv.NewCA(t)
	box := ca.SMIME(t, botAddr)
	h := smimeHarness(t, ca, box, nil)
	xlsx := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	entity := testenv.MailEntity("Our report.", "report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx)
	h.deliver(smimeMail(dhsSender, "signed-1@dhs.gov", "SES report", "fail", testenv.OpenSSLSign(t, entity, ca.SMIME(t, dhsSender), false)))
	h.deliver(smimeMail(dhsSender, "forged-1@dhs.gov", "SES report", "fail", testenv.OpenSSLSign(t, entity, other.SMIME(t, dhsSender), true)))
	h.start()
	h.replies(1)
	h.waitFolder("Accepted", 1)
	h.waitFolder("Quarantine", 1)
	rej := messagesWith(t, h.store, store.StatusRejected)
	if len(rej) != 1 || !strings.Contains(rej[0].Note, "authentication failed") {
		t.Errorf("the other CA's signature: %+v", rej)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
}

// Mail signed by the agency and encrypted to the mailbox's certificate is
// decrypted and decided; the store keeps the encrypted original. The
// reply about the performance call (it holds personal data) is encrypted
// to the agency's certificate, known from its signature, and the agency's
// key opens it (openssl).
func TestSMIME_encryptedMailAndEncryptedReply(t *testing.T) {
	var logs syncBuffer
	ca := testenv.NewCA(t)
	box, dhs := ca.SMIME(t, botAddr), ca.SMIME(t, dhsSender)
	h := smimeHarness(t, ca, box, &logs)
	def := h.opts.Calls.Get("performance-below-fully-successful")
	name := "Quentin Zephyrine-Oddly"
	wb, err := demo.Workbook(def, map[string][]map[string]string{def.Kinds[0].ID: {{
		"employee_name": name, "position_title": "Program Analyst", "pay_plan": "GS", "series": "0343", "grade": "12",
		"agency_code": "HS", "component": "HS01", "duty_station": "Washington, DC", "rating_year": "2024",
		"rating_level": "Level 2 (Minimally Successful)", "pip_status": "In progress", "action": "None", "appeal": "None"}}})
	if err != nil {
		t.Fatal(err)
	}
	entity := testenv.MailEntity("Performance data call: below fully successful.", "performance.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", wb)
	signed := testenv.OpenSSLSign(t, entity, dhs, false)
	raw := smimeMail(dhsSender, "perf-enc@dhs.gov", "Performance data call: below fully successful", "pass", testenv.OpenSSLEncrypt(t, signed, box))
	h.deliver(raw)
	h.start()
	r := h.replies(1)[0]
	if bytes.Contains(r.Data, []byte("Performance data call")) && !bytes.Contains(r.Data, []byte("application/pkcs7-mime")) {
		t.Fatal("the reply about PII went unencrypted")
	}
	m, err := email.Parse(r.Data, email.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "PERF-2025-") || m.InReplyTo != "perf-enc@dhs.gov" {
		t.Errorf("outer fields: %q, in reply to %q", m.Subject, m.InReplyTo)
	}
	plain := testenv.OpenSSLDecrypt(t, r.Data, dhs)
	if !bytes.Contains(plain, []byte("PERF-2025-")) {
		t.Errorf("the agency's key does not open the reply:\n%.400s", plain)
	}
	// Stored: the encrypted original; the cell values are in no log.
	subs, _ := h.store.Submissions(context.Background(), store.ListFilter{})
	if len(subs) != 1 {
		t.Fatalf("%d submissions", len(subs))
	}
	ms, _ := h.store.Messages(context.Background(), store.MessageFilter{})
	stored, _ := h.store.Message(context.Background(), ms[0].ID)
	if !bytes.Equal(stored.Raw, raw) {
		t.Error("the stored raw message is not the encrypted original")
	}
	if strings.Contains(logs.String(), name) {
		t.Error("a cell value is in the log")
	}
	// A second mail, unsigned, is answered in clear only if it is not about
	// personal data; this one is about the same call, so its reply is
	// encrypted too, to the certificate remembered.
	h.deliver(message{from: dhsSender, subject: "Performance data call: below fully successful", messageID: "perf-2@dhs.gov",
		files: []attachment{{"performance.xlsx", wb}}}.bytes(t))
	r2 := h.replies(2)[1]
	if !bytes.Contains(r2.Data, []byte("application/pkcs7-mime")) {
		t.Error("the second reply about PII went unencrypted")
	}
	_ = time.Second
}
