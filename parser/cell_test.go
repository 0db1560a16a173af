package parser_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
)

const typesCall = `
id: types
title: Types
receipt_prefix: TY
pii: %s
deadline: {date: "2025-03-24"}
kinds:
  - id: t
    columns:
      - {key: text, header: Text, type: text, max_length: 10}
      - {key: yn, header: YN, type: yesno}
      - {key: enum, header: Enum, type: enum, allowed: [Career Reserved, General], value_aliases: {CR: Career Reserved}}
      - {key: date, header: Date, type: date}
      - {key: int, header: Int, type: integer, min: 0, max: 100}
      - {key: num, header: Num, type: number}
      - {key: email, header: Email, type: email}
      - {key: code, header: Code, type: text, pattern: "[0-9]{4}"}
      - {key: why, header: Why, type: text, substantive: true}
`

func typesDef(tb testing.TB, pii bool) *parser.Definition {
	tb.Helper()
	flag := "false"
	if pii {
		flag = "true"
	}
	d, err := parser.ParseDefinition("types.yaml", []byte(strings.Replace(typesCall, "%s", flag, 1)))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// oneCell makes a workbook with the types header and one data row whose
// column col holds v (a string, int, float64, bool, or time.Time written as
// a date cell), and a filler in Text so the row counts.
func oneCell(tb testing.TB, col string, v any, date1904 bool) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if date1904 {
		t := true
		if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &t}); err != nil {
			tb.Fatal(err)
		}
	}
	headers := []string{"Text", "YN", "Enum", "Date", "Int", "Num", "Email", "Code", "Why"}
	idx := -1
	for i, h := range headers {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		f.SetCellStr("Sheet1", cell, h)
		if h == col {
			idx = i
		}
	}
	if col != "Text" {
		f.SetCellStr("Sheet1", "A2", "filler")
	}
	cell, _ := excelize.CoordinatesToCellName(idx+1, 2)
	switch x := v.(type) {
	case string:
		f.SetCellStr("Sheet1", cell, x)
	case time.Time:
		f.SetCellValue("Sheet1", cell, x)
		st, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
		f.SetCellStyle("Sheet1", cell, cell, st)
	default:
		f.SetCellValue("Sheet1", cell, x)
	}
	return parsertest.Bytes(tb, f)
}

func TestCheck_types(t *testing.T) {
	def := typesDef(t, false)
	march := time.Date(2025, 3, 24, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		col   string
		in    any
		key   string
		want  string // normalised value, when valid
		code  string // finding code, when invalid
		d1904 bool
	}{
		{"Text", "  padded\u00a0", "text", "padded", "", false},
		{"Text", "far too long text", "text", "", "too-long", false},
		{"YN", "yes", "yn", "Y", "", false},
		{"YN", "FALSE", "yn", "N", "", false},
		{"YN", true, "yn", "Y", "", false},
		{"YN", 0, "yn", "N", "", false},
		{"YN", "perhaps", "yn", "", "not-yes-no", false},
		{"Enum", " career-RESERVED ", "enum", "Career Reserved", "", false},
		{"Enum", "cr", "enum", "Career Reserved", "", false},
		{"Enum", "Careers", "enum", "", "not-allowed", false},
		{"Date", march, "date", "2025-03-24", "", false},
		{"Date", march, "date", "2025-03-24", "", true},
		{"Date", "2025-03-24", "date", "2025-03-24", "", false},
		{"Date", "3/24/2025", "date", "2025-03-24", "", false},
		{"Date", "03/04/2025", "date", "2025-03-04", "", false},
		{"Date", 45740, "date", "2025-03-24", "", false},
		{"Date", 2025, "date", "", "bad-date", false},
		{"Date", "24.03.2025", "date", "", "bad-date", false},
		{"Int", 42, "int", "42", "", false},
		{"Int", "1,0", "int", "10", "", false},
		{"Int", 4.5, "int", "", "not-integer", false},
		{"Int", 101, "int", "", "out-of-range", false},
		{"Int", -1, "int", "", "out-of-range", false},
		{"Num", 2.5, "num", "2.5", "", false},
		{"Num", "abc", "num", "", "not-number", false},
		{"Email", "Ann@OPM.GOV", "email", "Ann@opm.gov", "", false},
		{"Email", "ann at opm", "email", "", "bad-email", false},
		{"Code", "0343", "code", "0343", "", false},
		{"Code", "343", "code", "", "bad-format", false},
		{"Why", "TBD", "why", "", "placeholder", false},
		{"Why", "n/a", "why", "", "placeholder", false},
		{"Why", "x", "why", "", "placeholder", false},
		{"Why", "see above", "why", "", "placeholder", false},
		{"Why", "too short to matter", "why", "", "not-substantive", false},
	} {
		t.Run(tc.col+"/"+strings.ReplaceAll(strings.TrimSpace(toString(tc.in)), "/", "-"), func(t *testing.T) {
			sub := check(t, def, oneCell(t, tc.col, tc.in, tc.d1904), parser.Context{})
			if len(sub.Records) != 1 {
				t.Fatalf("records = %d, findings %v", len(sub.Records), codes(sub.Findings))
			}
			if tc.code == "" {
				if len(sub.Findings) != 0 || sub.Records[0].Fields[tc.key] != tc.want {
					t.Fatalf("value %q, want %q; findings %v", sub.Records[0].Fields[tc.key], tc.want, codes(sub.Findings))
				}
				return
			}
			if len(sub.Findings) != 1 || sub.Findings[0].Code != tc.code || sub.Findings[0].Row != 2 {
				t.Fatalf("want one %s in row 2, got %+v", tc.code, sub.Findings)
			}
		})
	}
}

