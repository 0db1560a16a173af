package sheet_test

import (
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser/sheet"
)

// builtinDates are the built-in number formats that show a date or time:
// 14-22 and 45-47 (ECMA-376 Part 1, 18.8.30). 27-36 and 50-58 are
// reserved for East Asian date formats whose code depends on the
// workbook's language; excelize, opened as OpenExcelize opens it (no
// culture set), shows them as plain numbers, so they are not dates here,
// and both readers agree with excelize (TestIsDateFormat_excelizeAgrees).
var builtinDates = map[int]bool{
	14: true, 15: true, 16: true, 17: true, 18: true, 19: true, 20: true, 21: true, 22: true,
	45: true, 46: true, 47: true,
}

// customDates are format codes as producers write them, with whether
// they show a date or time.
var customDates = []struct {
	code string
	want bool
}{
	{`yyyy-mm-dd`, true},
	{`[$-409]mmmm d, yyyy;@`, true},
	{`m/d/yy h:mm`, true},
	{`[h]:mm:ss`, true},
	{`[ss]`, true},
	{`mm:ss.0`, true},
	{`dd/mm/yyyy\ hh:mm`, true},
	{`h:mm AM/PM`, true},
	{`[$-F800]dddd, mmmm dd, yyyy`, true},
	{`yyyy"年"m"月"d"日"`, true},
	{`0.00`, false},
	{`"Date: "0`, false},
	{`#,##0;[Red]-#,##0`, false},
	{`"d"0`, false},
	{`0\d`, false},
	{`[Red][<=100]0;0`, false},
	{`#,##0 "days"`, false},
	{`0.00E+00`, false},
	{`_("$"* #,##0.00_);_("$"* \(#,##0.00\);_("$"* "-"??_);_(@_)`, false},
	{`General`, false},
	{`@`, false},
}

// TestIsDateFormat_builtin checks every built-in id (with no custom code)
// against builtinDates.
func TestIsDateFormat_builtin(t *testing.T) {
	for id := 0; id <= 81; id++ {
		if got := sheet.IsDateFormat(id, ""); got != builtinDates[id] {
			t.Errorf("IsDateFormat(%d, \"\") = %v, want %v", id, got, builtinDates[id])
		}
	}
}

// TestIsDateFormat_custom checks custom format codes against customDates
// (under an id that is not built in).
func TestIsDateFormat_custom(t *testing.T) {
	for _, tc := range customDates {
		if got := sheet.IsDateFormat(164, tc.code); got != tc.want {
			t.Errorf("IsDateFormat(164, %q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestIsDateFormat_excelizeAgrees checks the tables above against
// excelize's own formatting, which shares no code with IsDateFormat: it
// shows the serial 45000.25 (2023-03-15 06:00) in a cell of each format.
// Every number format shows the number's leading "45" ("45000.25",
// "45,000", "4500025%", "45000 1/4") or "4.5" ("4.50E+04"); no date or
// time format of that moment does ("03-15-23", "06:00", "1080006:00:00").
func TestIsDateFormat_excelizeAgrees(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	showsDate := func(t *testing.T, style *excelize.Style) (bool, string) {
		t.Helper()
		id, err := f.NewStyle(style)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellFloat("Sheet1", "A1", 45000.25, -1, 64); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStyle("Sheet1", "A1", "A1", id); err != nil {
			t.Fatal(err)
		}
		v, err := f.GetCellValue("Sheet1", "A1")
		if err != nil {
			t.Fatal(err)
		}
		return v != "" && !strings.Contains(v, "45") && !strings.Contains(v, "4.5"), v
	}
	for id := 0; id <= 81; id++ {
		if got, v := showsDate(t, &excelize.Style{NumFmt: id}); got != builtinDates[id] {
			t.Errorf("excelize shows 45000.25 in built-in format %d as %q: a date %v, builtinDates says %v", id, v, got, builtinDates[id])
		}
	}
	for _, tc := range customDates {
		code := tc.code
		if got, v := showsDate(t, &excelize.Style{CustomNumFmt: &code}); got != tc.want {
			t.Errorf("excelize shows 45000.25 in format %q as %q: a date %v, customDates says %v", code, v, got, tc.want)
		}
	}
}
