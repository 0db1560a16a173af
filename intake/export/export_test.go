package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/intake/export"
	"intake/parser"
	"intake/store"
)

const testCall = `
id: test-call
title: Test call
receipt_prefix: TST
deadline:
  date: "2025-03-24"
kinds:
  - id: position-report
    title: Position report
    columns:
      - key: agency_code
        header: Agency Code
        type: text
      - key: position_number
        header: Position Number
        type: text
      - key: notes
        header: Notes
        type: text
  - id: retention-request
    title: Retention requests
    optional: true
    columns:
      - key: position_number
        header: Position Number
        type: text
      - key: justification
        header: Justification
        type: text
      - key: request_date
        header: Request Date
        type: date
      - key: positions
        header: Positions
        type: integer
      - key: share
        header: Share
        type: number
`

// hostile are cell values a spreadsheet would run as formulas: plainly,
// after white space or control characters it skips (issue 14: a NUL, as
// stored from a cell written _x0000_=1+11), after a separator the CSV file
// does not quote (issue 14: x;=1+9 opened with ";" as separator), or in a
// full-width form.
var hostile = []string{"=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1)", "\t=1+2", "  =1+3", "\r=1+4", "\x00=1+11",
	"_x0000_=1+5", "\x1b=1+6", "\u0085=1+12", "x;=1+9", "y,=1+7", "z\t=1+8", "w\n=1+13", "＝1+10", "a\"b\";=1+14"}

type fixture struct {
	st   *store.Store
	call *parser.Definition
}

func mustCall(tb testing.TB) *parser.Definition {
	tb.Helper()
	d, err := parser.ParseDefinition("test-call.yaml", []byte(testCall))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	st, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "intake.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return &fixture{st: st, call: mustCall(tb)}
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// submit stores one submission as the pipeline would: raw message first,
// then Complete. It returns the file's SHA-256.
func (f *fixture) submit(tb testing.TB, n int, receipt, agency string, accepted bool, recs ...parser.Record) string {
	tb.Helper()
	ctx := context.Background()
	at := base.Add(time.Duration(n) * time.Hour)
	raw := []byte(fmt.Sprintf("Message-ID: <m%d@agency.gov>\r\n\r\nbody %d", n, n))
	sum := sha256.Sum256(raw)
	id, _, err := f.st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(n),
		MessageID: fmt.Sprintf("<m%d@agency.gov>", n), SHA256: hex.EncodeToString(sum[:]), Raw: raw,
		Size: int64(len(raw)), ReceivedAt: at})
	if err != nil {
		tb.Fatal(err)
	}
	data := []byte(fmt.Sprintf("workbook %d", n))
	fsum := sha256.Sum256(data)
	fileSHA := hex.EncodeToString(fsum[:])
	for i := range recs {
		recs[i].File = "report.xlsx"
		recs[i].Row = i + 2
		if recs[i].Sheet == "" {
			recs[i].Sheet = "Positions"
		}
	}
	status := store.StatusAccepted
	var findings []parser.Finding
	if !accepted {
		status = store.StatusDeficient
		findings = []parser.Finding{{File: "report.xlsx", Sheet: "Positions", Row: 2, Col: 2, Code: "required",
			Severity: parser.SeverityError, Message: "Position Number is required"}}
	}
	_, err = f.st.Complete(ctx, store.Completion{Message: id, Status: status, Agency: agency, Call: f.call.ID,
		From: "hr@agency.gov", Now: at, Submission: &store.NewSubmission{
			Receipt: receipt, Call: f.call.ID, Agency: agency, Sender: "hr@agency.gov", Accepted: accepted,
			ReceivedAt: at,
			Files:      []store.File{{Name: "report.xlsx", SHA256: fileSHA, Data: data}},
			Result: parser.Submission{Call: f.call.ID, Agency: agency, Records: recs, Findings: findings,
				Files: []parser.FileResult{{Name: "report.xlsx", SHA256: fileSHA, Size: int64(len(data))}}},
		}})
	if err != nil {
		tb.Fatal(err)
	}
	return fileSHA
}

func pos(agency, number, notes string) parser.Record {
	return parser.Record{Kind: "position-report", Fields: map[string]string{
		"agency_code": agency, "position_number": number, "notes": notes}}
}

func ret(number, why string) parser.Record {
	return parser.Record{Kind: "retention-request", Sheet: "Retention", Fields: map[string]string{
		"position_number": number, "justification": why, "request_date": "2025-03-10", "positions": "3", "share": "0.25"}}
}

