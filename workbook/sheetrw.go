package workbook

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// mark is one highlighted (and commented) cell.
type mark struct {
	row, col int
	warning  bool   // only warnings here: the amber fill
	text     string // the comment
}

// afterLegacy are the worksheet's children that come after legacyDrawing
// (ECMA-376 Part 1, CT_Worksheet): the new legacyDrawing goes before the
// first of them, or before the end of the worksheet.
var afterLegacy = map[string]bool{
	"legacyDrawingHF": true, "drawingHF": true, "picture": true, "oleObjects": true,
	"controls": true, "webPublishItems": true, "tableParts": true, "extLst": true,
}

// sheetRewrite streams one sheet part: flagged cells get their highlight
// format (a cell or row the sheet lacks is added, empty), the sheet loses
// its "selected" state (the Issues sheet becomes the one selected), and,
// when legacyID is set, a legacyDrawing naming the comments' drawing is
// added unless the sheet has one.
type sheetRewrite struct {
	marks    []mark // ascending by row, then column
	st       *styler
	legacyID string
	relNS    string

	// found while streaming
	hadLegacy string    // the r:id of the sheet's own legacyDrawing
	cols      []colSpan // column formats, for cells that name none
	rowStyle  int       // the current row's format, -1 for none
}

// colSpan is a <col> element's format: columns min to max.
type colSpan struct{ min, max, style int }

// baseStyle is the format a cell without an s attribute shows: its row's,
// else its column's (as Excel and LibreOffice read it; Gnumeric writes
// such cells), else the default.
func (sr *sheetRewrite) baseStyle(col int) int {
	if sr.rowStyle >= 0 {
		return sr.rowStyle
	}
	for _, c := range sr.cols {
		if col >= c.min && col <= c.max {
			return c.style
		}
	}
	return 0
}

func (sr *sheetRewrite) run(r io.Reader, w io.Writer) error {
	s := newScanner(r)
	bw := bufio.NewWriterSize(w, 64<<10)
	var (
		prefix     []byte
		depth      int
		inData     bool
		row, col   int
		i          int // next mark
		legacyDone = sr.legacyID == ""
	)
	cellXML := func(m mark) {
		bw.WriteString("<" + qname(prefix, "c") + ` r="` + cellName(m.col, m.row) + `" s="` + strconv.Itoa(sr.style(sr.baseStyle(m.col), m)) + `"/>`)
	}
	// flushCells adds the marked cells of this row left of column c.
	flushCells := func(c int) {
		for i < len(sr.marks) && sr.marks[i].row == row && sr.marks[i].col < c {
			cellXML(sr.marks[i])
			i++
		}
	}
	// flushRows adds rows for the marks above row r.
	flushRows := func(r int) {
		for i < len(sr.marks) && sr.marks[i].row < r {
			rn := sr.marks[i].row
			sr.rowStyle = -1
			bw.WriteString("<" + qname(prefix, "row") + ` r="` + strconv.Itoa(rn) + `">`)
			for i < len(sr.marks) && sr.marks[i].row == rn {
				cellXML(sr.marks[i])
				i++
			}
			bw.WriteString("</" + qname(prefix, "row") + ">")
		}
	}
	legacy := func() {
		if !legacyDone {
			bw.WriteString("<" + qname(prefix, "legacyDrawing") + ` xmlns:r="` + sr.relNS + `" r:id="` + sr.legacyID + `"/>`)
			legacyDone = true
		}
	}
	for {
		err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		raw := s.raw
		switch s.kind {
		case tokStart, tokEmpty:
			name := string(s.name)
			switch {
			case depth == 0:
				prefix = append([]byte(nil), s.prefix...)
			case name == "sheetView":
				raw = dropAttr(raw, "tabSelected")
			case depth == 2 && name == "col" && len(sr.cols) < 16_384:
				lo, _ := attr(raw, "min")
				hi, _ := attr(raw, "max")
				st, ok := attr(raw, "style")
				a, _ := strconv.Atoi(string(lo))
				b, _ := strconv.Atoi(string(hi))
				if n, err := strconv.Atoi(string(st)); ok && err == nil && a > 0 && b >= a {
					sr.cols = append(sr.cols, colSpan{a, b, n})
				}
			case depth == 1 && name == "sheetData":
				if s.kind == tokEmpty {
					bw.Write(opened(raw))
					flushRows(1 << 30)
					bw.WriteString("</" + qname(prefix, "sheetData") + ">")
					continue
				}
				inData = true
			case depth == 1 && name == "legacyDrawing":
				if v, ok := attr(raw, "id"); ok {
					sr.hadLegacy = string(v)
				} else {
					sr.hadLegacy = "?"
				}
				legacyDone = true
			case depth == 1 && afterLegacy[name]:
				legacy()
			case inData && depth == 2 && name == "row":
				if v, ok := attr(raw, "r"); ok {
					n, err := strconv.Atoi(string(v))
					if err != nil || n <= 0 {
						return fmt.Errorf("row number %q", v)
					}
					row = n
				} else {
					row++
				}
				col = 0
				flushRows(row)
				sr.rowStyle = -1
				if cf, _ := attr(raw, "customFormat"); string(cf) == "1" || string(cf) == "true" {
					if v, ok := attr(raw, "s"); ok {
						if n, err := strconv.Atoi(string(v)); err == nil {
							sr.rowStyle = n
						}
					}
				}
				if s.kind == tokEmpty && i < len(sr.marks) && sr.marks[i].row == row {
					bw.Write(opened(raw))
					flushCells(1 << 30)
					bw.WriteString("</" + qname(prefix, "row") + ">")
					continue
				}
			case inData && depth == 3 && name == "c":
				if v, ok := attr(raw, "r"); ok {
					if c, _ := cellRef(v); c > 0 {
						col = c
					} else {
						col++
					}
				} else {
					col++
				}
				flushCells(col)
				if i < len(sr.marks) && sr.marks[i].row == row && sr.marks[i].col == col {
					orig := sr.baseStyle(col)
					if v, ok := attr(raw, "s"); ok {
						orig, _ = strconv.Atoi(string(v))
					}
					raw = setAttr(raw, "s", strconv.Itoa(sr.style(orig, sr.marks[i])))
					i++
				}
			}
			if s.kind == tokStart {
				depth++
			}
		case tokEnd:
			depth--
			switch {
			case inData && depth == 2 && string(s.name) == "row":
				flushCells(1 << 30)
			case depth == 1 && string(s.name) == "sheetData":
				flushRows(1 << 30)
				inData = false
			case depth == 0:
				legacy()
			}
		}
		bw.Write(raw)
	}
	return bw.Flush()
}

func (sr *sheetRewrite) style(orig int, m mark) int {
	if orig < 0 || orig >= sr.st.xfs {
		orig = 0
	}
	return sr.st.id(orig, m.warning)
}

// cellName is "B12".
func cellName(col, row int) string {
	var b [8]byte
	i := len(b)
	for col > 0 && i > 0 {
		col--
		i--
		b[i] = byte('A' + col%26)
		col /= 26
	}
	return string(b[i:]) + strconv.Itoa(row)
}
