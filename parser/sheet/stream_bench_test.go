package sheet_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/internal/testenv"
	"intake/parser/sheet"
)

// benchRows is the size of the position report the benchmarks read.
const benchRows = 100_000

// benchDir is where the benchmark workbooks are made: $INTAKE_BENCH_DIR
// (kept, and reused when already there, so scripts/bench-readers can time
// openpyxl on the same files), or a temporary directory.
func benchDir(tb testing.TB) string {
	if d := os.Getenv("INTAKE_BENCH_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		return d
	}
	return tb.TempDir()
}

// positionRow is row i (0-based) of the generated SES position report:
// twelve columns like the data call's position-report, column 9 a date.
func positionRow(i int) []any {
	agencies := []string{"HS00", "DJ00", "TD00", "AG00", "DD00"}
	designations := []string{"General", "Career Reserved"}
	status := []string{"Reverted to General", "In process", "Retention requested", "Not applicable"}
	appt := []string{"Career", "Noncareer", "Limited Term", "Limited Emergency", "Vacant"}
	return []any{
		agencies[i%len(agencies)],
		fmt.Sprintf("Component %d", i%37),
		fmt.Sprintf("SES-%06d", i),
		fmt.Sprintf("Deputy Assistant Secretary for Programs %d", i%113),
		fmt.Sprintf("Office of the Under Secretary, Division %d", i%59),
		designations[i%2],
		[]string{"Y", "N"}[i%3%2],
		designations[(i/2)%2],
		time.Date(2021, 1, 20, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%1500),
		status[i%len(status)],
		appt[i%len(appt)],
		fmt.Sprintf("Reviewed %d; see memo of 5 February 2025 & attachment <%d>", i%17, i%7),
	}
}

var positionHeader = []any{"Agency code", "Component", "Position number", "Position title", "Organization",
	"Designation on 2021-01-19", "Noncareer majority", "Current designation", "Redesignation date",
	"Reversion status", "Incumbent appointment type", "Notes"}

// writeExcelizeReport writes the report with excelize's StreamWriter
// (inline strings), with the real dimension (LIBRARY-NOTES: openpyxl
// trusts it).
func writeExcelizeReport(tb testing.TB, path string, rows int) {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		tb.Fatal(err)
	}
	// Before NewStreamWriter: the stream writer copies the worksheet's
	// header elements when it starts (set afterwards, it stays "A1").
	if err := f.SetSheetDimension("Sheet1", fmt.Sprintf("A1:L%d", rows+1)); err != nil {
		tb.Fatal(err)
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	if err := sw.SetRow("A1", positionHeader); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < rows; i++ {
		vals := positionRow(i)
		vals[8] = excelize.Cell{StyleID: dateStyle, Value: vals[8]}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, vals); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		tb.Fatal(err)
	}
}

// openpyxlReport is a Python program writing the same report with
// openpyxl's write_only mode (inline strings).
const openpyxlReport = `
import sys, datetime
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
path, rows = sys.argv[1], int(sys.argv[2])
wb = Workbook(write_only=True)
ws = wb.create_sheet("Sheet1")
ag = ["HS00", "DJ00", "TD00", "AG00", "DD00"]
des = ["General", "Career Reserved"]
st = ["Reverted to General", "In process", "Retention requested", "Not applicable"]
ap = ["Career", "Noncareer", "Limited Term", "Limited Emergency", "Vacant"]
ws.append(["Agency code", "Component", "Position number", "Position title", "Organization",
	"Designation on 2021-01-19", "Noncareer majority", "Current designation", "Redesignation date",
	"Reversion status", "Incumbent appointment type", "Notes"])
base = datetime.datetime(2021, 1, 20)
for i in range(rows):
	d = WriteOnlyCell(ws, value=base + datetime.timedelta(days=i % 1500))
	d.number_format = "mm-dd-yy"
	ws.append([ag[i % 5], "Component %d" % (i % 37), "SES-%06d" % i,
		"Deputy Assistant Secretary for Programs %d" % (i % 113),
		"Office of the Under Secretary, Division %d" % (i % 59),
		des[i % 2], ["Y", "N"][i % 3 % 2], des[(i // 2) % 2], d, st[i % 4], ap[i % 5],
		"Reviewed %d; see memo of 5 February 2025 & attachment <%d>" % (i % 17, i % 7)])
wb.save(path)
`