// seed stores: HS version 1 (superseded), HS version 2 (current, with the
// hostile notes), DJ version 1 (current) and a deficient DJ resubmission.
func (f *fixture) seed(tb testing.TB) (hsCurrentSHA string) {
	f.submit(tb, 1, "TST-1", "HS", true, pos("HS", "P-OLD", "first version"))
	var recs []parser.Record
	for i, h := range hostile {
		recs = append(recs, pos("HS", fmt.Sprintf("P-%d", i), h))
	}
	recs = append(recs, ret("P-0", "=HYPERLINK(\"http://evil\")"))
	hsCurrentSHA = f.submit(tb, 2, "TST-2", "HS", true, recs...)
	f.submit(tb, 3, "TST-3", "DJ", true, pos("DJ", "D-1", "fine"))
	f.submit(tb, 4, "TST-4", "DJ", false, pos("DJ", "", "missing number"))
	return hsCurrentSHA
}

func readCSV(tb testing.TB, data []byte) [][]string {
	tb.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("read back csv: %v\n%s", err, data)
	}
	return rows
}

// column returns the values of the column with that header, header excluded.
func column(tb testing.TB, rows [][]string, header string) []string {
	tb.Helper()
	i := slices.Index(rows[0], header)
	if i < 0 {
		tb.Fatalf("no column %q in %q", header, rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[i])
	}
	return out
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
		"+1":                 "'+1",
		"-2":                 "'-2",
		"@SUM(1)":            "'@SUM(1)",
		"\t=1":               "'\t'=1",
		"z\t=1":              "z\t'=1",
		"a\n- b":             "a\n'- b",
		"c;\"=1\"":           "c;'\"=1\"",
		"d; '=1":             "d; '=1",
		"e;'=1":              "e;'=1",
		"f;1=1":              "f;1=1",
		"  =1":               "'  =1",
		"\u00a0\u3000@x":     "'\u00a0\u3000@x",
		"\r=1":               "'=1",
		"\x00=1+11":          "'=1+11",
		"\x1b=1":             "'=1",
		"\x1b[31m=1":         "[31m=1",
		"_x0000_=1+11":       "'_x0000_=1+11",
		"_x0009__X000d_-1":   "'_x0009__X000d_-1",
		"_x00g0_=1":          "_x00g0_=1",
		"＝1+1":               "'＝1+1",
		"a\x00b\u009bc\x7fd": "abcd",
		"line\nbreak\ttab":   "line\nbreak\ttab",
		"\tx":                "\tx",
		"x;=1+9":             "x;'=1+9",
		"bad\xffutf8":        "bad\ufffdutf8",
		"":                   "",
		"plain":              "plain",
		"1-2":                "1-2",
		"'=already":          "'=already",
	} {
		if got := export.Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWrite_csv(t *testing.T) {
	f := newFixture(t)
	sha := f.seed(t)
	var buf bytes.Buffer
	n, err := export.Write(context.Background(), &buf, f.st, export.CSV, export.Options{Call: f.call, Kind: "position-report"})
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	if n != 1+len(hostile)+2 || len(rows) != n+1 {
		t.Fatalf("rows = %d (csv %d), want %d data rows", n, len(rows), 1+len(hostile)+2)
	}
	wantHeader := append(export.ProvenanceColumns(), "Agency Code", "Position Number", "Notes")
	if !slices.Equal(rows[0], wantHeader) {
		t.Errorf("header = %q, want %q", rows[0], wantHeader)
	}
	// Provenance of the first hostile row (HS version 2).
	r := rows[2]
	want := []string{"TST-2", "<m2@agency.gov>", "report.xlsx", sha, "Positions", "2", "HS", "", "2",
		base.Add(2 * time.Hour).Format(time.RFC3339)}
	if !slices.Equal(r[:len(want)], want) {
		t.Errorf("provenance = %q, want %q", r[:len(want)], want)
	}
	notes := column(t, rows, "Notes")
	for i, h := range hostile {
		if got := notes[1+i]; got != export.Neutralise(h) || !strings.Contains(got, "'") && !strings.Contains(h, ",") {
			t.Errorf("notes of row %d = %q, want %q", i, got, export.Neutralise(h))
		}
	}
	// A field holding a separator of any kind is quoted, so it stays one
	// cell whichever separator a spreadsheet picks.
	for _, h := range []string{"x;=1+9", "y,=1+7", "z\t=1+8"} {
		if !bytes.Contains(buf.Bytes(), []byte(`,"`+export.Neutralise(h)+`"`+"\n")) {
			t.Errorf("%q is not quoted in the file", h)
		}
	}
	// The deficient and superseded versions are in an export of everything.
	receipts := column(t, rows, "receipt")
	for _, rc := range []string{"TST-1", "TST-2", "TST-3", "TST-4"} {
		if !slices.Contains(receipts, rc) {
			t.Errorf("receipt %s missing from %q", rc, receipts)
		}
	}
	if v := column(t, rows, "version")[len(rows)-2]; v != "0" {
		t.Errorf("version of the deficient submission = %q, want 0", v)
	}
}

func TestWrite_currentOnly(t *testing.T) {
	f := newFixture(t)
	f.seed(t)
	for _, format := range []export.Format{export.CSV, export.XLSX} {
		t.Run(string(format), func(t *testing.T) {
			var buf bytes.Buffer
			n, err := export.Write(context.Background(), &buf, f.st, format, export.Options{Call: f.call,
				Kind: "position-report", CurrentOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var rows [][]string
			if format == export.CSV {
				rows = readCSV(t, buf.Bytes())
			} else {
				rows = readXLSX(t, buf.Bytes(), "Position report")
			}
			receipts := column(t, rows, "receipt")
			if n != len(hostile)+1 || len(receipts) != n {
				t.Fatalf("rows = %d, %d read back, want %d", n, len(receipts), len(hostile)+1)
			}
			for _, rc := range receipts {
				if rc != "TST-2" && rc != "TST-3" {
					t.Errorf("receipt %s exported with CurrentOnly: superseded or deficient", rc)
				}
			}
			if slices.Contains(column(t, rows, "Position Number"), "P-OLD") {
				t.Error("a row of the superseded version was exported")
			}
		})
	}
}

func TestWrite_csvEveryKind(t *testing.T) {
	f := newFixture(t)
	f.seed(t)
	var buf bytes.Buffer
	n, err := export.Write(context.Background(), &buf, f.st, export.CSV, export.Options{Call: f.call, CurrentOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	want := append(export.ProvenanceColumns(), "kind", "Agency Code", "Position Number", "Notes", "Justification",
		"Request Date", "Positions", "Share")
	if !slices.Equal(rows[0], want) {
		t.Fatalf("header = %q, want %q", rows[0], want)
	}
	if n != len(hostile)+2 {
		t.Fatalf("rows = %d, want %d", n, len(hostile)+2)
	}
	last := rows[len(rows)-1]
	if last[10] != "retention-request" || last[12] != "P-0" || last[14] != `'=HYPERLINK("http://evil")` {
		t.Errorf("retention row = %q", last)
	}
	if last[5] != strconv.Itoa(len(hostile)+2) || last[4] != "Retention" {
		t.Errorf("retention row provenance = %q", last[:10])
	}
}

func readXLSX(tb testing.TB, data []byte, sheet string) [][]string {
	tb.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("read back xlsx: %v", err)
	}
	defer x.Close()
	rows, err := x.GetRows(sheet)
	if err != nil {
		tb.Fatalf("sheet %q: %v (sheets %q)", sheet, err, x.GetSheetList())
	}
	return rows
}

// dimensions returns the <dimension ref> of every worksheet, as written.
func dimensions(tb testing.TB, data []byte) []string {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	re := regexp.MustCompile(`<dimension ref="([^"]*)"`)
	var out []string
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if m := re.FindSubmatch(b); m != nil {
			out = append(out, zf.Name+"="+string(m[1]))
		}
	}
	slices.Sort(out)
	return out
}

func TestWrite_xlsx(t *testing.T) {
	f := newFixture(t)
	sha := f.seed(t)
	var buf bytes.Buffer
	n, err := export.Write(context.Background(), &buf, f.st, export.XLSX, export.Options{Call: f.call})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1+len(hostile)+2+1 {
		t.Errorf("rows = %d, want %d", n, 1+len(hostile)+2+1)
	}
	x, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got, want := x.GetSheetList(), []string{"Position report", "Retention requests"}; !slices.Equal(got, want) {
		t.Fatalf("sheets = %q, want %q", got, want)
	}
	rows := readXLSX(t, buf.Bytes(), "Position report")
	wantHeader := append(export.ProvenanceColumns(), "Agency Code", "Position Number", "Notes")
	if !slices.Equal(rows[0], wantHeader) {
		t.Errorf("header = %q, want %q", rows[0], wantHeader)
	}
	if len(rows) != 1+1+len(hostile)+2 {
		t.Fatalf("position report rows = %d", len(rows))
	}
	if got := rows[2][:4]; !slices.Equal(got, []string{"TST-2", "<m2@agency.gov>", "report.xlsx", sha}) {
		t.Errorf("provenance = %q", got)
	}
	// Text as stored, less its control characters, and never prefixed: an
	// XLSX text cell is never evaluated (issue 14: an apostrophe was put
	// before = + - @).
	notes := column(t, rows, "Notes")
	for i, h := range hostile {
		if got := notes[1+i]; got != export.Clean(h) {
			t.Errorf("notes of row %d = %q, want %q", i, got, export.Clean(h))
		}
		cell, _ := excelize.CoordinatesToCellName(13, 3+i)
		if typ, _ := x.GetCellType("Position report", cell); typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
			t.Errorf("notes of row %d: cell type %v, want text", i, typ)
		}
	}
	rr := readXLSX(t, buf.Bytes(), "Retention requests")
	if len(rr) != 2 || rr[1][11] != `=HYPERLINK("http://evil")` {
		t.Errorf("retention requests = %q", rr)
	}
	// Numbers and dates are real number and date cells (issue 14: every
	// value was text). Columns: F row, I version, J received_at, M request
	// date, N positions, O share.
	for cell, want := range map[string]struct {
		raw, format string
	}{
		"F2": {"19", ""}, "I2": {"2", ""}, "J2": {"45717.583333333336", "yyyy-mm-dd hh:mm:ss"},
		"M2": {"45726", "yyyy-mm-dd"}, "N2": {"3", ""}, "O2": {"0.25", ""},
		"K2": {"P-0", ""},
	} {
		raw, _ := x.GetCellValue("Retention requests", cell, excelize.Options{RawCellValue: true})
		typ, _ := x.GetCellType("Retention requests", cell)
		text := typ == excelize.CellTypeInlineString || typ == excelize.CellTypeSharedString
		format := ""
		if id, err := x.GetCellStyle("Retention requests", cell); err == nil && id != 0 {
			if st, err := x.GetStyle(id); err == nil && st.CustomNumFmt != nil {
				format = *st.CustomNumFmt
			}
		}
		if raw != want.raw || format != want.format || text != (cell == "K2") {
			t.Errorf("%s = %q (type %v, format %q), want %q as a number formatted %q", cell, raw, typ, format, want.raw, want.format)
		}
	}
	// The used range is the real one (openpyxl's read-only mode trusts it).
	wantDims := []string{"xl/worksheets/sheet1.xml=A1:M" + strconv.Itoa(len(rows)), "xl/worksheets/sheet2.xml=A1:O2"}
	if got := dimensions(t, buf.Bytes()); !slices.Equal(got, wantDims) {
		t.Errorf("dimensions = %q, want %q", got, wantDims)
	}
	// No cell is a formula.
	for _, sheet := range x.GetSheetList() {
		rows, _ := x.GetRows(sheet)
		for r := range rows {
			for c := range rows[r] {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if fm, _ := x.GetCellFormula(sheet, cell); fm != "" {
					t.Errorf("%s!%s is a formula: %q", sheet, cell, fm)
				}
			}
		}
	}
}

func TestWrite_empty(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	n, err := export.Write(context.Background(), &buf, f.st, export.XLSX, export.Options{Call: f.call, Kind: "retention-request"})
	if err != nil {
		t.Fatal(err)
	}
	rows := readXLSX(t, buf.Bytes(), "Retention requests")
	if n != 0 || len(rows) != 1 {
		t.Errorf("rows = %d, sheet rows %d; want only the header", n, len(rows))
	}
	if got := dimensions(t, buf.Bytes()); !slices.Equal(got, []string{"xl/worksheets/sheet1.xml=A1:O1"}) {
		t.Errorf("dimensions = %q", got)
	}
}

func TestWrite_errors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		f Format
		o export.Options
	}{
		"unknown kind":   {export.CSV, export.Options{Call: f.call, Kind: "nope"}},
		"no call":        {export.CSV, export.Options{}},
		"unknown format": {"pdf", export.Options{Call: f.call}},
	} {
		if _, err := export.Write(ctx, io.Discard, f.st, tc.f, tc.o); err == nil || !strings.HasPrefix(err.Error(), "export: ") {
			t.Errorf("%s: err = %v, want an export: error", name, err)
		}
	}
	if _, err := export.ParseFormat("pdf"); err == nil {
		t.Error("ParseFormat(pdf) succeeded")
	}
	if got, err := export.ParseFormat(""); err != nil || got != export.CSV {
		t.Errorf("ParseFormat(\"\") = %q, %v", got, err)
	}
}

// Format is export.Format, short for the table above.
type Format = export.Format
