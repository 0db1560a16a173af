package intake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/parser"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

var receiptRE = regexp.MustCompile(`SES-2025-\d{6}`)

// The whole job for a valid submission: mail in, records stored, the mail
// filed, an acknowledgement out, threaded and marked auto-replied.
func TestEndToEnd_accepted(t *testing.T) {
	metrics := intake.NewMetrics(nil)
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.Metrics = metrics }})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	h.deliver(message{from: dhsSender, subject: "DHS SES designation review", messageID: "dhs-1@dhs.gov", dmarc: "pass",
		files: []attachment{{"DHS report.xlsx", wb}}}.bytes(t))
	h.start()

	r := h.replies(1)[0]
	if !slices.Equal(r.To, []string{dhsSender}) || r.From != botAddr {
		t.Fatalf("reply envelope from %s to %v", r.From, r.To)
	}
	m := parseReply(t, r)
	receipt := receiptRE.FindString(m.Subject)
	if receipt == "" || !strings.HasPrefix(m.Subject, "Re: DHS SES designation review") {
		t.Errorf("subject %q: want Re: and a receipt", m.Subject)
	}
	if m.InReplyTo != "dhs-1@dhs.gov" || !slices.Contains(m.References, "dhs-1@dhs.gov") {
		t.Errorf("not threaded: In-Reply-To %q References %v", m.InReplyTo, m.References)
	}
	if got := headerOf(r.Data, "Auto-Submitted"); got != "auto-replied" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	sum := sha256.Sum256(wb)
	for _, want := range []string{receipt, hex.EncodeToString(sum[:])} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("acknowledgement text lacks %q:\n%s", want, m.Text)
		}
	}

	h.waitFolder("Accepted", 1)
	h.waitFolder("INBOX", 0)
	ctx := context.Background()
	sub, err := h.store.SubmissionByReceipt(ctx, receipt)
	if err != nil {
		t.Fatal(err)
	}
	if sub.State != "current" || sub.Version != 1 || sub.Agency != "HS" || sub.Call != "ses-designation-review" {
		t.Errorf("submission %+v", sub.SubmissionSummary)
	}
	kinds := map[string]int{}
	for _, rec := range sub.Records {
		kinds[rec.Kind]++
	}
	if kinds["position-report"] != len(parsertest.GoodPositions()) || kinds["retention-request"] != 1 {
		t.Errorf("records by kind %v", kinds)
	}
	if len(sub.Files) != 1 || sub.Files[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("stored files %+v", sub.Files)
	}
	if len(sub.Findings) != 0 {
		for _, f := range sub.Findings {
			t.Errorf("unexpected finding %+v", f)
		}
	}
	// The streaming reader read it (no fallback), and the metric says so.
	if got := testutil.ToFloat64(metrics.WorkbookReader.WithLabelValues("stream")); got != 1 {
		t.Errorf("workbooks read by the streaming reader: %v, want 1", got)
	}
	// Provenance: each record names its sheet and row.
	for _, rec := range sub.Records {
		if rec.Sheet == "" || rec.Row < 2 {
			t.Errorf("record without provenance %+v", rec)
		}
	}
}

