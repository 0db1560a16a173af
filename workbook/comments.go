package workbook

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// commentAuthor is the author of the comments Annotate adds.
const commentAuthor = "Data call intake"

// writeComments writes a sheet's comments part: the comments it already
// had (old, nil for none) except those on cells now marked (a cell holds
// one comment: an annotated copy sent back keeps our old comments), then
// one comment per mark.
func writeComments(w io.Writer, old io.Reader, ns string, marks []mark) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if old == nil {
		bw.WriteString(xmlHeader + `<comments xmlns="` + ns + `"><authors><author>` + commentAuthor + `</author></authors><commentList>`)
		for _, m := range marks {
			writeComment(bw, nil, m, 0)
		}
		bw.WriteString(`</commentList></comments>`)
		return bw.Flush()
	}
	marked := markedSet(marks)
	s := newScanner(old)
	var stack []string
	authors := 0
	skipping, skipDepth := false, 0
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
			if !skipping && len(stack) == 2 && stack[1] == "commentList" && name == "comment" {
				if v, ok := attr(raw, "ref"); ok && marked[strings.ToUpper(string(v))] {
					if s.kind == tokStart {
						skipping, skipDepth = true, len(stack)
						stack = append(stack, name)
					}
					continue
				}
			}
			if len(stack) == 2 && stack[1] == "authors" && name == "author" {
				authors++
			}
			if len(stack) == 1 && s.kind == tokEmpty && (name == "authors" || name == "commentList") {
				bw.Write(opened(raw))
				closeList(bw, s.prefix, name, marks, authors)
				continue
			}
			if s.kind == tokStart {
				stack = append(stack, name)
			}
		case tokEnd:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if skipping {
				if len(stack) == skipDepth {
					skipping = false
				}
				continue
			}
			if len(stack) == 1 {
				closeList(bw, s.prefix, string(s.name), marks, authors)
			}
		}
		if !skipping {
			bw.Write(raw)
		}
	}
	return bw.Flush()
}

// closeList adds our author to authors, our comments to commentList.
func closeList(bw *bufio.Writer, prefix []byte, name string, marks []mark, authors int) {
	switch name {
	case "authors":
		bw.WriteString("<" + qname(prefix, "author") + ">" + commentAuthor + "</" + qname(prefix, "author") + ">")
	case "commentList":
		for _, m := range marks {
			writeComment(bw, prefix, m, authors)
		}
	}
}

func writeComment(bw *bufio.Writer, prefix []byte, m mark, author int) {
	q := func(n string) string { return qname(prefix, n) }
	font := "<" + q("sz") + ` val="9"/><` + q("color") + ` indexed="81"/><` + q("rFont") + ` val="Tahoma"/><` + q("family") + ` val="2"/>`
	bw.WriteString("<" + q("comment") + ` ref="` + cellName(m.col, m.row) + `" authorId="` + strconv.Itoa(author) + `"><` + q("text") + ">")
	bw.WriteString("<" + q("r") + "><" + q("rPr") + "><" + q("b") + "/>" + font + "</" + q("rPr") + "><" + q("t") + ">" + commentAuthor + ":</" + q("t") + "></" + q("r") + ">")
	bw.WriteString("<" + q("r") + "><" + q("rPr") + ">" + font + "</" + q("rPr") + "><" + q("t") + ` xml:space="preserve">` + "\n" + escape(m.text) + "</" + q("t") + "></" + q("r") + ">")
	bw.WriteString("</" + q("text") + "></" + q("comment") + ">")
}

func markedSet(marks []mark) map[string]bool {
	set := make(map[string]bool, len(marks))
	for _, m := range marks {
		set[cellName(m.col, m.row)] = true
	}
	return set
}

// oldCommentRefs calls fn with the cell of each comment of an old
// comments part that is kept (not on a marked cell).
func oldCommentRefs(old io.Reader, marks []mark, fn func(col, row int)) error {
	marked := markedSet(marks)
	s := newScanner(old)
	for {
		err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if (s.kind == tokStart || s.kind == tokEmpty) && string(s.name) == "comment" {
			if v, ok := attr(s.raw, "ref"); ok && !marked[strings.ToUpper(string(v))] {
				if c, r := cellRef(v); c > 0 {
					fn(c, r)
				}
			}
		}
	}
}

// vmlWriter writes the legacy drawing that shows a sheet's comments
// (Excel and LibreOffice take the comment boxes from it). Shape ids are
// numbered in blocks of 1,024 per drawing (o:idmap).
type vmlWriter struct {
	bw    *bufio.Writer
	block int // first id block of this drawing
	n     int
}

// vmlBlocks is how many id blocks a drawing of n shapes takes.
func vmlBlocks(n int) int { return n/1024 + 1 }

func newVML(w io.Writer, firstBlock, shapes int) *vmlWriter {
	v := &vmlWriter{bw: bufio.NewWriterSize(w, 64<<10), block: firstBlock}
	var ids []string
	for b := range vmlBlocks(shapes) {
		ids = append(ids, strconv.Itoa(firstBlock+b))
	}
	v.bw.WriteString(`<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">` +
		`<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="` + strings.Join(ids, ",") + `"/></o:shapelayout>` +
		`<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>`)
	return v
}

func (v *vmlWriter) shape(col, row int) {
	v.n++
	id := v.block*1024 + v.n
	c, r := col-1, row-1
	fmt.Fprintf(v.bw, `<v:shape id="_x0000_s%d" type="#_x0000_t202" style="position:absolute;margin-left:80pt;margin-top:2pt;width:240pt;height:110pt;z-index:%d;visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">`+
		`<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>`+
		`<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:Anchor>%d, 15, %d, 2, %d, 15, %d, 16</x:Anchor><x:AutoFill>False</x:AutoFill><x:Row>%d</x:Row><x:Column>%d</x:Column></x:ClientData></v:shape>`,
		id, v.n, c+1, max(r-1, 0), c+4, max(r-1, 0)+7, r, c)
}

func (v *vmlWriter) close() error {
	v.bw.WriteString(`</xml>`)
	return v.bw.Flush()
}