func toString(v any) string {
	if _, ok := v.(time.Time); ok {
		return "time"
	}
	return fmt.Sprint(v)
}

// TestCheck_piiNeverInMessages: for a PII call no finding's Message or Fix
// repeats what a cell holds.
func TestCheck_piiNeverInMessages(t *testing.T) {
	perf := mustRegistry(t).Get("performance-below-fully-successful")
	secrets := []string{"Zebediah Quartermaine", "Xylophonist Supreme", "QZ", "12345", "Nowhereville", "ZZZ-LEVEL", "Sometime soon maybe", "Appealed to Zeus"}
	headers := []string{"Employee Name", "Position Title", "Pay Plan", "Series", "Grade", "Agency Code", "Component", "Duty Station",
		"Rating Year", "Rating Level", "PIP Status", "Chapter 43/75 Action", "Action Outcome", "Appeal", "Appeal Outcome"}
	rows := [][]string{
		{secrets[0], secrets[1], "GS", secrets[3], "12", secrets[2], "HS01", secrets[4], "1999", secrets[5], "In progress", secrets[6], "", "Maybe", secrets[7]},
		{secrets[0], secrets[1], "GS", "0343", "12", "HS", "HS01", secrets[4], "2024", "Level 1", "None", "None", "", "None", ""},
		{secrets[0], secrets[1], "GS", "0343", "12", "HS", "HS01", secrets[4], "2024", "Level 1", "None", "None", "", "None", ""},
	}
	f := excelize.NewFile()
	parsertest.WriteSheet(t, f, "Sheet1", headers, rows)
	sub := check(t, perf, parsertest.Bytes(t, f), parser.Context{Agency: "HS", Ref: sharedRef(t)})
	if len(sub.Findings) < 6 {
		t.Fatalf("expected many findings, got %v", codes(sub.Findings))
	}
	for _, fd := range sub.Findings {
		for _, s := range append(secrets, "1999", "Maybe") {
			if strings.Contains(fd.Message, s) || strings.Contains(fd.Fix, s) {
				t.Errorf("finding %s leaks %q: %q / %q", fd.Code, s, fd.Message, fd.Fix)
			}
		}
	}
	if !hasCode(sub.Findings, "duplicate-row", "") || !hasCode(sub.Findings, "unknown-agency", "F2") {
		t.Errorf("expected duplicate-row and unknown-agency findings: %v", codes(sub.Findings))
	}
	// Without PII the same kind of finding quotes the value, so the check
	// above would see a leak.
	p := parsertest.GoodPositions()
	p[0].CurrentDesignation = secrets[5]
	if sub := check(t, ses(t), parsertest.SESWorkbook(t, p, nil), parser.Context{}); !strings.Contains(sub.Findings[0].Message, secrets[5]) {
		t.Errorf("non-PII finding does not quote the value: %q", sub.Findings[0].Message)
	}
}

