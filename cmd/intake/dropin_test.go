package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// teleworkCall is a data call no code knows: a YAML file dropped in
// calls_dir.
const teleworkCall = `id: telework-census
title: Telework census
receipt_prefix: TEL
deadline: {date: "2025-06-30"}
kinds:
  - id: census
    title: Census
    key: [office]
    columns:
      - {key: office, header: Office, type: text, required: true}
      - {key: teleworkers, header: Teleworkers, type: integer, required: true, min: 0}
`

// A new data call is a YAML file in calls_dir: it is listed, its template
// is written, and workbooks are checked against it, with no code change. A
// wrong one is refused at start with the file and the field named.
func TestCallsDropIn(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "telework.yaml"), []byte(teleworkCall), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "calls", "--calls", dir)
	if err != nil || !strings.Contains(out, "telework-census") || !strings.Contains(out, "ses-designation-review") {
		t.Fatalf("calls: %v\n%s", err, out)
	}

	tpl := filepath.Join(t.TempDir(), "telework.xlsx")
	if _, _, err := runCmd(t, "template", "telework-census", "census", "-o", tpl, "--calls", dir); err != nil {
		t.Fatal(err)
	}
	fill := func(name string, rows [][]any) string {
		f, err := excelize.OpenFile(tpl)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sheet := f.GetSheetList()[0]
		if h, _ := f.GetCellValue(sheet, "B1"); h != "Teleworkers" {
			t.Fatalf("template header B1 = %q", h)
		}
		for i, r := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := f.SetSheetRow(sheet, cell, &r); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), name)
		if err := f.SaveAs(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := fill("good.xlsx", [][]any{{"Headquarters", 120}, {"Field office", 35}})
	out, _, err = runCmd(t, "check", good, "--calls", dir)
	if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, "Records: 2 census") {
		t.Errorf("filled template of the new call: %v\n%s", err, out)
	}
	bad := fill("bad.xlsx", [][]any{{"Headquarters", -4}, {"", 3}})
	out, _, err = runCmd(t, "check", bad, "--call", "telework-census", "--calls", dir)
	if err == nil || !strings.Contains(out, "B2") || !strings.Contains(out, "A3") {
		t.Errorf("a negative count and a missing office passed, or were not placed: %v\n%s", err, out)
	}

	broken := strings.Replace(strings.Replace(teleworkCall, "type: integer", "type: integr", 1), "telework-census", "telework-census-2", 1)
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"calls", "--calls", dir}, {"check", good, "--calls", dir}} {
		_, _, err = runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "broken.yaml") || !strings.Contains(err.Error(), "integr") {
			t.Errorf("%s: a wrong definition was not refused clearly: %v", args[0], err)
		}
	}
}
