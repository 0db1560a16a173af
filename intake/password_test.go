package intake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"intake/intake"
	"intake/parser/parsertest"
	"intake/store"
)

const workbookPassword = "Correct-Horse-7-Battery"

// encryptedReport is a good SES report, encrypted with password as Excel's
// "Encrypt with Password" does (excelize).
func encryptedReport(t *testing.T, password string) []byte {
	return parsertest.Encrypt(t, parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions()), password)
}

// noPasswordAnywhere fails when the password is in the log, a reply, or
// the store's files.
func noPasswordAnywhere(t *testing.T, h *harness, logs *syncBuffer, password string) {
	t.Helper()
	if strings.Contains(logs.String(), password) {
		t.Error("the password is in the log")
	}
	for _, r := range h.smtp.Messages() {
		if bytes.Contains(r.Data, []byte(password)) || strings.Contains(textBodies(t, r.Data), password) {
			t.Error("the password is in a reply")
		}
	}
	dir := filepath.Dir(storePath(t, h))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(password)) {
			t.Errorf("the password is in %s", filepath.Base(f))
		}
	}
}

// passwordGone stops the daemon once its workbook is decided and checks
// that the password mail's raw bytes are purged, that replies (what) went
// out, and that the password is nowhere.
func passwordGone(t *testing.T, h *harness, logs *syncBuffer, passwordMail int64, replies int, what string) {
	t.Helper()
	pm, _ := h.store.Message(context.Background(), passwordMail)
	if len(pm.Raw) != 0 {
		t.Error("the password mail's raw bytes are kept after its workbook was decided")
	}
	h.stop()
	h.stop = nil
	if n := len(h.smtp.Messages()); n != replies {
		t.Errorf("%d replies, want %d (%s)", n, replies, what)
	}
	noPasswordAnywhere(t, h, logs, workbookPassword)
}

// storePath is the harness store's file.
func storePath(t *testing.T, h *harness) string { return h.store.Path() }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// An agency whose workbook password is configured: its encrypted report is
// opened with it and accepted; the store keeps the encrypted original, and
// the acknowledgement names that file's SHA-256.
func TestPassword_fromConfiguration(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Logger = slogTo(&logs)
		o.Agencies[0].WorkbookPassword = workbookPassword
	}})
	enc := encryptedReport(t, workbookPassword)
	h.deliver(message{from: dhsSender, subject: "SES report (encrypted)", messageID: "enc-1@dhs.gov", files: []attachment{{"report.xlsx", enc}}}.bytes(t))
	h.start()
	r := h.replies(1)[0]
	h.waitFolder("Accepted", 1)
	body := textBodies(t, r.Data)
	if !strings.Contains(body, sha(enc)) {
		t.Errorf("the acknowledgement does not name the encrypted file's SHA-256:\n%s", body)
	}
	subs, _ := h.store.Submissions(context.Background(), store.ListFilter{})
	d, err := h.store.SubmissionByReceipt(context.Background(), subs[0].Receipt)
	if err != nil || len(d.Files) != 1 || d.Files[0].SHA256 != sha(enc) || len(d.Records) == 0 {
		t.Fatalf("stored: %+v, %v", d, err)
	}
	h.stop()
	h.stop = nil
	noPasswordAnywhere(t, h, &logs, workbookPassword)
}

// Without a configured password the workbook waits, with an acknowledgement
// giving its receipt; the password in a second mail naming the receipt
// opens it, the agency gets the real acknowledgement under the same
// receipt, and the password mail is never answered and not kept.
func TestPassword_secondMailNamingTheReceipt(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.Logger = slogTo(&logs) }})
	enc := encryptedReport(t, workbookPassword)
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "enc-2@dhs.gov", files: []attachment{{"report.xlsx", enc}}}.bytes(t))
	h.start()
	waiting := h.replies(1)[0]
	wbody := textBodies(t, waiting.Data)
	receipt := regexp.MustCompile(`SES-2025-\d{6}`).FindString(parseReply(t, waiting).Subject)
	if receipt == "" || !strings.Contains(wbody, "waits for its password") {
		t.Fatalf("no waiting acknowledgement with a receipt:\n%s", wbody)
	}
	if n, _ := h.imap.Count("INBOX"); n != 1 {
		t.Errorf("the waiting mail was filed (INBOX has %d)", n)
	}
	h.deliver(message{from: dhsSender, subject: "Password for " + receipt, messageID: "pw-2@dhs.gov", body: workbookPassword + "\n\nRegards"}.bytes(t))
	rs := h.replies(2)
	ack := textBodies(t, rs[1].Data)
	if !strings.Contains(parseReply(t, rs[1]).Subject, receipt) || !strings.Contains(ack, "accepted") {
		t.Fatalf("second reply is not the acknowledgement of %s:\n%s", receipt, ack)
	}
	h.waitFolder("Accepted", 1)
	h.waitFolder("Ignored", 1)
	ms := messagesWith(t, h.store, store.StatusIgnored)
	if len(ms) != 1 || !strings.Contains(ms[0].Note, receipt) {
		t.Fatalf("password mail: %+v", ms)
	}
	passwordGone(t, h, &logs, ms[0].ID, 2, "waiting, then the acknowledgement")
}

