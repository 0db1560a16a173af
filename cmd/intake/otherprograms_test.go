package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/internal/testenv"
	"intake/parser"
	"intake/parser/sheet"
)

// fillSES fills the official position-report template with openpyxl, as an
// agency using Python would: text cells, real dates, the drop-down values.
const fillSES = `
import sys, datetime, openpyxl
src, dst = sys.argv[1], sys.argv[2]
wb = openpyxl.load_workbook(src)
ws = wb.worksheets[0]
headers = [c.value for c in ws[1]]
rows = [
    {"Agency Code": "HS", "Component": "HS01", "Position Number": "HS-0001", "Position Title": "Deputy Under Secretary for Policy",
     "Organization": "Office of Strategy, Policy, and Plans", "Designation on 2021-01-19": "General",
     "Noncareer Majority 2021-2025 (Y/N)": "Y", "Current Designation": "General", "Reversion Status": "Not applicable",
     "Incumbent Appointment Type": "Noncareer"},
    {"Agency Code": "HS", "Component": "HS02", "Position Number": "HS-0003", "Position Title": "Associate Administrator for Communications",
     "Organization": "Transportation Security Administration", "Designation on 2021-01-19": "General",
     "Noncareer Majority 2021-2025 (Y/N)": "N", "Current Designation": "General",
     "Redesignation Date": datetime.datetime(2024, 11, 15), "Reversion Status": "Reverted to General",
     "Incumbent Appointment Type": "Career"},
]
for r, row in enumerate(rows, start=2):
    for c, h in enumerate(headers, start=1):
        if h in row:
            ws.cell(row=r, column=c, value=row[h])
wb.save(dst)
`

// The official template, filled in by openpyxl and then saved again by
// LibreOffice and by Gnumeric, is accepted by the check every time.
func TestTemplateFilledByOtherProgramsIsAccepted(t *testing.T) {
	py := "/usr/bin/python3" // Debian's python3-openpyxl is importable only there
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		testenv.Missing(t, "openpyxl for /usr/bin/python3 (Debian package python3-openpyxl)")
	}
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.xlsx")
	if _, _, err := runCmd(t, "template", "ses-designation-review", "position-report", "-o", tpl); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "fill.py")
	if err := os.WriteFile(script, []byte(fillSES), 0o644); err != nil {
		t.Fatal(err)
	}
	filled := filepath.Join(dir, "filled.xlsx")
	program(t, dir, py, script, tpl, filled)

	copies := savedByOthers(t, dir, filled, "")
	copies["openpyxl"] = filled
	for name, path := range copies {
		out, _, err := runCmd(t, "check", path)
		if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, "Records: 2 position-report") {
			t.Errorf("%s copy not accepted: %v\n%s", name, err, out)
		}
	}
}

// savedByOthers has LibreOffice and Gnumeric (where installed; under CI
// they must be) open src and save it as .xlsx; loFilter is LibreOffice's
// import filter, "" to let it guess. It returns the copies by program.
func savedByOthers(t *testing.T, dir, src, loFilter string) map[string]string {
	t.Helper()
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	copies := map[string]string{}
	if soffice := lookOrMissing(t, "soffice", "libreoffice-calc-nogui"); soffice != "" {
		out := filepath.Join(dir, "lo")
		args := []string{"-env:UserInstallation=file://" + filepath.Join(dir, "lo-profile"), "--headless"}
		if loFilter != "" {
			args = append(args, "--infilter="+loFilter)
		}
		program(t, dir, soffice, append(args, "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", out, src)...)
		copies["LibreOffice"] = filepath.Join(out, base+".xlsx")
	}
	if ssconvert := lookOrMissing(t, "ssconvert", "gnumeric"); ssconvert != "" {
		out := filepath.Join(dir, base+"-gnumeric.xlsx")
		program(t, dir, ssconvert, "--export-type=Gnumeric_Excel:xlsx2", src, out)
		copies["Gnumeric"] = out
	}
	return copies
}

func lookOrMissing(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if testenv.CI() {
			t.Fatalf("missing under CI: %s (Debian package %s)", prog, pkg)
		}
		t.Logf("%s not installed (Debian package %s): that copy is not checked", prog, pkg)
		return ""
	}
	return p
}

func program(t *testing.T, dir, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(prog), err, out)
	}
}

// enteredCSV is what a clerk types into LibreOffice or Gnumeric: the
// programs themselves decide the cells' types (a US date becomes a date
// cell with the program's own date format, a count a number).
const enteredCSV = `Agency Code,Component,Position Number,Position Title,Organization,Designation on 2021-01-19,Noncareer Majority 2021-2025 (Y/N),Current Designation,Redesignation Date,Reversion Status,Incumbent Appointment Type,Notes
HS,HS01,HS-0001,Deputy Under Secretary for Policy,"Office of Strategy, Policy, and Plans",General,Y,General,,Not applicable,Noncareer,
HS,HS02,HS-0003,Associate Administrator for Communications,Transportation Security Administration,General,N,General,11/15/2024,Reverted to General,Career,Reverted by order of 15 Nov
`

// Workbooks whose values were entered through LibreOffice and Gnumeric (not
// only re-saved by them) are read cell for cell: dates come out as the
// dates the clerk typed.
func TestValuesEnteredByOtherPrograms(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "entered.csv")
	if err := os.WriteFile(csv, []byte(enteredCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	// LibreOffice's CSV filter: comma, double quote, UTF-8, from line 1,
	// US English (so 11/15/2024 is a date).
	made := savedByOthers(t, dir, csv, "CSV:44,34,76,1,,1033")
	for name, path := range made {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The program typed the date: a date cell, not text.
		wb, err := sheet.Open(data, sheet.DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows, err := wb.Rows(wb.Sheets()[0])
		if err != nil {
			t.Fatal(err)
		}
		var dateCell *sheet.Cell
		for rows.Next() {
			if r := rows.Row(); r.Num == 3 {
				for _, c := range r.Cells {
					if c.Col == 9 {
						dateCell = &c
					}
				}
			}
		}
		rows.Close()
		wb.Close()
		if dateCell == nil || !dateCell.Date {
			t.Errorf("%s: I3 is %+v, want a date cell", name, dateCell)
		}

		out, _, err := runCmd(t, "check", path, "--call", "ses-designation-review")
		if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, "Records: 2 position-report") {
			t.Errorf("%s workbook not accepted: %v\n%s", name, err, out)
		}
		defs, err := parser.Builtin()
		if err != nil {
			t.Fatal(err)
		}
		var ses *parser.Definition
		for _, d := range defs {
			if d.ID == "ses-designation-review" {
				ses = d
			}
		}
		sub := parser.Check(ses, []parser.Input{{Name: filepath.Base(path), Data: data}}, parser.Context{})
		want := map[string]string{"position_number": "HS-0003", "redesignation_date": "2024-11-15", "noncareer_majority": "N",
			"reversion_status": "Reverted to General", "organization": "Transportation Security Administration", "notes": "Reverted by order of 15 Nov"}
		if len(sub.Records) != 2 {
			t.Fatalf("%s: %d records", name, len(sub.Records))
		}
		for k, v := range want {
			if got := sub.Records[1].Fields[k]; got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
		if got := sub.Records[0].Fields["organization"]; got != "Office of Strategy, Policy, and Plans" {
			t.Errorf("%s: quoted comma cell = %q", name, got)
		}
	}
}
