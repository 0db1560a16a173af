package reply_test

import (
	"fmt"
	"strings"
	"testing"

	"intake/parser"
	"intake/reply"
)

// sameProblem is the finding a wrongly mapped column gives on every row.
func sameProblem(row int) parser.Finding {
	return parser.Finding{File: "positions.xlsx", Sheet: "Positions", Row: row, Col: 2, Column: "Current Designation",
		Code: "not-allowed", Severity: parser.SeverityError,
		Message: fmt.Sprintf("%q: The value is not one of the allowed values.", fmt.Sprintf("Genral %d", row)),
		Fix:     "Choose General or Career Reserved."}
}

// Issue 13: a notice with 2,000 identical problems listed each one. They
// are one line naming the rows.
func TestDeficiency_identicalProblemsGrouped(t *testing.T) {
	out := deficiencyOutcome(t)
	var fs []parser.Finding
	for r := 2; r <= 2001; r++ {
		if r == 500 {
			continue // a gap: two ranges
		}
		fs = append(fs, sameProblem(r))
	}
	out.Submission.Findings = fs
	m, err := newBuilder(t).Deficiency(out)
	if err != nil {
		t.Fatal(err)
	}
	text := parseMail(t, m.Raw).text(t, "text/plain")
	for _, want := range []string{
		"We found 1,999 problems", // the count is of problems, not lines
		"Rows 2–499, 501–2,001 (1,999 rows) (Current Designation): \"Genral 2\": The value is not one of the allowed values. (Shown for row 2; the other rows have the same problem with their own values.)",
		"How to fix: Choose General or Career Reserved.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("notice lacks %q", want)
		}
	}
	if strings.Contains(text, "Genral 3") || strings.Contains(text, "B3 ") {
		t.Error("the rows of the group are listed one by one")
	}
	if n := strings.Count(text, "\n"); n > 80 {
		t.Errorf("the notice has %d lines:\n%s", n, text)
	}
}

// Distinct problems past maxLines lines are counted, and the notice says
// where every one is: the Issues sheet of the attached copy, or, for a PII
// call that gets no copy, what to do instead.
func TestDeficiency_linesBounded(t *testing.T) {
	out := deficiencyOutcome(t)
	var fs []parser.Finding
	for i := range 1000 {
		// 1,000 problems of different kinds: 1,000 lines.
		fs = append(fs, parser.Finding{File: "positions.xlsx", Sheet: "Positions", Row: 2 + i, Col: 1 + i%20,
			Code: fmt.Sprintf("code-%d", i), Severity: parser.SeverityError, Message: "Bad."})
	}
	out.Submission.Findings = fs
	m, err := newBuilder(t).Deficiency(out)
	if err != nil {
		t.Fatal(err)
	}
	text := parseMail(t, m.Raw).text(t, "text/plain")
	if got := strings.Count(text, ": Bad."); got != 200 {
		t.Errorf("%d finding lines, want 200", got)
	}
	if !strings.Contains(text, "800 more problems, not listed here") || !strings.Contains(text, `on the "Issues" sheet of the attached workbook`) {
		t.Errorf("the notice does not say how many more and where:\n%s", clip([]byte(text)))
	}
	if len(m.Raw) > 256<<10 {
		t.Errorf("the notice is %d bytes", len(m.Raw))
	}

	out.Call.PII = true
	m, err = newBuilder(t).Deficiency(out)
	if err != nil {
		t.Fatal(err)
	}
	text = parseMail(t, m.Raw).text(t, "text/plain")
	if strings.Contains(text, "Issues") || !strings.Contains(text, "staff will send it") {
		t.Errorf("the PII notice does not say where the rest is:\n%s", clip([]byte(text)))
	}
}

// Issue 13: the acknowledgement of a version with 100,000 added rows was
// 9.5 MB. Counts come first; removed and changed rows are named up to 50;
// added rows only counted; the whole list is attached.
func TestAcknowledgement_changesBounded(t *testing.T) {
	out := ackOutcome()
	c := &parser.Changes{}
	for i := range 100_000 {
		c.Added = append(c.Added, parser.RowChange{Kind: "position-report", Key: fmt.Sprintf("HS-A%06d", i), Row: i + 2})
	}
	for i := range 4 {
		c.Removed = append(c.Removed, parser.RowChange{Kind: "position-report", Key: fmt.Sprintf("HS-R%d", i), Row: i + 2})
	}
	for i := range 60 {
		c.Changed = append(c.Changed, parser.RowChange{Kind: "position-report", Key: fmt.Sprintf("HS-C%03d", i), Row: i + 2, Fields: []string{"grade"}})
	}
	out.Changes = c
	out.ChangeList = []byte("PK\x03\x04 the list")
	m, err := newBuilder(t).Acknowledgement(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Raw) > 64<<10 {
		t.Errorf("the acknowledgement is %d bytes", len(m.Raw))
	}
	p := parseMail(t, m.Raw)
	text := p.text(t, "text/plain")
	added, removed, changed := strings.Index(text, "Rows added:      100,000"), strings.Index(text, "Rows removed:    4"), strings.Index(text, "Rows changed:    60")
	if added < 0 || removed < added || changed < removed {
		t.Errorf("counts missing or out of order:\n%s", text)
	}
	if i := strings.Index(text, "HS-R3 (row 5 of the previous version)"); i < changed {
		t.Error("the removed rows are not named after the counts")
	}
	if !strings.Contains(text, "HS-C049") || strings.Contains(text, "HS-C050") || !strings.Contains(text, "... and 10 more") {
		t.Error("changed rows are not named up to 50")
	}
	if strings.Contains(text, "HS-A") {
		t.Error("added rows are named")
	}
	if !strings.Contains(text, `listed in the attached "changes.xlsx"`) {
		t.Error("the text does not name the attached list")
	}
	var found bool
	for _, x := range p.Parts {
		found = found || (x.Filename == "changes.xlsx" && string(x.Body) == string(out.ChangeList))
	}
	if !found {
		t.Errorf("the list of changes is not attached: %s", p.Structure)
	}

	// Every change named: no list attached.
	out.Changes = &parser.Changes{Removed: c.Removed}
	m, err = newBuilder(t).Acknowledgement(out)
	if err != nil {
		t.Fatal(err)
	}
	if p := parseMail(t, m.Raw); strings.Contains(p.Structure, "application/") {
		t.Errorf("a list is attached though the mail names every change: %s", p.Structure)
	}
}

var _ = reply.KindAcknowledgement
