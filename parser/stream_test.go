package parser_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/internal/testenv"
	"intake/parser"
	"intake/parser/parsertest"
	"intake/parser/sheet"
)

// runOpenpyxl runs a Python program with Debian's openpyxl (skipping, or
// failing under CI, when it is missing).
func runOpenpyxl(t *testing.T, script string, args ...string) {
	t.Helper()
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3")
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		testenv.Missing(t, "openpyxl (Debian package python3-openpyxl)")
	}
	if out, err := exec.Command(py, append([]string{"-c", script}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("openpyxl: %v\n%s", err, out)
	}
}

// libreOffice converts a workbook with LibreOffice, as an agency saving
// it there would, and returns the new file's path.
func libreOffice(t *testing.T, src string) string {
	t.Helper()
	soffice := testenv.LookPath(t, "soffice", "Debian's libreoffice-calc-nogui")
	dir := t.TempDir()
	cmd := exec.Command(soffice, "--headless", "--calc", "--convert-to", "xlsx", "--outdir", dir, src)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v: %s", err, out)
	}
	return filepath.Join(dir, filepath.Base(src))
}

// sesRows returns the good positions and retention requests as rows for
// a Python program; "date:" marks a date cell.
func sesRows(t *testing.T) string {
	t.Helper()
	var pos, ret [][]string
	date := func(s string) string {
		if s == "" {
			return ""
		}
		return "date:" + s
	}
	for _, p := range parsertest.GoodPositions() {
		pos = append(pos, []string{p.AgencyCode, p.Component, p.PositionNumber, p.Title, p.Organization, p.Designation2021,
			p.NoncareerMajority, p.CurrentDesignation, date(p.RedesignationDate), p.ReversionStatus, p.IncumbentType, p.Notes})
	}
	for _, r := range parsertest.GoodRetentions() {
		ret = append(ret, []string{r.PositionNumber, r.Title, r.Ground, r.Justification, r.OfficialName, r.OfficialTitle, date(r.Date)})
	}
	b, err := json.Marshal(map[string]any{"ph": parsertest.PositionHeaders, "rh": parsertest.RetentionHeaders, "pos": pos, "ret": ret})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sesOpenpyxl writes the good DHS submission with openpyxl; extra is
// Python run before saving, with wb, pos (the position sheet) and ret.
const sesOpenpyxl = `
import sys, json, datetime
from openpyxl import Workbook
d = json.loads(sys.argv[2])
wb = Workbook()
def fill(ws, head, rows):
    ws.append(head)
    for r in rows:
        ws.append([datetime.date.fromisoformat(v[5:]) if v.startswith("date:") else (v or None) for v in r])
pos = wb.active
pos.title = "Position Report"
fill(pos, d["ph"], d["pos"])
ret = wb.create_sheet("Retention Requests")
fill(ret, d["rh"], d["ret"])
`

// hasRowElement reports whether some worksheet of the file has a row
// element numbered n, as the producer wrote it.
func hasRowElement(t *testing.T, data []byte, n string) bool {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range z.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte(`<row r="`+n+`"`)) {
			return true
		}
	}
	return false
}

// Issue 13: a sheet that ends in empty formatted rows down to row 1048576
// (openpyxl with a row height set there; LibreOffice and Excel for Mac
// write it so) is read like any other, and so is an extra sheet that
// matches no kind and ends the same way: the row limit counts rows with a
// value, not row numbers.
func TestCheck_emptyFormattedRowsDownTo1048576(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dhs.xlsx")
	runOpenpyxl(t, sesOpenpyxl+`
pos.row_dimensions[1048576].height = 15
notes = wb.create_sheet("Notes")
notes["A1"] = "Prepared by the Office of the Chief Human Capital Officer"
notes.row_dimensions[1048576].height = 15
wb.save(sys.argv[1])
`, path, sesRows(t))
	for _, file := range []string{path, libreOffice(t, path)} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !hasRowElement(t, data, "1048576") {
			t.Fatalf("%s: the producer wrote no row 1048576; the test proves nothing", file)
		}
		sub := parser.Check(ses(t), []parser.Input{{Name: "dhs.xlsx", Data: data}}, parser.Context{Agency: "HS"})
		if sub.Deficient() || len(sub.Findings) != 0 {
			t.Errorf("%s: refused: %v", file, codes(sub.Findings))
		}
		if c := sub.Counts(); c["position-report"] != 5 || c["retention-request"] != 1 {
			t.Errorf("%s: records %v", file, c)
		}
	}
}

