package sheet

import (
	"strconv"
	"strings"
	"sync"

	"github.com/xuri/excelize/v2"
)

// numFmt is the number format of a cell style: a built-in id (ECMA-376
// 18.8.30) or a custom format code. Cells of one style share one.
type numFmt struct {
	id   int    // numFmtId
	code string // the custom code; "" for a built-in id
	book *formatter

	mu   sync.Mutex
	memo map[string]string // raw value -> shown text (bounded)
}

// maxMemo bounds the texts remembered per number format: series, grades
// and codes repeat; position numbers do not, and need no memory.
const maxMemo = 4096

// formatter applies number formats as a spreadsheet program shows cells.
// It is excelize's formatter (the one its GetCellValue applies), run on a
// scratch workbook of its own that is made when a workbook first needs a
// format other than General; one formatter serves one workbook.
type formatter struct {
	date1904 bool

	mu      sync.Mutex
	scratch *excelize.File
	styles  map[*numFmt]int // style of each format in scratch
	err     error           // making the scratch workbook failed
}

const scratchSheet, scratchCell = "Sheet1", "A1"

// general reports a format that shows numbers as General does.
func (n *numFmt) general() bool {
	return n == nil || n.code == "" && n.id == 0 || strings.EqualFold(n.code, "General")
}

// Format returns the number format code of a Number cell ("General" when
// it has none). Built-in formats give their code from ECMA-376 18.8.30
// (id 14 is "mm-dd-yy"); a language-dependent built-in id with no code of
// its own gives "General".
func (c Cell) Format() string {
	n := c.numFmt
	switch {
	case n == nil:
		return "General"
	case n.code != "":
		return n.code
	}
	if code, ok := builtinFormats[n.id]; ok {
		return code
	}
	return "General"
}

// Text returns the cell's value as a spreadsheet program shows it: a
// Number with its number format applied ("0340" for 340 under "0000",
// "4.1" for 4.0999999999999996 under General, which shows 15 significant
// digits as Excel does), a Bool as TRUE or FALSE, a String or Error as it
// is. Formats are applied by excelize's formatter, so Text is what
// excelize's GetCellValue gives for the cell. It never fails: a format
// that cannot be applied shows the raw value.
func (c Cell) Text() string {
	switch c.Type {
	case Bool:
		switch c.Value {
		case "1":
			return "TRUE"
		case "0":
			return "FALSE"
		}
		return c.Value
	case Number:
	default:
		return c.Value
	}
	n := c.numFmt
	if n.general() {
		return generalText(c.Value)
	}
	return n.text(c.Value)
}

// generalText is how the General format shows a number: at most 15
// significant digits (the precision Excel keeps), with an exponent where
// the number has more digits than that; as excelize's General.
func generalText(v string) string {
	if strings.Contains(v, "_") {
		return v
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if len(s)-strings.Count(s, ".") > 15 && !integerWithin15(v) {
		return strconv.FormatFloat(f, 'G', 15, 64)
	}
	return s
}

// integerWithin15 reports raw text of a whole number with at most 15
// significant digits (trailing zeros are not significant).
func integerWithin15(v string) bool {
	if strings.ContainsAny(v, ".Ee") {
		return false
	}
	v = strings.TrimRight(strings.TrimLeft(v, "+-0"), "0")
	return len(v) <= 15
}

func (n *numFmt) text(v string) string {
	n.mu.Lock()
	if s, ok := n.memo[v]; ok {
		n.mu.Unlock()
		return s
	}
	n.mu.Unlock()
	s := n.book.apply(n, v)
	n.mu.Lock()
	if n.memo == nil {
		n.memo = map[string]string{}
	}
	if len(n.memo) < maxMemo {
		n.memo[v] = s
	}
	n.mu.Unlock()
	return s
}

// apply formats one raw number on the scratch workbook: the value is set
// as written, with the format's style, and read back formatted.
func (f *formatter) apply(n *numFmt, v string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.scratch == nil && f.err == nil {
		f.scratch = excelize.NewFile()
		f.styles = map[*numFmt]int{}
		if f.date1904 {
			t := true
			f.err = f.scratch.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &t})
		}
	}
	if f.err != nil {
		return v
	}
	style, ok := f.styles[n]
	if !ok {
		st := &excelize.Style{NumFmt: n.id}
		if n.code != "" {
			code := n.code
			st = &excelize.Style{CustomNumFmt: &code}
		}
		var err error
		if style, err = f.scratch.NewStyle(st); err != nil {
			return v
		}
		f.styles[n] = style
	}
	x := f.scratch
	if x.SetCellDefault(scratchSheet, scratchCell, v) != nil ||
		x.SetCellStyle(scratchSheet, scratchCell, scratchCell, style) != nil {
		return v
	}
	s, err := x.GetCellValue(scratchSheet, scratchCell)
	if err != nil {
		return v
	}
	return s
}

// builtinFormats are the codes of the built-in number formats every
// locale shares (ECMA-376 Part 1, 18.8.30).
var builtinFormats = map[int]string{
	0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00",
	9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??",
	14: "mm-dd-yy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy",
	18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "m/d/yy h:mm",
	37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
	45: "mm:ss", 46: "[h]:mm:ss", 47: "mmss.0", 48: "##0.0E+0", 49: "@",
}