func TestCheck_fileProblems(t *testing.T) {
	def := ses(t)
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	ole := []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	encrypted := append(append([]byte{}, ole...), []byte("\x00E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e\x00")...)
	for _, tc := range []struct {
		name string
		data []byte
		code string
		fix  string
		lim  parser.Limits
	}{
		{"book.xls", append(append([]byte{}, ole...), make([]byte, 600)...), "legacy-xls", "Excel Workbook (.xlsx)", parser.Limits{}},
		{"book.xlsx", encrypted, "encrypted", "password", parser.Limits{}},
		{"book.xlsx", withVBA(t, good), "macro-workbook", "without macros", parser.Limits{}},
		{"book.xlsm", good, "macro-workbook", "without macros", parser.Limits{}},
		{"book.xlsx", good[:len(good)/2], "corrupted", "save it", parser.Limits{}},
		{"book.xlsx", nil, "empty-file", "Attach", parser.Limits{}},
		{"notes.pdf", []byte("%PDF-1.4"), "not-xlsx", ".xlsx", parser.Limits{}},
		{"book.xlsx", good, "too-large", "split", parser.Limits{MaxFileBytes: 100}},
		{"book.xlsx", good, "too-many-rows", "Split", parser.Limits{MaxRows: 3}},
	} {
		t.Run(tc.code, func(t *testing.T) {
			sub := parser.Check(def, []parser.Input{{Name: tc.name, Data: tc.data}}, parser.Context{Limits: tc.lim})
			if !hasCode(sub.Findings, tc.code, "") {
				t.Fatalf("want %s, got %+v", tc.code, sub.Findings)
			}
			for _, f := range sub.Findings {
				if f.Code == tc.code && !strings.Contains(f.Fix, tc.fix) {
					t.Errorf("fix %q lacks %q", f.Fix, tc.fix)
				}
			}
			if len(sub.Files) != 1 || sub.Files[0].Size != int64(len(tc.data)) {
				t.Errorf("files %+v", sub.Files)
			}
		})
	}
}

// withVBA adds a VBA project part to a workbook, as Excel does for .xlsm.
func withVBA(tb testing.TB, data []byte) []byte {
	return parsertest.AddPart(tb, data, "xl/vbaProject.bin", []byte("not really vba"))
}

// TestCheck_limitsSayWhichLimit: a bomb or an oversized sheet gets a
// deficiency finding that names the limit it hit, so the sender knows what
// to cut; a DOCTYPE is refused, never expanded.
func TestCheck_limitsSayWhichLimit(t *testing.T) {
	def := ses(t)
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	sheetPart := "xl/worksheets/sheet1.xml"
	// 8 MiB of whitespace inside the sheet compresses to a few KiB: a
	// zip bomb at the scale of a 1 MiB limit.
	bomb := parsertest.RewritePart(t, good, sheetPart, func(b []byte) []byte {
		i := bytes.LastIndex(b, []byte("</worksheet>"))
		return append(append(append([]byte{}, b[:i]...), bytes.Repeat([]byte(" "), 8<<20)...), b[i:]...)
	})
	doctype := parsertest.RewritePart(t, good, sheetPart, func(b []byte) []byte {
		i := bytes.Index(b, []byte("?>")) + 2
		return append(append(append([]byte{}, b[:i]...), `<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>`...), b[i:]...)
	})
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes compressed; it should be small", len(bomb))
	}
	for _, tc := range []struct {
		name string
		data []byte
		lim  parser.Limits
		code string
		says string
	}{
		{"bomb", bomb, parser.Limits{MaxUnzippedBytes: 1 << 20}, "too-large", "decompressed"},
		{"long cell", good, parser.Limits{MaxCellBytes: 2}, "too-large", "longer than"},
		{"many columns", good, parser.Limits{MaxColumns: 1}, "too-large", "columns"},
		{"many sheets", parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions()), parser.Limits{MaxSheets: 1}, "too-large", "sheets"},
		{"doctype", doctype, parser.Limits{}, "corrupted", "DOCTYPE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := parser.Check(def, []parser.Input{{Name: "report.xlsx", Data: tc.data}}, parser.Context{Limits: tc.lim})
			if !sub.Deficient() {
				t.Fatalf("accepted: %+v", sub.Findings)
			}
			for _, f := range sub.Findings {
				if f.Code == tc.code && strings.Contains(f.Message, tc.says) && f.Fix != "" {
					return
				}
			}
			t.Fatalf("no %s finding saying %q: %+v", tc.code, tc.says, sub.Findings)
		})
	}
}

