package workbook

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Namespaces and relationship types, transitional and strict
// (ISO/IEC 29500 Strict renames them; the content types stay the same).
type namespaces struct {
	main, rel, relType string
}

var (
	transitional = namespaces{
		main:    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
		rel:     "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
		relType: "http://schemas.openxmlformats.org/officeDocument/2006/relationships/",
	}
	strict = namespaces{
		main:    "http://purl.oclc.org/ooxml/spreadsheetml/main",
		rel:     "http://purl.oclc.org/ooxml/officeDocument/relationships",
		relType: "http://purl.oclc.org/ooxml/officeDocument/relationships/",
	}
)

const (
	pkgRelNS        = "http://schemas.openxmlformats.org/package/2006/relationships"
	ctWorksheet     = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
	ctComments      = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
	ctVML           = "application/vnd.openxmlformats-officedocument.vmlDrawing"
	ctStyles        = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
	xmlHeader       = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
	maxSmallPart    = 32 << 20 // workbook, relationships, content types: read whole, so bounded
	sniffSheetStart = 64 << 10 // how far into a sheet its sheetViews are looked for
)

// errNotWorkbook: the bytes are not an .xlsx package Annotate can rewrite.
var errNotWorkbook = errors.New("not an .xlsx workbook")

// pkg is an opened package: its zip entries by part name.
type pkg struct {
	ctx     context.Context
	zr      *zip.Reader
	parts   map[string]*zip.File // part name (no leading slash) -> entry
	lower   map[string]bool      // lower-cased part names, to pick new names
	maxPart int64
	left    int64 // decompressed bytes all parts read may still take
	ns      namespaces
}

func openPackage(ctx context.Context, data []byte, maxPart, maxTotal int64) (*pkg, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil // names are only looked up, never used as paths
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotWorkbook, err)
	}
	p := &pkg{ctx: ctx, zr: zr, parts: map[string]*zip.File{}, lower: map[string]bool{}, maxPart: maxPart, left: maxTotal, ns: transitional}
	for _, f := range zr.File {
		name := partName(f.Name)
		if p.lower[strings.ToLower(name)] {
			return nil, fmt.Errorf("%w: the zip holds %q twice", errNotWorkbook, name)
		}
		p.parts[name] = f
		p.lower[strings.ToLower(name)] = true
	}
	return p, nil
}

