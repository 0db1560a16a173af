package parser_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
)

func weeklyWorkbook(tb testing.TB, rows [][]string) []byte {
	tb.Helper()
	f := excelize.NewFile()
	parsertest.WriteSheet(tb, f, "Sheet1", []string{"Agency Code", "Week Ending", "Resigned", "Retired"}, rows)
	return parsertest.Bytes(tb, f)
}

func TestRoute(t *testing.T) {
	r := mustRegistry(t)
	sesBook := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	weekly := weeklyWorkbook(t, [][]string{{"HS", "2025-03-09", "3", "1"}})
	signed := func() []byte {
		f := excelize.NewFile()
		f.SetCellStr("Sheet1", "A1", "nothing recognisable")
		if err := f.SetDefinedName(&excelize.DefinedName{Name: parser.SignatureName, RefersTo: `"deferred-resignation-weekly/weekly-count"`}); err != nil {
			t.Fatal(err)
		}
		return parsertest.Bytes(t, f)
	}()
	for _, tc := range []struct {
		name      string
		in        parser.RouteInput
		call, why string
	}{
		{"recipient", parser.RouteInput{Recipients: []string{"Allocation Management <Allocation-Management@OPM.gov>"}}, "ses-designation-review", "recipient"},
		{"workbook headers", parser.RouteInput{Recipients: []string{"intake@example.gov"}, Files: []parser.Input{{Name: "w.xlsx", Data: weekly}}}, "deferred-resignation-weekly", "workbook"},
		{"workbook signature", parser.RouteInput{Files: []parser.Input{{Name: "s.xlsx", Data: signed}}}, "deferred-resignation-weekly", "workbook"},
		{"subject", parser.RouteInput{Subject: "RE: Deferred Resignation weekly numbers", Files: []parser.Input{{Name: "x.pdf", Data: []byte("%PDF")}}}, "deferred-resignation-weekly", "subject"},
		{"subject keyword longest", parser.RouteInput{Subject: "Employees below fully successful - performance data call"}, "performance-below-fully-successful", "subject"},
		{"ses workbook", parser.RouteInput{Files: []parser.Input{{Name: "s.xlsx", Data: sesBook}}}, "ses-designation-review", "workbook"},
		{"nothing", parser.RouteInput{Subject: "lunch?"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, why := r.Route(tc.in)
			got := ""
			if d != nil {
				got = d.ID
			}
			if got != tc.call || why != tc.why {
				t.Fatalf("Route = %q, %q; want %q, %q", got, why, tc.call, tc.why)
			}
		})
	}
}

// Two calls sharing one mailbox: the workbook, then the subject, decides.
func TestRoute_sharedAddress(t *testing.T) {
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	// Another call lists the SES address too.
	weeklyYAML := strings.Replace(minimalCall, "id: x-call", "id: shared-call", 1)
	weeklyYAML = strings.Replace(weeklyYAML, "kinds:", "routing: {addresses: [allocation-management@opm.gov], subject_keywords: [widgets]}\nkinds:", 1)
	extra, err := parser.ParseDefinition("shared.yaml", []byte(weeklyYAML))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parser.NewRegistry(append(defs, extra)...)
	if err != nil {
		t.Fatal(err)
	}
	rcpt := []string{"allocation-management@opm.gov"}
	sesBook := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	if d, why := r.Route(parser.RouteInput{Recipients: rcpt, Files: []parser.Input{{Name: "a.xlsx", Data: sesBook}}}); d == nil || d.ID != "ses-designation-review" || why != "workbook" {
		t.Errorf("workbook among shared: %v %q", d, why)
	}
	if d, why := r.Route(parser.RouteInput{Recipients: rcpt, Subject: "Widgets report"}); d == nil || d.ID != "shared-call" || why != "subject" {
		t.Errorf("subject among shared: %v %q", d, why)
	}
	if d, why := r.Route(parser.RouteInput{Recipients: rcpt}); d == nil || why != "recipient" {
		t.Errorf("undecided shared address: %v %q", d, why)
	}
}

