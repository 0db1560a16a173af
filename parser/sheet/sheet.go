// Package sheet reads the worksheets of a submitted .xlsx workbook as a
// stream of rows of raw cell values.
//
// Open picks the reader: a streaming reader of its own where it understands
// the file, excelize otherwise. Both give the same rows and values (proven
// by the differential test), so callers never know which one ran.
package sheet

import (
	"errors"
	"time"
)

// Type is what a cell holds.
type Type int

const (
	Empty  Type = iota
	String      // shared, inline or formula string
	Number      // numeric value as written (Value is the raw text, e.g. "45000" or "1.5E-3")
	Bool        // Value is "0" or "1"
	Error       // Value is the error text, e.g. "#N/A"
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case Error:
		return "error"
	}
	return "empty"
}

// Cell is one non-empty cell.
type Cell struct {
	Col   int    // 1-based column
	Type  Type   //
	Value string // raw value: the string itself, or the number as written in the file
	Date  bool   // a Number whose number format is a date or time format

	numFmt *numFmt // a Number's number format (Format, Text); nil for General
}

// Time converts a date cell's serial to a time (UTC wall clock), honouring
// the workbook's 1904 date system.
func (c Cell) Time(date1904 bool) (time.Time, bool) {
	if c.Type != Number || !c.Date {
		return time.Time{}, false
	}
	return SerialTime(c.Value, date1904)
}

// Row is one row that has at least one cell. Rows without cells may be
// skipped; Num gives the real row number.
type Row struct {
	Num   int    // 1-based row number
	Cells []Cell // ascending by Col, no empty cells
}

// Workbook is an opened workbook.
type Workbook interface {
	// Sheets returns the worksheet names in workbook order (chart sheets
	// and macro sheets are left out).
	Sheets() []string
	// Date1904 reports whether the workbook uses the 1904 date system.
	Date1904() bool
	// Rows streams the rows of a sheet. Only one Rows may be open at a time.
	Rows(sheet string) (Rows, error)
	// Reader names the reader that produced the rows: "stream" or
	// "excelize". It turns from "stream" to "excelize" when the streaming
	// reader met, in the middle of a sheet, a construct it does not
	// understand and handed the rest of that sheet to excelize.
	Reader() string
	Close() error
}

// Rows iterates over the rows of one sheet.
type Rows interface {
	Next() bool
	Row() Row
	Err() error
	Close() error
}

// Limits bound the cost of reading one workbook.
type Limits struct {
	MaxPartBytes  int64 // decompressed bytes of any one part (sheet, shared strings, styles)
	MaxTotalBytes int64 // decompressed bytes of all parts read
	MaxRows       int   // rows with a value per sheet (empty rows, however numbered, do not count)
	MaxColumns    int   // highest column number
	MaxCellBytes  int   // bytes of one cell value
	MaxStrings    int   // shared strings
	MaxSheets     int   // worksheets
	// MaxModelCells bounds the cells excelize's model of the worksheets
	// would hold: it pads every row to the farthest cell the row names, so
	// a few kilobytes naming column XFD on many rows would take gigabytes.
	// Checked before excelize reads a file; 0 means DefaultModelCells.
	MaxModelCells int64
}

// DefaultModelCells is about a gigabyte of excelize's model, four times
// a 100,000-row by 12-column report.
const DefaultModelCells = 5_000_000

// DefaultLimits suit any real data call.
func DefaultLimits() Limits {
	return Limits{
		MaxPartBytes:  256 << 20,
		MaxTotalBytes: 512 << 20,
		MaxRows:       1_048_576,
		MaxColumns:    16_384,
		MaxCellBytes:  32_767 * 4,
		MaxStrings:    2_000_000,
		MaxSheets:     256,
	}
}

// Errors a caller turns into advice for the sender.
var (
	ErrNotXLSX     = errors.New("not an .xlsx workbook")            // not a zip / no workbook part
	ErrLegacyXLS   = errors.New("old binary .xls workbook")         // OLE compound file
	ErrEncrypted   = errors.New("password-protected workbook")      // OLE file holding EncryptedPackage
	ErrTooLarge    = errors.New("workbook exceeds the size limits") // a Limits bound was hit
	ErrDoctype     = errors.New("workbook part declares a DOCTYPE") // refused, never expanded
	ErrNoSuchSheet = errors.New("no such sheet")

	// ErrUnsupported is the streaming reader saying it does not understand
	// a construct of the file (not that the file is bad): Open then reads
	// the file with excelize instead.
	ErrUnsupported = errors.New("construct not supported by the streaming reader")
)