// cellsOf counts the non-empty cells of a workbook as the reader gives
// them.
func cellsOf(t *testing.T, data []byte) int64 {
	t.Helper()
	wb, err := sheet.Open(data, sheet.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	var n int64
	for _, name := range wb.Sheets() {
		rows, err := wb.Rows(name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			n += int64(len(rows.Row().Cells))
		}
		rows.Close()
	}
	return n
}

// Limits.MaxCells bounds the filled cells of the whole submission, across
// sheets and files; formatted empty cells and rows count for nothing.
func TestCheck_maxCells(t *testing.T) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", parsertest.PositionSheet); err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, p := range parsertest.GoodPositions() {
		rows = append(rows, []string{p.AgencyCode, p.Component, p.PositionNumber, p.Title, p.Organization, p.Designation2021,
			p.NoncareerMajority, p.CurrentDesignation, p.RedesignationDate, p.ReversionStatus, p.IncumbentType, p.Notes})
	}
	parsertest.WriteSheet(t, f, parsertest.PositionSheet, parsertest.PositionHeaders, rows)
	// Formatted empty cells over a large range, and empty rows below.
	style, err := f.NewStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFFF00"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellStyle(parsertest.PositionSheet, "M1", "Z2000", style); err != nil {
		t.Fatal(err)
	}
	data := parsertest.Bytes(t, f)
	n := cellsOf(t, data)
	if n > 100 {
		t.Fatalf("%d cells counted: empty formatted cells counted too", n)
	}
	for _, tc := range []struct {
		name  string
		files int
		max   int64
		over  bool
	}{
		{"exactly the limit", 1, n, false},
		{"one cell over", 1, n - 1, true},
		{"two files within", 2, 2 * n, false},
		{"two files over together", 2, 2*n - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []parser.Input
			for i := 0; i < tc.files; i++ {
				in = append(in, parser.Input{Name: "report.xlsx", Data: data})
			}
			sub := parser.Check(ses(t), in, parser.Context{Limits: parser.Limits{MaxCells: tc.max}})
			var hit *parser.Finding
			for i, f := range sub.Findings {
				if f.Code == "too-many-cells" {
					hit = &sub.Findings[i]
				}
			}
			switch {
			case tc.over && hit == nil:
				t.Fatalf("limit %d not hit: %v", tc.max, codes(sub.Findings))
			case !tc.over && (hit != nil || sub.Deficient()):
				t.Fatalf("limit %d hit: %v", tc.max, codes(sub.Findings))
			case tc.over && (!strings.Contains(hit.Message, "filled cells") || hit.Fix == "" || !sub.Deficient()):
				t.Fatalf("finding does not name the limit or what to send: %+v", hit)
			}
		})
	}
}

// The default limits let through what a real call may send: five sheets
// of 190,000 rows of twelve columns (the legal workbook).
func TestDefaultLimits_legalWorkbook(t *testing.T) {
	l := parser.DefaultLimits()
	if l.MaxCells < 5*190_000*12 || l.MaxRows < 190_000 || l.MaxSheets < 5 {
		t.Errorf("default limits %+v refuse 5 sheets x 190,000 rows x 12 columns", l)
	}
}

// countingFile is an attachment read through a ReaderAt that counts its
// reads and cancels a context at the n-th.
type countingFile struct {
	data   []byte
	reads  atomic.Int64
	cancel func()
	at     int64
}

