package sheet

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// CheckModelSize refuses, with ErrTooLarge, a workbook whose worksheets
// would make excelize's in-memory model hold more than lim.MaxModelCells
// cells: excelize pads each row to the farthest cell that row names. It
// scans the worksheet parts' bytes once, holding nothing but counters.
// Call it before handing a submitted workbook to excelize.
func CheckModelSize(data []byte, lim Limits) error {
	max := lim.MaxModelCells
	if max <= 0 {
		max = DefaultModelCells
	}
	zr, err := openZip(data)
	if err != nil {
		return nil // excelize reports what is wrong with the zip
	}
	var total int64
	for _, f := range zr.File {
		// Named as excelize names it (backslashes as slashes), and in any
		// case: scanning a part excelize would not load only costs time.
		if name := strings.ToLower(partName(f.Name)); !strings.Contains(name, "worksheets/") || !strings.HasSuffix(name, ".xml") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil
		}
		var r io.Reader = rc
		if lim.MaxPartBytes > 0 {
			r = io.LimitReader(rc, lim.MaxPartBytes)
		}
		n, err := modelCells(bufio.NewReaderSize(r, 64<<10))
		rc.Close()
		if err != nil {
			return nil
		}
		if total += n; total > max {
			return fmt.Errorf("%w: its sheets name cells as far as %d cells of a grid (limit %d)", ErrTooLarge, total, max)
		}
	}
	return nil
}

// modelCells sums, over the rows of one worksheet part, the column of the
// farthest cell each row names (cells without r follow the previous one).
func modelCells(br *bufio.Reader) (int64, error) {
	var total, rowMax, col int64
	for {
		if _, err := br.ReadSlice('<'); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return total + rowMax, nil
			}
			return 0, err
		}
		tag, err := br.ReadSlice('>')
		for err == bufio.ErrBufferFull { // an overlong tag: only its start matters
			_, err = br.ReadSlice('>')
		}
		if err != nil {
			if err == io.EOF {
				return total + rowMax, nil
			}
			return 0, err
		}
		name := tag
		if i := bytes.IndexAny(name, " \t\r\n/>"); i >= 0 {
			name = name[:i]
		}
		if i := bytes.IndexByte(name, ':'); i >= 0 { // <x:c> from the OpenXML SDK
			name = name[i+1:]
		}
		switch string(name) {
		case "row":
			total += rowMax
			rowMax, col = 0, 0
		case "c":
			if c := refColumn(tag); c > 0 {
				col = c
			} else {
				col++
			}
			rowMax = max(rowMax, col)
		}
	}
}

// refColumn reads the column of a cell tag's r attribute ("XFD12" ->
// 16384), 0 when there is none.
func refColumn(tag []byte) int64 {
	i := bytes.Index(tag, []byte(` r="`))
	if i < 0 {
		if i = bytes.Index(tag, []byte(` r='`)); i < 0 {
			return 0
		}
	}
	var col int64
	for _, b := range tag[i+4:] {
		switch {
		case b >= 'A' && b <= 'Z':
			col = col*26 + int64(b-'A'+1)
		case b >= 'a' && b <= 'z':
			col = col*26 + int64(b-'a'+1)
		default:
			return col
		}
		if col > 1<<20 {
			return col
		}
	}
	return col
}
