package sheet_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser/sheet"
)

// farCells writes a 21 KB workbook whose rows each name a cell in column
// XFD, and whose first cell (s="") sends the stream reader to excelize.
// excelize's model pads every row to column XFD: 49 M cells, about 13 GB,
// before this was bounded.
func farCells(t *testing.T, rows int) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetCellStr("Sheet1", "A1", "h"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range zr.File {
		w, err := zw.Create(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if e.Name == "xl/worksheets/sheet1.xml" {
			var b strings.Builder
			b.WriteString(`<sheetData><row r="1"><c r="A1" s=""><v>1</v></c></row>`)
			for i := 2; i <= rows; i++ {
				fmt.Fprintf(&b, `<row r="%d"><c r="XFD%d"><v>1</v></c></row>`, i, i)
			}
			b.WriteString(`</sheetData>`)
			s := string(data)
			start, end := strings.Index(s, "<sheetData"), strings.Index(s, "</sheetData>")+len("</sheetData>")
			data = []byte(s[:start] + b.String() + s[end:])
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// A few kilobytes must not make excelize's model take gigabytes: the file
// is refused as too large before excelize reads it, directly or as the
// stream reader's fallback.
func TestExcelizeModelBounded(t *testing.T) {
	data := farCells(t, 3000)
	if _, err := sheet.OpenExcelize(data, sheet.DefaultLimits()); !errors.Is(err, sheet.ErrTooLarge) {
		t.Fatalf("OpenExcelize: %v, want ErrTooLarge", err)
	}
	wb, err := sheet.Open(data, sheet.DefaultLimits())
	if err != nil {
		if !errors.Is(err, sheet.ErrTooLarge) {
			t.Fatalf("Open: %v", err)
		}
		return
	}
	defer wb.Close()
	rows, err := wb.Rows(wb.Sheets()[0])
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if !errors.Is(err, sheet.ErrTooLarge) {
		t.Fatalf("reading through the fallback: %v, want ErrTooLarge", err)
	}
	// A sheet as wide but short enough stays readable.
	small := farCells(t, 50)
	wb2, err := sheet.OpenExcelize(small, sheet.DefaultLimits())
	if err != nil {
		t.Fatalf("50 far rows refused: %v", err)
	}
	wb2.Close()
}

func TestCheckModelSize_realReport(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	for r := 1; r <= 200; r++ {
		for c := 1; c <= 12; c++ {
			cell, _ := excelize.CoordinatesToCellName(c, r)
			if err := f.SetCellStr("Sheet1", cell, "v"); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := sheet.CheckModelSize(buf.Bytes(), sheet.Limits{MaxModelCells: 2400}); err != nil {
		t.Errorf("200 x 12 cells refused at a 2400-cell bound: %v", err)
	}
	if err := sheet.CheckModelSize(buf.Bytes(), sheet.Limits{MaxModelCells: 2399}); !errors.Is(err, sheet.ErrTooLarge) {
		t.Errorf("200 x 12 cells accepted at a 2399-cell bound: %v", err)
	}
}

// The bound holds for a zip whose entries are named with backslashes
// ("xl\worksheets\sheet1.xml"), which excelize reads as the worksheet it
// is; the scan used to pass over such a part.
func TestCheckModelSize_backslashNames(t *testing.T) {
	small := farCells(t, 50)
	want := readWith(t, sheet.OpenExcelize, small)
	got := readWith(t, sheet.OpenExcelize, renamed(t, small, backslashes))
	if d := diffBooks(want, got); d != "" || len(got.rows["Sheet1"]) < 40 {
		t.Fatalf("excelize reads the renamed sheet differently: %s, %d rows (the premise of this test)", d, len(got.rows["Sheet1"]))
	}
	data := renamed(t, farCells(t, 3000), backslashes)
	if err := sheet.CheckModelSize(data, sheet.DefaultLimits()); !errors.Is(err, sheet.ErrTooLarge) {
		t.Fatalf("CheckModelSize: %v, want ErrTooLarge", err)
	}
}