// benchFiles makes (or finds) the three position reports and returns
// their paths by producer.
func benchFiles(tb testing.TB, rows int) map[string]string {
	dir := benchDir(tb)
	files := map[string]string{
		"excelize":    filepath.Join(dir, "excelize.xlsx"),
		"openpyxl":    filepath.Join(dir, "openpyxl.xlsx"),
		"libreoffice": filepath.Join(dir, "libreoffice.xlsx"),
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if !exists(files["excelize"]) {
		writeExcelizeReport(tb, files["excelize"], rows)
	}
	if !exists(files["openpyxl"]) {
		py := testenv.LookPath(tb, "/usr/bin/python3", "Debian's python3-openpyxl")
		out, err := exec.Command(py, "-c", openpyxlReport, files["openpyxl"], fmt.Sprint(rows)).CombinedOutput()
		if err != nil {
			testenv.Missing(tb, fmt.Sprintf("openpyxl (python3-openpyxl): %v: %s", err, out))
		}
	}
	if !exists(files["libreoffice"]) {
		soffice := testenv.LookPath(tb, "soffice", "Debian's libreoffice-calc-nogui")
		lo := filepath.Join(dir, "lo")
		cmd := exec.Command(soffice, "--headless", "--calc", "--convert-to", "xlsx", "--outdir", lo, files["excelize"])
		cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "lohome"))
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("soffice: %v: %s", err, out)
		}
		if err := os.Rename(filepath.Join(lo, "excelize.xlsx"), files["libreoffice"]); err != nil {
			tb.Fatal(err)
		}
	}
	return files
}

// xmlBytes is the decompressed size of the worksheet and shared strings:
// the bytes every reader must get through, the base of MB/s.
func xmlBytes(tb testing.TB, data []byte) int64 {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/") || f.Name == "xl/sharedStrings.xml" {
			n += int64(f.UncompressedSize64)
		}
	}
	return n
}

func readStream(tb testing.TB, data []byte) (rows, cells int) {
	w, err := sheet.OpenStream(data, sheet.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	for _, name := range w.Sheets() {
		rs, err := w.Rows(name)
		if err != nil {
			tb.Fatal(err)
		}
		for rs.Next() {
			rows++
			cells += len(rs.Row().Cells)
		}
		if err := rs.Err(); err != nil {
			tb.Fatal(err)
		}
		rs.Close()
	}
	if w.Reader() != "stream" {
		tb.Fatalf("read by %s", w.Reader())
	}
	return rows, cells
}

// readExcelizeRaw is excelize's own fastest streaming path: Rows() with
// raw values (LIBRARY-NOTES), no cell types.
func readExcelizeRaw(tb testing.TB, data []byte) (rows, cells int) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for _, name := range f.GetSheetList() {
		rs, err := f.Rows(name)
		if err != nil {
			tb.Fatal(err)
		}
		for rs.Next() {
			cols, err := rs.Columns(excelize.Options{RawCellValue: true})
			if err != nil {
				tb.Fatal(err)
			}
			if len(cols) > 0 {
				rows++
			}
			for _, c := range cols {
				if c != "" {
					cells++
				}
			}
		}
		rs.Close()
	}
	return rows, cells
}

// readUnzip only decompresses the worksheets and shared strings: the
// bound no reader can beat.
func readUnzip(tb testing.TB, data []byte) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/") || f.Name == "xl/sharedStrings.xml" {
			rc, err := f.Open()
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				tb.Fatal(err)
			}
			rc.Close()
		}
	}
}

// BenchmarkReaders reads the 100,000-row position report written by
// excelize, openpyxl and LibreOffice with the streaming reader, excelize
// (raw Rows) and plain decompression, side by side. scripts/bench-readers
// turns the figures into the ratios of issue 9.
func BenchmarkReaders(b *testing.B) {
	files := benchFiles(b, benchRows)
	for _, producer := range []string{"openpyxl", "excelize", "libreoffice"} {
		data, err := os.ReadFile(files[producer])
		if err != nil {
			b.Fatal(err)
		}
		size := xmlBytes(b, data)
		b.Run(producer+"/stream", func(b *testing.B) {
			runtime.GC() // no garbage of the previous reader's run counted here
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if rows, _ := readStream(b, data); rows != benchRows+1 {
					b.Fatalf("%d rows", rows)
				}
			}
		})
		b.Run(producer+"/excelize", func(b *testing.B) {
			runtime.GC() // no garbage of the previous reader's run counted here
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if rows, _ := readExcelizeRaw(b, data); rows != benchRows+1 {
					b.Fatalf("%d rows", rows)
				}
			}
		})
		b.Run(producer+"/unzip", func(b *testing.B) {
			runtime.GC() // no garbage of the previous reader's run counted here
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				readUnzip(b, data)
			}
		})
	}
}

// BenchmarkReadFile reads the workbook named by $INTAKE_READ_FILE with the
// streaming reader, once per iteration; scripts/bench-readers runs it once
// under /usr/bin/time to measure the reader's peak memory. It is a
// benchmark, not a test, so `make test` never meets it without its file.
func BenchmarkReadFile(b *testing.B) {
	p := os.Getenv("INTAKE_READ_FILE")
	if p == "" {
		b.Skip("INTAKE_READ_FILE not set (used by scripts/bench-readers)")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if rows, cells := readStream(b, data); rows == 0 || cells == 0 {
			b.Fatalf("%s: %d rows, %d cells", p, rows, cells)
		}
	}
}
