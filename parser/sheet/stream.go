package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// OpenStream opens a workbook held in memory with the streaming reader.
// Besides the errors of Open it returns an error wrapping ErrUnsupported
// when the workbook uses a construct the reader does not understand; the
// file may still be good, and OpenExcelize should read it.
//
// The workbook, its relationships, styles and shared strings are read at
// once (the small parts with encoding/xml, the shared strings with the
// scanner into one []string); worksheets are streamed from the zip by
// Rows, never held whole in memory.
func OpenStream(data []byte, lim Limits) (Workbook, error) {
	return openStreamAt(bytes.NewReader(data), int64(len(data)), data, lim)
}

func newStreamBook(data []byte, zr *zip.Reader, lim Limits) (*streamBook, error) {
	b := &streamBook{data: data, lim: lim, files: make(map[string]*zip.File, len(zr.File)), reader: "stream"}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		name := partName(f.Name)
		if _, dup := b.files[name]; dup {
			return nil, unsupported("duplicate zip entry %q", name)
		}
		b.files[name] = f
	}
	if lim.MaxTotalBytes > 0 && total > uint64(lim.MaxTotalBytes) {
		return nil, fmt.Errorf("%w: %d bytes decompressed (limit %d)", ErrTooLarge, total, lim.MaxTotalBytes)
	}
	return b, nil
}

// partName is the name a zip entry is looked up by, the one excelize
// gives it (its ReadZipReader), so both readers see the same parts.
// Backslashes, which some Windows zip tools write ("xl\workbook.xml"),
// become slashes (part names separate segments with "/": ECMA-376 Part 2,
// the Open Packaging Conventions). The two parts excelize finds whatever
// their case, the content types and the shared strings
// ("xl/sharedstrings.xml"), get their usual spelling; other names keep
// their case, as excelize matches them exactly.
func partName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	switch strings.ToLower(name) {
	case "[content_types].xml":
		return "[Content_Types].xml"
	case "xl/sharedstrings.xml":
		return "xl/sharedStrings.xml"
	}
	return name
}

// openZip opens the zip of a workbook held in memory. Entry names are
// only looked up, never used as file paths, so names archive/zip calls
// insecure (ErrInsecurePath: backslashes, "../"; reported under
// GODEBUG=zipinsecurepath=0, which a later Go may make the default) are
// no reason to refuse the file.
func openZip(data []byte) (*zip.Reader, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil
	}
	return zr, err
}

// packageInfo reads, as the stream reader does, what the excelize adapter
// takes from it: the names of the chart, dialog and macro sheets, which
// excelize lists with the worksheets, and the number format of each cell
// style, so both readers show cells alike. Either is nil when the part
// cannot be read.
func packageInfo(data []byte, lim Limits) (others map[string]bool, fmts []*numFmt) {
	zr, err := openZip(data)
	if err != nil {
		return nil, nil
	}
	b, err := newStreamBook(data, zr, lim)
	if err != nil {
		return nil, nil
	}
	stylesPath, _, err := b.loadStructure()
	if err != nil {
		return nil, nil
	}
	if (stylesPath == "" || stylesPath == "xl/styles.xml") && b.loadStyles() == nil {
		fmts = b.numFmts
	}
	return b.others, fmts
}

type streamBook struct {
	data      []byte      // the whole file when the caller holds it; nil when read through ra
	ra        io.ReaderAt // the file
	size      int64
	lim       Limits
	files     map[string]*zip.File
	date1904  bool
	sheets    []string          // worksheet names in workbook order
	parts     map[string]string // worksheet name -> zip entry
	others    map[string]bool   // chart, dialog and macro sheets, left out
	sst       []string          // shared strings
	dateStyle []bool            // cellXfs index -> number format is a date
	numFmts   []*numFmt         // cellXfs index -> number format; nil for General
	buf       []byte            // scanner buffer, reused by every Rows
	open      *streamRows       // the Rows open now, if any
	fallback  *excelizeBook     // opened when a sheet needs excelize midway
	reader    string            // "stream", or "excelize" after a fallback
}

func (b *streamBook) Sheets() []string { return b.sheets }
func (b *streamBook) Date1904() bool   { return b.date1904 }
func (b *streamBook) Reader() string   { return b.reader }

