package workbook_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"intake/internal/testenv"
	"intake/parser"
	"intake/parser/parsertest"
	"intake/workbook"
)

// readBack reports, through openpyxl (not read-only: comments are only
// read that way), what a program sees of an annotated copy.
const readBack = `
import sys, json, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["Positions"]
out = {"sheets": wb.sheetnames, "active": wb.active.title, "comments": {}, "fills": {}, "values": {}}
for row in ws.iter_rows():
    for c in row:
        if c.comment is not None:
            out["comments"][c.coordinate] = c.comment.text
        rgb = c.fill.fgColor.rgb if c.fill is not None and c.fill.fill_type == "solid" else None
        if isinstance(rgb, str):
            out["fills"][c.coordinate] = rgb[-6:].upper()
        if c.value is not None:
            out["values"][c.coordinate] = str(c.value)
iss = wb[[s for s in wb.sheetnames if s.startswith("Issues")][-1]]
out["issues"] = [[("" if v is None else str(v)) for v in r] for r in iss.iter_rows(values_only=True)]
out["links"] = {c.coordinate: c.hyperlink.location for r in iss.iter_rows() for c in r if c.hyperlink is not None}
print(json.dumps(out))
`

type seen struct {
	Sheets   []string
	Active   string
	Comments map[string]string
	Fills    map[string]string
	Values   map[string]string
	Issues   [][]string
	Links    map[string]string
}

func openpyxlSees(t *testing.T, py, dir, path string) seen {
	t.Helper()
	script := filepath.Join(dir, "read.py")
	if err := os.WriteFile(script, []byte(readBack), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, path).Output()
	if err != nil {
		t.Fatalf("openpyxl: %v", err)
	}
	var s seen
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("openpyxl output: %v\n%s", err, out)
	}
	return s
}

// The annotated copy opens in openpyxl, and in LibreOffice, which keeps
// the comments, the fills and the Issues sheet when it saves it again.
func TestAnnotate_realPrograms(t *testing.T) {
	py := "/usr/bin/python3" // Debian's python3-openpyxl is importable only there
	if _, err := os.Stat(py); err != nil {
		testenv.Missing(t, "/usr/bin/python3 (Debian package python3-openpyxl)")
	}
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		testenv.Missing(t, "openpyxl for /usr/bin/python3 (Debian package python3-openpyxl)")
	}
	fs := parsertest.DeficiencyFindings()
	out, err := workbook.Annotate(context.Background(), parser.Input{Name: "positions.xlsx", Data: agencyWorkbook(t)}, fs, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "annotated.xlsx")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, s seen, links bool) {
		t.Helper()
		if len(s.Sheets) != 2 || s.Sheets[0] != "Positions" || s.Sheets[1] != "Issues" {
			t.Errorf("sheets %v", s.Sheets)
		}
		if s.Active != "Issues" {
			t.Errorf("active sheet %q", s.Active)
		}
		for cell, want := range map[string]string{"B3": "Choose General or Career Reserved.", "C4": "The answer is not Y or N.", "A4": "Warning: This row repeats row 2."} {
			if !strings.Contains(s.Comments[cell], want) {
				t.Errorf("comment on %s = %q, want %q in it", cell, s.Comments[cell], want)
			}
		}
		if len(s.Comments) != 5 {
			t.Errorf("%d comments: %v", len(s.Comments), s.Comments)
		}
		for cell, want := range map[string]string{"B3": "FFC7CE", "E4": "FFC7CE", "A4": "FFEB9C", "D4": "FFC7CE"} {
			if s.Fills[cell] != want {
				t.Errorf("fill of %s = %q, want %s", cell, s.Fills[cell], want)
			}
		}
		if _, ok := s.Fills["B2"]; ok {
			t.Error("B2 is filled without a finding")
		}
		if s.Values["B3"] != "Career Reservd" || s.Values["A2"] != "HS-0001" {
			t.Errorf("values changed: %v", s.Values)
		}
		if len(s.Issues) != 7 || s.Issues[0][5] != "Problem" {
			t.Errorf("Issues rows %v", s.Issues)
		}
		if links && s.Links["C2"] != "'Positions'!B3" {
			t.Errorf("links %v", s.Links)
		}
	}
	t.Run("openpyxl", func(t *testing.T) {
		check(t, openpyxlSees(t, py, dir, path), true)
	})
	t.Run("LibreOffice", func(t *testing.T) {
		soffice := testenv.LookPath(t, "soffice", "Debian package libreoffice-calc-nogui")
		outDir := filepath.Join(dir, "libreoffice")
		run(t, dir, soffice, "-env:UserInstallation=file://"+filepath.ToSlash(filepath.Join(dir, "lo-profile")),
			"--headless", "--calc", "--convert-to", "xlsx", "--outdir", outDir, path)
		s := openpyxlSees(t, py, dir, filepath.Join(outDir, "annotated.xlsx"))
		// LibreOffice saves the active sheet and the links its own way.
		check(t, s, false)
	})
}
