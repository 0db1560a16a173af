package workbook_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/sheet"
	"intake/workbook"
)

// validations maps the first column letter of each validation to it.
func validations(t testing.TB, f *excelize.File, sheetName string) map[string]*excelize.DataValidation {
	t.Helper()
	dvs, err := f.GetDataValidations(sheetName)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*excelize.DataValidation{}
	for _, dv := range dvs {
		col := strings.TrimRight(strings.SplitN(dv.Sqref, ":", 2)[0], "0123456789$")
		m[strings.TrimLeft(col, "$")] = dv
	}
	return m
}

func signature(f *excelize.File) string {
	for _, dn := range f.GetDefinedName() {
		if dn.Name == parser.SignatureName && dn.Scope == "Workbook" {
			return dn.RefersTo
		}
	}
	return ""
}

func TestTemplate(t *testing.T) {
	def := testDef()
	data, err := workbook.Template(def, "position-report")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := workbook.Template(def, "position-report")
	if !bytes.Equal(data, again) {
		t.Error("two templates of the same kind differ")
	}
	f := openXLSX(t, data)
	if got := f.GetSheetList(); strings.Join(got, "|") != "Position report|Instructions|Lists" {
		t.Errorf("sheets %v", got)
	}
	if f.GetSheetName(f.GetActiveSheetIndex()) != "Position report" {
		t.Error("the data sheet is not active")
	}
	if v, _ := f.GetSheetVisible("Lists"); v {
		t.Error("Lists sheet is visible")
	}
	if got := signature(f); got != `"test-call/position-report"` {
		t.Errorf("signature %q", got)
	}
	row, _ := f.GetRows("Position report")
	if len(row) != 1 || strings.Join(row[0], "|") != "Position Number|Current Designation|Noncareer Majority (Y/N)|Redesignation Date|Grade|Reversion Status" {
		t.Errorf("header %v", row)
	}
	st, _ := fillOf(t, f, "Position report", "A1")
	if st.Font == nil || !st.Font.Bold || st.Alignment == nil || !st.Alignment.WrapText {
		t.Error("header is not bold and wrapped")
	}
	p, err := f.GetPanes("Position report")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Freeze || p.YSplit != 1 || p.TopLeftCell != "A2" {
		t.Errorf("header not frozen: %+v", p)
	}
	if w, _ := f.GetColWidth("Position report", "A"); w < 12 {
		t.Errorf("column width %v", w)
	}
	dv := validations(t, f, "Position report")
	if d := dv["B"]; d == nil || d.Type != "list" || d.Formula1 != `"General,Career Reserved"` {
		t.Errorf("enum validation %+v", d)
	}
	if d := dv["C"]; d == nil || d.Type != "list" || d.Formula1 != `"Y,N"` {
		t.Errorf("yes/no validation %+v", d)
	}
	if d := dv["D"]; d == nil || d.Type != "date" {
		t.Errorf("date validation %+v", d)
	}
	if d := dv["E"]; d == nil || d.Type != "whole" || d.Formula1 != "1" || d.Formula2 != "15" {
		t.Errorf("integer validation %+v", d)
	}
	want := "Lists!$A$1:$A$" + strconv.Itoa(len(longList()))
	if d := dv["F"]; d == nil || d.Type != "list" || d.Formula1 != want {
		t.Errorf("long list validation %+v, want %s", d, want)
	}
	list, _ := f.GetCols("Lists")
	if len(list) != 1 || strings.Join(list[0], "|") != strings.Join(longList(), "|") {
		t.Errorf("Lists sheet %v", list)
	}
	// The date column has a date format.
	id, _ := f.GetCellStyle("Position report", "D2")
	ds, _ := f.GetStyle(id)
	if ds.CustomNumFmt == nil || *ds.CustomNumFmt != "yyyy-mm-dd" {
		t.Errorf("date column format %+v", ds.CustomNumFmt)
	}
	ins, _ := f.GetRows("Instructions")
	all := ""
	for _, r := range ins {
		all += strings.Join(r, "\t") + "\n"
	}
	for _, w := range []string{"Test Position Data Call", "OPM memorandum of 5 February 2025", "Monday, 24 March 2025",
		"allocation-management@opm.gov", "Report every position.", "Position Number\tThe agency's position number.\tYes",
		"General; Career Reserved", "Whole number, 1 to 15"} {
		if !strings.Contains(all, w) {
			t.Errorf("Instructions lack %q", w)
		}
	}
}

