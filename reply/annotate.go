package reply

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/sheet"
)

// Fill colours of highlighted cells.
const (
	errorFill   = "FFC7CE" // light red, Excel's own "bad" colour
	warningFill = "FFEB9C" // light amber, Excel's "neutral" colour
	headerFill  = "D9E1F2"
)

// author of the comments Annotate adds.
const commentAuthor = "Data call intake"

// Annotate returns a copy of the agency's own workbook with every finding
// that points into it made visible:
//   - a finding with a cell gets the cell highlighted (only the fill
//     changes: number format, font, borders and alignment are kept) and a
//     comment with the message and the fix;
//   - a row-level finding (Col 0) does the same on the row's first cell;
//   - a sheet-level finding, or one about a sheet the workbook does not
//     have, appears only on the Issues sheet;
//   - an "Issues" sheet (renamed if the workbook already has one) lists
//     every finding, each with a link to its cell, and is made active.
//
// Findings whose File is set and differs from file.Name are left out.
// Cell values are never copied into comments or the Issues sheet. An error
// means the file could not be opened as an .xlsx workbook (or written
// back); the caller then lists the findings without an annotated copy.
func Annotate(file parser.Input, findings []parser.Finding) ([]byte, error) {
	lim := parser.DefaultLimits()
	// The agency's file may be hostile: excelize's model of it must stay bounded.
	if err := sheet.CheckModelSize(file.Data, sheet.Limits{MaxPartBytes: lim.MaxUnzippedBytes}); err != nil {
		return nil, fmt.Errorf("reply: annotate %q: %w", file.Name, err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(file.Data), excelize.Options{
		UnzipSizeLimit:    lim.MaxUnzippedBytes,
		UnzipXMLSizeLimit: lim.MaxUnzippedBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("reply: annotate %q: %w", file.Name, err)
	}
	defer f.Close()

	var fs []parser.Finding
	for _, x := range findings {
		if x.File == "" || x.File == file.Name {
			fs = append(fs, x)
		}
	}
	sheets := f.GetSheetList()
	order := map[string]int{}
	for i, s := range sheets {
		order[s] = i
	}
	rank := func(s string) int {
		if i, ok := order[s]; ok {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(fs, func(a, b parser.Finding) int {
		return cmp.Or(cmp.Compare(rank(a.Sheet), rank(b.Sheet)), cmp.Compare(a.Row, b.Row), cmp.Compare(a.Col, b.Col))
	})

	a := &annotator{f: f, styles: map[styleKey]int{}}
	// Group the findings per cell: one comment and one fill per cell.
	type place struct{ sheet, cell string }
	var places []place
	notes := map[place][]parser.Finding{}
	for _, x := range fs {
		cell := target(x)
		if cell == "" || !slices.Contains(sheets, x.Sheet) {
			continue
		}
		p := place{x.Sheet, cell}
		if _, ok := notes[p]; !ok {
			places = append(places, p)
		}
		notes[p] = append(notes[p], x)
	}
	for _, p := range places {
		if err := a.mark(p.sheet, p.cell, notes[p]); err != nil {
			return nil, fmt.Errorf("reply: annotate %q: %w", file.Name, err)
		}
	}
	if err := a.issues(sheets, fs); err != nil {
		return nil, fmt.Errorf("reply: annotate %q: issues sheet: %w", file.Name, err)
	}
	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		return nil, fmt.Errorf("reply: annotate %q: write: %w", file.Name, err)
	}
	return out.Bytes(), nil
}

// target is the cell a finding is marked on: its own cell, or the first
// cell of its row; "" for a sheet- or file-level finding.
func target(x parser.Finding) string {
	switch {
	case x.Row > 0 && x.Col > 0:
		return x.Cell()
	case x.Row > 0:
		return "A" + strconv.Itoa(x.Row)
	}
	return ""
}

type styleKey struct {
	style int
	fill  string
}

type annotator struct {
	f      *excelize.File
	styles map[styleKey]int // original style id + fill -> highlighted style id
}

// mark highlights one cell and comments on it.
func (a *annotator) mark(sheet, cell string, fs []parser.Finding) error {
	fill := warningFill
	var text strings.Builder
	for i, x := range fs {
		if x.Severity != parser.SeverityWarning {
			fill = errorFill
		}
		if i > 0 {
			text.WriteString("\n\n")
		}
		text.WriteString(noteText(x))
	}
	orig, err := a.f.GetCellStyle(sheet, cell)
	if err != nil {
		return err
	}
	id, ok := a.styles[styleKey{orig, fill}]
	if !ok {
		// SetCellStyle replaces the whole style, number format included:
		// start from the cell's own style and change only the fill.
		st, err := a.f.GetStyle(orig)
		if err != nil {
			return err
		}
		st.Fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{fill}}
		if id, err = a.f.NewStyle(st); err != nil {
			return err
		}
		a.styles[styleKey{orig, fill}] = id
	}
	if err := a.f.SetCellStyle(sheet, cell, cell, id); err != nil {
		return err
	}
	// A cell holds one comment: replace any the workbook already has (an
	// annotated copy sent back keeps our old comments).
	if err := a.f.DeleteComment(sheet, cell); err != nil {
		return err
	}
	body := text.String()
	return a.f.AddComment(sheet, excelize.Comment{
		Author: commentAuthor,
		Cell:   cell,
		Paragraph: []excelize.RichTextRun{
			{Text: commentAuthor + ":\n", Font: &excelize.Font{Bold: true}},
			{Text: body},
		},
		Width:  320,
		Height: uint(60 + 15*strings.Count(body, "\n") + 15*len(body)/50),
	})
}

// noteText is the comment text of one finding.
func noteText(x parser.Finding) string {
	s := x.Message
	if x.Severity == parser.SeverityWarning {
		s = "Warning: " + s
	}
	if x.Fix != "" {
		s += "\nHow to fix: " + x.Fix
	}
	return s
}

// issues adds the Issues sheet.
func (a *annotator) issues(sheets []string, fs []parser.Finding) error {
	name := "Issues"
	for i := 2; slices.ContainsFunc(sheets, func(s string) bool { return strings.EqualFold(s, name) }); i++ {
		name = "Issues (" + strconv.Itoa(i) + ")"
	}
	idx, err := a.f.NewSheet(name)
	if err != nil {
		return err
	}
	header := []any{"#", "Sheet", "Cell", "Column", "Severity", "Problem", "How to fix", "Authority"}
	if err := a.f.SetSheetRow(name, "A1", &header); err != nil {
		return err
	}
	bold, err := a.f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{headerFill}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"},
	})
	if err != nil {
		return err
	}
	if err := a.f.SetCellStyle(name, "A1", "H1", bold); err != nil {
		return err
	}
	wrap, err := a.f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	link, err := a.f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Color: "0563C1", Underline: "single"},
		Alignment: &excelize.Alignment{Vertical: "top"},
	})
	if err != nil {
		return err
	}
	for i, w := range []float64{5, 22, 9, 26, 10, 60, 60, 18} {
		col := parser.ColumnName(i + 1)
		if err := a.f.SetColWidth(name, col, col, w); err != nil {
			return err
		}
	}
	if err := a.f.SetPanes(name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if len(fs) == 0 {
		if err := a.f.SetCellStr(name, "F2", "No problems were found in this workbook."); err != nil {
			return err
		}
	}
	for i, x := range fs {
		r := i + 2
		where := target(x)
		if where == "" {
			where = "whole sheet"
			if x.Sheet == "" {
				where = "whole file"
			}
		}
		sev := "Error"
		if x.Severity == parser.SeverityWarning {
			sev = "Warning"
		}
		row := []any{i + 1, x.Sheet, where, x.Column, sev, x.Message, x.Fix, x.Cite}
		cell := "A" + strconv.Itoa(r)
		if err := a.f.SetSheetRow(name, cell, &row); err != nil {
			return err
		}
		if err := a.f.SetCellStyle(name, cell, "H"+strconv.Itoa(r), wrap); err != nil {
			return err
		}
		if !slices.Contains(sheets, x.Sheet) {
			continue
		}
		ref := target(x)
		if ref == "" {
			ref = "A1"
		}
		c := "C" + strconv.Itoa(r)
		if err := a.f.SetCellHyperLink(name, c, quoteSheet(x.Sheet)+"!"+ref, "Location"); err != nil {
			return err
		}
		if err := a.f.SetCellStyle(name, c, c, link); err != nil {
			return err
		}
	}
	a.f.SetActiveSheet(idx)
	return nil
}

// quoteSheet quotes a sheet name for a reference: 'My sheet'!A1.
func quoteSheet(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
