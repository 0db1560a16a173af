package reply_test

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"

	"intake/parser"
	"intake/parser/parsertest"
	"intake/reply"
)

func ackOutcome() reply.Outcome {
	def := testDef()
	return reply.Outcome{
		Call:       def,
		ReplyID:    "ack.TST-2025-000042@intake.opm.gov",
		Receipt:    "TST-2025-000042",
		Version:    2,
		Agency:     "HS",
		AgencyName: "Department of Homeland Security",
		Original:   original(),
		Submission: parser.Submission{
			Call: def.ID,
			Files: []parser.FileResult{{
				Name: "DHS positions.xlsx", Size: 18234,
				SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				Sheets: []parser.SheetResult{{Name: "Positions", Kind: "position-report", Rows: 12}, {Name: "Retention", Kind: "retention-request", Rows: 2}, {Name: "Notes"}},
			}},
			Records: append(records("position-report", 12), records("retention-request", 2)...),
			Findings: []parser.Finding{{
				File: "DHS positions.xlsx", Sheet: "Positions", Row: 9, Col: 4, Column: "Redesignation Date",
				Code: "future-date", Severity: parser.SeverityWarning,
				Message: "The redesignation date is after the date of the memo.", Fix: "Check the date.",
			}},
		},
		Due: dueTime,
		Changes: &parser.Changes{
			Added:   []parser.RowChange{{Kind: "position-report", Key: "HS-0012", Row: 13}},
			Removed: []parser.RowChange{{Kind: "position-report", Key: "HS-0099", Row: 7}},
			Changed: []parser.RowChange{{Kind: "position-report", Key: "HS-0002", Row: 3, Fields: []string{"designation", "redesignated"}}},
		},
		Now: now,
	}
}

func records(kind string, n int) []parser.Record {
	var rs []parser.Record
	for i := range n {
		rs = append(rs, parser.Record{Kind: kind, Row: i + 2})
	}
	return rs
}

// annotatedBytes stand for an annotated copy (made by package workbook).
var annotatedBytes = []byte("PK\x03\x04 an annotated copy")

func deficiencyOutcome(t testing.TB) reply.Outcome {
	def := testDef()
	wb := agencyWorkbook(t)
	return reply.Outcome{
		Call:       def,
		ReplyID:    "def.TST-2025-000043@intake.opm.gov",
		Receipt:    "TST-2025-000043",
		Agency:     "HS",
		AgencyName: "Department of Homeland Security",
		Original:   original(),
		Submission: parser.Submission{
			Call: def.ID,
			Files: []parser.FileResult{
				{Name: "positions.xlsx", Size: int64(len(wb)), SHA256: "00"},
				{Name: "old.xls", Size: 1024, SHA256: "11"},
			},
			Findings: parsertest.DeficiencyFindings(),
		},
		// reply never opens what it attaches: any bytes will do.
		Annotated: []reply.Annotated{{File: "positions.xlsx", Data: annotatedBytes}},
		Due:       dueTime,
		Now:       now,
	}
}

