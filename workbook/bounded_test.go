package workbook_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/sheet"
	"intake/workbook"
)

// allBadWorkbook is a position report of n rows written with excelize's
// StreamWriter (with its real dimension), and a finding on column B of
// every row, as a workbook with one column mapped wrong gets them.
func allBadWorkbook(tb testing.TB, n int) ([]byte, []parser.Finding) {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Positions"); err != nil {
		tb.Fatal(err)
	}
	if err := f.SetSheetDimension("Positions", fmt.Sprintf("A1:F%d", n+1)); err != nil {
		tb.Fatal(err)
	}
	date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		tb.Fatal(err)
	}
	sw, err := f.NewStreamWriter("Positions")
	if err != nil {
		tb.Fatal(err)
	}
	if err := sw.SetRow("A1", []any{"Position Number", "Current Designation", "Noncareer Majority (Y/N)", "Redesignation Date", "Grade", "Reversion Status"}); err != nil {
		tb.Fatal(err)
	}
	fs := make([]parser.Finding, 0, n)
	for r := 2; r <= n+1; r++ {
		row := []any{fmt.Sprintf("HS-%06d", r), "Genral", "Y", excelize.Cell{StyleID: date, Value: 45000 + r%300}, 15, "In process"}
		if err := sw.SetRow("A"+strconv.Itoa(r), row); err != nil {
			tb.Fatal(err)
		}
		fs = append(fs, parser.Finding{File: "big.xlsx", Sheet: "Positions", Row: r, Col: 2, Column: "Current Designation",
			Code: "not-allowed", Severity: parser.SeverityError, Message: "The value is not one of the allowed values.", Fix: "Choose General or Career Reserved."})
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), fs
}

// part returns one part of a package, decompressed.
func part(tb testing.TB, data []byte, name string) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// highlighted counts the cells of a sheet part whose format has one of
// the highlight fills, reading styles.xml itself.
func highlighted(tb testing.TB, data []byte, sheetPart string) int {
	tb.Helper()
	styles := string(part(tb, data, "xl/styles.xml"))
	fills := regexp.MustCompile(`(?s)<fills[^>]*>(.*?)</fills>`).FindStringSubmatch(styles)[1]
	var bad []bool
	for _, fl := range regexp.MustCompile(`(?s)<fill>.*?</fill>|<fill/>`).FindAllString(fills, -1) {
		bad = append(bad, strings.Contains(fl, "FFC7CE") || strings.Contains(fl, "FFEB9C"))
	}
	xfs := regexp.MustCompile(`(?s)<cellXfs[^>]*>(.*?)</cellXfs>`).FindStringSubmatch(styles)[1]
	var hl []bool
	for _, x := range regexp.MustCompile(`<xf [^>]*>`).FindAllString(xfs, -1) {
		m := regexp.MustCompile(`fillId="(\d+)"`).FindStringSubmatch(x)
		id := 0
		if m != nil {
			id, _ = strconv.Atoi(m[1])
		}
		hl = append(hl, id < len(bad) && bad[id])
	}
	n := 0
	for _, m := range regexp.MustCompile(`<c [^>]*?\bs="(\d+)"`).FindAllStringSubmatch(string(part(tb, data, sheetPart)), -1) {
		if id, _ := strconv.Atoi(m[1]); id < len(hl) && hl[id] {
			n++
		}
	}
	return n
}

