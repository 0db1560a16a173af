package workbook_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/internal/testenv"
	"intake/parser"
	"intake/parser/sheet"
	"intake/workbook"
)

// fillScript fills the position-report template of testDef the way an
// agency would with openpyxl: two rows typed in below the header.
const fillScript = `
import sys, datetime, openpyxl
src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3]
wb = openpyxl.load_workbook(src)
ws = wb[name]
rows = [
    ["HS-0001", "General", "Y", datetime.datetime(2024, 12, 2), 15, "In process"],
    ["HS-0002", "Career Reserved", "N", datetime.datetime(2025, 1, 31), 14, "Other status category R"],
]
for r, values in enumerate(rows, start=2):
    for c, v in enumerate(values, start=1):
        cell = ws.cell(row=r, column=c, value=v)
        if isinstance(v, datetime.datetime):
            cell.number_format = "yyyy-mm-dd"
wb.save(dst)
`

// survival says what a program keeps of the template when it rewrites it
// (found by running them: Debian bookworm's openpyxl 3.0.9, LibreOffice
// 7.4, Gnumeric 1.12). What a program drops is not asserted, only logged:
//   - LibreOffice (headless --convert-to) drops the frozen header pane and
//     cuts each validation's range to the first 1,000 or so rows;
//   - Gnumeric makes the hidden Lists sheet visible (the drop-downs still
//     work) and leaves out attributes that are OOXML defaults.
//
// All three keep the drop-down lists, the date and whole-number
// validations, and the intake_call signature, so a template filled in any
// of them is still routed by its signature.
type survival struct {
	validations bool // drop-down lists, date and whole-number validations
	signature   bool // the intake_call defined name
	frozen      bool // the header row stays frozen
	fullRange   bool // validations still cover the whole column
	listsHidden bool // the Lists sheet stays hidden
}

// Round trips through the programs agencies (and we) use. Each program
// writes a filled copy; the cells must read back through the parser's
// reader, and the template's validations and signature must survive
// where the program keeps them.
func TestTemplate_roundTrip(t *testing.T) {
	py := "/usr/bin/python3" // Debian's python3-openpyxl is importable only there
	if _, err := os.Stat(py); err != nil {
		testenv.Missing(t, "/usr/bin/python3 (Debian package python3-openpyxl)")
	}
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		testenv.Missing(t, "openpyxl for /usr/bin/python3 (Debian package python3-openpyxl)")
	}
	tmpl, err := workbook.Template(testDef(), "position-report")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "template.xlsx")
	if err := os.WriteFile(src, tmpl, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "fill.py")
	if err := os.WriteFile(script, []byte(fillScript), 0o644); err != nil {
		t.Fatal(err)
	}
	filled := filepath.Join(dir, "filled.xlsx")
	run(t, dir, py, script, src, filled, "Position report")

	t.Run("openpyxl", func(t *testing.T) {
		checkFilled(t, filled, survival{validations: true, signature: true, frozen: true, fullRange: true, listsHidden: true})
	})
	t.Run("LibreOffice", func(t *testing.T) {
		soffice := testenv.LookPath(t, "soffice", "Debian package libreoffice-calc-nogui")
		out := filepath.Join(dir, "libreoffice")
		profile := filepath.Join(dir, "lo-profile")
		run(t, dir, soffice, "-env:UserInstallation=file://"+filepath.ToSlash(profile),
			"--headless", "--calc", "--convert-to", "xlsx", "--outdir", out, filled)
		checkFilled(t, filepath.Join(out, "filled.xlsx"), survival{validations: true, signature: true, listsHidden: true})
	})
	t.Run("Gnumeric", func(t *testing.T) {
		ssconvert := testenv.LookPath(t, "ssconvert", "Debian package gnumeric")
		out := filepath.Join(dir, "gnumeric.xlsx")
		run(t, dir, ssconvert, filled, out)
		checkFilled(t, out, survival{validations: true, signature: true, frozen: true, fullRange: true})
	})
}

func run(t *testing.T, dir, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(prog), err, out)
	}
}