func TestAcknowledgement_golden(t *testing.T) {
	b := newBuilder(t)
	m, err := b.Acknowledgement(ackOutcome())
	if err != nil {
		t.Fatal(err)
	}
	again, err := newBuilder(t).Acknowledgement(ackOutcome())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Raw, again.Raw) {
		t.Fatal("two builds of the same acknowledgement differ")
	}
	if m.Kind != reply.KindAcknowledgement || m.MessageID != "ack.TST-2025-000042@intake.opm.gov" ||
		m.From != "allocation-management@opm.gov" || len(m.To) != 1 || m.To[0] != "hc-reports@hq.dhs.gov" {
		t.Errorf("mail fields: %+v", *m)
	}
	p := parseMail(t, m.Raw)
	if p.Structure != "multipart/alternative(text/plain,text/html)" {
		t.Errorf("structure %s", p.Structure)
	}
	text, html := p.text(t, "text/plain"), p.text(t, "text/html")
	for _, want := range []string{
		"ACCEPTED", "TST-2025-000042", "Test Position Data Call", "Version:         2 (replaces version 1)",
		"12 Position report rows, 2 Retention request rows", "On time (due Monday, 24 March 2025)",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "18,234 bytes",
		"Rows added:      1", "Rows removed:    1", "Rows changed:    1", "HS-0099 (row 7 of the previous version)",
		"HS-0002 (row 3): Current Designation, Redesignation Date",
		"Warnings (1)", "D9 (Redesignation Date): The redesignation date is after the date of the memo.",
		"allocation-management@opm.gov",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	// Added rows are counted, never named.
	if strings.Contains(text, "HS-0012") || strings.Contains(html, "HS-0012") {
		t.Error("an added row is named")
	}
	for _, want := range []string{"ACCEPTED", "TST-2025-000042", "HS-0099 (row 7 of the previous version)", "Check the date.", "mailto:allocation-management@opm.gov"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	golden(t, "acknowledgement.txt.golden", []byte(text))
	golden(t, "acknowledgement.html.golden", []byte(html))
	golden(t, "acknowledgement.eml.golden", m.Raw)
}

func TestAcknowledgement_headers(t *testing.T) {
	m, err := newBuilder(t).Acknowledgement(ackOutcome())
	if err != nil {
		t.Fatal(err)
	}
	h := parseMail(t, m.Raw).Header
	for k, want := range map[string]string{
		"Message-Id":               "<ack.TST-2025-000042@intake.opm.gov>",
		"In-Reply-To":              "<CAF1234.5678@mail.dhs.gov>",
		"References":               "<first.1@opm.gov> <second.2@mail.dhs.gov> <CAF1234.5678@mail.dhs.gov>",
		"Auto-Submitted":           "auto-replied",
		"X-Auto-Response-Suppress": "All",
		"X-Loop":                   "allocation-management@opm.gov",
		"Subject":                  "Re: SES designation review - DHS response [TST-2025-000042]",
		"Date":                     "Mon, 10 Mar 2025 14:30:00 +0000",
		"Organization":             "U.S. Office of Personnel Management",
	} {
		got, err := h.Text(k)
		if err != nil {
			t.Fatal(err)
		}
		got = strings.Join(strings.Fields(got), " ")
		if got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if to := h.Get("To"); !strings.Contains(to, "<hc-reports@hq.dhs.gov>") || !strings.Contains(to, "DHS Human Capital") {
		t.Errorf("To = %q", to)
	}
	if h.Has("X-Mailer") || h.Has("User-Agent") {
		t.Error("a user agent header is set")
	}
}

func TestAcknowledgement_late(t *testing.T) {
	out := ackOutcome()
	out.Late = true
	out.Changes = nil
	out.Version = 1
	m, err := newBuilder(t).Acknowledgement(out)
	if err != nil {
		t.Fatal(err)
	}
	text := parseMail(t, m.Raw).text(t, "text/plain")
	if !strings.Contains(text, "LATE - received after the due date, Monday, 24 March 2025") {
		t.Errorf("late acknowledgement does not say so:\n%s", text)
	}
	if strings.Contains(text, "Changes since") || strings.Contains(text, "replaces version") {
		t.Errorf("first version mentions changes:\n%s", text)
	}
}

// For a PII call a changed row is named by its row number, never by a key.
func TestAcknowledgement_piiChanges(t *testing.T) {
	out := ackOutcome()
	out.Call.PII = true
	out.Changes = &parser.Changes{Changed: []parser.RowChange{{Kind: "position-report", Row: 5, Fields: []string{"grade"}}}}
	m, err := newBuilder(t).Acknowledgement(out)
	if err != nil {
		t.Fatal(err)
	}
	text := parseMail(t, m.Raw).text(t, "text/plain")
	if !strings.Contains(text, "Position report: row 5: Grade") {
		t.Errorf("PII change not named by row:\n%s", text)
	}
}

func TestDeficiency_golden(t *testing.T) {
	m, err := newBuilder(t).Deficiency(deficiencyOutcome(t))
	if err != nil {
		t.Fatal(err)
	}
	again, err := newBuilder(t).Deficiency(deficiencyOutcome(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Raw, again.Raw) {
		t.Fatal("two builds of the same deficiency notice differ")
	}
	if m.Kind != reply.KindDeficiency {
		t.Errorf("kind %q", m.Kind)
	}
	p := parseMail(t, m.Raw)
	want := "multipart/mixed(multipart/alternative(text/plain,text/html)," + "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)"
	if p.Structure != want {
		t.Errorf("structure %s, want %s", p.Structure, want)
	}
	att := p.Parts[len(p.Parts)-1]
	if att.Filename != "positions - issues.xlsx" {
		t.Errorf("attachment name %q", att.Filename)
	}
	if !bytes.Equal(att.Body, annotatedBytes) {
		t.Errorf("the attachment is not the annotated copy given")
	}

	text, html := p.text(t, "text/plain"), p.text(t, "text/html")
	for _, want := range []string{
		"NOT accepted", "TST-2025-000043", "6 problems", "1 warning",
		"old.xls: The file is an old binary Excel 97-2003 workbook (.xls).",
		"What to send instead",
		"Sheet: Positions", "B3 (Current Designation): The value is not one of the allowed values.",
		"How to fix: Choose General or Career Reserved.",
		"Warning - Row 4: This row repeats row 2.",
		"Sheet: Retention", "Whole sheet: The workbook has no retention request sheet.",
		"Authority: OPM memo of 5 February 2025",
		`"positions - issues.xlsx"`, "reply to this message with the corrected workbook",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	// File-level findings come first, and in a sheet, findings go by row then column.
	if i, j := strings.Index(text, "old.xls:"), strings.Index(text, "B3 ("); i < 0 || j < 0 || i > j {
		t.Error("file-level finding is not listed first")
	}
	if i, j, k := strings.Index(text, "Row 4:"), strings.Index(text, "C4 ("), strings.Index(text, "E4 ("); !(i < j && j < k) {
		t.Error("findings of row 4 are not in column order")
	}
	for _, want := range []string{"NOT accepted", "B3", "Choose General or Career Reserved.", "old.xls"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	golden(t, "deficiency.txt.golden", []byte(text))
	golden(t, "deficiency.html.golden", []byte(html))
	golden(t, "deficiency.eml.golden", m.Raw)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// A mail with no spreadsheet at all gets a notice without a receipt.
func TestDeficiency_noSpreadsheet(t *testing.T) {
	out := reply.Outcome{
		Call:     testDef(),
		ReplyID:  "nosheet.1@intake.opm.gov",
		Original: reply.Original{MessageID: "x@y", From: "someone@agency.gov"},
		Submission: parser.Submission{Findings: []parser.Finding{{
			Code: "no-spreadsheet", Severity: parser.SeverityError,
			Message: "The message has no spreadsheet attached.", Fix: "Attach the completed workbook (.xlsx).",
		}}},
		Now: now,
	}
	m, err := newBuilder(t).Deficiency(out)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m.Raw)
	text := p.text(t, "text/plain")
	if !strings.Contains(text, "no receipt number was issued") || strings.Contains(text, "Receipt number:") {
		t.Errorf("no-spreadsheet notice:\n%s", text)
	}
	if !strings.Contains(text, "Your message: The message has no spreadsheet attached.") {
		t.Errorf("finding missing:\n%s", text)
	}
	if subj, _ := p.Header.Text("Subject"); subj != "Re: Test Position Data Call" {
		t.Errorf("subject %q", subj)
	}
	if p.Structure != "multipart/alternative(text/plain,text/html)" {
		t.Errorf("structure %s", p.Structure)
	}
}

// A PII call's notice carries no cell value: only what the findings say.
func TestDeficiency_piiNoValues(t *testing.T) {
	out := deficiencyOutcome(t)
	out.Call.PII = true
	m, err := newBuilder(t).Deficiency(out)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m.Raw)
	for _, body := range []string{p.text(t, "text/plain"), p.text(t, "text/html")} {
		for _, value := range []string{"HS-0001", "HS-0002", "Career Reservd", "maybe"} {
			if strings.Contains(body, value) {
				t.Errorf("notice shows the cell value %q", value)
			}
		}
		if !strings.Contains(body, "not sent back") {
			t.Errorf("notice does not say why the workbook is not attached:\n%s", body)
		}
	}
	// The workbook holds the values: it does not go back by email.
	if strings.Contains(p.Structure, "application/") {
		t.Errorf("PII notice carries an attachment: %s", p.Structure)
	}
	plain, err := newBuilder(t).Deficiency(deficiencyOutcome(t))
	if err != nil {
		t.Fatal(err)
	}
	if s := parseMail(t, plain.Raw).Structure; !strings.Contains(s, "application/") {
		t.Errorf("the same notice for a call without PII lacks the annotated workbook: %s", s)
	}
}

func TestReplySubject(t *testing.T) {
	for _, c := range []struct{ subject, receipt, want string }{
		{"SES review", "R-1", "Re: SES review [R-1]"},
		{"Re: SES review", "R-1", "Re: SES review [R-1]"},
		{"RE: Re:  re[2]: SES   review", "R-1", "Re: SES review [R-1]"},
		{"Re: SES review [R-1]", "R-1", "Re: SES review [R-1]"},
		{"", "R-1", "Re: Test Position Data Call [R-1]"},
		{"   ", "", "Re: Test Position Data Call"},
	} {
		out := ackOutcome()
		out.Original.Subject, out.Receipt = c.subject, c.receipt
		m, err := newBuilder(t).Acknowledgement(out)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != c.want {
			t.Errorf("subject of %q = %q, want %q", c.subject, m.Subject, c.want)
		}
	}
}

func TestReminder(t *testing.T) {
	m, err := newBuilder(t).Reminder(reply.ReminderInput{
		Call: testDef(), ReplyID: "rem.1@intake.opm.gov", Agency: "HS", AgencyName: "Department of Homeland Security",
		To: []string{"hc-reports@hq.dhs.gov", "chco@dhs.gov"}, Due: dueTime, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m.Raw)
	// Every contact of the agency is on the one reminder.
	if !slices.Equal(m.To, []string{"hc-reports@hq.dhs.gov", "chco@dhs.gov"}) || !strings.Contains(p.Header.Get("To"), "chco@dhs.gov") {
		t.Errorf("reminder to %v, header To %q", m.To, p.Header.Get("To"))
	}
	if m.Kind != reply.KindReminder || p.Header.Get("Auto-Submitted") != "auto-generated" || p.Header.Has("In-Reply-To") {
		t.Errorf("reminder headers: kind %q, %v", m.Kind, p.Header)
	}
	text := p.text(t, "text/plain")
	if !strings.Contains(text, "no accepted submission from Department of Homeland Security (HS)") || !strings.Contains(text, "allocation-management@opm.gov") {
		t.Errorf("reminder text:\n%s", text)
	}
	if m.Subject != "Reminder: Test Position Data Call (due 24 March 2025)" {
		t.Errorf("subject %q", m.Subject)
	}
}

func TestNewBuilder_badOptions(t *testing.T) {
	for _, o := range []reply.Options{{}, {From: "not an address"}, {From: "Name <a@b.gov>"}} {
		if _, err := reply.NewBuilder(o); err == nil || !strings.HasPrefix(err.Error(), "reply: ") {
			t.Errorf("NewBuilder(%+v) = %v, want a reply: error", o, err)
		}
	}
}

func TestBuild_missingFields(t *testing.T) {
	b := newBuilder(t)
	out := ackOutcome()
	out.ReplyID = ""
	if _, err := b.Acknowledgement(out); err == nil {
		t.Error("no error without a ReplyID")
	}
	out = ackOutcome()
	out.Original.From = ""
	if _, err := b.Acknowledgement(out); err == nil {
		t.Error("no error without a recipient")
	}
}

// One Builder serves the outbox and the pipeline at once: concurrent
// builds give the same bytes as a lone one (run with -race).
func TestBuilder_concurrent(t *testing.T) {
	b := newBuilder(t)
	want, err := b.Deficiency(deficiencyOutcome(t))
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]reply.Outcome, 8)
	for i := range outs {
		outs[i] = deficiencyOutcome(t)
	}
	got := make([][]byte, len(outs))
	errs := make([]error, len(outs))
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			m, err := b.Deficiency(outs[i])
			if err == nil {
				got[i] = m.Raw
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i], want.Raw) {
			t.Errorf("concurrent build %d differs", i)
		}
	}
}