// TestCheck_readerNamesMidSheetFallback: a sheet the streaming reader hands
// to excelize halfway through is reported as read by excelize, so the
// fallback is logged and counted.
func TestCheck_readerNamesMidSheetFallback(t *testing.T) {
	def := ses(t)
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	sub := parser.Check(def, []parser.Input{{Name: "report.xlsx", Data: good}}, parser.Context{})
	if len(sub.Files) != 1 || sub.Files[0].Reader != "stream" {
		t.Fatalf("plain workbook: files %+v, want read by stream", sub.Files)
	}
	// A cell type the streaming reader does not know, in row 3: rows 1-2
	// are streamed before it meets it.
	odd := parsertest.RewritePart(t, good, "xl/worksheets/sheet1.xml", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`<c r="I3" s="1">`), []byte(`<c r="I3" s="1" t="weird">`), 1)
	})
	sub = parser.Check(def, []parser.Input{{Name: "report.xlsx", Data: odd}}, parser.Context{})
	if len(sub.Files) != 1 || sub.Files[0].Reader != "excelize" {
		t.Fatalf("files %+v, want read by excelize", sub.Files)
	}
	if len(sub.Records) == 0 {
		t.Fatalf("no records read after the fallback: %+v", sub.Findings)
	}
}

// TestCheck_payPlan: the performance call's pay plans are checked against
// OPM's list in the reference data; "GS" passes, an invented plan does not.
func TestCheck_payPlan(t *testing.T) {
	perf := mustRegistry(t).Get("performance-below-fully-successful")
	ref := sharedRef(t)
	if _, ok := ref.PayPlans["ES"]; !ok {
		t.Fatalf("reference data lacks the ES pay plan")
	}
	headers := []string{"Employee Name", "Position Title", "Pay Plan", "Series", "Grade", "Agency Code", "Component", "Duty Station",
		"Rating Year", "Rating Level", "PIP Status", "Chapter 43/75 Action", "Action Outcome", "Appeal", "Appeal Outcome"}
	row := func(name, plan string) []string {
		return []string{name, "Program Analyst", plan, "0343", "12", "HS", "HS01", "Washington, DC", "2024", "Level 2 (Minimally Successful)", "In progress", "None", "", "None", ""}
	}
	f := excelize.NewFile()
	parsertest.WriteSheet(t, f, "Sheet1", headers, [][]string{row("A B", "GS"), row("C D", "ES"), row("E F", "QQ")})
	sub := check(t, perf, parsertest.Bytes(t, f), parser.Context{Agency: "HS", Ref: ref})
	if got := codes(sub.Findings); len(got) != 1 || !hasCode(sub.Findings, "unknown-pay-plan", "C4") {
		t.Errorf("findings %v, want only unknown-pay-plan at C4", got)
	}
}

// A workbook whose zip names use backslashes is read, its macros are still
// found, and its call signature still routes it, also where Go's zip
// reader reports such names as insecure.
func TestCheck_backslashNames(t *testing.T) {
	def := ses(t)
	good := parsertest.BackslashNames(t, parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil))
	macro := parsertest.BackslashNames(t, withVBA(t, parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)))
	for _, godebug := range []string{"", "zipinsecurepath=0"} {
		t.Run("GODEBUG="+godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", godebug)
			if sub := parser.Check(def, []parser.Input{{Name: "report.xlsx", Data: good}}, parser.Context{}); sub.Deficient() || len(sub.Records) != len(parsertest.GoodPositions()) {
				t.Errorf("backslash-named workbook: %d records, findings %v", len(sub.Records), codes(sub.Findings))
			}
			if sub := parser.Check(def, []parser.Input{{Name: "report.xlsx", Data: macro}}, parser.Context{}); !hasCode(sub.Findings, "macro-workbook", "") {
				t.Errorf("macros in a backslash-named workbook not found: %v", codes(sub.Findings))
			}
		})
	}
}
