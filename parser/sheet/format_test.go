package sheet_test

import (
	"bytes"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/internal/testenv"
	"intake/parser/sheet"
)

// openpyxlFormats writes the number formats agencies key codes with:
// each row holds a raw value, its number format, and the text a
// spreadsheet program shows for it.
const openpyxlFormats = `
import sys
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.title = "Formats"
rows = [
    (340, "0000", "0340"),
    (1234, "00000", "01234"),
    (15, "00", "15"),
    (7, "00", "07"),
    (1234567, "#,##0", "1,234,567"),
    (0.5, "0%", "50%"),
    (4.25, "0.0", "4.3"),
    (340, "@", "340"),
    (340, "General", "340"),
    (1e20, "General", "1E+20"),
    (123456, '"SES-"000000', "SES-123456"),
]
for i, (v, fmt, shown) in enumerate(rows, start=1):
    c = ws.cell(row=i, column=1, value=v)
    c.number_format = fmt
    ws.cell(row=i, column=2, value=fmt)
    ws.cell(row=i, column=3, value=shown)
ws.cell(row=len(rows) + 1, column=1, value=True)
ws.cell(row=len(rows) + 1, column=3, value="TRUE")
wb.save(sys.argv[1])
`

// TestCellText_formats (issue 15): a number cell shows through its number
// format as the spreadsheet program shows it (the third column holds what
// Excel shows), in both readers, and agrees with excelize's own
// formatted reading of the file.
func TestCellText_formats(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3-openpyxl")
	path := filepath.Join(t.TempDir(), "formats.xlsx")
	if out, err := exec.Command(py, "-c", openpyxlFormats, path).CombinedOutput(); err != nil {
		testenv.Missing(t, "openpyxl (python3-openpyxl): "+err.Error()+": "+string(out))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, open := range []func([]byte, sheet.Limits) (sheet.Workbook, error){sheet.OpenStream, sheet.OpenExcelize} {
		w, err := open(data, sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		rows, err := w.Rows("Formats")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			r := rows.Row()
			c, shown := r.Cells[0], r.Cells[len(r.Cells)-1].Value
			if c.Type == sheet.Number && c.Format() != r.Cells[1].Value {
				t.Errorf("%s: row %d: Format() = %q, want %q", w.Reader(), r.Num, c.Format(), r.Cells[1].Value)
			}
			if got := c.Text(); got != shown {
				t.Errorf("%s: row %d: Text() of %q = %q, want %q", w.Reader(), r.Num, c.Value, got, shown)
			}
			n++
		}
		if err := rows.Err(); err != nil || n != 12 {
			t.Fatalf("%s: %d rows, %v", w.Reader(), n, err)
		}
		w.Close()
	}
	checkTextAgainstExcelize(t, "formats.xlsx", data)
}

// TestCellText_storedDigits (issue 15): Excel stores 4.1 as
// 4.0999999999999996 (17 significant digits); General shows 15, so the
// text is 4.1. The file is written as Excel writes it, the raw text kept.
func TestCellText_storedDigits(t *testing.T) {
	f := excelize.NewFile()
	for i, v := range []string{"4.0999999999999996", "0.30000000000000004", "123456789012345678"} {
		if err := f.SetCellDefault("Sheet1", "A"+strconv.Itoa(i+1), v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := []string{"4.1", "0.3", "1.23456789012346E+17"}
	w, err := sheet.OpenStream(buf.Bytes(), sheet.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rows, err := w.Rows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for ; rows.Next(); i++ {
		if got := rows.Row().Cells[0].Text(); i >= len(want) || got != want[i] {
			t.Errorf("row %d: Text() = %q, want %q", i+1, got, want[min(i, len(want)-1)])
		}
	}
	if i != len(want) {
		t.Fatalf("%d rows, want %d", i, len(want))
	}
	checkTextAgainstExcelize(t, "stored.xlsx", buf.Bytes())
}

// TestCellText_corpus: for every number and boolean cell of every corpus
// workbook the stream reader reads, Text() is what excelize's formatted
// reading of the file (GetRows without raw values) gives: the stream
// reader finds each cell's number format as excelize does, and applies it
// as excelize does.
func TestCellText_corpus(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "corpus", "xlsx")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		testenv.Missing(t, "the xlsx corpus")
	}
	sort.Strings(files)
	cells := 0
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if _, blind := oracleTypeBlind[rel]; blind {
			continue // excelize cannot see these cells' styles
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if raceEnabled && len(data) > 100<<10 {
			continue // excelize opening the large ones is what takes the time
		}
		cells += checkTextAgainstExcelize(t, rel, data)
	}
	t.Logf("%d formatted cells compared", cells)
	if cells < 1000 {
		t.Fatalf("only %d cells compared", cells)
	}
}

// checkTextAgainstExcelize compares Text() of the number and boolean cells
// the stream reader reads (where it reads the whole file itself) with
// excelize's formatted values, and returns how many it compared.
func checkTextAgainstExcelize(t *testing.T, name string, data []byte) int {
	t.Helper()
	lim := sheet.DefaultLimits()
	w, err := sheet.OpenStream(data, lim)
	if err != nil {
		return 0
	}
	defer w.Close()
	if sheet.CheckModelSize(data, lim) != nil {
		return 0
	}
	x, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: lim.MaxTotalBytes, UnzipXMLSizeLimit: lim.MaxPartBytes})
	if err != nil {
		return 0
	}
	defer x.Close()
	n := 0
	for _, s := range w.Sheets() {
		xr, err := x.Rows(s)
		if err != nil {
			continue
		}
		rows, err := w.Rows(s)
		if err != nil {
			xr.Close()
			continue
		}
		xnum := 0
		var shown []string
		for n < maxTextCells && rows.Next() {
			r := rows.Row()
			for xnum < r.Num && xr.Next() {
				xnum++
				if xnum == r.Num {
					shown, _ = xr.Columns()
				}
			}
			if xnum != r.Num {
				shown = nil
			}
			for _, c := range r.Cells {
				if c.Type != sheet.Number && c.Type != sheet.Bool {
					continue
				}
				want := ""
				if c.Col <= len(shown) {
					want = shown[c.Col-1]
				}
				if got := c.Text(); got != want && !generalWidth(c, got, want) && !isoAsWritten(c, want) {
					t.Errorf("%s: sheet %q %s%d: Text() of %q (format %q) = %q, excelize shows %q", name, s, colName(c.Col), r.Num, c.Value, c.Format(), got, want)
				}
				n++
			}
		}
		rows.Close()
		xr.Close()
		if w.Reader() != "stream" {
			break // excelize read the rest: nothing of ours to compare
		}
	}
	return n
}