// A password mail that names no receipt, within the window, is paired with
// the sender's waiting workbook; a wrong password gets a notice saying so.
func TestPassword_windowAndWrongPassword(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "enc-3@dhs.gov", files: []attachment{{"report.xlsx", encryptedReport(t, workbookPassword)}}}.bytes(t))
	h.start()
	h.replies(1)
	h.deliver(message{from: dhsSender, subject: "the password", messageID: "pw-3@dhs.gov", body: "Password: not-the-password"}.bytes(t))
	rs := h.replies(2)
	body := textBodies(t, rs[1].Data)
	if !strings.Contains(body, "does not open it") {
		t.Errorf("a wrong password is not named as such:\n%s", body)
	}
	h.waitFolder("Deficient", 1)
}

// No password within the window: the notice says none came.
func TestPassword_noneInTime(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.PasswordWindow = time.Hour }})
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "enc-4@dhs.gov", files: []attachment{{"report.xlsx", encryptedReport(t, workbookPassword)}}}.bytes(t))
	h.start()
	h.replies(1)
	h.clock.Add(2 * time.Hour)
	rs := h.replies(2)
	body := textBodies(t, rs[1].Data)
	if !strings.Contains(body, "no password for it has reached") {
		t.Errorf("the notice does not say no password came:\n%s", body)
	}
	h.waitFolder("Deficient", 1)
}

// A password sent ahead of its workbook (a first line "Password: ...")
// gets no reply and is kept; the encrypted workbook that follows from the
// same address is opened with it and acknowledged, and the password mail's
// raw bytes are then purged.
func TestPassword_sentAheadOfTheWorkbook(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.Logger = slogTo(&logs) }})
	h.deliver(message{from: dhsSender, subject: "workbook password", messageID: "pw-ahead@dhs.gov", body: "Password: " + workbookPassword + "\n\nJane"}.bytes(t))
	h.start()
	h.waitFolder("Ignored", 1)
	ms := messagesWith(t, h.store, store.StatusIgnored)
	if len(ms) != 1 || !strings.Contains(ms[0].Note, "sent ahead") {
		t.Fatalf("password mail: %+v", ms)
	}
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "enc-ahead@dhs.gov", files: []attachment{{"report.xlsx", encryptedReport(t, workbookPassword)}}}.bytes(t))
	rs := h.replies(1)
	if ack := textBodies(t, rs[0].Data); !strings.Contains(ack, "accepted") {
		t.Fatalf("the workbook is not accepted with the password sent ahead:\n%s", ack)
	}
	h.waitFolder("Accepted", 1)
	passwordGone(t, h, &logs, ms[0].ID, 1, "the acknowledgement; the password mail is not answered")
}

// A password sent ahead and never used is purged when its window closes;
// a workbook after that waits for a password as usual. A short mail with
// no "Password:" label, and no workbook waiting, is not taken for one.
func TestPassword_sentAheadExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.PasswordWindow = time.Hour }})
	h.deliver(message{from: dhsSender, subject: "workbook password", messageID: "pw-late@dhs.gov", body: "Password: " + workbookPassword}.bytes(t))
	h.deliver(message{from: "deputy@dhs.gov", subject: "hello", messageID: "q-ahead@dhs.gov", body: "Is the deadline Friday?"}.bytes(t))
	h.deliver(message{from: "analyst@dhs.gov", subject: "hello", messageID: "q2-ahead@dhs.gov", body: "Password: do we need to send one?"}.bytes(t))
	h.start()
	h.waitFolder("Ignored", 1)
	waitFor(t, "both questions taken as questions", func() bool { return len(messagesWith(t, h.store, store.StatusQuestion)) == 2 })
	pw := messagesWith(t, h.store, store.StatusIgnored)[0]
	h.clock.Add(2 * time.Hour)
	waitFor(t, "the unused password purged", func() bool {
		m, err := h.store.Message(context.Background(), pw.ID)
		return err == nil && len(m.Raw) == 0
	})
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "enc-late@dhs.gov", files: []attachment{{"report.xlsx", encryptedReport(t, workbookPassword)}}}.bytes(t))
	rs := h.replies(3) // the questions', then the workbook's
	var waiting bool
	for _, r := range rs {
		waiting = waiting || strings.Contains(textBodies(t, r.Data), "waits for its password")
	}
	if !waiting {
		t.Error("the workbook after the window did not wait for its password")
	}
}
