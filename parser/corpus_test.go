package parser_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"intake/internal/testenv"
	"intake/parser"
	"intake/parser/parsertest"
)

// TestCheck_corpus runs every file of the shared xlsx corpus through Check
// with the SES definition: no panic, no hang (each file has a deadline),
// bounded limits; outcomes are counted and logged.
func TestCheck_corpus(t *testing.T) {
	if testing.Short() && !testenv.CI() { // under CI the corpus always runs
		t.Skip("corpus run skipped in -short mode")
	}
	root := filepath.Join(testenv.Shared(t), "corpus", "xlsx")
	def := ses(t)
	lim := parser.Limits{MaxFileBytes: 8 << 20, MaxUnzippedBytes: 64 << 20, MaxRows: 20_000, MaxColumns: 200, MaxCellBytes: 32_767, MaxSheets: 50}
	outcomes := map[string]int{}
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		type result struct {
			sub   parser.Submission
			panic any
		}
		done := make(chan result, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- result{panic: p}
				}
			}()
			done <- result{sub: parser.Check(def, []parser.Input{{Name: filepath.Base(path), Data: data}}, parser.Context{Limits: lim})}
		}()
		select {
		case r := <-done:
			if r.panic != nil {
				t.Errorf("%s: panic: %v", path, r.panic)
				return nil
			}
			if len(r.sub.Files) != 1 {
				t.Errorf("%s: %d file results", path, len(r.sub.Files))
			}
			outcome := "no data sheet or clean"
			switch {
			case len(r.sub.Findings) > 0 && r.sub.Findings[0].Sheet == "" && r.sub.Findings[0].File != "":
				outcome = "refused: " + r.sub.Findings[0].Code
			case len(r.sub.Records) > 0:
				outcome = "read as SES rows"
			case len(r.sub.Findings) > 0:
				outcome = "finding: " + r.sub.Findings[0].Code
			}
			outcomes[outcome]++
		case <-time.After(60 * time.Second):
			t.Errorf("%s: Check did not finish within 60 s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Errorf("only %d corpus files", files)
	}
	var lines []string
	for k, v := range outcomes {
		lines = append(lines, fmt.Sprintf("%5d %s", v, k))
	}
	sort.Strings(lines)
	t.Logf("%d files:\n%s", files, strings.Join(lines, "\n"))
}

// TestCheck_openpyxl checks a workbook written by openpyxl, as many
// agencies' scripts produce them.
func TestCheck_openpyxl(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		testenv.Missing(t, "/usr/bin/python3 (Debian python3)")
	}
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		testenv.Missing(t, "openpyxl (Debian package python3-openpyxl)")
	}
	out := filepath.Join(t.TempDir(), "report.xlsx")
	script := `
import sys, datetime, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Position Report"
ws.append(sys.argv[2].split("|"))
ws.append(["HS", "HS01", "HS-0001", "Chief of Staff", "OS", "General", "Y", "General", None, "Not applicable", "Noncareer", None])
ws.append(["HS", "HS01", "HS-0002", "Director", "OS", "General", "N", "Career Reserved", datetime.date(2024, 12, 2), "In process", "Career", "note"])
for i, v in enumerate(["HS", "HS01", "HS-0003", "Director", "OS", "General", "N", "Career Reserved", datetime.datetime(2024, 12, 3), "In process", "Noncareer"]):
    ws.cell(row=6, column=i + 1, value=v)  # row 5 left blank
wb.save(sys.argv[1])
`
	cmd := exec.Command(py, "-c", script, out, strings.Join(parsertest.PositionHeaders, "|"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openpyxl: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sub := check(t, ses(t), data, parser.Context{})
	if len(sub.Records) != 3 {
		t.Fatalf("records %d: %v", len(sub.Records), codes(sub.Findings))
	}
	if got := sub.Records[1].Fields["redesignation_date"]; got != "2024-12-02" {
		t.Errorf("openpyxl date = %q", got)
	}
	if got := sub.Records[2].Fields["redesignation_date"]; got != "2024-12-03" || sub.Records[2].Row != 6 {
		t.Errorf("openpyxl datetime = %q row %d", got, sub.Records[2].Row)
	}
	if len(sub.Findings) != 1 || sub.Findings[0].Code != "career-reserved-incumbent" || sub.Findings[0].Cell() != "K6" {
		t.Errorf("findings %+v", sub.Findings)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(parsertest.SESWorkbook(f, parsertest.GoodPositions(), parsertest.GoodRetentions()))
	p := parsertest.GoodPositions()
	p[1].IncumbentType, p[2].RedesignationDate = "Noncareer", "soon"
	f.Add(parsertest.SESWorkbook(f, p, []parsertest.Retention{{PositionNumber: "X", Justification: "TBD"}}))
	f.Add(weeklyWorkbook(f, [][]string{{"HS", "2025-03-09", "3", "1"}}))
	f.Add([]byte("PK\x03\x04garbage"))
	def := ses(f)
	lim := parser.Limits{MaxFileBytes: 1 << 20, MaxUnzippedBytes: 16 << 20, MaxRows: 1000, MaxColumns: 50, MaxCellBytes: 4096, MaxSheets: 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		sub := parser.Check(def, []parser.Input{{Name: "f.xlsx", Data: data}}, parser.Context{Limits: lim, Agency: "HS"})
		if len(sub.Files) != 1 || sub.Call != def.ID {
			t.Fatalf("files %d call %q", len(sub.Files), sub.Call)
		}
		for i, fd := range sub.Findings {
			if fd.Code == "" || fd.Message == "" || (fd.Severity != parser.SeverityError && fd.Severity != parser.SeverityWarning) {
				t.Fatalf("bad finding %+v", fd)
			}
			if i > 0 && fd.Sheet == sub.Findings[i-1].Sheet && fd.Row < sub.Findings[i-1].Row {
				t.Fatalf("findings not sorted: %+v after %+v", fd, sub.Findings[i-1])
			}
		}
		for _, r := range sub.Records {
			if r.Row < 1 || r.Kind == "" {
				t.Fatalf("bad record %+v", r)
			}
		}
	})
}