// partName is how a zip entry is looked up: backslashes as slashes (some
// Windows zip tools), and the content types' usual spelling.
func partName(name string) string {
	name = strings.TrimPrefix(strings.ReplaceAll(name, `\`, "/"), "/")
	if strings.EqualFold(name, "[Content_Types].xml") {
		return "[Content_Types].xml"
	}
	return name
}

// open streams a part's decompressed bytes, refusing more than maxPart,
// and stopping when the context is cancelled.
func (p *pkg) open(name string) (io.ReadCloser, error) {
	f, ok := p.parts[name]
	if !ok {
		return nil, fmt.Errorf("no part %q", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("part %q: %w", name, err)
	}
	return &boundedReader{ctx: p.ctx, r: rc, left: p.maxPart, total: &p.left, name: name}, nil
}

// read returns a small part whole.
func (p *pkg) read(name string) ([]byte, error) {
	rc, err := p.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSmallPart+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSmallPart {
		return nil, fmt.Errorf("%w: part %q is over %d bytes", ErrTooLarge, name, maxSmallPart)
	}
	return b, nil
}

// newName picks a part name not in the package: base + n + ext.
func (p *pkg) newName(base, ext string) string {
	for n := 1; ; n++ {
		name := fmt.Sprintf("%s%d%s", base, n, ext)
		if !p.lower[strings.ToLower(name)] {
			p.lower[strings.ToLower(name)] = true
			return name
		}
	}
}

// boundedReader refuses a part past its limit (a zip bomb) and checks the
// context at each read.
type boundedReader struct {
	ctx   context.Context
	r     io.ReadCloser
	left  int64
	total *int64 // shared by every part of the package
	name  string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if *b.total <= 0 {
		return 0, fmt.Errorf("%w: the workbook's parts decompress past the limit", ErrTooLarge)
	}
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: part %q decompresses past the limit", ErrTooLarge, b.name)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	if int64(len(p)) > *b.total {
		p = p[:*b.total]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	*b.total -= int64(n)
	return n, err
}

func (b *boundedReader) Close() error { return b.r.Close() }

// rel is one relationship of a part.
type rel struct {
	ID, Type, Target, Mode string
}

// readRels reads the relationships of a part; none when it has no rels part.
func (p *pkg) readRels(source string) ([]rel, error) {
	name := relsName(source)
	if _, ok := p.parts[name]; !ok {
		return nil, nil
	}
	b, err := p.read(name)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
			Mode   string `xml:"TargetMode,attr"`
		} `xml:"Relationship"`
	}
	if err := decodeXML(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]rel, len(doc.Rels))
	for i, r := range doc.Rels {
		out[i] = rel{r.ID, r.Type, r.Target, r.Mode}
	}
	return out, nil
}

func decodeXML(b []byte, v any) error {
	if bytes.Contains(b, []byte("<!DOCTYPE")) {
		return errDoctype
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	return d.Decode(v)
}

// relsName is the relationships part of a part: xl/_rels/workbook.xml.rels.
func relsName(source string) string {
	dir, base := path.Split(source)
	return dir + "_rels/" + base + ".rels"
}

// resolve turns a relationship target into a part name.
func resolve(source, target string) string {
	target = strings.ReplaceAll(target, `\`, "/")
	if strings.HasPrefix(target, "/") {
		return partName(path.Clean(target))
	}
	return partName(path.Join(path.Dir(source), target))
}

// relative is the target of a part seen from source's folder:
// "../comments1.xml" from xl/worksheets/sheet1.xml.
func relative(source, part string) string {
	from := strings.Split(path.Dir(source), "/")
	to := strings.Split(part, "/")
	if path.Dir(source) == "." {
		from = nil
	}
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	return strings.Repeat("../", len(from)-i) + strings.Join(to[i:], "/")
}

// relTypeIs reports whether a relationship type is the named one, in
// either namespace.
func relTypeIs(t, name string) bool {
	return strings.HasSuffix(t, "/relationships/"+name)
}

// newRelID is a relationship id not among rels.
func newRelID(rels []rel, taken ...string) string {
	for n := 1; ; n++ {
		id := fmt.Sprintf("rIdIntake%d", n)
		free := true
		for _, r := range rels {
			free = free && r.ID != id
		}
		for _, t := range taken {
			free = free && t != id
		}
		if free {
			return id
		}
	}
}

// sheetInfo is one sheet of the workbook.
type sheetInfo struct {
	name    string
	id      int    // sheetId
	part    string // its part, "" if the relationship is broken
	chart   bool   // a chart, dialog or macro sheet rather than a worksheet
	relID   string
	rels    []rel // the sheet's own relationships (worksheets only)
	relsSet bool
}

// book is what Annotate needs to know of the workbook's structure.
type book struct {
	wbPart    string // xl/workbook.xml
	wbRels    []rel
	sheets    []*sheetInfo
	styles    string // the styles part, "" when there is none
	maxID     int    // highest sheetId
	relPrefix string // the prefix workbook.xml binds the relationships namespace to
}

func (p *pkg) loadBook() (*book, error) {
	rootRels, err := p.readRels("")
	if err != nil {
		return nil, err
	}
	b := &book{}
	for _, r := range rootRels {
		if relTypeIs(r.Type, "officeDocument") {
			b.wbPart = resolve("", r.Target)
		}
	}
	if b.wbPart == "" {
		b.wbPart = "xl/workbook.xml"
	}
	if _, ok := p.parts[b.wbPart]; !ok {
		return nil, fmt.Errorf("%w: no workbook part", errNotWorkbook)
	}
	if b.wbRels, err = p.readRels(b.wbPart); err != nil {
		return nil, err
	}
	byID := map[string]rel{}
	for _, r := range b.wbRels {
		byID[r.ID] = r
		if relTypeIs(r.Type, "styles") {
			b.styles = resolve(b.wbPart, r.Target)
			if _, ok := p.parts[b.styles]; !ok {
				b.styles = ""
			}
		}
	}
	data, err := p.read(b.wbPart)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) {
		return nil, errDoctype
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.wbPart, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "workbook":
			if se.Name.Space == strict.main {
				p.ns = strict
			}
			for _, a := range se.Attr {
				if a.Name.Space == "xmlns" && (a.Value == transitional.rel || a.Value == strict.rel) {
					b.relPrefix = a.Name.Local
				}
			}
		case "sheet":
			s := &sheetInfo{}
			for _, a := range se.Attr {
				switch {
				case a.Name.Local == "name" && a.Name.Space == "":
					s.name = a.Value
				case a.Name.Local == "sheetId" && a.Name.Space == "":
					fmt.Sscan(a.Value, &s.id)
				case a.Name.Local == "id" && a.Name.Space != "":
					s.relID = a.Value
				}
			}
			b.maxID = max(b.maxID, s.id)
			if r, ok := byID[s.relID]; ok {
				s.part = resolve(b.wbPart, r.Target)
				s.chart = !relTypeIs(r.Type, "worksheet")
				if _, ok := p.parts[s.part]; !ok {
					s.part = ""
				}
			}
			b.sheets = append(b.sheets, s)
		}
	}
	if len(b.sheets) == 0 {
		return nil, fmt.Errorf("%w: the workbook lists no sheets", errNotWorkbook)
	}
	return b, nil
}

// sheet returns the worksheet of that name, or nil.
func (b *book) sheet(name string) *sheetInfo {
	for _, s := range b.sheets {
		if s.name == name && !s.chart && s.part != "" {
			return s
		}
	}
	return nil
}

// escape is s escaped for XML text or an attribute value; characters XML
// cannot carry become U+FFFD.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
