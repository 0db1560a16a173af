package sheet_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"intake/internal/testenv"
	"intake/parser/sheet"
)

// openpyxlVariety writes, with openpyxl (normal mode: shared strings,
// rich text needs none), the cell kinds a submission holds: strings with
// markup characters and non-ASCII, numbers, booleans, dates and times,
// formulas without cached values, empty cells and gap rows, and a second
// workbook in the 1904 date system.
const openpyxlVariety = `
import sys, datetime
from openpyxl import Workbook
for path, epoch in ((sys.argv[1], False), (sys.argv[2], True)):
    wb = Workbook()
    if epoch:
        wb.epoch = datetime.datetime(1904, 1, 1)
    ws = wb.active
    ws.title = "Positions"
    ws.append(["Position", "Title", "Grade", "Career?", "Since", "At", "Note"])
    ws.append(["SES-1", "Chief <Data> & \"AI\" Officer", 15, True, datetime.date(2021, 1, 19), datetime.datetime(2021, 1, 19, 13, 30), "  padded  "])
    ws.append(["SES-2", "Directeur général – Zürich", 1.5e-3, False, datetime.date(1900, 2, 28), datetime.time(8, 15), "=SUM(C2:C3)"])
    ws["A6"] = "after a gap"
    ws["G6"] = "line1\nline2"
    ws["C7"] = "=C2*2"
    ws2 = wb.create_sheet("Retention")
    ws2["B2"] = "only B2"
    wb.save(path)
`

// TestStream_producers: workbooks written by openpyxl and by LibreOffice
// are read by the streaming reader itself (no fallback) and agree with
// excelize.
func TestStream_producers(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3-openpyxl")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "variety.xlsx"), filepath.Join(dir, "variety1904.xlsx")
	if out, err := exec.Command(py, "-c", openpyxlVariety, a, b).CombinedOutput(); err != nil {
		testenv.Missing(t, "openpyxl (python3-openpyxl): "+err.Error()+": "+string(out))
	}
	files := []string{a, b}
	report := filepath.Join(dir, "report.xlsx")
	writeExcelizeReport(t, report, 300)
	files = append(files, report)
	soffice := testenv.LookPath(t, "soffice", "Debian's libreoffice-calc-nogui")
	lo := filepath.Join(dir, "lo")
	for _, src := range []string{a, report} {
		cmd := exec.Command(soffice, "--headless", "--calc", "--convert-to", "xlsx", "--outdir", lo, src)
		cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("soffice: %v: %s", err, out)
		}
		files = append(files, filepath.Join(lo, filepath.Base(src)))
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d, fb := compareReaders(data, sheet.DefaultLimits(), false)
		if d != "" || fb != "" {
			t.Errorf("%s: disagreement %q, fallback %q", p, d, fb)
		}
		w, err := sheet.Open(data, sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(w)
		w.Close()
		if got.reader != "stream" || len(got.sheets) == 0 || len(got.rows[got.sheets[0]]) < 4 {
			t.Errorf("%s: reader %s, sheets %v, %d rows", p, got.reader, got.sheets, len(got.rows[got.sheets[0]]))
		}
		if filepath.Base(p) == "variety1904.xlsx" && !got.date1904 {
			t.Errorf("%s: date1904 not read", p)
		}
		if filepath.Base(p) == "variety.xlsx" || filepath.Base(p) == "variety1904.xlsx" {
			row := got.rows["Positions"][1]
			since, ok := row.Cells[4].Time(got.date1904)
			if row.Num != 2 || !ok || since.Format("2006-01-02") != "2021-01-19" || row.Cells[1].Value != `Chief <Data> & "AI" Officer` || row.Cells[3].Type != sheet.Bool {
				t.Errorf("%s: row 2 read as %+v (date %v %v)", p, row, since, ok)
			}
		}
	}
}