// issueRows reads the Issues sheet with the parser's own reader.
func issueRows(tb testing.TB, data []byte) []sheet.Row {
	tb.Helper()
	wb, err := sheet.Open(data, sheet.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	defer wb.Close()
	rows, err := wb.Rows("Issues")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []sheet.Row
	for rows.Next() {
		r := rows.Row()
		out = append(out, sheet.Row{Num: r.Num, Cells: append([]sheet.Cell(nil), r.Cells...)})
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Issue 13: a 100,000-row workbook with a bad value in every row. The
// annotated copy marks a bounded number of cells, lists every finding on
// the Issues sheet, and costs memory in proportion to its output, not
// gigabytes.
func TestAnnotate_allBad100k(t *testing.T) {
	const n = 100_000
	data, fs := allBadWorkbook(t, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err := workbook.Annotate(context.Background(), parser.Input{Name: "big.xlsx", Data: data}, fs, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Every allocation Annotate made, freed or not: the sheets streamed, a
	// bounded map of marks. (excelize's model of this file is over 1 GB.)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 300<<20 {
		t.Errorf("annotating allocated %d MB", alloc>>20)
	}
	if got := highlighted(t, out, "xl/worksheets/sheet1.xml"); got != workbook.DefaultMaxMarked {
		t.Errorf("%d cells highlighted, want the first %d", got, workbook.DefaultMaxMarked)
	}
	comments := strings.Count(string(part(t, out, "xl/comments1.xml")), "<comment ")
	if comments != workbook.DefaultMaxMarked {
		t.Errorf("%d comments, want %d", comments, workbook.DefaultMaxMarked)
	}
	rows := issueRows(t, out)
	if len(rows) != n+1 {
		t.Fatalf("Issues has %d rows, want the header and %d findings", len(rows), n)
	}
	for i, r := range rows[1:] {
		if want := "B" + strconv.Itoa(fs[i].Row); len(r.Cells) < 3 || r.Cells[2].Value != want {
			t.Fatalf("Issues row %d: %+v, want cell %s", r.Num, r.Cells, want)
		}
	}
	issues := string(part(t, out, "xl/worksheets/sheet2.xml"))
	if links := strings.Count(issues, "<hyperlink "); links != workbook.DefaultMaxMarked {
		t.Errorf("%d links, want one per marked finding (%d)", links, workbook.DefaultMaxMarked)
	}
	// The agency's values are all there.
	wb, err := sheet.Open(out, sheet.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	rs, err := wb.Rows("Positions")
	if err != nil {
		t.Fatal(err)
	}
	var got int
	for rs.Next() {
		r := rs.Row()
		if r.Num > 1 && (len(r.Cells) != 6 || r.Cells[0].Value != fmt.Sprintf("HS-%06d", r.Num) || r.Cells[1].Value != "Genral" || !r.Cells[3].Date) {
			t.Fatalf("row %d changed: %+v", r.Num, r.Cells)
		}
		got++
	}
	rs.Close()
	if got != n+1 {
		t.Errorf("%d rows read back, want %d", got, n+1)
	}
}

// Issue 13: a 3.9 KB workbook naming 300 cells in column XFD took about
// 1 GB through excelize. Streamed, its copy stays small and cheap.
func TestAnnotate_columnXFD(t *testing.T) {
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	var fs []parser.Finding
	for r := 1; r <= 300; r++ {
		if err := sw.SetRow(fmt.Sprintf("XFD%d", r), []any{"x"}); err != nil {
			t.Fatal(err)
		}
		fs = append(fs, parser.Finding{Sheet: "Sheet1", Row: r, Col: 16384, Code: "x", Severity: parser.SeverityError, Message: "Far away."})
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err := workbook.Annotate(context.Background(), parser.Input{Name: "far.xlsx", Data: buf.Bytes()}, fs, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if buf.Len() > 8<<10 {
		t.Fatalf("the test workbook is %d bytes, want a few kilobytes", buf.Len())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("annotating a %d-byte workbook allocated %d MB", buf.Len(), alloc>>20)
	}
	if len(out) > 256<<10 {
		t.Errorf("the annotated copy is %d bytes", len(out))
	}
	if got := highlighted(t, out, "xl/worksheets/sheet1.xml"); got != 300 {
		t.Errorf("%d cells highlighted, want 300", got)
	}
}

// A part that decompresses past the limit (a zip bomb) is refused.
func TestAnnotate_zipBomb(t *testing.T) {
	data, fs := allBadWorkbook(t, 2000)
	for _, o := range []workbook.Options{{MaxPartBytes: 64 << 10}, {MaxPartBytes: 1 << 20, MaxTotalBytes: 128 << 10}} {
		_, err := workbook.Annotate(context.Background(), parser.Input{Name: "big.xlsx", Data: data}, fs, o)
		if !errors.Is(err, workbook.ErrTooLarge) {
			t.Errorf("%+v: %v, want ErrTooLarge", o, err)
		}
	}
	if _, err := workbook.Annotate(context.Background(), parser.Input{Name: "big.xlsx", Data: data}, fs, workbook.Options{}); err != nil {
		t.Errorf("default limits: %v", err)
	}
}

// Annotate stops when its context is cancelled.
func TestAnnotate_cancelled(t *testing.T) {
	data, fs := allBadWorkbook(t, 2000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := workbook.Annotate(ctx, parser.Input{Name: "big.xlsx", Data: data}, fs, workbook.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Annotate with a cancelled context: %v", err)
	}
}

// The marks are bounded by Options.MaxMarked, and a cell with several
// findings is one mark.
func TestAnnotate_maxMarked(t *testing.T) {
	data, fs := allBadWorkbook(t, 50)
	fs = append(fs, parser.Finding{Sheet: "Positions", Row: 2, Col: 2, Code: "y", Severity: parser.SeverityError, Message: "Second problem."})
	out, err := workbook.Annotate(context.Background(), parser.Input{Name: "big.xlsx", Data: data}, fs, workbook.Options{MaxMarked: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := highlighted(t, out, "xl/worksheets/sheet1.xml"); got != 10 {
		t.Errorf("%d cells highlighted, want 10", got)
	}
	f := openXLSX(t, out)
	cs, err := f.GetComments("Positions")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 10 {
		t.Errorf("%d comments, want 10", len(cs))
	}
	for _, c := range cs {
		var text string
		for _, r := range c.Paragraph {
			text += r.Text
		}
		if c.Cell == "B2" && !strings.Contains(text, "Second problem.") {
			t.Errorf("B2's comment lacks its second finding: %q", text)
		}
	}
	if rows, _ := f.GetRows("Issues"); len(rows) != len(fs)+1 {
		t.Errorf("Issues has %d rows, want %d", len(rows), len(fs)+1)
	}
}

// A cell a finding names that the sheet lacks (a required value left
// empty) is added, empty, and marked; so is a row the sheet lacks.
func TestAnnotate_missingCells(t *testing.T) {
	f := excelize.NewFile()
	for _, c := range []string{"A1", "C1", "A2", "C2", "A5"} {
		if err := f.SetCellStr("Sheet1", c, "v"+c); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var fs []parser.Finding
	for _, c := range [][2]int{{1, 2}, {2, 2}, {3, 4}, {3, 5}, {2, 9}} {
		fs = append(fs, parser.Finding{Sheet: "Sheet1", Col: c[0], Row: c[1], Code: "required", Severity: parser.SeverityError, Message: "Empty."})
	}
	out, err := workbook.Annotate(context.Background(), parser.Input{Name: "gaps.xlsx", Data: buf.Bytes()}, fs, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := openXLSX(t, out)
	for _, c := range []string{"A2", "B2", "C4", "C5", "B9"} {
		if fill := rawFill(t, g, out, "Sheet1", c); fill != "FFC7CE" {
			t.Errorf("%s fill %q", c, fill)
		}
	}
	for _, c := range []string{"A1", "C1", "A2", "C2", "A5"} {
		if v, _ := g.GetCellValue("Sheet1", c); v != "v"+c {
			t.Errorf("%s reads %q", c, v)
		}
	}
	if fill := rawFill(t, g, out, "Sheet1", "C2"); fill == "FFC7CE" {
		t.Error("C2 highlighted without a finding")
	}
}
