package parser

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xuri/excelize/v2"
)

// memoWorkbook: six positions alternating between a career incumbent and
// a noncareer one, all Career Reserved; rows 3, 5 and 7 break 5 CFR 214.401.
func memoWorkbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	headers := []string{"Agency Code", "Component", "Position Number", "Position Title", "Organization",
		"Designation on 2021-01-19", "Noncareer Majority 2021-2025 (Y/N)", "Current Designation",
		"Redesignation Date", "Reversion Status", "Incumbent Appointment Type", "Notes"}
	for c, h := range headers {
		cell, _ := excelize.CoordinatesToCellName(c+1, 1)
		f.SetCellStr("Sheet1", cell, h)
	}
	for r := 0; r < 6; r++ {
		incumbent := "Career"
		if r%2 == 1 {
			incumbent = "Noncareer"
		}
		row := []string{"HS", "HS01", fmt.Sprintf("HS-%04d", r), "Director", "Office", "Career Reserved", "N",
			"Career Reserved", "", "Not applicable", incumbent, ""}
		for c, v := range row {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
			f.SetCellStr("Sheet1", cell, v)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
