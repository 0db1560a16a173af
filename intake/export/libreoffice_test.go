package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"intake/intake/export"
	"intake/internal/testenv"
)

// Issue 14: every export, opened by LibreOffice with a comma, a semicolon
// or a tab as the separator (the CSV import filter's first option: 44, 59,
// 9), and the XLSX export, holds no formula cell, while the hostile text
// is there, as text.
func TestExport_libreOfficeRunsNoFormula(t *testing.T) {
	soffice := testenv.LookPath(t, "soffice", "Debian's libreoffice-calc-nogui")
	f := newFixture(t)
	f.seed(t)
	dir := t.TempDir()
	write := func(name string, format export.Format) string {
		var buf bytes.Buffer
		if _, err := export.Write(context.Background(), &buf, f.st, format, export.Options{Call: f.call}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csvFile := write("records.csv", export.CSV)
	xlsxFile := write("records.xlsx", export.XLSX)
	profile := "-env:UserInstallation=file://" + filepath.ToSlash(filepath.Join(dir, "lo-profile"))

	for name, args := range map[string][]string{
		"comma":     {"--infilter=CSV:44,34,76,1", csvFile},
		"semicolon": {"--infilter=CSV:59,34,76,1", csvFile},
		"tab":       {"--infilter=CSV:9,34,76,1", csvFile},
		"xlsx":      {xlsxFile},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, soffice, append([]string{profile, "--headless", "--calc",
				"--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", out}, args...)...)
			cmd.Env = append(os.Environ(), "HOME="+dir)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("soffice: %v\n%s", err, b)
			}
			got := filepath.Join(out, "records.xlsx")
			formulas, text := scanWorkbook(t, got)
			for _, f := range formulas {
				t.Errorf("LibreOffice made a formula cell: %s", f)
			}
			for _, want := range []string{"=1+11", "=1+9", "=HYPERLINK"} {
				if !strings.Contains(text, want) {
					t.Errorf("%q is not in the converted workbook as text", want)
				}
			}
		})
	}
}

var formulaRe = regexp.MustCompile(`<c r="([A-Z]+[0-9]+)"[^>]*>(?:<f[ >][^<]*</f>|<f[^>]*/>)`)

// scanWorkbook returns the formula cells of every worksheet and the text
// of the shared strings and inline strings.
func scanWorkbook(t *testing.T, path string) (formulas []string, text string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var all strings.Builder
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/") && zf.Name != "xl/sharedStrings.xml" {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("<f")) {
			for _, m := range formulaRe.FindAllSubmatch(b, -1) {
				formulas = append(formulas, zf.Name+"!"+string(m[1])+": "+string(m[0]))
			}
			if len(formulas) == 0 && regexp.MustCompile(`<f[ >/]`).Match(b) {
				formulas = append(formulas, zf.Name+": a <f> element")
			}
		}
		all.Write(b)
	}
	return formulas, strings.NewReplacer("&quot;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(all.String())
}
