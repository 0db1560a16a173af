// Package parsertest builds data-call workbooks for tests of other
// packages: valid SES submissions, and deficient ones made by editing the
// rows before writing. Workbooks are written with excelize, dates as real
// date cells, exactly as an agency's Excel would send them.
package parsertest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// Sheet names and headers SESWorkbook writes. They are the official
// headers of the ses-designation-review built-in definition.
const (
	PositionSheet  = "Position Report"
	RetentionSheet = "Retention Requests"
)

// PositionHeaders are the official position-report headers, in order.
var PositionHeaders = []string{
	"Agency Code", "Component", "Position Number", "Position Title", "Organization",
	"Designation on 2021-01-19", "Noncareer Majority 2021-2025 (Y/N)", "Current Designation",
	"Redesignation Date", "Reversion Status", "Incumbent Appointment Type", "Notes",
}

// RetentionHeaders are the official retention-request headers, in order.
var RetentionHeaders = []string{
	"Position Number", "Position Title", "Ground", "Justification",
	"Requesting Official Name", "Requesting Official Title", "Date",
}

// Position is one row of the position report. Dates are YYYY-MM-DD (written
// as date cells) or any other text (written as text, e.g. to test bad dates).
type Position struct {
	AgencyCode, Component, PositionNumber, Title, Organization string
	Designation2021, NoncareerMajority, CurrentDesignation     string
	RedesignationDate, ReversionStatus, IncumbentType, Notes   string
}

// Retention is one retention request. Date as in Position.
type Retention struct {
	PositionNumber, Title, Ground, Justification string
	OfficialName, OfficialTitle, Date            string
}

func (p Position) cells() []string {
	return []string{p.AgencyCode, p.Component, p.PositionNumber, p.Title, p.Organization,
		p.Designation2021, p.NoncareerMajority, p.CurrentDesignation,
		p.RedesignationDate, p.ReversionStatus, p.IncumbentType, p.Notes}
}

func (r Retention) cells() []string {
	return []string{r.PositionNumber, r.Title, r.Ground, r.Justification, r.OfficialName, r.OfficialTitle, r.Date}
}

// Agency is the agency code GoodPositions uses (Department of Homeland Security).
const Agency = "HS"

// GoodPositions returns a valid position report of five positions of
// agency HS: one redesignated General -> Career Reserved whose retention
// is requested (HS-0002, see GoodRetentions), one reverted, one in
// process, and two never redesignated.
func GoodPositions() []Position {
	return []Position{
		{Agency, "HS01", "HS-0001", "Deputy Under Secretary for Policy", "Office of Strategy, Policy, and Plans",
			"General", "Y", "General", "", "Not applicable", "Noncareer", ""},
		{Agency, "HS01", "HS-0002", "Director, Office of Intelligence Oversight", "Office of the Secretary",
			"General", "N", "Career Reserved", "2024-12-02", "Retention requested", "Career", "Redesignated December 2024"},
		{Agency, "HS02", "HS-0003", "Associate Administrator for Communications", "Transportation Security Administration",
			"General", "N", "General", "2024-11-15", "Reverted to General", "Career", "Reverted 2025-02-20"},
		{Agency, "HS03", "HS-0004", "Assistant Director for Public Affairs", "U.S. Secret Service",
			"General", "Y", "Career Reserved", "2024-10-01", "In process", "Vacant", ""},
		{Agency, "HS04", "HS-0005", "Chief of Staff", "Federal Emergency Management Agency",
			"General", "Y", "General", "", "Not applicable", "Career", ""},
	}
}

// GoodRetentions returns a valid retention request for HS-0002 of GoodPositions.
func GoodRetentions() []Retention {
	return []Retention{{
		PositionNumber: "HS-0002",
		Title:          "Director, Office of Intelligence Oversight",
		Ground:         "Impartiality",
		Justification: "The director audits intelligence activities of every component and reports violations " +
			"to the Inspector General and to Congress; a career incumbent is necessary so that these findings " +
			"are made without regard to political affiliation.",
		OfficialName:  "Jordan Example",
		OfficialTitle: "Chief Human Capital Officer",
		Date:          "2025-03-10",
	}}
}

// SESWorkbook writes one workbook with the sheets "Position Report" and,
// when ret is not nil, "Retention Requests". A nil pos leaves out the
// position sheet.
func SESWorkbook(tb testing.TB, pos []Position, ret []Retention) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	first := true
	add := func(name string, headers []string, rows [][]string) {
		if first {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				tb.Fatal(err)
			}
			first = false
		} else if _, err := f.NewSheet(name); err != nil {
			tb.Fatal(err)
		}
		WriteSheet(tb, f, name, headers, rows)
	}
	if pos != nil {
		rows := make([][]string, len(pos))
		for i, p := range pos {
			rows[i] = p.cells()
		}
		add(PositionSheet, PositionHeaders, rows)
	}
	if ret != nil {
		rows := make([][]string, len(ret))
		for i, r := range ret {
			rows[i] = r.cells()
		}
		add(RetentionSheet, RetentionHeaders, rows)
	}
	if first {
		tb.Fatal("parsertest: SESWorkbook with neither positions nor retention requests")
	}
	return Bytes(tb, f)
}

// WriteSheet writes a header row and data rows into an existing sheet of f.
// A value that parses as YYYY-MM-DD is written as a date cell (number
// format 14); everything else as text.
func WriteSheet(tb testing.TB, f *excelize.File, sheetName string, headers []string, rows [][]string) {
	tb.Helper()
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		tb.Fatal(err)
	}
	for c, h := range headers {
		ref, _ := excelize.CoordinatesToCellName(c+1, 1)
		if err := f.SetCellStr(sheetName, ref, h); err != nil {
			tb.Fatal(err)
		}
	}
	for r, row := range rows {
		for c, v := range row {
			if v == "" {
				continue
			}
			ref, _ := excelize.CoordinatesToCellName(c+1, r+2)
			if t, err := time.Parse(time.DateOnly, v); err == nil {
				if err := f.SetCellValue(sheetName, ref, t); err != nil {
					tb.Fatal(err)
				}
				if err := f.SetCellStyle(sheetName, ref, ref, dateStyle); err != nil {
					tb.Fatal(err)
				}
				continue
			}
			if err := f.SetCellStr(sheetName, ref, v); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// Bytes serialises f.
func Bytes(tb testing.TB, f *excelize.File) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Encrypt returns xlsx encrypted with password, as Excel's "Encrypt with
// Password" does (ECMA-376 agile encryption), written by excelize's SaveAs.
func Encrypt(tb testing.TB, xlsx []byte, password string) []byte {
	tb.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	path := filepath.Join(tb.TempDir(), "encrypted.xlsx")
	if err := f.SaveAs(path, excelize.Options{Password: password}); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
