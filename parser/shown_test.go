package parser_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"intake/internal/testenv"
	"intake/parser"
)

// shownCall has text columns agencies key as numbers, and number columns.
const shownCall = `
id: shown
title: Shown
receipt_prefix: SH
deadline: {date: "2025-03-24"}
kinds:
  - id: t
    key: [position]
    columns:
      - {key: position, header: Position, type: text, required: true}
      - {key: series, header: Series, type: text, pattern: "[0-9]{4}"}
      - {key: grade, header: Grade, type: text, pattern: "[0-9]{2}"}
      - {key: step, header: Step, type: text}
      - {key: salary, header: Salary, type: number, unique: true}
      - {key: count, header: Count, type: integer}
`

// openpyxlShown writes what agencies send: series, grade and step typed
// as numbers under number formats that show leading zeros or fewer
// decimals, and numbers whose shown text is not their value.
const openpyxlShown = `
import sys
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.append(["Position", "Series", "Grade", "Step", "Salary", "Count"])
rows = [
    (12345, 340, 7, 4.1, 150000.5, 3),
    ("A-2", 2210, 15, 10, 150000.25, 4),
]
for r in rows:
    ws.append(r)
for row in ws.iter_rows(min_row=2):
    row[1].number_format = "0000"
    row[2].number_format = "00"
    row[4].number_format = "#,##0"
    row[5].number_format = "0.00"
wb.save(sys.argv[1])
`

// TestCheck_textColumnsTakeTheShownValue (issue 15): a text column takes
// a number cell as the spreadsheet shows it (its number format applied);
// number columns take the number itself, whatever its format shows.
func TestCheck_textColumnsTakeTheShownValue(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3-openpyxl")
	path := filepath.Join(t.TempDir(), "shown.xlsx")
	if out, err := exec.Command(py, "-c", openpyxlShown, path).CombinedOutput(); err != nil {
		testenv.Missing(t, "openpyxl (python3-openpyxl): "+err.Error()+": "+string(out))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, err := parser.ParseDefinition("shown.yaml", []byte(shownCall))
	if err != nil {
		t.Fatal(err)
	}
	sub := check(t, def, data, parser.Context{})
	if len(sub.Findings) != 0 || len(sub.Records) != 2 {
		t.Fatalf("findings %+v, %d records", sub.Findings, len(sub.Records))
	}
	want := []map[string]string{
		// Salaries differ by a quarter although "#,##0" shows both as
		// 150,001 and 150,000: number columns compare numbers.
		{"position": "12345", "series": "0340", "grade": "07", "step": "4.1", "salary": "150000.5", "count": "3"},
		{"position": "A-2", "series": "2210", "grade": "15", "step": "10", "salary": "150000.25", "count": "4"},
	}
	for i, w := range want {
		for k, v := range w {
			if got := sub.Records[i].Fields[k]; got != v {
				t.Errorf("row %d %s = %q, want %q", i+2, k, got, v)
			}
		}
	}
}
