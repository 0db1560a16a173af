package intake_test

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"

	gomessage "github.com/emersion/go-message"

	"intake/intake"
	"intake/intake/demo"
	"intake/internal/testenv"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer = testenv.SyncBuffer

// The performance data call holds PII: a deficient submission's cell
// values appear neither in the daemon's log nor in the reply's text and
// HTML bodies; its findings name rows and columns only.
func TestPII_neverInLogsOrReplyBodies(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Logger = slogTo(&logs)
	}})
	def := h.opts.Calls.Get("performance-below-fully-successful")
	secrets := []string{"Quentin Zephyrine-Oddly", "Xylophone Calibration Analyst", "98765", "Zanzibar Annex"}
	rows := []map[string]string{
		{"employee_name": "Ada Pemberton-Quill", "position_title": "Program Analyst", "pay_plan": "GS", "series": "0343", "grade": "12",
			"agency_code": "HS", "component": "HS01", "duty_station": "Washington, DC", "rating_year": "2024",
			"rating_level": "Level 2 (Minimally Successful)", "pip_status": "In progress", "action": "None", "appeal": "None"},
		// Deficient: a five-digit series and an action without its outcome.
		{"employee_name": secrets[0], "position_title": secrets[1], "pay_plan": "GS", "series": secrets[2], "grade": "9",
			"agency_code": "HS", "component": "HS02", "duty_station": secrets[3], "rating_year": "2023",
			"rating_level": "Level 1 (Unacceptable)", "pip_status": "Completed unsuccessfully", "action": "Chapter 43", "appeal": "MSPB"},
	}
	wb, err := demo.Workbook(def, map[string][]map[string]string{def.Kinds[0].ID: rows})
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(message{from: dhsSender, subject: "Performance data call: below fully successful", messageID: "pii@dhs.gov",
		files: []attachment{{"performance.xlsx", wb}}}.bytes(t))
	h.start()
	r := h.replies(1)[0]
	h.waitFolder("Deficient", 1)

	bodies := textBodies(t, r.Data)
	if !strings.Contains(bodies, "NOT accepted") {
		t.Fatalf("not a deficiency notice:\n%s", bodies)
	}
	if !strings.Contains(bodies, "row 3") && !strings.Contains(bodies, "D3") {
		t.Errorf("the notice does not point at row 3:\n%s", bodies)
	}
	for _, s := range append(secrets, "Ada Pemberton-Quill", "Program Analyst") {
		if strings.Contains(bodies, s) {
			t.Errorf("reply body contains the cell value %q", s)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("log contains the cell value %q", s)
		}
	}
	m := parseReply(t, r)
	if !regexp.MustCompile(`\[PERF-2025-\d{6}\]`).MatchString(m.Subject) {
		t.Errorf("subject %q has no receipt", m.Subject)
	}
	// The agency's workbook holds the values: it is not sent back.
	if len(m.Attachments) != 0 {
		t.Errorf("PII notice attaches %v", attachmentNames(m))
	}
	if !strings.Contains(bodies, "not sent back") {
		t.Errorf("the notice does not say why no workbook is attached:\n%s", bodies)
	}
}

// textBodies returns every text/* part of a message, decoded.
func textBodies(t *testing.T, raw []byte) string {
	t.Helper()
	ent, err := gomessage.Read(bytes.NewReader(raw))
	if err != nil && !gomessage.IsUnknownCharset(err) {
		t.Fatal(err)
	}
	var out strings.Builder
	var walk func(e *gomessage.Entity)
	walk = func(e *gomessage.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil && !gomessage.IsUnknownCharset(err) {
					t.Fatal(err)
				}
				walk(p)
			}
		}
		if ct, _, _ := e.Header.ContentType(); strings.HasPrefix(ct, "text/") {
			b, err := io.ReadAll(e.Body)
			if err != nil {
				t.Fatal(err)
			}
			out.Write(b)
			out.WriteString("\n")
		}
	}
	walk(ent)
	return out.String()
}
