package workbook_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
)

func fptr(f float64) *float64 { return &f }

func testDef() *parser.Definition        { return parsertest.SmallCall() }
func longList() []string                 { return parsertest.LongList() }
func agencyWorkbook(t testing.TB) []byte { return parsertest.AgencyWorkbook(t) }

// rawFill is the fill colour (fgColor rgb) of a cell's style, read from
// xl/styles.xml itself: excelize's GetStyle reports no colour at all for
// workbooks without a theme part, as LibreOffice and Gnumeric write them.
func rawFill(t testing.TB, f *excelize.File, data []byte, sheetName, cell string) string {
	t.Helper()
	xf, err := f.GetCellStyle(sheetName, cell)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := z.Open("xl/styles.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var ss struct {
		Fills []struct {
			Fg struct {
				RGB string `xml:"rgb,attr"`
			} `xml:"patternFill>fgColor"`
		} `xml:"fills>fill"`
		Xfs []struct {
			FillID int `xml:"fillId,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := xml.NewDecoder(rc).Decode(&ss); err != nil {
		t.Fatal(err)
	}
	if xf >= len(ss.Xfs) || ss.Xfs[xf].FillID >= len(ss.Fills) {
		t.Fatalf("style %d of %s out of range", xf, cell)
	}
	return strings.ToUpper(strings.TrimPrefix(ss.Fills[ss.Xfs[xf].FillID].Fg.RGB, "FF"))
}

// deficiencyFindings are the findings of a notice about agencyWorkbook
// ("positions.xlsx") and an old .xls sent beside it.
func deficiencyFindings() []parser.Finding {
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

func openXLSX(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

var _ = strings.ToUpper
var _ = time.Now
