package sheet_test

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/unicode"

	"intake/internal/testenv"
	"intake/parser/parsertest"
	"intake/parser/sheet"
)

// toUTF16 transcodes every XML part of a workbook to UTF-16 with a
// byte-order mark, its declaration saying so, as Excel on Windows Phone
// writes packages (the Open Packaging Conventions allow UTF-8 and
// UTF-16). Parts alternate between big- and little-endian.
func toUTF16(tb testing.TB, data []byte) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	decl := regexp.MustCompile(`(?i)encoding="utf-8"`)
	for i, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".xml") && !strings.HasSuffix(f.Name, ".rels") {
			continue
		}
		order := unicode.BigEndian
		if i%2 == 1 {
			order = unicode.LittleEndian
		}
		enc := unicode.UTF16(order, unicode.UseBOM).NewEncoder()
		data = parsertest.RewritePart(tb, data, f.Name, func(b []byte) []byte {
			b = decl.ReplaceAll(b, []byte(`encoding="UTF-16"`))
			out, err := enc.Bytes(b)
			if err != nil {
				tb.Fatal(err)
			}
			return out
		})
	}
	return data
}

// TestStream_utf16Parts (issue 15): a workbook whose XML parts are UTF-16
// (PhpSpreadsheet's utf16be.xlsx is one) is read, by the stream reader
// itself and by excelize, as the same workbook in UTF-8 is.
func TestStream_utf16Parts(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3-openpyxl")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "variety.xlsx"), filepath.Join(dir, "variety1904.xlsx")
	if out, err := exec.Command(py, "-c", openpyxlVariety, a, b).CombinedOutput(); err != nil {
		testenv.Missing(t, "openpyxl (python3-openpyxl): "+err.Error()+": "+string(out))
	}
	report := filepath.Join(dir, "report.xlsx")
	writeExcelizeReport(t, report, 300)
	for _, p := range []string{a, b, report} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		wide := toUTF16(t, data)
		if bytes.Contains(wide, []byte("<worksheet")) {
			t.Fatal("the parts were not transcoded")
		}
		want, err := sheet.OpenStream(data, sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		wantBook := readAll(want)
		want.Close()
		for _, open := range []func([]byte, sheet.Limits) (sheet.Workbook, error){sheet.Open, sheet.OpenExcelize} {
			w, err := open(wide, sheet.DefaultLimits())
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(p), err)
			}
			got := readAll(w)
			w.Close()
			if d := diffBooks(wantBook, got); d != "" {
				t.Errorf("%s (%s): %s", filepath.Base(p), got.reader, d)
			}
			if len(got.rows) == 0 {
				t.Errorf("%s (%s): no rows", filepath.Base(p), got.reader)
			}
		}
		if w, _ := sheet.Open(wide, sheet.DefaultLimits()); w == nil || w.Reader() != "stream" {
			t.Errorf("%s: not read by the stream reader itself", filepath.Base(p))
		}
	}
}

// TestStream_surrogatePairEscapes (issue 15): a character beyond the
// Basic Multilingual Plane written as a pair of _xHHHH_ escapes (UTF-16
// code units: _xD801__xDC05_ is U+10405, as in PhpSpreadsheet's
// issue.4724.xlsx) is decoded, in shared and inline strings; a lone
// surrogate escape drops out, and an escaped underscore stays literal.
func TestStream_surrogatePairEscapes(t *testing.T) {
	f := excelize.NewFile()
	cells := map[string]string{"A1": "PAIR", "A2": "LONE", "A3": "LITERAL", "A4": "MIXED"}
	for ref, v := range cells {
		if err := f.SetCellStr("Sheet1", ref, v); err != nil {
			t.Fatal(err)
		}
	}
	data := parsertest.Bytes(t, f)
	escapes := strings.NewReplacer(
		"PAIR", "_xD801__xDC05_",
		"LONE", "a_xD801_b",
		"LITERAL", "_x005F_xD801__xDC05_",
		"MIXED", "_x0041__xd83d__xde00_!",
	)
	want := []string{"\U00010405", "ab", "_xD801_", "A\U0001F600!"}
	shared := parsertest.RewritePart(t, data, "xl/sharedStrings.xml", func(b []byte) []byte { return []byte(escapes.Replace(string(b))) })
	// excelize's stream writer writes inline strings.
	sf := excelize.NewFile()
	sw, err := sf.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"PAIR", "LONE", "LITERAL", "MIXED"} {
		if err := sw.SetRow("A"+string(rune('1'+i)), []any{v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	inline := parsertest.RewritePart(t, parsertest.Bytes(t, sf), "xl/worksheets/sheet1.xml", func(b []byte) []byte {
		if !bytes.Contains(b, []byte("inlineStr")) {
			t.Fatal("the stream writer wrote no inline string")
		}
		return []byte(escapes.Replace(string(b)))
	})
	for name, data := range map[string][]byte{"shared": shared, "inline": inline} {
		w, err := sheet.OpenStream(data, sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		rows, err := w.Rows("Sheet1")
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for ; rows.Next(); i++ {
			if got := rows.Row().Cells[0].Value; i >= len(want) || got != want[i] {
				t.Errorf("%s: row %d = %q, want %q", name, i+1, got, want[min(i, len(want)-1)])
			}
		}
		if i != len(want) {
			t.Errorf("%s: %d rows, want %d", name, i, len(want))
		}
		w.Close()
	}
}