func TestTemplateAll(t *testing.T) {
	data, err := workbook.TemplateAll(testDef())
	if err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, data)
	if got := f.GetSheetList(); strings.Join(got, "|") != "Position report|Retention request|Instructions|Lists" {
		t.Errorf("sheets %v", got)
	}
	if got := signature(f); got != `"test-call"` {
		t.Errorf("signature %q", got)
	}
	dv := validations(t, f, "Retention request")
	if d := dv["B"]; d == nil || d.Type != "list" || d.Formula1 != `"Impartiality,Public confidence in impartiality"` {
		t.Errorf("retention enum validation %+v", d)
	}
	// The template reads back through the parser's reader: headers only.
	wb, err := sheet.OpenExcelize(data, sheet.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	rows := readRows(t, wb, "Retention request")
	if len(rows) != 1 || len(rows[0].Cells) != 3 || rows[0].Cells[2].Value != "Date" {
		t.Errorf("rows %+v", rows)
	}
}

func TestTemplate_errors(t *testing.T) {
	if _, err := workbook.Template(testDef(), "nope"); err == nil || !strings.HasPrefix(err.Error(), "workbook: ") {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := workbook.TemplateAll(&parser.Definition{ID: "empty"}); err == nil {
		t.Error("a call with no kinds gave a template")
	}
}

// Kind titles that are no valid sheet names are cleaned and kept unique.
func TestTemplate_sheetNames(t *testing.T) {
	def := &parser.Definition{ID: "x", Kinds: []parser.Kind{
		{ID: "a", Title: "Positions: report [2025] / with a title longer than thirty-one", Columns: []parser.Column{{Key: "k", Header: "K"}}},
		{ID: "b", Title: "Positions: report [2025] / with a title longer than thirty-one", Columns: []parser.Column{{Key: "k", Header: "K"}}},
		{ID: "c", Title: "Instructions", Columns: []parser.Column{{Key: "k", Header: "K"}}},
	}}
	data, err := workbook.TemplateAll(def)
	if err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, data)
	got := f.GetSheetList()
	if len(got) != 4 || got[0] == got[1] || got[2] == "Instructions" || len([]rune(got[0])) > 31 || strings.ContainsAny(got[0], "[]:/") {
		t.Errorf("sheet names %q", got)
	}
}

