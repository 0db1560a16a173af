package parsertest

import (
	"bytes"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
)

func ptr[T any](v T) *T { return &v }

// SmallCall is a small data call with a column of every type, for the
// tests of the packages that render calls (replies, workbooks).
func SmallCall() *parser.Definition {
	return &parser.Definition{
		ID:            "test-call",
		Title:         "Test Position Data Call",
		Source:        "OPM memorandum of 5 February 2025",
		ReceiptPrefix: "TST",
		Routing:       parser.Routing{Addresses: []string{"allocation-management@opm.gov"}},
		Deadline:      parser.Deadline{Date: "2025-03-24", Zone: "America/New_York"},
		Instructions:  "Report every position.",
		Kinds: []parser.Kind{
			{
				ID: "position-report", Title: "Position report", Sheets: []string{"Positions"},
				Key: []string{"position_number"},
				Columns: []parser.Column{
					{Key: "position_number", Header: "Position Number", Type: "text", Required: true, Unique: true, Description: "The agency's position number."},
					{Key: "designation", Header: "Current Designation", Type: "enum", Required: true, Allowed: []string{"General", "Career Reserved"}},
					{Key: "noncareer", Header: "Noncareer Majority (Y/N)", Type: "yesno"},
					{Key: "redesignated", Header: "Redesignation Date", Type: "date", Description: "When the designation changed."},
					{Key: "grade", Header: "Grade", Type: "integer", Min: ptr(1.0), Max: ptr(15.0)},
					{Key: "status", Header: "Reversion Status", Type: "enum", Allowed: LongList()},
				},
			},
			{
				ID: "retention-request", Title: "Retention request", Sheets: []string{"Retention"},
				Columns: []parser.Column{
					{Key: "position_number", Header: "Position Number", Type: "text", Required: true},
					{Key: "ground", Header: "Ground", Type: "enum", Allowed: []string{"Impartiality", "Public confidence in impartiality"}},
					{Key: "date", Header: "Date", Type: "date"},
				},
			},
		},
	}
}

// LongList is an enum too long for an inline drop-down (over 255 characters).
func LongList() []string {
	var l []string
	for _, s := range []string{"Reverted to General", "In process", "Retention requested", "Not applicable"} {
		l = append(l, s)
	}
	for i := 'A'; i <= 'R'; i++ {
		l = append(l, "Other status category "+string(i))
	}
	return l
}

// AgencyWorkbook is the agency's own workbook: a Positions sheet whose
// D column holds dates with a custom number format, and a bold header.
func AgencyWorkbook(t testing.TB) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Positions"); err != nil {
		t.Fatal(err)
	}
	header := []any{"Position Number", "Current Designation", "Noncareer Majority (Y/N)", "Redesignation Date", "Grade"}
	if err := f.SetSheetRow("Positions", "A1", &header); err != nil {
		t.Fatal(err)
	}
	custom := "dd/mm/yyyy"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom, Font: &excelize.Font{Italic: true}})
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"HS-0001", "General", "Y", time.Date(2024, 12, 2, 0, 0, 0, 0, time.UTC), 15},
		{"HS-0002", "Career Reservd", "N", time.Date(2024, 11, 15, 0, 0, 0, 0, time.UTC), 15},
		{"HS-0003", "General", "maybe", time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), 16},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow("Positions", cell, &r); err != nil {
			t.Fatal(err)
		}
		d, _ := excelize.CoordinatesToCellName(4, i+2)
		if err := f.SetCellStyle("Positions", d, d, dateStyle); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// DeficiencyFindings are the findings of a notice about AgencyWorkbook
// sent as "positions.xlsx", and an old .xls sent beside it: one of each
// kind of place (a cell, a row, a sheet, a file) and both severities.
func DeficiencyFindings() []parser.Finding {
	return []parser.Finding{
		{File: "positions.xlsx", Sheet: "Positions", Row: 3, Col: 2, Column: "Current Designation", Code: "not-allowed", Severity: parser.SeverityError,
			Message: "The value is not one of the allowed values.", Fix: "Choose General or Career Reserved."},
		{File: "positions.xlsx", Sheet: "Positions", Row: 4, Col: 5, Column: "Grade", Code: "range", Severity: parser.SeverityError,
			Message: "The grade is above 15.", Fix: "Enter a whole number from 1 to 15."},
		{File: "positions.xlsx", Sheet: "Positions", Row: 4, Col: 4, Column: "Redesignation Date", Code: "rule", Severity: parser.SeverityError,
			Message: "A redesignation date is given but the designation did not change.", Fix: "Clear the date or correct the designation.", Cite: "OPM memo of 5 February 2025"},
		{File: "positions.xlsx", Sheet: "Positions", Row: 4, Col: 3, Column: "Noncareer Majority (Y/N)", Code: "bad-yesno", Severity: parser.SeverityError,
			Message: "The answer is not Y or N.", Fix: "Enter Y or N."},
		{File: "positions.xlsx", Sheet: "Positions", Row: 4, Code: "duplicate-row", Severity: parser.SeverityWarning,
			Message: "This row repeats row 2.", Fix: "Delete one of the two rows."},
		{File: "positions.xlsx", Sheet: "Retention", Code: "missing-sheet", Severity: parser.SeverityError,
			Message: "The workbook has no retention request sheet.", Fix: "Add the Retention sheet from the template."},
		{File: "old.xls", Code: "legacy-xls", Severity: parser.SeverityError,
			Message: "The file is an old binary Excel 97-2003 workbook (.xls).", Fix: "Save it as an Excel Workbook (.xlsx) and send that."},
	}
}