func (b *streamBook) Close() error {
	if b.open != nil {
		b.open.Close()
	}
	if b.fallback != nil {
		return b.fallback.Close()
	}
	return nil
}

// Relationship types, transitional (ECMA-376 Part 1) and strict (ISO/IEC
// 29500 strict, purl.oclc.org) spellings.
const (
	relTransitional = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
	relStrict       = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
	relMicrosoft    = "http://schemas.microsoft.com/office/2006/relationships/"
)

func relKind(typ string) string {
	if k, ok := strings.CutPrefix(typ, relTransitional); ok {
		return k
	}
	if k, ok := strings.CutPrefix(typ, relStrict); ok {
		return k
	}
	if k, ok := strings.CutPrefix(typ, relMicrosoft); ok {
		return k
	}
	return ""
}

type xRels struct {
	Rel []struct {
		ID     string `xml:"Id,attr"`
		Type   string `xml:"Type,attr"`
		Target string `xml:"Target,attr"`
		Mode   string `xml:"TargetMode,attr"`
	} `xml:"Relationship"`
}

type xWorkbook struct {
	XMLName xml.Name
	Pr      *struct {
		Date1904 string `xml:"date1904,attr"`
	} `xml:"workbookPr"`
	Sheets []struct {
		Name string `xml:"name,attr"`
		ID   string `xml:"id,attr"` // r:id, in either namespace
	} `xml:"sheets>sheet"`
}

type xStyles struct {
	XMLName xml.Name
	NumFmts []struct {
		ID     string `xml:"numFmtId,attr"`
		Code   string `xml:"formatCode,attr"`
		Code16 string `xml:"formatCode16,attr"` // preferred by excelize where present
	} `xml:"numFmts>numFmt"`
	Xfs []struct {
		NumFmtID *string `xml:"numFmtId,attr"`
	} `xml:"cellXfs>xf"`
}

// load reads the package relationships, the workbook, its relationships,
// styles and shared strings.
func (b *streamBook) load() error {
	stylesPath, sstPath, err := b.loadStructure()
	if err != nil {
		return err
	}
	// excelize reads styles and shared strings from the default paths; a
	// workbook that puts them elsewhere is left to it, so both agree.
	if stylesPath != "" && stylesPath != "xl/styles.xml" || sstPath != "" && partName(sstPath) != "xl/sharedStrings.xml" {
		return unsupported("styles or shared strings at a non-default path")
	}
	if err := b.loadStyles(); err != nil {
		return err
	}
	return b.loadSharedStrings()
}