// A deficient submission: every problem is found and listed, by sheet,
// cell and column, in the reply and in the store; nothing is accepted.
func TestEndToEnd_deficient(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	pos := parsertest.GoodPositions()
	pos[0].Designation2021 = "Generl"             // row 2, F: not an allowed value
	pos[1].RedesignationDate = "31/13/2024"       // row 3, I: not a date
	pos[2].PositionNumber = ""                    // row 4, C: required
	pos[3].IncumbentType = "Noncareer"            // row 5, K: noncareer in a Career Reserved position (5 CFR 214.401)
	pos[4].PositionNumber = pos[0].PositionNumber // row 6, C: duplicate position number
	wb := parsertest.SESWorkbook(t, pos, nil)
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "dhs-2@dhs.gov", dmarc: "pass",
		files: []attachment{{"report.xlsx", wb}}}.bytes(t))
	h.start()

	want := []struct{ cell, code string }{
		{"F2", "not-allowed"},
		{"I3", "bad-date"},
		{"C4", "required"},
		{"K5", "career-reserved-incumbent"},
		{"C6", "duplicate"},
	}
	r := h.replies(1)[0]
	m := parseReply(t, r)
	receipt := receiptRE.FindString(m.Subject)
	h.waitFolder("Deficient", 1)
	sub, err := h.store.SubmissionByReceipt(context.Background(), receipt)
	if err != nil {
		t.Fatal(err)
	}
	if sub.State != "deficient" || sub.Version != 0 {
		t.Errorf("state %s version %d, want deficient 0", sub.State, sub.Version)
	}
	got := map[string]parser.Finding{}
	for _, f := range sub.Findings {
		if f.Sheet != parsertest.PositionSheet {
			t.Errorf("finding on sheet %q: %+v", f.Sheet, f)
		}
		got[f.Cell()+" "+f.Code] = f
	}
	for _, w := range want {
		f, ok := got[w.cell+" "+w.code]
		if !ok {
			t.Errorf("missing finding %s %s; got %v", w.cell, w.code, keys(got))
			continue
		}
		if f.Fix == "" || f.Column == "" {
			t.Errorf("finding %s lacks a fix or column: %+v", w.cell, f)
		}
		if !strings.Contains(m.Text, w.cell) {
			t.Errorf("deficiency notice does not list %s", w.cell)
		}
	}
	// Every finding is one of those listed: nothing missed, nothing extra.
	if len(got) != len(want) || len(sub.Findings) != len(want) {
		t.Errorf("findings %v, want exactly %v", keys(got), want)
	}
	// The agency's own workbook comes back annotated.
	if len(m.Attachments) != 1 || !strings.HasSuffix(m.Attachments[0].Name, ".xlsx") {
		t.Errorf("attachments %v", attachmentNames(m))
	}
	// Nothing of a deficient submission counts as current.
	cur, err := h.store.Current(context.Background(), "ses-designation-review", "HS", "")
	if err != nil || cur != nil {
		t.Errorf("Current = %+v, %v; want none", cur, err)
	}
}

func hasCell(fs []parser.Finding, cell string) bool {
	for _, f := range fs {
		if f.Cell() == cell {
			return true
		}
	}
	return false
}

func keys(m map[string]parser.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func attachmentNames(m *email.Message) []string {
	var out []string
	for _, a := range m.Attachments {
		out = append(out, a.Name)
	}
	return out
}

func headerOf(raw []byte, name string) string {
	head := string(raw)
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i]
	}
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// On time or late is judged by when the mail server received the mail,
// not by when the daemon processed it (after an outage, say).
func TestLateness_judgedByServerReceipt(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.clock.Add(12 * 24 * time.Hour) // 26 March 2025: the deadline (24 March, 23:59 Eastern) has passed
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	onTime := goodSubmission(t, "ontime@dhs.gov")
	if _, err := h.imap.DeliverAt("INBOX", onTime, time.Date(2025, 3, 24, 23, 30, 0, 0, ny)); err != nil {
		t.Fatal(err)
	}
	late := message{from: "hr.director@treasury.gov", subject: "TR", messageID: "late@treasury.gov",
		files: []attachment{{"tr.xlsx", parsertest.SESWorkbook(t, trPositions(), nil)}}}.bytes(t)
	if _, err := h.imap.DeliverAt("INBOX", late, time.Date(2025, 3, 25, 0, 30, 0, 0, ny)); err != nil {
		t.Fatal(err)
	}
	h.start()
	rs := h.replies(2)
	byTo := map[string]string{}
	for _, r := range rs {
		byTo[r.To[0]] = parseReply(t, r).Text
	}
	if txt := byTo[dhsSender]; !strings.Contains(txt, "On time") {
		t.Errorf("DHS mail received 23:30 on the due day is not on time:\n%s", txt)
	}
	if txt := byTo["hr.director@treasury.gov"]; !strings.Contains(strings.ToLower(txt), "late") {
		t.Errorf("Treasury mail received after midnight is not flagged late:\n%s", txt)
	}
	subs, err := h.store.Submissions(context.Background(), store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.Late != (s.Agency == "TR") {
			t.Errorf("%s: late = %v", s.Agency, s.Late)
		}
	}
}

// An agency's mail with no spreadsheet is answered with one clear problem
// and what to send instead; nothing else.
func TestNoSpreadsheetAnswered(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.deliver(message{from: dhsSender, subject: "Our SES report", messageID: "empty@dhs.gov", body: "Please see attached."}.bytes(t))
	h.start()
	m := parseReply(t, h.replies(1)[0])
	if !strings.Contains(m.Text, "No spreadsheet was attached") || !strings.Contains(m.Text, "template") {
		t.Errorf("notice does not say what to send:\n%s", m.Text)
	}
	subs, err := h.store.Submissions(context.Background(), store.ListFilter{})
	if err != nil || len(subs) != 1 {
		t.Fatal(subs, err)
	}
	if subs[0].Errors != 1 || subs[0].State != "deficient" {
		t.Errorf("%d errors, state %s; want exactly the one problem", subs[0].Errors, subs[0].State)
	}
}
