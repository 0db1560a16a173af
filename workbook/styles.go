package workbook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Fill colours of highlighted cells.
const (
	errorFill   = "FFC7CE" // light red, Excel's own "bad" colour
	warningFill = "FFEB9C" // light amber, Excel's "neutral" colour
	headerFill  = "D9E1F2"
	linkColour  = "0563C1"
)

// styler adds to the workbook's styles what Annotate needs: two fills for
// highlights, a header fill, two fonts, the Issues sheet's three cell
// formats, and one cell format per (original format, fill) of a flagged
// cell: a copy of the original with only the fill changed, so number
// format, font, borders and alignment are kept.
type styler struct {
	fonts, fills, xfs int // children counted in the workbook's styles
	created           bool
	highlight         map[styleKey]int // original xf, warning -> new xf index
	order             []styleKey
}

type styleKey struct {
	orig    int
	warning bool
}

// New entries, by offset from the counts.
const (
	fontBold, fontLink            = 0, 1
	fillError, fillWarn, fillHead = 0, 1, 2
	xfHeader, xfWrap, xfLink      = 0, 1, 2
	addedFonts, addedFills        = 2, 3
	issuesXfs                     = 3
)

// countStyles reads the styles part once, counting fonts, fills and
// cell formats; a workbook without one gets a new one.
func (p *pkg) countStyles(part string) (*styler, error) {
	st := &styler{highlight: map[styleKey]int{}}
	if part == "" {
		st.created = true
		st.fonts, st.fills, st.xfs = 1, 2, 1 // what newStyles writes before ours
		return st, nil
	}
	rc, err := p.open(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	s := newScanner(rc)
	var stack []string
	seen := map[string]bool{}
	for {
		err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", part, err)
		}
		switch s.kind {
		case tokStart, tokEmpty:
			if len(stack) == 2 {
				switch stack[1] + "/" + string(s.name) {
				case "fonts/font":
					st.fonts++
				case "fills/fill":
					st.fills++
				case "cellXfs/xf":
					st.xfs++
				}
			}
			if len(stack) == 1 {
				seen[string(s.name)] = true
			}
			if s.kind == tokStart {
				if len(stack) > 512 {
					return nil, fmt.Errorf("%s: nested too deep", part)
				}
				stack = append(stack, string(s.name))
			}
		case tokEnd:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if !seen["fonts"] || !seen["fills"] || !seen["cellXfs"] {
		return nil, errors.New("the styles part lacks fonts, fills or cell formats")
	}
	return st, nil
}

// id is the cell format of a highlighted cell whose own format is orig.
func (st *styler) id(orig int, warning bool) int {
	k := styleKey{orig, warning}
	if id, ok := st.highlight[k]; ok {
		return id
	}
	id := st.xfs + issuesXfs + len(st.order)
	st.highlight[k] = id
	st.order = append(st.order, k)
	return id
}

func (st *styler) issueXf(which int) int { return st.xfs + which }

func (st *styler) fontsXML(prefix []byte) string {
	f := func(n string) string { return qname(prefix, n) }
	return "<" + f("font") + "><" + f("b") + "/><" + f("sz") + ` val="11"/><` + f("name") + ` val="Calibri"/><` + f("family") + ` val="2"/></` + f("font") + ">" +
		"<" + f("font") + "><" + f("u") + "/><" + f("sz") + ` val="11"/><` + f("color") + ` rgb="FF` + linkColour + `"/><` + f("name") + ` val="Calibri"/><` + f("family") + ` val="2"/></` + f("font") + ">"
}

func (st *styler) fillsXML(prefix []byte) string {
	var out string
	for _, c := range []string{errorFill, warningFill, headerFill} {
		out += "<" + qname(prefix, "fill") + "><" + qname(prefix, "patternFill") + ` patternType="solid"><` + qname(prefix, "fgColor") + ` rgb="FF` + c + `"/><` +
			qname(prefix, "bgColor") + ` indexed="64"/></` + qname(prefix, "patternFill") + "></" + qname(prefix, "fill") + ">"
	}
	return out
}

// xfsXML are the new cell formats: the Issues sheet's, then one per
// highlight, copied from the original's markup (orig: index -> markup).
func (st *styler) xfsXML(prefix []byte, orig map[int][]byte) []byte {
	xf, al := qname(prefix, "xf"), qname(prefix, "alignment")
	n := strconv.Itoa
	out := []byte("<" + xf + ` numFmtId="0" fontId="` + n(st.fonts+fontBold) + `" fillId="` + n(st.fills+fillHead) + `" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1"><` + al + ` vertical="top" wrapText="1"/></` + xf + ">" +
		"<" + xf + ` numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><` + al + ` vertical="top" wrapText="1"/></` + xf + ">" +
		"<" + xf + ` numFmtId="0" fontId="` + n(st.fonts+fontLink) + `" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><` + al + ` vertical="top"/></` + xf + ">")
	for _, k := range st.order {
		fill := st.fills + fillError
		if k.warning {
			fill = st.fills + fillWarn
		}
		raw, ok := orig[k.orig]
		if !ok {
			raw = []byte("<" + xf + ` numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>`)
		}
		// Only the first tag changes; any alignment or protection inside is kept.
		end := 0
		for end < len(raw) && raw[end] != '>' {
			end++
		}
		tag := raw[:end+1]
		tag = setAttr(tag, "fillId", n(fill))
		tag = setAttr(tag, "applyFill", "1")
		out = append(out, tag...)
		out = append(out, raw[end+1:]...)
	}
	return out
}

// writeStyles streams the styles part with the new entries added and the
// counts corrected; a workbook without one gets a whole new one.
func (p *pkg) writeStyles(part string, st *styler, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if st.created {
		ns := p.ns.main
		bw.WriteString(xmlHeader + `<styleSheet xmlns="` + ns + `">` +
			`<fonts count="` + strconv.Itoa(st.fonts+addedFonts) + `"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>` + st.fontsXML(nil) + `</fonts>` +
			`<fills count="` + strconv.Itoa(st.fills+addedFills) + `"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>` + st.fillsXML(nil) + `</fills>` +
			`<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>` +
			`<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>` +
			`<cellXfs count="` + strconv.Itoa(st.xfs+issuesXfs+len(st.order)) + `"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>`)
		bw.Write(st.xfsXML(nil, map[int][]byte{0: []byte(`<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>`)}))
		bw.WriteString(`</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`)
		return bw.Flush()
	}
	need := map[int]bool{}
	for _, k := range st.order {
		need[k.orig] = true
	}
	orig := map[int][]byte{}
	rc, err := p.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	s := newScanner(rc)
	var stack []string
	xfIndex := 0
	var capture []byte // markup of the original cell format being copied
	capturing, captureDepth, captureIdx := false, 0, 0
	for {
		err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", part, err)
		}
		raw := s.raw
		if capturing {
			capture = append(capture, raw...)
		}
		switch s.kind {
		case tokStart, tokEmpty:
			if len(stack) == 1 {
				switch string(s.name) {
				case "fonts":
					raw = setAttr(raw, "count", strconv.Itoa(st.fonts+addedFonts))
				case "fills":
					raw = setAttr(raw, "count", strconv.Itoa(st.fills+addedFills))
				case "cellXfs":
					raw = setAttr(raw, "count", strconv.Itoa(st.xfs+issuesXfs+len(st.order)))
				}
				if s.kind == tokEmpty {
					var add []byte
					switch string(s.name) {
					case "fonts":
						add = []byte(st.fontsXML(s.prefix))
					case "fills":
						add = []byte(st.fillsXML(s.prefix))
					case "cellXfs":
						add = st.xfsXML(s.prefix, orig)
					}
					if add != nil {
						bw.Write(opened(raw))
						bw.Write(add)
						bw.WriteString("</" + qname(s.prefix, string(s.name)) + ">")
						continue
					}
				}
			}
			if len(stack) == 2 && stack[1] == "cellXfs" && string(s.name) == "xf" {
				if need[xfIndex] {
					if s.kind == tokEmpty {
						orig[xfIndex] = append([]byte(nil), raw...)
					} else {
						capturing, captureDepth, captureIdx = true, len(stack), xfIndex
						capture = append(capture[:0], raw...)
					}
				}
				xfIndex++
			}
			if s.kind == tokStart {
				stack = append(stack, string(s.name))
			}
		case tokEnd:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if capturing && len(stack) == captureDepth {
				capturing = false
				orig[captureIdx] = append([]byte(nil), capture...)
			}
			if len(stack) == 1 {
				switch string(s.name) {
				case "fonts":
					bw.WriteString(st.fontsXML(s.prefix))
				case "fills":
					bw.WriteString(st.fillsXML(s.prefix))
				case "cellXfs":
					bw.Write(st.xfsXML(s.prefix, orig))
				}
			}
		}
		bw.Write(raw)
	}
	return bw.Flush()
}