// loadStructure reads the package relationships, the workbook and its
// relationships: the sheets, their parts, and where styles and shared
// strings are.
func (b *streamBook) loadStructure() (stylesPath, sstPath string, err error) {
	var root xRels
	if err := b.readSmall("_rels/.rels", &root); err != nil {
		if errors.Is(err, errNoPart) {
			return "", "", b.noWorkbook()
		}
		return "", "", err
	}
	wbPath := ""
	for _, r := range root.Rel {
		if relKind(r.Type) == "officeDocument" {
			wbPath = strings.TrimPrefix(r.Target, "/")
			break
		}
	}
	if wbPath == "" {
		return "", "", b.noWorkbook()
	}
	var wb xWorkbook
	if err := b.readSmall(wbPath, &wb); err != nil {
		if errors.Is(err, errNoPart) {
			return "", "", b.noWorkbook()
		}
		return "", "", err
	}
	if !mainSpace(wb.XMLName) {
		return "", "", unsupported("workbook root element %v", wb.XMLName)
	}
	if wb.Pr != nil && wb.Pr.Date1904 != "" {
		v, err := strconv.ParseBool(strings.TrimSpace(wb.Pr.Date1904))
		if err != nil {
			return "", "", unsupported("workbookPr date1904=%q", wb.Pr.Date1904)
		}
		b.date1904 = v
	}
	dir := path.Dir(wbPath)
	relsPath := path.Join(dir, "_rels", path.Base(wbPath)+".rels")
	if dir == "." {
		relsPath = "_rels/" + path.Base(wbPath) + ".rels"
	}
	var rels xRels
	if err := b.readSmall(relsPath, &rels); err != nil {
		return "", "", err // a workbook without relationships has no sheets to read
	}
	targets := map[string]string{}
	kinds := map[string]string{}
	for _, r := range rels.Rel {
		if r.Mode == "External" {
			continue
		}
		t := r.Target
		if strings.HasPrefix(t, "/") {
			t = strings.TrimPrefix(t, "/")
		} else {
			t = path.Join(dir, t)
		}
		targets[r.ID], kinds[r.ID] = t, relKind(r.Type)
		switch relKind(r.Type) {
		case "sharedStrings":
			sstPath = t
		case "styles":
			stylesPath = t
		}
	}
	b.parts = map[string]string{}
	for _, s := range wb.Sheets {
		switch kinds[s.ID] {
		case "worksheet":
		case "chartsheet", "dialogsheet", "macrosheet", "xlMacrosheet", "xlIntlMacrosheet", "":
			// A sheet without a relationship (a VBA module sheet, a broken
			// entry) has no part excelize could read either.
			if b.others == nil {
				b.others = map[string]bool{}
			}
			b.others[s.Name] = true
			continue // no cells to read; left out of Sheets
		default:
			return "", "", unsupported("sheet %q of relationship type %q", s.Name, kinds[s.ID])
		}
		if _, dup := b.parts[s.Name]; dup {
			return "", "", unsupported("two sheets named %q", s.Name)
		}
		if _, ok := b.files[targets[s.ID]]; !ok {
			return "", "", unsupported("sheet %q: part %q missing", s.Name, targets[s.ID])
		}
		b.parts[s.Name] = targets[s.ID]
		b.sheets = append(b.sheets, s.Name)
	}
	if lim := b.lim.MaxSheets; lim > 0 && len(b.sheets) > lim {
		return "", "", fmt.Errorf("%w: %d sheets (limit %d)", ErrTooLarge, len(b.sheets), lim)
	}
	return stylesPath, sstPath, nil
}

var errNoPart = errors.New("part missing")

// The SpreadsheetML namespace, transitional and strict.
const (
	nsMain       = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsMainStrict = "http://purl.oclc.org/ooxml/spreadsheetml/main"
)

// mainSpace reports whether a root element is in the SpreadsheetML
// namespace, which excelize's decoders require.
func mainSpace(n xml.Name) bool { return n.Space == nsMain || n.Space == nsMainStrict }

// checkRootNS checks the root element (the current token) is the named
// element in the SpreadsheetML namespace, declared on the element itself.
func checkRootNS(s *scanner, local string) error {
	if string(s.name) != local {
		return unsupported("root element <%s>, want <%s>", s.qname, local)
	}
	want := "xmlns"
	if p := len(s.qname) - len(s.name); p > 0 {
		want = "xmlns:" + string(s.qname[:p-1])
	}
	for a := s.attrs; ; {
		name, val, rest, ok, err := nextAttrQ(a)
		if err != nil || !ok {
			return unsupported("<%s> not in the SpreadsheetML namespace", s.qname)
		}
		if string(name) == want {
			if v := string(val); v == nsMain || v == nsMainStrict {
				return nil
			}
			return unsupported("<%s> in namespace %q", s.qname, val)
		}
		a = rest
	}
}

// noWorkbook reports a zip holding no workbook part.
func (b *streamBook) noWorkbook() error {
	return fmt.Errorf("%w: the zip holds no workbook part", ErrNotXLSX)
}

// openPart opens a zip entry for reading, refusing one declared bigger than
// MaxPartBytes and stopping one that turns out bigger at the limit.
func (b *streamBook) openPart(name string) (io.ReadCloser, error) {
	f, ok := b.files[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNoPart, name)
	}
	max := b.lim.MaxPartBytes
	if max > 0 && f.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("%w: part %s is %d bytes decompressed (limit %d)", ErrTooLarge, name, f.UncompressedSize64, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("stream: part %s: %w", name, err)
	}
	return &partReader{rc: rc, name: name, max: max}, nil
}

