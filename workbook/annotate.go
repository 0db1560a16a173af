package workbook

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"intake/parser"
	"intake/parser/sheet"
)

// DefaultMaxMarked is how many cells Annotate highlights and comments on
// by default: the first ones in sheet, row and column order. Every
// finding, marked or not, is on the Issues sheet.
const DefaultMaxMarked = 2000

// maxNoteFindings bounds the findings one comment quotes; the rest of a
// cell's findings are on the Issues sheet.
const maxNoteFindings = 10

// ErrTooLarge is returned when a part of the workbook decompresses past
// the limits (a zip bomb): the same error as the reader's.
var ErrTooLarge = sheet.ErrTooLarge

// Options bound Annotate. The zero value takes the defaults.
type Options struct {
	MaxMarked     int   // cells highlighted and commented (0: DefaultMaxMarked)
	MaxPartBytes  int64 // decompressed bytes of one part read (0: parser.DefaultLimits().MaxUnzippedBytes)
	MaxTotalBytes int64 // decompressed bytes of all parts read (0: twice MaxPartBytes)
}

// Annotate returns a copy of the agency's own workbook with the findings
// that point into it made visible:
//   - a finding with a cell gets the cell highlighted (only the fill
//     changes: number format, font, borders and alignment are kept; a
//     cell the sheet lacks is added, empty) and a comment with the
//     message and the fix; errors red, warnings amber;
//   - a row-level finding (Col 0) does the same on the row's first cell;
//   - at most o.MaxMarked cells are marked, the first in sheet, row and
//     column order, so a workbook with a bad value in every row costs no
//     more than one with a few thousand;
//   - a sheet-level finding, or one about a sheet the workbook does not
//     have, appears only on the Issues sheet;
//   - an "Issues" sheet (renamed if the workbook already has one) lists
//     every finding, each marked one with a link to its cell, and is made
//     active.
//
// Findings whose File is set and differs from file.Name are left out.
// Cell values are never copied into comments or the Issues sheet. The
// agency's values, formatting and other sheets are kept: parts Annotate
// does not change are copied compressed, as they are; the sheets it marks
// are streamed, never held in memory, so time is linear in the workbook's
// size and the findings, and memory is bounded by o.MaxMarked. A sheet it
// marks that already has comments keeps those on other cells (a cell holds
// one comment: our old ones are replaced); a sheet whose legacy drawing
// holds something other than comments keeps it and gets no comments.
//
// An error means the file could not be read as an .xlsx workbook, a part
// is over the limits (ErrTooLarge), or ctx was cancelled (its error); the
// caller then lists the findings without an annotated copy.
func Annotate(ctx context.Context, file parser.Input, findings []parser.Finding, o Options) ([]byte, error) {
	out, err := annotate(ctx, file, findings, o)
	if err != nil {
		return nil, fmt.Errorf("workbook: annotate %q: %w", file.Name, err)
	}
	return out, nil
}

