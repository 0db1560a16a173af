package sheet

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// oleMagic starts every OLE compound file: old .xls workbooks, and .xlsx
// workbooks that Office encrypted with a password.
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Sniff tells an .xlsx (zip) from an old .xls, an encrypted workbook or
// something else, from the first bytes alone.
func Sniff(data []byte) error {
	if bytes.HasPrefix(data, oleMagic) {
		// Encrypted OOXML keeps the real package in a stream named
		// "EncryptedPackage" (MS-OFFCRYPTO 2.3.4.4); names are UTF-16LE.
		if bytes.Contains(data, utf16le("EncryptedPackage")) {
			return ErrEncrypted
		}
		return ErrLegacyXLS
	}
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return ErrNotXLSX
	}
	return nil
}

func utf16le(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, r := range s {
		b = append(b, byte(r), 0)
	}
	return b
}

// Open opens a workbook held in memory. Errors are ErrNotXLSX,
// ErrLegacyXLS, ErrEncrypted, ErrTooLarge, ErrDoctype, or another error
// for a corrupted file.
//
// It reads with the streaming reader (OpenStream) and falls back to
// excelize when that reader does not understand a construct of the file
// (ErrUnsupported), or finds no workbook in a zip (ErrNotXLSX) that
// excelize can open after all: a valid file is never refused for the
// stream reader's sake. Other errors are the file's fault and are returned
// as they are. Workbook.Reader tells which reader ran.
func Open(data []byte, lim Limits) (Workbook, error) {
	return openAt(bytes.NewReader(data), int64(len(data)), data, lim)
}

// OpenExcelize opens a workbook with excelize: the fallback reader, and the
// oracle the streaming reader is proven against.
func OpenExcelize(data []byte, lim Limits) (Workbook, error) {
	if err := Sniff(data); err != nil {
		return nil, err
	}
	data, err := utf8Package(data, lim)
	if err != nil {
		return nil, err
	}
	if err := CheckModelSize(data, lim); err != nil {
		return nil, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		RawCellValue:      true,
		UnzipSizeLimit:    lim.MaxTotalBytes,
		UnzipXMLSizeLimit: lim.MaxPartBytes,
	})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") {
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		if strings.Contains(err.Error(), "zip: not a valid zip file") {
			return nil, fmt.Errorf("%w: %v", ErrNotXLSX, err)
		}
		return nil, fmt.Errorf("excelize: %w", err)
	}
	props, err := f.GetWorkbookProps()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("excelize: workbook properties: %w", err)
	}
	date1904 := props.Date1904 != nil && *props.Date1904
	w := &excelizeBook{f: f, lim: lim, date1904: date1904, dateStyle: map[int]bool{},
		numFmts: map[int]*numFmt{}, fmt: &formatter{date1904: date1904}}
	// excelize lists chart, dialog and macro sheets with the worksheets;
	// Sheets leaves them out (they hold no cells to read).
	others, fmts := packageInfo(data, lim)
	w.styleFmts = fmts
	for _, name := range f.GetSheetList() {
		if !others[name] {
			w.sheets = append(w.sheets, name)
		}
	}
	if lim.MaxSheets > 0 && len(w.sheets) > lim.MaxSheets {
		f.Close()
		return nil, fmt.Errorf("%w: %d sheets (limit %d)", ErrTooLarge, len(w.sheets), lim.MaxSheets)
	}
	return w, nil
}

type excelizeBook struct {
	f         *excelize.File
	lim       Limits
	date1904  bool
	sheets    []string
	dateStyle map[int]bool    // style index -> its number format is a date
	numFmts   map[int]*numFmt // style index -> its number format; nil for General
	styleFmts []*numFmt       // the same, as the stream reader reads the styles; nil when it cannot
	fmt       *formatter
}

func (w *excelizeBook) Sheets() []string { return w.sheets }
func (w *excelizeBook) Date1904() bool   { return w.date1904 }
func (w *excelizeBook) Close() error     { return w.f.Close() }
func (w *excelizeBook) Reader() string   { return "excelize" }

func (w *excelizeBook) Rows(name string) (Rows, error) {
	found := false
	for _, s := range w.sheets {
		found = found || s == name
	}
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchSheet, name)
	}
	rows, err := w.f.Rows(name)
	if err != nil {
		return nil, fmt.Errorf("excelize: rows of %q: %w", name, err)
	}
	return &excelizeRows{book: w, sheet: name, rows: rows}, nil
}

func (w *excelizeBook) isDateStyle(idx int) bool {
	if d, ok := w.dateStyle[idx]; ok {
		return d
	}
	d := false
	var nf *numFmt
	if st, err := w.f.GetStyle(idx); err == nil && st != nil {
		custom := ""
		if st.CustomNumFmt != nil {
			custom = *st.CustomNumFmt
		}
		d = IsDateFormat(st.NumFmt, custom)
		nf = &numFmt{id: st.NumFmt, code: custom, book: w.fmt}
		if nf.general() {
			nf = nil
		}
	}
	if w.styleFmts != nil {
		// excelize shows a cell with its style's custom code even where
		// the id is a built-in one, which GetStyle does not tell.
		nf = nil
		if idx >= 0 && idx < len(w.styleFmts) {
			nf = w.styleFmts[idx]
		}
	}
	w.dateStyle[idx], w.numFmts[idx] = d, nf
	return d
}