func TestCheck_headerDetection(t *testing.T) {
	def := ses(t)
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "Instructions")
	f.SetCellStr("Instructions", "A1", "Fill in the report sheet.")
	f.NewSheet("Data")
	// Title rows above the header; headers in other case, with line breaks
	// and aliases, in another order; an unknown extra column.
	f.SetCellStr("Data", "A1", "Department of Homeland Security: SES positions")
	f.SetCellStr("Data", "A2", "Prepared 2025-03-10")
	headers := []string{"POSITION\nNUMBER", "agency", "Title", "Designation on January 19, 2021", "Noncareer majority (Y/N)",
		"current  designation", "Date of Redesignation", "reversion status", "Type of Appointment", "Extra stuff"}
	for i, h := range headers {
		cell, _ := excelize.CoordinatesToCellName(i+1, 4)
		f.SetCellStr("Data", cell, h)
	}
	vals := []string{"HS-1", "hs", "Chief", "general", "no", "GENERAL", "", "n/a", "career", "whatever"}
	for i, v := range vals {
		cell, _ := excelize.CoordinatesToCellName(i+1, 5)
		f.SetCellStr("Data", cell, v)
	}
	sub := check(t, def, parsertest.Bytes(t, f), parser.Context{})
	if len(sub.Findings) != 0 {
		t.Fatalf("findings %v", codes(sub.Findings))
	}
	if len(sub.Records) != 1 || sub.Records[0].Row != 5 || sub.Records[0].Fields["agency_code"] != "HS" || sub.Records[0].Fields["reversion_status"] != "Not applicable" {
		t.Fatalf("records %+v", sub.Records)
	}
	sh := sub.Files[0].Sheets
	if len(sh) != 2 || sh[0].Kind != "" || sh[1].Kind != "position-report" {
		t.Errorf("sheets %+v", sh)
	}

	// A required column missing: one finding naming it.
	g := excelize.NewFile()
	parsertest.WriteSheet(t, g, "Sheet1", parsertest.PositionHeaders[:10], [][]string{{"HS", "", "HS-1", "Chief", "", "General", "N", "General", "", "Not applicable"}})
	sub = check(t, def, parsertest.Bytes(t, g), parser.Context{})
	if len(sub.Findings) != 1 || sub.Findings[0].Code != "missing-column" || sub.Findings[0].Column != "Incumbent Appointment Type" || !strings.Contains(sub.Findings[0].Fix, "Incumbent Appointment Type") {
		t.Errorf("missing column: %+v", sub.Findings)
	}

	// No sheet of the call at all.
	h := excelize.NewFile()
	h.SetCellStr("Sheet1", "A1", "Hello")
	sub = check(t, def, parsertest.Bytes(t, h), parser.Context{})
	if !hasCode(sub.Findings, "no-data-sheet", "") || !strings.Contains(sub.Findings[0].Fix, `"Position Number"`) {
		t.Errorf("no data sheet: %+v", sub.Findings)
	}
}

func TestDiff(t *testing.T) {
	def := ses(t)
	old := check(t, def, parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil), parser.Context{}).Records
	p := parsertest.GoodPositions()
	p = append(p[:2], p[3:]...)                                                     // HS-0003 removed
	p[0].Notes = "changed"                                                          // HS-0001 changed
	p = append(p, parsertest.Position{AgencyCode: "HS", PositionNumber: "HS-0009"}) // added
	new := check(t, def, parsertest.SESWorkbook(t, p, nil), parser.Context{}).Records
	c := parser.Diff(def, old, new)
	if len(c.Added) != 1 || c.Added[0].Key != "HS-0009" || c.Added[0].Row != 6 {
		t.Errorf("added %+v", c.Added)
	}
	if len(c.Removed) != 1 || c.Removed[0].Key != "HS-0003" || c.Removed[0].Row != 4 {
		t.Errorf("removed %+v", c.Removed)
	}
	if len(c.Changed) != 1 || c.Changed[0].Key != "HS-0001" || strings.Join(c.Changed[0].Fields, ",") != "notes" {
		t.Errorf("changed %+v", c.Changed)
	}
	if parser.Diff(def, old, old).Empty() != true {
		t.Error("diff of a version with itself is not empty")
	}

	perf := mustRegistry(t).Get("performance-below-fully-successful")
	a := []parser.Record{{Kind: "employee-rating", Row: 2, Fields: map[string]string{"agency_code": "HS", "employee_name": "Jane Secret", "rating_year": "2024", "grade": "12"}}}
	b := []parser.Record{{Kind: "employee-rating", Row: 7, Fields: map[string]string{"agency_code": "HS", "employee_name": "Jane Secret", "rating_year": "2024", "grade": "13"}}}
	pc := parser.Diff(perf, a, b)
	if len(pc.Changed) != 1 || pc.Changed[0].Key != "" || pc.Changed[0].Row != 7 {
		t.Errorf("PII diff %+v", pc)
	}
}