func annotate(ctx context.Context, file parser.Input, findings []parser.Finding, o Options) ([]byte, error) {
	if o.MaxMarked <= 0 {
		o.MaxMarked = DefaultMaxMarked
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = parser.DefaultLimits().MaxUnzippedBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = 2 * o.MaxPartBytes
	}
	if err := sheet.Sniff(file.Data); err != nil {
		return nil, err
	}
	p, err := openPackage(ctx, file.Data, o.MaxPartBytes, o.MaxTotalBytes)
	if err != nil {
		return nil, err
	}
	b, err := p.loadBook()
	if err != nil {
		return nil, err
	}

	// The findings about this file, in sheet, row and column order.
	order := map[string]int{}
	for i, s := range b.sheets {
		if _, ok := order[s.name]; !ok {
			order[s.name] = i
		}
	}
	rank := func(s string) int {
		if i, ok := order[s]; ok {
			return i
		}
		return len(order)
	}
	var fs []parser.Finding
	for _, x := range findings {
		if x.File == "" || x.File == file.Name {
			fs = append(fs, x)
		}
	}
	slices.SortStableFunc(fs, func(a, b parser.Finding) int {
		return cmp.Or(cmp.Compare(rank(a.Sheet), rank(b.Sheet)), cmp.Compare(a.Row, b.Row), cmp.Compare(a.Col, b.Col))
	})

	// The marked cells: one per place, the first o.MaxMarked places.
	type place struct {
		sheet    *sheetInfo
		row, col int
	}
	marks := map[*sheetInfo][]mark{}
	at := map[place]int{} // place -> index in marks[sheet]
	notes := map[place]int{}
	linked := make([]bool, len(fs))
	n := 0
	for i, x := range fs {
		s := b.sheet(x.Sheet)
		if s == nil || x.Row <= 0 || x.Row > 1_048_576 || x.Col > 16_384 {
			continue
		}
		pl := place{s, x.Row, max(x.Col, 1)}
		j, ok := at[pl]
		if !ok {
			if n >= o.MaxMarked {
				continue
			}
			n++
			j = len(marks[s])
			at[pl] = j
			marks[s] = append(marks[s], mark{row: pl.row, col: pl.col, warning: true})
		}
		linked[i] = true
		m := &marks[s][j]
		if x.Severity != parser.SeverityWarning {
			m.warning = false
		}
		switch notes[pl]++; {
		case notes[pl] == 1:
			m.text = noteText(x)
		case notes[pl] <= maxNoteFindings:
			m.text += "\n\n" + noteText(x)
		case notes[pl] == maxNoteFindings+1:
			m.text += "\n\nMore problems in this cell are on the Issues sheet."
		}
	}

	st, err := p.countStyles(b.styles)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(file.Data) + 64*len(fs))
	zw := zip.NewWriter(&out)
	// Parts we write are compressed fast: the bulk of a large copy is the
	// sheet data and the Issues sheet, and time matters more than bytes.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	written := map[string]bool{}
	create := func(name string) (io.Writer, error) {
		written[name] = true
		if f, ok := p.parts[name]; ok {
			return zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		}
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	}
	var overrides []string // [Content_Types].xml entries for new parts
	override := func(part, ct string) {
		overrides = append(overrides, `<Override PartName="/`+escape(part)+`" ContentType="`+ct+`"/>`)
	}
	wbDir := path.Dir(b.wbPart)
	vmlBlock := 100

	// The worksheets: marked ones streamed with their marks; any other
	// sheet that is selected loses that state (two selected sheets would
	// open grouped, and an edit would go to both).
	for _, s := range b.sheets {
		if s.part == "" || written[s.part] {
			continue
		}
		ms := marks[s]
		if len(ms) == 0 {
			selected, err := p.selected(s.part)
			if err != nil {
				return nil, err
			}
			if !selected {
				continue
			}
		}
		slices.SortFunc(ms, func(a, b mark) int { return cmp.Or(cmp.Compare(a.row, b.row), cmp.Compare(a.col, b.col)) })
		sr := &sheetRewrite{marks: ms, st: st, relNS: p.ns.rel}
		var rels []rel
		var oldComments string
		if len(ms) > 0 {
			if rels, err = p.readRels(s.part); err != nil {
				return nil, err
			}
			for _, r := range rels {
				if relTypeIs(r.Type, "comments") {
					oldComments = resolve(s.part, r.Target)
					if _, ok := p.parts[oldComments]; !ok {
						oldComments = ""
					}
				}
			}
			sr.legacyID = newRelID(rels)
		}
		w, err := create(s.part)
		if err != nil {
			return nil, err
		}
		rc, err := p.open(s.part)
		if err != nil {
			return nil, err
		}
		err = sr.run(rc, w)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("sheet %q: %w", s.name, err)
		}
		if len(ms) == 0 {
			continue
		}

		// Its comments and their drawing.
		var newRels []string
		vmlPart := ""
		if sr.hadLegacy != "" {
			for _, r := range rels {
				if r.ID == sr.hadLegacy && relTypeIs(r.Type, "vmlDrawing") {
					vmlPart = resolve(s.part, r.Target)
				}
			}
			if oldComments == "" || vmlPart == "" {
				continue // the drawing holds something else: no comments here
			}
		} else {
			vmlPart = p.newName(wbDir+"/drawings/vmlDrawing", ".vml")
			override(vmlPart, ctVML)
			newRels = append(newRels, relXML(nil, sr.legacyID, p.ns.relType+"vmlDrawing", relative(s.part, vmlPart)))
		}
		commentsPart := oldComments
		if commentsPart == "" {
			commentsPart = p.newName(wbDir+"/comments", ".xml")
			override(commentsPart, ctComments)
			newRels = append(newRels, relXML(nil, newRelID(rels, sr.legacyID), p.ns.relType+"comments", relative(s.part, commentsPart)))
		}
		if err := p.writeCommentParts(create, commentsPart, oldComments, vmlPart, ms, &vmlBlock); err != nil {
			return nil, fmt.Errorf("sheet %q: comments: %w", s.name, err)
		}
		if err := p.addRels(create, s.part, newRels); err != nil {
			return nil, err
		}
	}

	// The Issues sheet.
	issuesName := "Issues"
	for i := 2; slices.ContainsFunc(b.sheets, func(s *sheetInfo) bool { return strings.EqualFold(s.name, issuesName) }); i++ {
		issuesName = "Issues (" + strconv.Itoa(i) + ")"
	}
	issuesPart := p.newName(wbDir+"/worksheets/sheet", ".xml")
	override(issuesPart, ctWorksheet)
	w, err := create(issuesPart)
	if err != nil {
		return nil, err
	}
	err = writeIssues(ctx, w, p.ns, st, fs, func(i int) string {
		if !linked[i] {
			return ""
		}
		x := fs[i]
		return quoteSheet(x.Sheet) + "!" + cellName(max(x.Col, 1), x.Row)
	})
	if err != nil {
		return nil, err
	}

	// Styles, then the workbook, its relationships and the content types.
	sheetRel := newRelID(b.wbRels)
	stylesPart := b.styles
	var wbRels []string
	if stylesPart == "" {
		stylesPart = p.newName(wbDir+"/styles", ".xml")
		override(stylesPart, ctStyles)
		wbRels = append(wbRels, relXML(nil, newRelID(b.wbRels, sheetRel), p.ns.relType+"styles", relative(b.wbPart, stylesPart)))
	}
	if w, err = create(stylesPart); err != nil {
		return nil, err
	}
	if err := p.writeStyles(b.styles, st, w); err != nil {
		return nil, fmt.Errorf("styles: %w", err)
	}
	wbRels = append(wbRels, relXML(nil, sheetRel, p.ns.relType+"worksheet", relative(b.wbPart, issuesPart)))
	if err := p.writeWorkbook(create, b, issuesName, sheetRel); err != nil {
		return nil, err
	}
	if err := p.addRels(create, b.wbPart, wbRels); err != nil {
		return nil, err
	}
	if err := p.edit(create, "[Content_Types].xml", "Types", strings.Join(overrides, "")); err != nil {
		return nil, err
	}

	// Everything else as it is, without decompressing it.
	for _, f := range p.zr.File {
		if written[partName(f.Name)] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := zw.Copy(f); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
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

// quoteSheet quotes a sheet name for a reference: 'My sheet'!A1.
func quoteSheet(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// selected reports whether a sheet part is marked selected in its first
// bytes, where its sheetViews are.
func (p *pkg) selected(part string) (bool, error) {
	rc, err := p.open(part)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	head := make([]byte, sniffSheetStart)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF {
		return false, err
	}
	head = head[:n]
	if i := bytes.Index(head, []byte("sheetData")); i >= 0 {
		head = head[:i]
	} else if n == sniffSheetStart {
		return true, nil // sheetViews not within reach: rewrite to be sure
	}
	return bytes.Contains(head, []byte("tabSelected")), nil
}

// writeCommentParts writes a sheet's comments and their drawing.
func (p *pkg) writeCommentParts(create func(string) (io.Writer, error), commentsPart, oldComments, vmlPart string, ms []mark, block *int) error {
	openOld := func() (io.ReadCloser, error) {
		if oldComments == "" {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return p.open(oldComments)
	}
	w, err := create(commentsPart)
	if err != nil {
		return err
	}
	var old io.ReadCloser
	if oldComments != "" {
		if old, err = p.open(oldComments); err != nil {
			return err
		}
		err = writeComments(w, old, p.ns.main, ms)
		old.Close()
	} else {
		err = writeComments(w, nil, p.ns.main, ms)
	}
	if err != nil {
		return err
	}
	kept := 0
	if old, err = openOld(); err != nil {
		return err
	}
	err = oldCommentRefs(old, ms, func(int, int) { kept++ })
	old.Close()
	if err != nil {
		return err
	}
	if w, err = create(vmlPart); err != nil {
		return err
	}
	v := newVML(w, *block, kept+len(ms))
	*block += vmlBlocks(kept + len(ms))
	if old, err = openOld(); err != nil {
		return err
	}
	err = oldCommentRefs(old, ms, v.shape)
	old.Close()
	if err != nil {
		return err
	}
	for _, m := range ms {
		v.shape(m.col, m.row)
	}
	return v.close()
}

// relXML is one Relationship element.
func relXML(prefix []byte, id, typ, target string) string {
	return "<" + qname(prefix, "Relationship") + ` Id="` + id + `" Type="` + typ + `" Target="` + escape(target) + `"/>`
}

// addRels writes a part's relationships with more added (a new rels part
// when it has none).
func (p *pkg) addRels(create func(string) (io.Writer, error), source string, add []string) error {
	if len(add) == 0 {
		return nil
	}
	name := relsName(source)
	if _, ok := p.parts[name]; !ok {
		w, err := create(name)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, xmlHeader+`<Relationships xmlns="`+pkgRelNS+`">`+strings.Join(add, "")+`</Relationships>`)
		return err
	}
	return p.edit(create, name, "Relationships", strings.Join(add, ""))
}

// edit streams a part, adding markup before the end of its root element
// (root); the new elements take the root's prefix.
func (p *pkg) edit(create func(string) (io.Writer, error), part, root, add string) error {
	rc, err := p.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := create(part)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	s := newScanner(rc)
	depth := 0
	var prefix []byte
	for {
		err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", part, err)
		}
		raw := s.raw
		switch s.kind {
		case tokStart:
			if depth == 0 {
				prefix = append([]byte(nil), s.prefix...)
			}
			depth++
		case tokEnd:
			depth--
			if depth == 0 && string(s.name) == root {
				bw.WriteString(withPrefix(add, prefix))
			}
		}
		bw.Write(raw)
	}
	return bw.Flush()
}

// withPrefix gives the elements of markup we made (which have none) a
// namespace prefix.
func withPrefix(markup string, prefix []byte) string {
	if len(prefix) == 0 {
		return markup
	}
	markup = strings.ReplaceAll(markup, "</", "\x00")
	markup = strings.ReplaceAll(markup, "<", "<"+string(prefix)+":")
	return strings.ReplaceAll(markup, "\x00", "</"+string(prefix)+":")
}

// writeWorkbook streams the workbook part with the Issues sheet added
// last and made the active tab.
func (p *pkg) writeWorkbook(create func(string) (io.Writer, error), b *book, name, relID string) error {
	rc, err := p.open(b.wbPart)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := create(b.wbPart)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	s := newScanner(rc)
	active := strconv.Itoa(len(b.sheets))
	depth := 0
	views := false
	for {
		err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.wbPart, err)
		}
		raw := s.raw
		switch s.kind {
		case tokStart, tokEmpty:
			switch string(s.name) {
			case "bookViews":
				views = true
			case "workbookView":
				raw = setAttr(raw, "activeTab", active)
				raw = dropAttr(raw, "firstSheet")
			case "sheets":
				if depth == 1 && !views {
					q := func(n string) string { return qname(s.prefix, n) }
					bw.WriteString("<" + q("bookViews") + "><" + q("workbookView") + ` activeTab="` + active + `"/></` + q("bookViews") + ">")
				}
			}
			if s.kind == tokStart {
				depth++
			}
		case tokEnd:
			depth--
			if string(s.name) == "sheets" && depth == 1 {
				bw.WriteString("<" + qname(s.prefix, "sheet") + ` name="` + escape(name) + `" sheetId="` + strconv.Itoa(b.maxID+1) +
					`" xmlns:r="` + p.ns.rel + `" r:id="` + relID + `"/>`)
			}
		}
		bw.Write(raw)
	}
	return bw.Flush()
}