func (f *countingFile) ReadAt(p []byte, off int64) (int, error) {
	if f.reads.Add(1) == f.at {
		f.cancel()
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// A cancelled check returns the context's error at once: no more of the
// file is read (the context is checked at every read of it, so even a
// long run of empty rows stops), and no more rows reach the sink.
func TestCheckStream_cancel(t *testing.T) {
	data := bigPositionReport(t, 20_000)
	def := ses(t)
	t.Run("inside reading", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := &countingFile{data: data, cancel: cancel, at: 30}
		rows := 0
		_, err := parser.CheckStream(ctx, def, []parser.Input{{Name: "big.xlsx", File: f, Size: int64(len(data))}}, parser.Context{},
			func(*parser.Row) error { rows++; return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := f.reads.Load(); got != f.at {
			t.Errorf("%d reads of the file, %d of them after the cancel", got, got-f.at)
		}
		if rows >= 20_000 {
			t.Errorf("all %d rows were checked", rows)
		}
	})
	t.Run("between rows", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rows := 0
		_, err := parser.CheckStream(ctx, def, []parser.Input{{Name: "big.xlsx", Data: data}}, parser.Context{},
			func(*parser.Row) error {
				if rows++; rows == 10 {
					cancel()
				}
				return nil
			})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if rows > 10+4096 {
			t.Errorf("%d rows checked after the cancel", rows-10)
		}
	})
}

// The sink's error and Prior's end the check with that error; Prior is
// called only for a kind a row must be looked up in, once, and only when
// a row of the rule's kind came.
func TestCheckStream_sinkAndPrior(t *testing.T) {
	def := ses(t)
	both := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	reportOnly := parsertest.SESWorkbook(t, parsertest.GoodPositions(), []parsertest.Retention{}) // the template's empty retention sheet
	boom := errors.New("store gone")
	in := func(data []byte) []parser.Input { return []parser.Input{{Name: "r.xlsx", Data: data}} }

	_, err := parser.CheckStream(context.Background(), def, in(both), parser.Context{}, func(r *parser.Row) error {
		if r.Num == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("sink error: got %v", err)
	}

	var calls []string
	prior := func(kind string, fn func(parser.Record) error) error {
		calls = append(calls, kind)
		return fn(parser.Record{Kind: kind, Fields: map[string]string{"position_number": "HS-0002", "current_designation": "Career Reserved"}})
	}
	if _, err := parser.CheckStream(context.Background(), def, in(reportOnly), parser.Context{Prior: prior}, nil); err != nil || len(calls) != 0 {
		t.Errorf("no retention request, yet Prior called for %v (err %v)", calls, err)
	}
	retOnly := parsertest.SESWorkbook(t, nil, parsertest.GoodRetentions())
	sub, err := parser.CheckStream(context.Background(), def, in(retOnly), parser.Context{Prior: prior}, nil)
	if err != nil || len(calls) != 1 || calls[0] != "position-report" || sub.Deficient() {
		t.Errorf("retention request alone: Prior called for %v, err %v, findings %v", calls, err, codes(sub.Findings))
	}
	calls = nil
	// Every position the requests name is in this submission: the
	// stored ones are not needed.
	if _, err := parser.CheckStream(context.Background(), def, in(both), parser.Context{Prior: prior}, nil); err != nil || len(calls) != 0 {
		t.Errorf("all names found in the submission, yet Prior called for %v (err %v)", calls, err)
	}
	failing := func(string, func(parser.Record) error) error { return boom }
	if _, err := parser.CheckStream(context.Background(), def, in(retOnly), parser.Context{Prior: failing}, nil); !errors.Is(err, boom) {
		t.Errorf("Prior error: got %v", err)
	}
}

// The rows CheckStream hands over are the records Check returns.
func TestCheckStream_rowsAreCheckRecords(t *testing.T) {
	def := ses(t)
	p := parsertest.GoodPositions()
	p[2].IncumbentType = "??"
	data := parsertest.SESWorkbook(t, p, parsertest.GoodRetentions())
	in := []parser.Input{{Name: "r.xlsx", Data: data}}
	want := parser.Check(def, in, parser.Context{})
	var got []parser.Record
	sub, err := parser.CheckStream(context.Background(), def, in, parser.Context{}, func(r *parser.Row) error {
		got = append(got, r.Record())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want.Records)
	b, _ := json.Marshal(got)
	if string(a) != string(b) || len(sub.Records) != 0 {
		t.Errorf("rows differ from records:\n%s\n%s", a, b)
	}
	if len(want.Findings) == 0 || codes(sub.Findings)[0] != codes(want.Findings)[0] || sub.Counts()["position-report"] != 5 {
		t.Errorf("findings %v vs %v, counts %v", codes(sub.Findings), codes(want.Findings), sub.Counts())
	}
}

// A workbook of a few kilobytes naming column XFD on 300 rows (openpyxl)
// is read cheaply: the stream reader holds a row at a time, never a
// grid padded out to the farthest column.
func TestCheck_columnXFD(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xfd.xlsx")
	runOpenpyxl(t, sesOpenpyxl+`
for r in range(1, 301):
    pos.cell(row=r, column=16384, value="x")
wb.save(sys.argv[1])
`, path, sesRows(t))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 16<<10 || !hasRowElement(t, data, "300") {
		t.Fatalf("workbook of %d bytes; want a small one with 300 rows", len(data))
	}
	sub := parser.Check(ses(t), []parser.Input{{Name: "xfd.xlsx", Data: data}}, parser.Context{Agency: "HS"})
	if sub.Deficient() || sub.Counts()["position-report"] != 5 || sub.Files[0].Reader != "stream" {
		t.Errorf("reader %s, records %v, findings %v", sub.Files[0].Reader, sub.Counts(), codes(sub.Findings))
	}
	// The excelize fallback, which pads every row to its farthest cell,
	// refuses it rather than build that grid.
	if _, err := sheet.OpenExcelize(data, sheet.Limits{MaxModelCells: parser.MaxFallbackCells}); !errors.Is(err, sheet.ErrTooLarge) {
		t.Errorf("excelize fallback on the XFD workbook: err %v, want ErrTooLarge", err)
	}
}