func checkFilled(t *testing.T, path string, want survival) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := sheet.OpenExcelize(data, sheet.DefaultLimits())
	if err != nil {
		t.Fatalf("parser cannot open the filled copy: %v", err)
	}
	defer wb.Close()
	rows := readRows(t, wb, "Position report")
	if len(rows) < 3 {
		t.Fatalf("%d rows read back, want header + 2", len(rows))
	}
	got := cellsText(rows[1], wb.Date1904()) + " | " + cellsText(rows[2], wb.Date1904())
	want1 := "HS-0001;General;Y;2024-12-02;15;In process | HS-0002;Career Reserved;N;2025-01-31;14;Other status category R"
	if got != want1 {
		t.Errorf("cells read back:\n got %s\nwant %s", got, want1)
	}

	annotateCopy(t, data)

	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dv := validations(t, f, "Position report")
	hasList := dv["B"] != nil && dv["B"].Type == "list" && strings.Contains(dv["B"].Formula1, "Career Reserved")
	hasLong := dv["F"] != nil && dv["F"].Type == "list" && strings.Contains(dv["F"].Formula1, "Lists")
	hasWhole := dv["E"] != nil && dv["E"].Type == "whole" && dv["E"].Formula1 == "1" && dv["E"].Formula2 == "15"
	hasDate := dv["D"] != nil && dv["D"].Type == "date"
	if want.validations && !(hasList && hasLong && hasWhole && hasDate) {
		t.Errorf("validations lost: B %+v, D %+v, E %+v, F %+v", dv["B"], dv["D"], dv["E"], dv["F"])
	}
	if want.fullRange && (dv["B"] == nil || dv["B"].Sqref != "B2:B1048576") {
		t.Errorf("validation range cut: %+v", dv["B"])
	}
	sig := signature(f)
	if want.signature && sig != `"test-call/position-report"` {
		t.Errorf("signature lost: %q (names %+v)", sig, f.GetDefinedName())
	}
	p, err := f.GetPanes("Position report")
	if err != nil {
		t.Fatal(err)
	}
	if want.frozen && !(p.Freeze && p.YSplit == 1) {
		t.Errorf("header no longer frozen: %+v", p)
	}
	listsVisible, err := f.GetSheetVisible("Lists")
	if err != nil {
		t.Fatal(err)
	}
	if want.listsHidden && listsVisible {
		t.Error("the Lists sheet became visible")
	}
	t.Logf("kept: validations %v, signature %q, frozen %v, B range %v, Lists visible %v",
		hasList && hasLong && hasWhole && hasDate, sig, p.Freeze, dv["B"] != nil && dv["B"].Sqref == "B2:B1048576", listsVisible)
}

// annotateCopy annotates a workbook another program wrote: the flagged
// date cell is highlighted and keeps its date format.
func annotateCopy(t *testing.T, data []byte) {
	t.Helper()
	out, err := workbook.Annotate(context.Background(), parser.Input{Name: "filled.xlsx", Data: data}, []parser.Finding{{
		Sheet: "Position report", Row: 3, Col: 4, Column: "Redesignation Date", Code: "rule",
		Severity: parser.SeverityError, Message: "The date is after the memo.", Fix: "Check the date.",
	}}, workbook.Options{})
	if err != nil {
		t.Fatalf("annotate: %v", err)
	}
	f := openXLSX(t, out)
	if fill := rawFill(t, f, out, "Position report", "D3"); fill != "FFC7CE" {
		t.Errorf("D3 fill %q, want the error highlight FFC7CE", fill)
	}
	if fill := rawFill(t, f, out, "Position report", "D2"); fill == "FFC7CE" {
		t.Error("D2 highlighted without a finding")
	}
	if v, _ := f.GetCellValue("Position report", "D3"); v != "2025-01-31" {
		t.Errorf("D3 reads %q after annotation, want its date format kept", v)
	}
	if cs, _ := f.GetComments("Position report"); len(cs) != 1 || cs[0].Cell != "D3" {
		t.Errorf("comments %+v", cs)
	}
}

// cellsText renders a row as its cell values, dates as YYYY-MM-DD.
func cellsText(r sheet.Row, date1904 bool) string {
	var out []string
	for _, c := range r.Cells {
		v := c.Value
		if tm, ok := c.Time(date1904); ok {
			v = tm.Format("2006-01-02")
		}
		out = append(out, v)
	}
	return strings.Join(out, ";")
}
