package sheet_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser/sheet"
)

// renamed returns a copy of a zip with every entry renamed.
func renamed(tb testing.TB, data []byte, rename func(string) string) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: rename(f.Name), Method: zip.Deflate})
		if err != nil {
			tb.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(w, rc); err != nil {
			tb.Fatal(err)
		}
		rc.Close()
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// backslashes names entries as some Windows zip tools do: "xl\workbook.xml".
func backslashes(name string) string { return strings.ReplaceAll(name, "/", `\`) }

// namesWorkbook is a two-sheet workbook written by excelize: shared
// strings, a number, a date, a bool.
func namesWorkbook(tb testing.TB) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetRow("Sheet1", "A1", &[]any{"Position", "Grade", "Since", "Vacant"}); err != nil {
		tb.Fatal(err)
	}
	if err := f.SetSheetRow("Sheet1", "A2", &[]any{"Chief Data Officer", 15, time.Date(2021, 1, 19, 0, 0, 0, 0, time.UTC), false}); err != nil {
		tb.Fatal(err)
	}
	if _, err := f.NewSheet("Retention"); err != nil {
		tb.Fatal(err)
	}
	if err := f.SetCellValue("Retention", "B3", "Impartiality"); err != nil {
		tb.Fatal(err)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// readWith opens data with one reader and reads every row.
func readWith(tb testing.TB, open func([]byte, sheet.Limits) (sheet.Workbook, error), data []byte) *book {
	tb.Helper()
	w, err := open(data, sheet.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	return readAll(w)
}

// TestStream_backslashNames: a zip whose entries are named with
// backslashes ("xl\workbook.xml"; in the corpus calamine/issue_530.xlsx,
// exceldatareader/Test_git_issue_385_backslash.xlsx and
// poi/spreadsheet/49609.xlsx, which also spells its shared strings and
// content types in lower case) is read by the stream reader itself, as
// excelize reads it. The stream reader used to find no workbook part in
// it, and the sender was told the file was corrupted.
func TestStream_backslashNames(t *testing.T) {
	base := namesWorkbook(t)
	want := readWith(t, sheet.OpenExcelize, base)
	if len(want.sheets) != 2 || len(want.rows["Sheet1"]) != 2 || !want.rows["Sheet1"][1].Cells[2].Date {
		t.Fatalf("unexpected base workbook: %+v", want)
	}
	tests := []struct {
		name   string
		rename func(string) string
	}{
		{"backslashes", backslashes},
		{"backslashes and lower-case shared strings and content types", func(n string) string {
			if n == "xl/sharedStrings.xml" || n == "[Content_Types].xml" {
				n = strings.ToLower(n)
			}
			return backslashes(n)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := renamed(t, base, tc.rename)
			if !bytes.Contains(data, []byte(`xl\workbook.xml`)) {
				t.Fatal("the renamed zip has no backslash names")
			}
			if d := diffBooks(want, readWith(t, sheet.OpenExcelize, data)); d != "" {
				t.Fatalf("excelize reads the renamed zip differently: %s", d)
			}
			got := readWith(t, sheet.OpenStream, data)
			if d := diffBooks(want, got); d != "" || got.reader != "stream" {
				t.Errorf("stream reader: %s (reader %s)", d, got.reader)
			}
			if got := readWith(t, sheet.Open, data); got.reader != "stream" {
				t.Errorf("Open: Reader() = %q, want stream", got.reader)
			}
			if d, note := compareReaders(data, sheet.DefaultLimits(), false); d != "" || note != "" {
				t.Errorf("compareReaders: %q, %q", d, note)
			}
		})
	}
	// archive/zip reports names with backslashes as insecure paths
	// (ErrInsecurePath) under GODEBUG=zipinsecurepath=0, which a later Go
	// may make the default; the stream reader only looks names up.
	t.Run("zipinsecurepath=0", func(t *testing.T) {
		data := renamed(t, base, backslashes)
		t.Setenv("GODEBUG", "zipinsecurepath=0")
		if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); !errors.Is(err, zip.ErrInsecurePath) {
			t.Fatalf("zip.NewReader: %v, want ErrInsecurePath (the premise of this test)", err)
		}
		if d := diffBooks(want, readWith(t, sheet.OpenStream, data)); d != "" {
			t.Errorf("stream reader: %s", d)
		}
	})
}

// TestOpen_noWorkbookFoundFallsBack: where the stream reader finds no
// workbook part in a zip (ErrNotXLSX) but excelize opens the file, Open
// reads it with excelize instead of refusing it. Here the package's first
// relationship, of a type the stream reader takes for the workbook and
// excelize does not (the Microsoft namespace), names a missing part.
func TestOpen_noWorkbookFoundFallsBack(t *testing.T) {
	base := namesWorkbook(t)
	rels := partOf(t, base, "_rels/.rels")
	i := strings.Index(rels, "<Relationship ")
	if i < 0 {
		t.Fatalf("unexpected relationships %s", rels)
	}
	rels = rels[:i] + `<Relationship Id="rIdX" Type="http://schemas.microsoft.com/office/2006/relationships/officeDocument" Target="xl/missing.xml"/>` + rels[i:]
	data := rewrite(t, base, map[string]string{"_rels/.rels": rels})
	if _, err := sheet.OpenStream(data, sheet.DefaultLimits()); !errors.Is(err, sheet.ErrNotXLSX) {
		t.Fatalf("OpenStream: %v, want ErrNotXLSX (the premise of this test)", err)
	}
	want := readWith(t, sheet.OpenExcelize, data)
	got := readWith(t, sheet.Open, data)
	if d := diffBooks(want, got); d != "" || got.reader != "excelize" {
		t.Errorf("Open: %s (reader %s), want excelize's reading", d, got.reader)
	}
	if len(got.rows["Sheet1"]) != 2 {
		t.Errorf("Open read %d rows of Sheet1, want 2", len(got.rows["Sheet1"]))
	}
}