type excelizeRows struct {
	book  *excelizeBook
	sheet string
	rows  *excelize.Rows
	num   int
	count int // rows with a value returned
	row   Row
	err   error
}

func (r *excelizeRows) Next() bool {
	for r.err == nil && r.rows.Next() {
		r.num++
		cols, err := r.rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			r.err = fmt.Errorf("excelize: row %d of %q: %w", r.num, r.sheet, err)
			return false
		}
		row := Row{Num: r.num}
		for i, v := range cols {
			if v == "" {
				continue
			}
			if lim := r.book.lim.MaxColumns; lim > 0 && i+1 > lim {
				r.err = fmt.Errorf("%w: row %d of %q has more than %d columns", ErrTooLarge, r.num, r.sheet, lim)
				return false
			}
			if lim := r.book.lim.MaxCellBytes; lim > 0 && len(v) > lim {
				r.err = fmt.Errorf("%w: cell %s%d of %q is longer than %d bytes", ErrTooLarge, colName(i+1), r.num, r.sheet, lim)
				return false
			}
			row.Cells = append(row.Cells, r.book.cell(r.sheet, i+1, r.num, v))
		}
		if len(row.Cells) > 0 {
			// Rows with a value count, not row numbers (see streamRows).
			if r.count++; r.book.lim.MaxRows > 0 && r.count > r.book.lim.MaxRows {
				r.err = fmt.Errorf("%w: sheet %q has more than %d rows", ErrTooLarge, r.sheet, r.book.lim.MaxRows)
				return false
			}
			r.row = row
			return true
		}
	}
	if r.err == nil {
		r.err = r.rows.Error()
	}
	return false
}

func (w *excelizeBook) cell(sheet string, col, row int, v string) Cell {
	ref := colName(col) + strconv.Itoa(row)
	c := Cell{Col: col, Value: v, Type: String}
	t, _ := w.f.GetCellType(sheet, ref)
	switch t {
	case excelize.CellTypeBool:
		c.Type = Bool
	case excelize.CellTypeError:
		c.Type = Error
	case excelize.CellTypeDate:
		// An ISO 8601 date (t="d"): read as the date cell it is, as the
		// streaming reader does (excelize's raw value is the ISO text).
		if serial, ok := isoSerial(v, w.date1904); ok {
			c.Type, c.Value, c.Date = Number, serial, true
			if idx, err := w.f.GetCellStyle(sheet, ref); err == nil {
				w.isDateStyle(idx)
				c.numFmt = w.numFmts[idx]
			}
		}
	case excelize.CellTypeUnset, excelize.CellTypeNumber:
		c.Type = Number
		if idx, err := w.f.GetCellStyle(sheet, ref); err == nil {
			c.Date = w.isDateStyle(idx)
			c.numFmt = w.numFmts[idx]
		}
	}
	return c
}

func (r *excelizeRows) Row() Row     { return r.row }
func (r *excelizeRows) Err() error   { return r.err }
func (r *excelizeRows) Close() error { return r.rows.Close() }

func colName(col int) string {
	s, _ := excelize.ColumnNumberToName(col)
	return s
}

// SerialTime converts an Excel date serial (as written in the file) to a
// time, honouring the 1904 date system and Excel's 1900 leap-year bug.
func SerialTime(value string, date1904 bool) (time.Time, bool) {
	f, err := strconv.ParseFloat(value, 64)
	if err != nil || f < 0 || f > 2958465 { // 9999-12-31
		return time.Time{}, false
	}
	t, err := excelize.ExcelDateToTime(f, date1904)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// IsDateFormat reports whether a number format shows a date or time: the
// built-in ids 14-22 and 45-47 (ECMA-376 18.8.30; not 27-36 and 50-58,
// whose East Asian date codes depend on the language and which excelize,
// with no culture set, shows as numbers), or a custom format code
// with a day, month, year, hour or second token outside quotes, escapes and
// [brackets] ("[h]:mm" elapsed time counts too).
func IsDateFormat(id int, custom string) bool {
	if (id >= 14 && id <= 22) || (id >= 45 && id <= 47) {
		return true
	}
	if custom == "" {
		return false
	}
	code := custom
	if i := strings.IndexByte(code, ';'); i >= 0 { // the positive section decides
		code = code[:i]
	}
	inQuote := false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case inQuote:
			inQuote = c != '"'
		case c == '"':
			inQuote = true
		case c == '\\' || c == '_' || c == '*':
			i++ // escaped or padding character
		case c == '[':
			j := strings.IndexByte(code[i:], ']')
			if j < 0 {
				return false
			}
			inner := strings.ToLower(code[i+1 : i+j])
			if inner == "h" || inner == "hh" || inner == "m" || inner == "mm" || inner == "s" || inner == "ss" {
				return true
			}
			i += j
		default:
			switch c | 0x20 {
			case 'd', 'm', 'y', 'h', 's':
				return !strings.EqualFold(code, "general")
			}
		}
	}
	return false
}
