package email_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/internal/testenv"
	"intake/parser/email"
)

const outer = "From: DHS CHCO <chco@dhs.gov>\r\nTo: allocation-management@opm.gov\r\nSubject: Report\r\nMessage-ID: <smime-1@dhs.gov>\r\nDate: Fri, 14 Mar 2025 13:00:00 +0000\r\n"

func smimeParse(t *testing.T, raw []byte, keys email.SMIMEKeys) (*email.Message, email.SMIME) {
	t.Helper()
	out, s := email.OpenSMIME(raw, keys)
	m, err := email.Parse(out, email.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func attachment(t *testing.T, m *email.Message, name string) []byte {
	t.Helper()
	for _, a := range m.Attachments {
		if a.Name == name {
			return a.Data
		}
	}
	t.Fatalf("no attachment %q among %d", name, len(m.Attachments))
	return nil
}

// Mail signed by an agency's certificate (clear and opaque, made by
// openssl) is verified against the trust anchors and authenticates the
// addresses its certificate names; a changed byte, another CA, an expired
// certificate or no anchors at all make it count for nothing.
func TestSMIME_signed(t *testing.T) {
	ca, other := testenv.NewCA(t), testenv.NewCA(t)
	dhs := ca.SMIME(t, "chco@dhs.gov")
	forger := other.SMIME(t, "chco@dhs.gov")
	xlsx := bytes.Repeat([]byte("PK\x03\x04 workbook bytes "), 200)
	entity := testenv.MailEntity("Our report is attached.", "report.xlsx", xlsxType, xlsx)
	keys := email.SMIMEKeys{Roots: ca.Roots, Now: time.Now()}
	for _, opaque := range []bool{false, true} {
		raw := testenv.WithHeader(outer, testenv.OpenSSLSign(t, entity, dhs, opaque))
		m, s := smimeParse(t, raw, keys)
		if !s.Signed || !s.Verified || s.Problem != "" || !s.SignedBy(m.From) || s.SignedBy("someone@dhs.gov") {
			t.Errorf("opaque %v: %+v, from %s", opaque, s, m.From)
		}
		if got := attachment(t, m, "report.xlsx"); !bytes.Equal(got, xlsx) {
			t.Errorf("opaque %v: the workbook changed on the way through", opaque)
		}
		if m.MessageID != "smime-1@dhs.gov" || m.Subject != "Report" {
			t.Errorf("opaque %v: outer fields lost: %q %q", opaque, m.MessageID, m.Subject)
		}
		// Signed by a certificate of another CA: not verified.
		forged := testenv.WithHeader(outer, testenv.OpenSSLSign(t, entity, forger, opaque))
		if _, s := smimeParse(t, forged, keys); s.Verified || s.SignedBy("chco@dhs.gov") || s.Problem == "" {
			t.Errorf("opaque %v: another CA's signature counted: %+v", opaque, s)
		}
		// After the certificate expired: not verified.
		if _, s := smimeParse(t, raw, email.SMIMEKeys{Roots: ca.Roots, Now: time.Now().Add(48 * time.Hour)}); s.Verified {
			t.Errorf("opaque %v: an expired certificate counted", opaque)
		}
		// No trust anchors: never verified.
		if _, s := smimeParse(t, raw, email.SMIMEKeys{Now: time.Now()}); s.Verified || !s.Signed {
			t.Errorf("opaque %v: verified without trust anchors", opaque)
		}
	}
	// A changed byte of the clear-signed content.
	raw := testenv.WithHeader(outer, testenv.OpenSSLSign(t, entity, dhs, false))
	i := bytes.Index(raw, []byte("Our report"))
	bad := bytes.Clone(raw)
	bad[i] = 'X'
	if _, s := smimeParse(t, bad, keys); s.Verified || s.SignedBy("chco@dhs.gov") {
		t.Errorf("a changed message still verified: %+v", s)
	}
	// Stored with bare LF line ends (as some stores do), it still verifies.
	lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	if _, s := smimeParse(t, lf, keys); !s.Verified {
		t.Errorf("LF-ended copy not verified: %s", s.Problem)
	}
}

// Mail encrypted to the mailbox's certificate (by openssl) is decrypted
// with its key, signed-then-encrypted mail is both decrypted and verified,
// and mail encrypted to someone else says so.
func TestSMIME_encrypted(t *testing.T) {
	ca := testenv.NewCA(t)
	box, dhs, stranger := ca.SMIME(t, "allocation-management@opm.gov"), ca.SMIME(t, "chco@dhs.gov"), ca.SMIME(t, "x@elsewhere.gov")
	xlsx := bytes.Repeat([]byte("PK\x03\x04 personal data "), 300)
	entity := testenv.MailEntity("PII attached.", "perf.xlsx", xlsxType, xlsx)
	keys := email.SMIMEKeys{Roots: ca.Roots, Cert: box.Cert, Key: box.Key, Now: time.Now()}

	raw := testenv.WithHeader(outer, testenv.OpenSSLEncrypt(t, entity, box))
	m, s := smimeParse(t, raw, keys)
	if !s.Encrypted || !s.Decrypted || s.Signed || s.Verified {
		t.Errorf("encrypted: %+v", s)
	}
	if got := attachment(t, m, "perf.xlsx"); !bytes.Equal(got, xlsx) {
		t.Error("decrypted workbook differs")
	}
	if bytes.Contains(raw, []byte("personal data")) {
		t.Fatal("the test's encrypted mail holds the clear text")
	}

	signed := testenv.OpenSSLSign(t, entity, dhs, false)
	raw = testenv.WithHeader(outer, testenv.OpenSSLEncrypt(t, signed, box))
	m, s = smimeParse(t, raw, keys)
	if !s.Decrypted || !s.Verified || !s.SignedBy("chco@dhs.gov") {
		t.Errorf("signed then encrypted: %+v", s)
	}
	if got := attachment(t, m, "perf.xlsx"); !bytes.Equal(got, xlsx) {
		t.Error("signed-then-encrypted workbook differs")
	}

	raw = testenv.WithHeader(outer, testenv.OpenSSLEncrypt(t, entity, stranger))
	if _, s := smimeParse(t, raw, keys); !s.Encrypted || s.Decrypted || s.Problem == "" {
		t.Errorf("encrypted to another: %+v", s)
	}
	if _, s := smimeParse(t, raw, email.SMIMEKeys{Now: time.Now()}); s.Decrypted || !strings.Contains(s.Problem, "no key") {
		t.Errorf("no key configured: %+v", s)
	}
}

// A reply encrypted with EncryptSMIME keeps its routing and threading
// fields outside, and openssl (an independent decrypter) gets its content
// back with either recipient's key.
func TestSMIME_encryptReply(t *testing.T) {
	ca := testenv.NewCA(t)
	box, dhs := ca.SMIME(t, "allocation-management@opm.gov"), ca.SMIME(t, "chco@dhs.gov")
	entity := testenv.MailEntity("Receipt PERF-2025-000042: 12 rows, names of employees.", "changes.xlsx", xlsxType, []byte("PK\x03\x04 list"))
	reply := testenv.WithHeader("From: allocation-management@opm.gov\r\nTo: chco@dhs.gov\r\nSubject: Re: Report [PERF-2025-000042]\r\nMessage-ID: <r-1@opm.gov>\r\nIn-Reply-To: <smime-1@dhs.gov>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0", entity)
	enc, err := email.EncryptSMIME(reply, []*x509.Certificate{dhs.Cert, box.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("names of employees")) {
		t.Fatal("the encrypted reply holds its text in clear")
	}
	m, err := email.Parse(enc, email.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != "r-1@opm.gov" || m.InReplyTo != "smime-1@dhs.gov" || !strings.Contains(m.Subject, "PERF-2025-000042") {
		t.Errorf("routing fields: %q %q %q", m.MessageID, m.InReplyTo, m.Subject)
	}
	for _, id := range []*testenv.Identity{dhs, box} {
		plain := testenv.OpenSSLDecrypt(t, enc, id)
		if !bytes.Contains(plain, []byte("names of employees")) {
			t.Errorf("openssl with %s's key: content not recovered", id.Cert.EmailAddresses[0])
		}
	}
	// And the daemon's own reader opens it with the mailbox's key.
	out, s := email.OpenSMIME(enc, email.SMIMEKeys{Cert: box.Cert, Key: box.Key})
	if !s.Decrypted || !bytes.Contains(out, []byte("names of employees")) {
		t.Errorf("OpenSMIME of our own reply: %+v", s)
	}
}

// The S/MIME samples of the shared corpus (Thunderbird, from RT's tests):
// signed ones are recognised and name their signer, but without their CA
// among the trust anchors count for nothing; encrypted ones, to a key we
// do not have, say so. None is mistaken for plain mail.
func TestSMIME_corpus(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "corpus", "email", "rt", "smime")
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) != 9 {
		t.Fatalf("%d samples (%v)", len(files), err)
	}
	anchors := testenv.NewCA(t)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, s := email.OpenSMIME(raw, email.SMIMEKeys{Roots: anchors.Roots, Now: time.Date(2023, 8, 30, 0, 0, 0, 0, time.UTC)})
		name := filepath.Base(f)
		switch {
		case strings.Contains(name, "encrypted"):
			if !s.Encrypted || s.Decrypted || s.Problem == "" {
				t.Errorf("%s: %+v", name, s)
			}
		default:
			if !s.Signed || s.Verified || s.Problem == "" || !s.SignedBy("sender@example.com") && len(s.Addresses) == 0 {
				t.Errorf("%s: %+v", name, s)
			}
			if s.Signer == nil {
				t.Errorf("%s: no signer", name)
			}
		}
	}
}