func readRows(t testing.TB, wb sheet.Workbook, name string) []sheet.Row {
	t.Helper()
	rs, err := wb.Rows(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []sheet.Row
	for rs.Next() {
		out = append(out, rs.Row())
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every kind of every built-in call gets a template the parser recognises:
// each sheet is detected as its kind by its headers, and the signature
// routes the workbook to its call.
func TestTemplate_builtin(t *testing.T) {
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := parser.BuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	routed := func(t *testing.T, data []byte, want string) {
		t.Helper()
		got, why := reg.Route(parser.RouteInput{Files: []parser.Input{{Name: "template.xlsx", Data: data}}})
		if got == nil || got.ID != want || why != "workbook" {
			t.Errorf("routed to %v (%s), want %s by workbook", got, why, want)
		}
	}
	if len(defs) == 0 {
		t.Fatal("no built-in calls")
	}
	for _, def := range defs {
		for _, k := range def.Kinds {
			t.Run(def.ID+"/"+k.ID, func(t *testing.T) {
				data, err := workbook.Template(def, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				f := openXLSX(t, data)
				if got := signature(f); got != `"`+def.ID+"/"+k.ID+`"` {
					t.Errorf("signature %q", got)
				}
				dv := validations(t, f, f.GetSheetName(0))
				for i, c := range k.Columns {
					col := parser.ColumnName(i + 1)
					if (c.Type == "enum" || c.Type == "yesno") && (dv[col] == nil || dv[col].Type != "list") {
						t.Errorf("column %q (%s) has no drop-down: %+v", c.Header, col, dv[col])
					}
					if c.Type == "date" && (dv[col] == nil || dv[col].Type != "date") {
						t.Errorf("column %q (%s) has no date validation", c.Header, col)
					}
					if c.Type == "integer" && (dv[col] == nil || dv[col].Type != "whole") {
						t.Errorf("column %q (%s) has no whole-number validation", c.Header, col)
					}
				}
				sheet := f.GetSheetName(0)
				if p, err := f.GetPanes(sheet); err != nil || !p.Freeze || p.YSplit != 1 {
					t.Errorf("header row not frozen: %+v %v", p, err)
				}
				for i, c := range k.Columns {
					if c.Type != "date" {
						continue
					}
					cell := parser.ColumnName(i+1) + "2"
					id, _ := f.GetCellStyle(sheet, cell)
					ds, err := f.GetStyle(id)
					if err != nil || ds.CustomNumFmt == nil || *ds.CustomNumFmt != "yyyy-mm-dd" {
						t.Errorf("date column %q (%s) has no date format", c.Header, cell)
					}
				}
				ins, err := f.GetRows("Instructions")
				if err != nil {
					t.Fatalf("no Instructions sheet: %v", err)
				}
				var all strings.Builder
				for _, r := range ins {
					all.WriteString(strings.Join(r, "\t") + "\n")
				}
				for _, c := range k.Columns {
					if !strings.Contains(all.String(), c.Header) {
						t.Errorf("Instructions do not describe column %q", c.Header)
					}
				}
				if !strings.Contains(all.String(), def.Title) {
					t.Errorf("Instructions do not name the call %q", def.Title)
				}
				routed(t, data, def.ID)
				sub := parser.Check(def, []parser.Input{{Name: "template.xlsx", Data: data}}, parser.Context{})
				if len(sub.Files) != 1 || len(sub.Files[0].Sheets) == 0 || sub.Files[0].Sheets[0].Kind != k.ID {
					t.Errorf("the parser does not read the template as %s: %+v", k.ID, sub.Files)
				}
			})
		}
		t.Run(def.ID, func(t *testing.T) {
			data, err := workbook.TemplateAll(def)
			if err != nil {
				t.Fatal(err)
			}
			f := openXLSX(t, data)
			if got := signature(f); got != `"`+def.ID+`"` {
				t.Errorf("signature %q", got)
			}
			routed(t, data, def.ID)
			if n := len(f.GetSheetList()); n < len(def.Kinds)+1 {
				t.Errorf("%d sheets for %d kinds", n, len(def.Kinds))
			}
			// Every kind's sheet keeps its drop-downs in the one workbook.
			sub := parser.Check(def, []parser.Input{{Name: "t.xlsx", Data: data}}, parser.Context{})
			for _, k := range def.Kinds {
				sheet := ""
				for _, sr := range sub.Files[0].Sheets {
					if sr.Kind == k.ID {
						sheet = sr.Name
					}
				}
				if sheet == "" {
					t.Errorf("no sheet read as %s", k.ID)
					continue
				}
				dv := validations(t, f, sheet)
				for i, c := range k.Columns {
					if col := parser.ColumnName(i + 1); (c.Type == "enum" || c.Type == "yesno") && (dv[col] == nil || dv[col].Type != "list") {
						t.Errorf("%s: column %q (%s) has no drop-down", sheet, c.Header, col)
					}
				}
			}
		})
	}
}
