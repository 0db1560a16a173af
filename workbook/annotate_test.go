package workbook_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
	"intake/workbook"
)

func annotated(t testing.TB) (*excelize.File, []parser.Finding) {
	t.Helper()
	fs := parsertest.DeficiencyFindings()
	data, err := workbook.Annotate(context.Background(), parser.Input{Name: "positions.xlsx", Data: agencyWorkbook(t)}, fs, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return openXLSX(t, data), fs
}

func fillOf(t testing.TB, f *excelize.File, sheet, cell string) (*excelize.Style, string) {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Fill.Color) == 0 {
		return st, ""
	}
	return st, strings.ToUpper(st.Fill.Color[0])
}

func TestAnnotate_keepsStyleAndHighlights(t *testing.T) {
	f, _ := annotated(t)
	// D4 is a date with a custom format and italic font: both survive.
	st, fill := fillOf(t, f, "Positions", "D4")
	if fill == "" {
		t.Error("D4 is not highlighted")
	}
	if st.CustomNumFmt == nil || *st.CustomNumFmt != "dd/mm/yyyy" {
		t.Errorf("D4 lost its number format: %+v", st.CustomNumFmt)
	}
	if st.Font == nil || !st.Font.Italic {
		t.Error("D4 lost its italic font")
	}
	if v, _ := f.GetCellValue("Positions", "D4"); v != "01/10/2024" {
		t.Errorf("D4 reads %q, want the date in its own format 01/10/2024", v)
	}
	// Unflagged date cell: untouched.
	if _, fill := fillOf(t, f, "Positions", "D2"); fill != "" {
		t.Errorf("D2 is highlighted (%s) without a finding", fill)
	}
	// Errors and the row-level warning on the first cell of its row.
	for _, c := range []string{"B3", "C4", "E4", "A4"} {
		if _, fill := fillOf(t, f, "Positions", c); fill == "" {
			t.Errorf("%s is not highlighted", c)
		}
	}
	_, errFill := fillOf(t, f, "Positions", "B3")
	_, warnFill := fillOf(t, f, "Positions", "A4")
	if errFill == warnFill {
		t.Error("warnings and errors have the same colour")
	}
	if v, _ := f.GetCellValue("Positions", "B3"); v != "Career Reservd" {
		t.Errorf("the agency's value changed: %q", v)
	}
}

func TestAnnotate_comments(t *testing.T) {
	f, _ := annotated(t)
	cs, err := f.GetComments("Positions")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cs {
		var text strings.Builder
		text.WriteString(c.Text)
		for _, r := range c.Paragraph {
			text.WriteString(r.Text)
		}
		got[c.Cell] = text.String()
	}
	for cell, want := range map[string]string{
		"B3": "How to fix: Choose General or Career Reserved.",
		"C4": "The answer is not Y or N.",
		"D4": "A redesignation date is given",
		"E4": "The grade is above 15.",
		"A4": "Warning: This row repeats row 2.",
	} {
		if !strings.Contains(got[cell], want) {
			t.Errorf("comment on %s = %q, want it to contain %q", cell, got[cell], want)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d comments, want 5: %v", len(got), got)
	}
}

func TestAnnotate_issuesSheet(t *testing.T) {
	f, fs := annotated(t)
	if f.GetSheetName(f.GetActiveSheetIndex()) != "Issues" {
		t.Errorf("active sheet %q, want Issues", f.GetSheetName(f.GetActiveSheetIndex()))
	}
	rows, err := f.GetRows("Issues")
	if err != nil {
		t.Fatal(err)
	}
	// One row per finding of this file (the .xls finding is about another file).
	var mine int
	for _, x := range fs {
		if x.File == "positions.xlsx" {
			mine++
		}
	}
	if len(rows)-1 != mine {
		t.Fatalf("Issues has %d rows, want %d", len(rows)-1, mine)
	}
	links := map[string]string{}
	for r := 2; r <= len(rows); r++ {
		cell := "C" + strconv.Itoa(r)
		ok, target, err := f.GetCellHyperLink("Issues", cell)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			links[rows[r-1][2]] = target
		}
	}
	for where, want := range map[string]string{"B3": "'Positions'!B3", "D4": "'Positions'!D4", "A4": "'Positions'!A4"} {
		if links[where] != want {
			t.Errorf("link of %s = %q, want %q", where, links[where], want)
		}
	}
	// The sheet-level finding about a sheet the workbook lacks is listed, unlinked.
	var found bool
	for _, r := range rows[1:] {
		if len(r) > 5 && r[1] == "Retention" && r[2] == "whole sheet" {
			found = true
		}
	}
	if !found {
		t.Error("sheet-level finding missing from the Issues sheet")
	}
	if _, ok := links["whole sheet"]; ok {
		t.Error("a finding about a missing sheet has a link")
	}
}

// An annotated copy sent back and annotated again keeps one comment per
// cell and gets a second Issues sheet.
func TestAnnotate_again(t *testing.T) {
	fs := parsertest.DeficiencyFindings()
	once, err := workbook.Annotate(context.Background(), parser.Input{Name: "positions.xlsx", Data: agencyWorkbook(t)}, fs, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs[0].File = "positions - issues.xlsx"
	twice, err := workbook.Annotate(context.Background(), parser.Input{Name: "positions - issues.xlsx", Data: once}, fs[:1], workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, twice)
	if !contains(f.GetSheetList(), "Issues (2)") {
		t.Errorf("sheets %v", f.GetSheetList())
	}
	cs, _ := f.GetComments("Positions")
	var n int
	for _, c := range cs {
		if c.Cell == "B3" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d comments on B3", n)
	}
}

func TestAnnotate_notXLSX(t *testing.T) {
	_, err := workbook.Annotate(context.Background(), parser.Input{Name: "old.xls", Data: []byte("\xd0\xcf\x11\xe0 old")}, nil, workbook.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "workbook: ") {
		t.Errorf("err = %v", err)
	}
}
