package export

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"intake/parser"

	"github.com/xuri/excelize/v2"
)

// maxSheetRows is Excel's row limit per sheet (header included).
const maxSheetRows = 1_048_576

// xlsxSink writes one sheet per table with excelize's StreamWriter, so rows
// never pile up in memory: excelize spills a large sheet to a temporary
// file, and the finished workbook is written to another temporary file
// before it is copied out.
type xlsxSink struct {
	f      *excelize.File
	sw     *excelize.StreamWriter
	sheets int      // sheets begun
	ncols  int      // columns of the current sheet
	nrows  int      // rows written to the current sheet, header included
	dims   []string // real used range per sheet, in order
	names  map[string]bool
	types  []string // column types of the current sheet (table.types)
	header bool     // the next row is the header (all text)
	vals   []any    // reused by row

	dateStyle, timeStyle int // number formats of date and date-time cells
}

func newXLSXSink() *xlsxSink {
	return &xlsxSink{f: excelize.NewFile(), names: map[string]bool{}}
}

// styles makes the date and date-time number formats, once.
func (x *xlsxSink) styles() error {
	if x.dateStyle != 0 {
		return nil
	}
	dateFmt, timeFmt := "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"
	var err error
	if x.dateStyle, err = x.f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt}); err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	if x.timeStyle, err = x.f.NewStyle(&excelize.Style{CustomNumFmt: &timeFmt}); err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	return nil
}

// value is the typed cell for v in a column of type typ: a number, a date
// or a date-time where v reads as one, else text (also a value a deficient
// submission stored that does not fit its type). Text is never prefixed:
// an XLSX text cell is never evaluated as a formula.
func (x *xlsxSink) value(typ, v string) any {
	if v == "" {
		return nil
	}
	switch typ {
	case parser.TypeInteger:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > -1e15 && n < 1e15 {
			return n
		}
	case parser.TypeNumber:
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case parser.TypeDate:
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return excelize.Cell{StyleID: x.dateStyle, Value: t}
		}
	case cellDateTime:
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return excelize.Cell{StyleID: x.timeStyle, Value: t.UTC()}
		}
	}
	return Clean(v)
}

// dimensionSentinel is the placeholder used range of sheet i. StreamWriter
// writes a sheet's <dimension> when it is created, before any row, and
// SetSheetDimension after Flush has no effect; so each sheet is created
// with a distinct, valid placeholder that close replaces by the real range
// (openpyxl in read-only mode trusts <dimension> and would otherwise read
// one row).
func dimensionSentinel(i int) string {
	return fmt.Sprintf("A1:XFD%d", maxSheetRows-i)
}

func (x *xlsxSink) begin(t table) error {
	if x.sw != nil {
		if err := x.finishSheet(); err != nil {
			return err
		}
	}
	name := x.sheetName(t.title)
	if x.sheets == 0 {
		if err := x.f.SetSheetName("Sheet1", name); err != nil {
			return fmt.Errorf("export: xlsx: sheet %q: %w", name, err)
		}
	} else if _, err := x.f.NewSheet(name); err != nil {
		return fmt.Errorf("export: xlsx: sheet %q: %w", name, err)
	}
	if err := x.f.SetSheetDimension(name, dimensionSentinel(x.sheets)); err != nil {
		return fmt.Errorf("export: xlsx: sheet %q: %w", name, err)
	}
	sw, err := x.f.NewStreamWriter(name)
	if err != nil {
		return fmt.Errorf("export: xlsx: sheet %q: %w", name, err)
	}
	if err := x.styles(); err != nil {
		return err
	}
	x.sw, x.sheets, x.ncols, x.nrows = sw, x.sheets+1, len(t.header), 0
	x.types, x.header = t.types, true
	// Widths must be set before the first row (StreamWriter).
	for i, w := range t.widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return fmt.Errorf("export: xlsx: sheet %q: %w", name, err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("export: xlsx: sheet %q: %w", name, err)
	}
	return x.row(t.header)
}