// maxTextCells bounds the cells compared per workbook: a format repeats
// down a column, and excelize's formatted reading is slow.
const maxTextCells = 5_000

// generalWidth reports the one way Text() differs from excelize on
// purpose: excelize shows a General cell that has a style in at most 11
// characters, as Excel does in a standard-width column ("0.2222222222"),
// and an unstyled one with 15 significant digits; Text() always shows 15
// (the precision Excel keeps, whatever the column width), so the two
// texts must be the same number but for excelize's rounding to about 11
// characters.
func generalWidth(c sheet.Cell, got, want string) bool {
	digits := strings.TrimPrefix(want, "-")
	if c.Format() != "General" || len(digits) > 1 && digits[0] == '0' && digits[1] != '.' {
		return false // a leading zero is a format's, not General's
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && math.Abs(g-w) <= 1e-5*math.Abs(g)
}

// isoAsWritten reports a date cell that excelize shows as an ISO 8601
// date or time: a t="d" cell whose value it cannot parse (a date without
// a time, a time alone, a fraction of a second past nanoseconds, a date
// before 1900) is shown as written. (A date cell's Text() is not what a
// text column takes: that is its ISO date.)
func isoAsWritten(c sheet.Cell, want string) bool {
	return c.Date && isoText.MatchString(want)
}

var isoText = regexp.MustCompile(`^(\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d)`)

func colName(col int) string {
	s, _ := excelize.ColumnNumberToName(col)
	return s
}