// partReader counts the decompressed bytes of a part as they stream: a zip
// bomb stops at the limit, not after it.
type partReader struct {
	rc   io.ReadCloser
	name string
	n    int64
	max  int64
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.rc.Read(b)
	p.n += int64(n)
	if p.max > 0 && p.n > p.max {
		return n, fmt.Errorf("%w: part %s is over %d bytes decompressed", ErrTooLarge, p.name, p.max)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("stream: part %s: %w", p.name, err)
	}
	return n, err
}

func (p *partReader) Close() error { return p.rc.Close() }

// readSmall reads a small part whole and decodes it with encoding/xml,
// after refusing any declaration (DOCTYPE, ENTITY).
func (b *streamBook) readSmall(name string, v any) error {
	rc, err := b.openPart(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if err := checkDeclarations(data); err != nil {
		return err
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return unsupported("part %s: %v", name, err)
	}
	return nil
}

// checkDeclarations refuses "<!" markup other than comments and CDATA.
func checkDeclarations(data []byte) error {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("<!"))
		if j < 0 {
			return nil
		}
		rest := data[i+j+2:]
		if !bytes.HasPrefix(rest, []byte("--")) && !bytes.HasPrefix(rest, []byte("[CDATA[")) {
			return fmt.Errorf("%w: <!%.10s", ErrDoctype, rest)
		}
		i += j + 2
	}
}

// isBuiltinFmt reports the number format ids excelize treats as built in
// (its builtInNumFmt table and language-dependent ids): for these a
// custom numFmt of the same id is ignored, as excelize does.
func isBuiltinFmt(id int) bool {
	return id >= 0 && id <= 4 || id >= 9 && id <= 22 || id >= 37 && id <= 49 ||
		id >= 27 && id <= 36 || id >= 50 && id <= 62 || id >= 67 && id <= 81
}

func (b *streamBook) loadStyles() error {
	var st xStyles
	if err := b.readSmall("xl/styles.xml", &st); err != nil {
		if errors.Is(err, errNoPart) {
			return nil
		}
		return err
	}
	if !mainSpace(st.XMLName) {
		return unsupported("styles root element %v", st.XMLName)
	}
	custom := map[int]string{}
	shown := map[int]string{} // formatCode16 where present (excelize shows cells with it)
	for _, f := range st.NumFmts {
		id, err := strconv.Atoi(f.ID)
		if err != nil {
			return unsupported("numFmtId=%q", f.ID)
		}
		custom[id], shown[id] = f.Code, f.Code
		if f.Code16 != "" {
			shown[id] = f.Code16
		}
	}
	b.dateStyle = make([]bool, len(st.Xfs))
	b.numFmts = make([]*numFmt, len(st.Xfs))
	shared := &formatter{date1904: b.date1904}
	byID := map[int]*numFmt{}
	for i, xf := range st.Xfs {
		if xf.NumFmtID == nil {
			continue
		}
		id, err := strconv.Atoi(*xf.NumFmtID)
		if err != nil {
			return unsupported("numFmtId=%q", *xf.NumFmtID)
		}
		if isBuiltinFmt(id) {
			b.dateStyle[i] = IsDateFormat(id, "")
		} else {
			b.dateStyle[i] = IsDateFormat(id, custom[id])
		}
		// A cell is shown with the custom code of its id where the
		// styles define one, even for a built-in id (as excelize does).
		nf := byID[id]
		if nf == nil {
			nf = &numFmt{id: id, code: shown[id], book: shared}
			byID[id] = nf
		}
		if !nf.general() {
			b.numFmts[i] = nf
		}
	}
	return nil
}

// cellFormat returns the number format of a cell style.
func (b *streamBook) cellFormat(style int) *numFmt {
	if style < len(b.numFmts) {
		return b.numFmts[style]
	}
	return nil
}

