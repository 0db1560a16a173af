package workbook

import (
	"bytes"
	"context"
	"fmt"

	"github.com/xuri/excelize/v2"

	"intake/parser"
)

// Changes returns a small workbook listing every change of a new version,
// one row each: the change (added, removed, changed), the kind, the row
// (of the previous version for a removed row), the row's key, and the
// columns that changed. It holds no cell value beyond the keys the
// acknowledgement itself names (for a PII call Key is empty: rows only).
// It is written with excelize's StreamWriter, so its cost is linear in
// the changes; an error means ctx was cancelled or excelize failed.
func Changes(ctx context.Context, def *parser.Definition, c parser.Changes) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	const name = "Changes"
	if err := f.SetSheetName("Sheet1", name); err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	// Before NewStreamWriter, which copies the dimension when it starts:
	// openpyxl in read-only mode trusts it (StreamWriter alone leaves A1).
	n := len(c.Removed) + len(c.Changed) + len(c.Added)
	if err := f.SetSheetDimension(name, fmt.Sprintf("A1:E%d", n+1)); err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{headerFill}}})
	if err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	for i, w := range []float64{10, 22, 12, 30, 60} {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return nil, fmt.Errorf("workbook: changes: %w", err)
		}
	}
	header := []any{"Change", "Kind", "Row", "Key", "Columns changed"}
	for i := range header {
		header[i] = excelize.Cell{StyleID: bold, Value: header[i]}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	r := 2
	for _, part := range []struct {
		what string
		rows []parser.RowChange
	}{{"Removed", c.Removed}, {"Changed", c.Changed}, {"Added", c.Added}} {
		for _, x := range part.rows {
			if r%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			cols := ""
			for i, k := range x.Fields {
				if i > 0 {
					cols += ", "
				}
				cols += columnHeader(def, x.Kind, k)
			}
			cell, _ := excelize.CoordinatesToCellName(1, r)
			// Strings, never formulas: a key such as "=1+1" stays text.
			if err := sw.SetRow(cell, []any{part.what, kindTitle(def, x.Kind), x.Row, x.Key, cols}); err != nil {
				return nil, fmt.Errorf("workbook: changes: %w", err)
			}
			r++
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		return nil, fmt.Errorf("workbook: changes: %w", err)
	}
	return out.Bytes(), nil
}

func kindTitle(def *parser.Definition, id string) string {
	if def != nil {
		if k := findKind(def, id); k != nil && k.Title != "" {
			return k.Title
		}
	}
	return id
}

func columnHeader(def *parser.Definition, kind, key string) string {
	if def != nil {
		if k := findKind(def, kind); k != nil {
			for _, c := range k.Columns {
				if c.Key == key && c.Header != "" {
					return c.Header
				}
			}
		}
	}
	return key
}
