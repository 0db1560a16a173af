package sheet

import (
	"errors"
	"fmt"
	"io"
)

// Rows streams a worksheet straight from its zip entry. Only one Rows may
// be open at a time; opening another closes the previous one.
func (b *streamBook) Rows(name string) (Rows, error) {
	part, ok := b.parts[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchSheet, name)
	}
	if b.open != nil {
		b.open.Close()
	}
	rc, err := b.openPart(part)
	if err != nil {
		return nil, err
	}
	s := newScanner(rc, b.buf, b.lim.MaxCellBytes)
	b.buf = s.buf
	r := &streamRows{book: b, sheet: name, rc: rc, s: s}
	b.open = r
	return r, nil
}

type streamRows struct {
	book   *streamBook
	sheet  string
	rc     io.ReadCloser
	s      *scanner
	inData bool // inside <sheetData>
	rooted bool // the root element was read
	done   bool
	num    int // number of the last row element read
	count  int // rows with a value returned
	last   int // number of the last row returned
	row    Row
	err    error
	vals   []byte // values of the current row, back to back
	ends   []int  // end of each cell's value in vals; -1-i for shared string i
	width  int    // cells in the last row, the capacity of the next
	value  []byte // scratch for one cell's text
	inline []byte // scratch for an inline string before unescaping
	fb     Rows   // excelize, reading the rest of the sheet after a fallback
}

func (r *streamRows) Row() Row   { return r.row }
func (r *streamRows) Err() error { return r.err }

func (r *streamRows) Close() error {
	if r.fb != nil {
		r.fb.Close()
		r.fb = nil
	}
	if r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
	if r.book.open == r {
		r.book.open = nil
	}
	r.done = true
	return nil
}

func (r *streamRows) Next() bool {
	if r.fb != nil {
		return r.nextFallback()
	}
	if r.done || r.err != nil {
		return false
	}
	ok, err := r.next()
	if err == nil {
		return ok
	}
	if errors.Is(err, ErrUnsupported) {
		// The rows so far are right (the differential test proves the two
		// readers agree on them); excelize reads the rest of the sheet.
		if err := r.startFallback(); err != nil {
			r.err = err
			return false
		}
		return r.nextFallback()
	}
	r.err = fmt.Errorf("stream: sheet %q: %w", r.sheet, err)
	r.rc.Close()
	r.rc = nil
	return false
}

func (r *streamRows) startFallback() error {
	r.rc.Close()
	r.rc = nil
	b := r.book
	if b.fallback == nil {
		data, err := b.bytes()
		if err != nil {
			return err
		}
		w, err := OpenExcelize(data, b.lim)
		if err != nil {
			return err
		}
		b.fallback = w.(*excelizeBook)
	}
	b.reader = "excelize"
	fb, err := b.fallback.Rows(r.sheet)
	if err != nil {
		return err
	}
	r.fb = fb
	return nil
}

func (r *streamRows) nextFallback() bool {
	for r.fb.Next() {
		row := r.fb.Row()
		if row.Num > r.last {
			r.last, r.row = row.Num, row
			return true
		}
	}
	r.err = r.fb.Err()
	return false
}