// loadSharedStrings reads the shared strings into one []string whose
// strings share a few large backing strings.
func (b *streamBook) loadSharedStrings() error {
	rc, err := b.openPart("xl/sharedStrings.xml")
	if err != nil {
		if errors.Is(err, errNoPart) {
			return nil
		}
		return err
	}
	defer rc.Close()
	s := newScanner(rc, b.buf, b.lim.MaxCellBytes)
	b.buf = s.buf
	var (
		arena  []byte // text of strings not yet turned into a string
		ends   []int  // end of each pending string in arena
		item   []byte
		rooted bool // the root element was read
	)
	flush := func() {
		all := string(arena)
		start := 0
		for _, e := range ends {
			b.sst = append(b.sst, all[start:e])
			start = e
		}
		arena, ends = arena[:0], ends[:0]
	}
	for {
		err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !rooted {
			rooted = true
			if err := checkRootNS(s, "sst"); err != nil {
				return err
			}
		}
		if s.endTag || string(s.name) != "si" {
			continue
		}
		if lim := b.lim.MaxStrings; lim > 0 && len(b.sst)+len(ends) >= lim {
			return fmt.Errorf("%w: more than %d shared strings", ErrTooLarge, lim)
		}
		var fast bool
		if item, fast, err = s.fastSI(item[:0]); err != nil {
			return err
		}
		if !fast {
			if item, err = readRichText(s, item[:0]); err != nil {
				return err
			}
		}
		arena = appendBstr(arena, item)
		ends = append(ends, len(arena))
		if len(arena) > 1<<20 {
			flush()
		}
	}
	flush()
	return nil
}

// readRichText reads the text of an <si> or <is> element (its start tag
// is the current token): a <t>, or the <t> of each <r> run; phonetic runs
// (<rPh>) and properties are left out, as excelize does.
func readRichText(s *scanner, dst []byte) ([]byte, error) {
	if s.empty {
		return dst, nil
	}
	d := s.depth()
	direct, runs := false, false
	for {
		if err := s.next(); err != nil {
			return dst, err
		}
		if s.endTag {
			if s.depth() < d {
				return dst, nil
			}
			continue
		}
		depth := s.depth()
		if s.empty {
			depth++ // a self-closing tag opens no element
		}
		switch string(s.name) {
		case "t":
			inRun := depth == d+2
			if depth == d+1 {
				// excelize keeps one direct <t> and puts it first.
				if direct || runs {
					return dst, unsupported("rich text with a <t> after runs")
				}
				direct = true
			} else if !inRun {
				return dst, unsupported("<t> nested unexpectedly")
			}
			if s.empty {
				continue
			}
			var err error
			if dst, err = s.text(dst); err != nil {
				return dst, err
			}
			if err := s.next(); err != nil {
				return dst, err
			}
			if !s.endTag {
				return dst, unsupported("element inside <t>")
			}
		case "r":
			if depth != d+1 {
				return dst, unsupported("<r> nested unexpectedly")
			}
			runs = true
		default:
			if err := s.skip(); err != nil {
				return dst, err
			}
		}
	}
}

// appendBstr appends text with the ST_Xstring escapes (_xHHHH_, ECMA-376
// 22.9.2.19) decoded as excelize's bstrUnmarshal does (_x005F_ is '_'),
// but for characters beyond the Basic Multilingual Plane: the escape
// names UTF-16 code units, so such a character is a pair of escapes
// (_xD801__xDC05_ is U+10405), which excelize drops and which is decoded
// here (issue 15). A surrogate code without its partner drops out.
func appendBstr(dst, s []byte) []byte {
	if bytes.Index(s, []byte("_x")) < 0 {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		if r, ok := bstrEscape(s[i:]); ok {
			switch {
			case r == 0x5F:
				dst = append(dst, '_')
			case utf16.IsSurrogate(r):
				if low, ok := bstrEscape(s[i+7:]); ok && r < 0xDC00 {
					if pair := utf16.DecodeRune(r, low); pair != utf8.RuneError {
						dst = utf8.AppendRune(dst, pair)
						i += 14
						continue
					}
				}
			default:
				dst = utf8.AppendRune(dst, r)
			}
			i += 7
			continue
		}
		dst = append(dst, s[i])
		i++
	}
	return dst
}

// bstrEscape decodes the _xHHHH_ escape s starts with.
func bstrEscape(s []byte) (rune, bool) {
	if len(s) < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_' || !isHex4(s[2:6]) {
		return 0, false
	}
	v, _ := strconv.ParseUint(string(s[2:6]), 16, 32)
	return rune(v), true
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
