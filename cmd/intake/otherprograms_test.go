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

	copies := map[string]string{"openpyxl": filled}
	if soffice := lookOrMissing(t, "soffice", "libreoffice-calc-nogui"); soffice != "" {
		out := filepath.Join(dir, "lo")
		program(t, dir, soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "lo-profile"),
			"--headless", "--calc", "--convert-to", "xlsx", "--outdir", out, filled)
		copies["LibreOffice"] = filepath.Join(out, "filled.xlsx")
	}
	if ssconvert := lookOrMissing(t, "ssconvert", "gnumeric"); ssconvert != "" {
		out := filepath.Join(dir, "gnumeric.xlsx")
		program(t, dir, ssconvert, filled, out)
		copies["Gnumeric"] = out
	}
	for name, path := range copies {
		out, _, err := runCmd(t, "check", path)
		if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, "Records: 2 position-report") {
			t.Errorf("%s copy not accepted: %v\n%s", name, err, out)
		}
	}
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