func (x *xlsxSink) row(cells []string) error {
	if x.nrows >= maxSheetRows {
		return fmt.Errorf("export: xlsx: more than %d rows in one sheet; export as csv", maxSheetRows-1)
	}
	vals := x.vals[:0]
	for i, c := range cells {
		typ := cellText
		if !x.header && i < len(x.types) {
			typ = x.types[i]
		}
		vals = append(vals, x.value(typ, c))
	}
	x.vals, x.header = vals, false
	cell, err := excelize.CoordinatesToCellName(1, x.nrows+1)
	if err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	if err := x.sw.SetRow(cell, vals); err != nil {
		return fmt.Errorf("export: xlsx: row %d: %w", x.nrows+1, err)
	}
	x.nrows++
	return nil
}

func (x *xlsxSink) finishSheet() error {
	if err := x.sw.Flush(); err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	last, err := excelize.CoordinatesToCellName(max(x.ncols, 1), max(x.nrows, 1))
	if err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	x.dims = append(x.dims, "A1:"+last)
	x.sw = nil
	return nil
}

// sheetName makes a valid, unique sheet name: at most 31 characters, none
// of : \ / ? * [ ].
func (x *xlsxSink) sheetName(title string) string {
	clean := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '-'
		}
		return r
	}, strings.TrimSpace(title))
	clean = strings.Trim(clean, "'")
	if clean == "" {
		clean = "Sheet"
	}
	name := truncateRunes(clean, 31)
	for i := 2; x.names[strings.ToLower(name)]; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		name = truncateRunes(clean, 31-len(suffix)) + suffix
	}
	x.names[strings.ToLower(name)] = true
	return name
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// close finishes the workbook and copies it to w with each sheet's real
// used range in place of its sentinel.
func (x *xlsxSink) close(w io.Writer) (err error) {
	defer func() {
		if cerr := x.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("export: xlsx: %w", cerr)
		}
	}()
	if x.sw != nil {
		if err := x.finishSheet(); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp("", "intake-export-*.xlsx")
	if err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := x.f.WriteTo(tmp); err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	zr, err := zip.NewReader(tmp, size)
	if err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	return rewriteDimensions(w, zr, x.dims)
}

// rewriteDimensions copies the workbook zr to w, replacing the sentinel
// dimension of sheet i by dims[i]. Entries other than worksheets are copied
// without recompressing them.
func rewriteDimensions(w io.Writer, zr *zip.Reader, dims []string) error {
	zw := zip.NewWriter(w)
	replaced := 0
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/") || !strings.HasSuffix(zf.Name, ".xml") {
			if err := zw.Copy(zf); err != nil {
				return fmt.Errorf("export: xlsx: copy %s: %w", zf.Name, err)
			}
			continue
		}
		n, err := copySheet(zw, zf, dims)
		if err != nil {
			return fmt.Errorf("export: xlsx: %s: %w", zf.Name, err)
		}
		replaced += n
	}
	if replaced != len(dims) {
		return fmt.Errorf("export: xlsx: set the used range of %d of %d sheets", replaced, len(dims))
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("export: xlsx: %w", err)
	}
	return nil
}

// sheetHead is how far into a worksheet's XML its <dimension> is looked
// for: it follows the namespace declarations and the sheet properties.
const sheetHead = 64 << 10

func copySheet(zw *zip.Writer, zf *zip.File, dims []string) (int, error) {
	rc, err := zf.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	out, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zip.Deflate, Modified: zf.Modified})
	if err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(rc, sheetHead)
	head, err := br.Peek(sheetHead)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, err
	}
	head = append([]byte(nil), head...)
	if _, err := br.Discard(len(head)); err != nil {
		return 0, err
	}
	n := 0
	for i, d := range dims {
		old := []byte(`<dimension ref="` + dimensionSentinel(i) + `"`)
		if bytes.Contains(head, old) {
			head = bytes.Replace(head, old, []byte(`<dimension ref="`+d+`"`), 1)
			n++
			break
		}
	}
	if _, err := out.Write(head); err != nil {
		return 0, err
	}
	if _, err := io.Copy(out, br); err != nil {
		return 0, err
	}
	return n, nil
}