func TestDeadlines(t *testing.T) {
	r := mustRegistry(t)
	ny, _ := time.LoadLocation("America/New_York")
	sesDef := r.Get("ses-designation-review")
	due, period, ok := sesDef.Due(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	if !ok || period != "" || !due.Equal(time.Date(2025, 3, 24, 23, 59, 59, 999999999, ny)) {
		t.Errorf("SES due %v %q %v", due, period, ok)
	}
	if sesDef.Late(time.Date(2025, 3, 25, 3, 0, 0, 0, time.UTC), "") { // 23:00 on the 24th in New York
		t.Error("on-time SES submission late")
	}
	if !sesDef.Late(time.Date(2025, 3, 25, 5, 0, 0, 0, time.UTC), "") {
		t.Error("late SES submission on time")
	}
	w := r.Get("deferred-resignation-weekly")
	due, period, ok = w.Due(time.Date(2025, 3, 12, 15, 0, 0, 0, ny)) // a Wednesday
	if !ok || period != "2025-W11" || !due.Equal(time.Date(2025, 3, 17, 23, 59, 59, 999999999, ny)) {
		t.Errorf("weekly due %v %q %v", due, period, ok)
	}
	if _, _, ok := w.Due(time.Date(2025, 10, 1, 0, 0, 0, 0, ny)); ok {
		t.Error("a due date after the series ended")
	}
	if !w.Late(time.Date(2025, 3, 12, 15, 0, 0, 0, ny), "2025-W10") || w.Late(time.Date(2025, 3, 10, 20, 0, 0, 0, ny), "2025-W10") {
		t.Error("weekly lateness by period wrong")
	}
	up := w.Upcoming(time.Date(2025, 3, 1, 0, 0, 0, 0, ny), time.Date(2025, 3, 31, 0, 0, 0, 0, ny))
	if len(up) != 4 || up[0].Day() != 3 || up[3].Day() != 24 {
		t.Errorf("upcoming %v", up)
	}
	if n := len(w.Upcoming(time.Date(2025, 1, 1, 0, 0, 0, 0, ny), time.Date(2026, 1, 1, 0, 0, 0, 0, ny))); n != 31 {
		t.Errorf("weekly series has %d due dates, want 31", n)
	}

	// Period of a weekly submission: the ISO week of the week-ending date.
	sub := check(t, w, weeklyWorkbook(t, [][]string{{"HS", "2025-03-09", "3", "1"}}), parser.Context{})
	if sub.Period != "2025-W10" || sub.Deficient() {
		t.Errorf("period %q findings %v", sub.Period, codes(sub.Findings))
	}
	sub = check(t, w, weeklyWorkbook(t, [][]string{{"HS", "2025-03-09", "3", "1"}, {"HS", "2025-03-16", "-1", "x"}}), parser.Context{})
	if !hasCode(sub.Findings, "out-of-range", "C3") || !hasCode(sub.Findings, "not-integer", "D3") || !hasCode(sub.Findings, "several-periods", "") {
		t.Errorf("weekly findings %v", codes(sub.Findings))
	}
}

// A workbook of another call sent to the SES review's address goes to the
// call it answers: calls may share one mailbox.
func TestRoute_workbookBeatsAnotherCallsAddress(t *testing.T) {
	reg, err := parser.BuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	perf := reg.Get("performance-below-fully-successful")
	f := excelize.NewFile()
	for c, col := range perf.Kinds[0].Columns {
		cell, _ := excelize.CoordinatesToCellName(c+1, 1)
		f.SetCellStr("Sheet1", cell, col.Header)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	d, why := reg.Route(parser.RouteInput{Recipients: []string{"allocation-management@opm.gov"}, Files: []parser.Input{{Name: "p.xlsx", Data: buf.Bytes()}}})
	if d == nil || d.ID != perf.ID || why != "workbook" {
		t.Fatalf("routed to %v (%s), want %s by workbook", d, why, perf.ID)
	}
	d, why = reg.Route(parser.RouteInput{Recipients: []string{"allocation-management@opm.gov"}, Subject: "question"})
	if d == nil || d.ID != "ses-designation-review" || why != "recipient" {
		t.Fatalf("mail without a workbook routed to %v (%s), want the address's call", d, why)
	}
}