// next reads up to the next row with a value.
func (r *streamRows) next() (bool, error) {
	s := r.s
	for {
		err := s.next()
		if err == io.EOF {
			r.done = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !r.rooted {
			r.rooted = true
			// excelize loads the worksheet model (for cell types and
			// styles) only with this root element.
			if err := checkRootNS(s, "worksheet"); err != nil {
				return false, err
			}
		}
		if !r.inData {
			if !s.endTag && string(s.name) == "row" {
				return false, unsupported("<row> outside sheetData")
			}
			if !s.endTag && string(s.name) == "sheetData" {
				if s.empty {
					r.done = true
					return false, nil
				}
				r.inData = true
			}
			continue
		}
		if s.endTag {
			if string(s.name) == "sheetData" {
				// Read the rest of the part too: excelize takes cell types
				// and styles from its model of the whole worksheet, which
				// a malformed tail breaks; then it must decide.
				for {
					if err := s.next(); err == io.EOF {
						break
					} else if err != nil {
						return false, err
					}
				}
				r.done = true
				r.rc.Close()
				r.rc = nil
				return false, nil
			}
			continue
		}
		if string(s.name) != "row" {
			return false, unsupported("<%s> in sheetData", s.name)
		}
		num := r.num + 1
		for a := s.attrs; ; {
			name, val, rest, ok, err := nextAttr(a)
			if err != nil {
				return false, err
			}
			if !ok {
				break
			}
			if err := attrValue(val); err != nil {
				return false, err
			}
			if string(name) == "r" {
				n, ok := atoi(val)
				if !ok || n < 1 {
					return false, unsupported("row r=%q", val)
				}
				num = n
			}
			a = rest
		}
		if num <= r.num {
			return false, unsupported("row %d after row %d", num, r.num)
		}
		r.num = num
		if s.empty {
			continue
		}
		ok, err := r.readRow()
		if err != nil {
			return false, err
		}
		if ok {
			// Rows with a value count, not row numbers: a sheet may end
			// in empty formatted rows down to 1048576 (LibreOffice, Excel
			// for Mac), which are skipped above and cost no more than
			// their bytes, bounded by MaxPartBytes.
			if r.count++; r.book.lim.MaxRows > 0 && r.count > r.book.lim.MaxRows {
				return false, fmt.Errorf("%w: sheet %q has more than %d rows", ErrTooLarge, r.sheet, r.book.lim.MaxRows)
			}
			return true, nil
		}
	}
}

// readRow reads the cells of a row (its start tag is the current token).
func (r *streamRows) readRow() (bool, error) {
	s, b := r.s, r.book
	r.vals, r.ends = r.vals[:0], r.ends[:0]
	var cells []Cell // a new slice each row: callers may keep rows
	col := 0
	for {
		c := Cell{Col: col + 1, Type: Number}
		style, typ := 0, ""
		rv, sv, tv, fast := s.fastC()
		if !fast {
			if err := s.next(); err != nil {
				return false, err
			}
			if s.endTag {
				if string(s.name) == "row" {
					break
				}
				continue
			}
			if string(s.name) != "c" {
				if err := s.skip(); err != nil {
					return false, err
				}
				continue
			}
			for a := s.attrs; ; {
				name, val, rest, ok, err := nextAttr(a)
				if err != nil {
					return false, err
				}
				if !ok {
					break
				}
				if err := attrValue(val); err != nil {
					return false, err
				}
				switch string(name) {
				case "r":
					rv = val
				case "s":
					sv = val
				case "t":
					tv = val
				}
				a = rest
			}
		}
		if rv != nil {
			cc, rr, ok := cellRef(rv)
			if !ok || rr != r.num {
				return false, unsupported("cell r=%q in row %d", rv, r.num)
			}
			c.Col = cc
		}
		if sv != nil {
			n, ok := atoi(sv)
			if !ok {
				return false, unsupported("cell s=%q", sv)
			}
			style = n
		}
		if tv != nil {
			typ = cellType(tv)
		}
		if c.Col <= col {
			return false, unsupported("cell column %d after column %d in row %d", c.Col, col, r.num)
		}
		col = c.Col
		if s.empty {
			continue
		}
		v, sst, err := r.readCell(typ)
		if err != nil {
			return false, err
		}
		if len(v) == 0 && sst < 0 {
			continue
		}
		switch typ {
		case "", "n":
			c.Date = style < len(b.dateStyle) && b.dateStyle[style]
			c.numFmt = b.cellFormat(style)
		case "d":
			if serial, ok := isoSerial(string(v), b.date1904); ok {
				v, c.Date = []byte(serial), true
				c.numFmt = b.cellFormat(style)
			} else {
				c.Type = String
			}
		case "s", "inlineStr", "str":
			c.Type = String
		case "b":
			c.Type = Bool
		case "e":
			c.Type = Error
		default:
			return false, unsupported("cell type t=%q", typ)
		}
		if sst >= 0 {
			if b.sst[sst] == "" {
				continue
			}
			r.ends = append(r.ends, -1-sst)
		} else {
			r.vals = append(r.vals, v...)
			r.ends = append(r.ends, len(r.vals))
		}
		if lim := b.lim.MaxColumns; lim > 0 && c.Col > lim {
			return false, fmt.Errorf("%w: row %d of %q has more than %d columns", ErrTooLarge, r.num, r.sheet, lim)
		}
		if cells == nil {
			cells = make([]Cell, 0, max(r.width, 4))
		}
		cells = append(cells, c)
	}
	if len(cells) == 0 {
		return false, nil
	}
	r.width = len(cells)
	all := string(r.vals)
	start := 0
	for i, e := range r.ends {
		if e < 0 {
			cells[i].Value = b.sst[-1-e]
			continue
		}
		cells[i].Value = all[start:e]
		start = e
	}
	r.row = Row{Num: r.num, Cells: cells}
	r.last = r.num
	return true, nil
}

// readCell reads the content of a <c> element up to its end tag: the raw
// value (valid until the next call), or the index of a shared string.
func (r *streamRows) readCell(typ string) ([]byte, int, error) {
	s := r.s
	var (
		v             []byte
		haveV, haveIS bool
		err           error
	)
	switch val, kind, err := s.fastCell(r.value[:0]); {
	case err != nil:
		return nil, -1, err
	case kind == fastV:
		r.value = val
		return r.cellValue(typ, val, false)
	case kind == fastInline:
		r.inline = append(r.inline[:0], val...)
		return r.cellValue(typ, nil, true)
	}
	for {
		if err := s.next(); err != nil {
			return nil, -1, err
		}
		if s.endTag {
			if string(s.name) == "c" {
				break
			}
			continue
		}
		switch string(s.name) {
		case "v":
			if haveV {
				return nil, -1, unsupported("two <v> in a cell")
			}
			haveV = true
			wasEmpty := s.empty
			if r.value, err = s.text(r.value[:0]); err != nil {
				return nil, -1, err
			}
			if !wasEmpty {
				if err := s.next(); err != nil {
					return nil, -1, err
				}
				if !s.endTag {
					return nil, -1, unsupported("element inside <v>")
				}
			}
			v = r.value
		case "is":
			if haveIS {
				return nil, -1, unsupported("two <is> in a cell")
			}
			haveIS = true
			if r.inline, err = readRichText(s, r.inline[:0]); err != nil {
				return nil, -1, err
			}
		default: // <f>, extensions
			if err := s.skip(); err != nil {
				return nil, -1, err
			}
		}
	}
	return r.cellValue(typ, v, haveIS)
}

// cellValue turns what a cell held (its <v>, and its inline string in
// r.inline when haveIS) into its raw value, or a shared string index.
func (r *streamRows) cellValue(typ string, v []byte, haveIS bool) ([]byte, int, error) {
	switch typ {
	case "s":
		if len(v) == 0 {
			return nil, -1, nil
		}
		n, ok := atoi(trimSpace(v))
		if !ok || n >= len(r.book.sst) {
			return nil, -1, unsupported("shared string index %q", v)
		}
		return nil, n, nil
	case "inlineStr":
		if haveIS {
			r.value = appendBstr(r.value[:0], r.inline)
			return r.value, -1, nil
		}
	}
	return v, -1, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// cellType returns the t attribute of a cell as a constant string (no
// allocation for the known types).
func cellType(b []byte) string {
	switch string(b) {
	case "s":
		return "s"
	case "n":
		return "n"
	case "str":
		return "str"
	case "inlineStr":
		return "inlineStr"
	case "b":
		return "b"
	case "e":
		return "e"
	case "d":
		return "d"
	}
	return string(b)
}

// atoi parses a non-negative decimal number of at most 9 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// cellRef parses an A1 reference (letters in either case, then digits).
func cellRef(b []byte) (col, row int, ok bool) {
	i := 0
	for i < len(b) && (b[i]|0x20) >= 'a' && (b[i]|0x20) <= 'z' {
		if i == 3 {
			return 0, 0, false
		}
		col = col*26 + int(b[i]|0x20-'a'+1)
		i++
	}
	if i == 0 {
		return 0, 0, false
	}
	row, ok = atoi(b[i:])
	return col, row, ok && row > 0
}
