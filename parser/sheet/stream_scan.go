package sheet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// scanner is a byte-level reader of the XML that spreadsheet parts use. It
// is strict where encoding/xml is strict, so that a part it reads without
// complaint reads the same in excelize: anything it does not understand or
// that is not well formed becomes ErrUnsupported, and the caller falls back
// to excelize. A DOCTYPE or any other declaration is ErrDoctype.
//
// It reads through a buffer of its own (64 KiB, grown only for a token
// longer than that, up to a bound) and keeps no part in memory. The
// current token's slices point into that buffer and are valid until the
// next call.
type scanner struct {
	src      io.Reader
	buf      []byte
	pos, end int    // unread bytes are buf[pos:end]
	rerr     error  // the source's error, once it has one
	stack    []byte // qualified names of the open elements
	offs     []int  // start of each open element's name in stack
	maxText  int    // bytes of one text value (decoded)
	maxBuf   int    // the buffer never grows beyond this

	// The current token.
	endTag bool   // an end tag (else a start tag)
	name   []byte // local name
	qname  []byte // qualified name as written
	attrs  []byte // raw attribute text of a start tag
	empty  bool   // a self-closing start tag
	held   bool   // the token was read by text and not yet returned by next
}

// maxTag bounds one tag; real tags are a few dozen bytes.
const maxTag = 1 << 20

var errEOF = errors.New("unexpected end of part")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// newScanner reads src, reusing buf's memory when it is not nil.
func newScanner(src io.Reader, buf []byte, maxText int) *scanner {
	if cap(buf) < 64<<10 {
		buf = make([]byte, 64<<10)
	}
	if maxText <= 0 {
		maxText = 1 << 20
	}
	return &scanner{src: src, buf: buf[:cap(buf)], maxText: maxText, maxBuf: maxTag + 10*maxText + 128<<10}
}

// fill reads more of the source, moving the unread bytes to the front and
// growing the buffer when it is full. It returns an error only when no
// byte could be added.
func (s *scanner) fill() error {
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.pos, s.end = 0, n
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.maxBuf {
			return fmt.Errorf("%w: a token longer than %d bytes", ErrTooLarge, s.maxBuf)
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for tries := 0; s.rerr == nil; tries++ {
		n, err := s.src.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.rerr = err
		}
		if n > 0 {
			return nil
		}
		if tries > 100 {
			s.rerr = io.ErrNoProgress
		}
	}
	if s.rerr == io.EOF {
		return io.EOF
	}
	return s.rerr
}

// eofErr turns the end of the source in the middle of a token into
// ErrUnsupported (excelize decides about a truncated part) and passes
// other errors (a corrupted zip entry, a limit) through.
func eofErr(err error) error {
	if err == io.EOF {
		return unsupported("%v", errEOF)
	}
	return err
}

// depth is the number of open elements.
func (s *scanner) depth() int { return len(s.offs) }

// next moves to the next start or end tag, skipping text, comments,
// processing instructions and CDATA. It returns io.EOF at the end of the
// part when every element is closed.
func (s *scanner) next() error {
	if s.held {
		s.held = false
		return nil
	}
	for {
		i := indexByte(s.buf[s.pos:s.end], '<')
		if i < 0 {
			// Skip the text read so far, keeping an entity that may be cut.
			keep := s.pos
			if a := bytes.LastIndexByte(s.buf[s.pos:s.end], '&'); a >= 0 && bytes.IndexByte(s.buf[s.pos+a:s.end], ';') < 0 {
				keep = s.pos + a
			} else {
				keep = s.end
			}
			if err := checkSkippedText(s.buf[s.pos:keep]); err != nil {
				return err
			}
			s.pos = keep
			if err := s.fill(); err != nil {
				if err == io.EOF && len(s.offs) == 0 && len(bytes.TrimSpace(s.buf[s.pos:s.end])) == 0 {
					return io.EOF
				}
				return eofErr(err)
			}
			continue
		}
		if i > 0 {
			if err := checkSkippedText(s.buf[s.pos : s.pos+i]); err != nil {
				return err
			}
		}
		s.pos += i + 1
		tok, err := s.markup(nil)
		if err != nil {
			return err
		}
		if tok {
			return nil
		}
	}
}

// checkSkippedText refuses what encoding/xml refuses in text it skips: a
// bad entity, a byte that is not an XML character in UTF-8.
func checkSkippedText(b []byte) error {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c < 0x80 && c != '&' || c == '\n' || c == '\t' || c == '\r' {
			continue
		}
		if c == '&' {
			j := bytes.IndexByte(b[i:], ';')
			if j < 0 {
				return unsupported("an unterminated entity")
			}
			if _, ok := entity(b[i+1 : i+j]); !ok {
				return unsupported("entity &%.20s;", b[i+1:i+j])
			}
			i += j
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || !isXMLChar(r) {
			return unsupported("invalid UTF-8 or character in text")
		}
		i += n - 1
	}
	return nil
}

// need makes at least n unread bytes available, if the source has them.
func (s *scanner) need(n int) {
	for s.end-s.pos < n {
		if s.fill() != nil {
			return
		}
	}
}

// markup reads what follows a '<'. It returns true when it read a tag
// (now the current token); false for a comment, processing instruction or
// CDATA section, whose text is appended to *text when text is not nil.
func (s *scanner) markup(text *[]byte) (bool, error) {
	if s.end-s.pos < 9 {
		s.need(9)
	}
	if s.pos == s.end {
		return false, unsupported("%v", errEOF)
	}
	switch c := s.buf[s.pos]; c {
	case '?':
		s.pos++
		return false, s.instruction()
	case '!':
		head := s.buf[s.pos+1 : s.end]
		switch {
		case bytes.HasPrefix(head, []byte("--")):
			s.pos += 3
			return false, s.skipPast("-->", nil)
		case bytes.HasPrefix(head, []byte("[CDATA[")):
			s.pos += 8
			if len(s.offs) == 0 {
				return false, unsupported("CDATA outside the root element")
			}
			return false, s.skipPast("]]>", text)
		}
		// <!DOCTYPE, <!ENTITY, <!ELEMENT...: refused, never expanded.
		return false, fmt.Errorf("%w: <%.9s", ErrDoctype, s.buf[s.pos:s.end])
	case '/':
		s.pos++
		body, err := s.tagBody()
		if err != nil {
			return false, err
		}
		body = body[:len(body)-1]
		for len(body) > 0 && isSpace(body[len(body)-1]) {
			body = body[:len(body)-1]
		}
		if len(s.offs) == 0 {
			return false, unsupported("end tag </%s> without a start", body)
		}
		top := s.offs[len(s.offs)-1]
		open := s.stack[top:]
		if !bytes.Equal(open, body) {
			return false, unsupported("element <%s> closed by </%s>", open, body)
		}
		s.endTag, s.empty, s.attrs = true, false, nil
		s.qname = open
		s.name = localName(open)
		s.stack = s.stack[:top]
		s.offs = s.offs[:len(s.offs)-1]
		return true, nil
	}
	body, err := s.tagBody()
	if err != nil {
		return false, err
	}
	body = body[:len(body)-1] // drop '>'
	s.empty = len(body) > 0 && body[len(body)-1] == '/'
	if s.empty {
		body = body[:len(body)-1]
	}
	i := 0
	for i < len(body) && isNameByte(body[i]) {
		i++
	}
	if i == 0 || !isNameStart(body[0]) || (i < len(body) && !isSpace(body[i])) {
		return false, unsupported("malformed tag <%.40s>", body)
	}
	s.endTag = false
	s.qname = body[:i]
	s.name = localName(s.qname)
	s.attrs = body[i:]
	if !s.trusted(s.name) {
		if err := checkAttrs(s.attrs); err != nil {
			return false, err
		}
	}
	if !s.empty {
		s.offs = append(s.offs, len(s.stack))
		s.stack = append(s.stack, s.qname...)
	}
	return true, nil
}

// tagBody returns the rest of a tag up to and including its '>',
// honouring quotes, and consumes it.
func (s *scanner) tagBody() ([]byte, error) {
	from := 0 // where to look for '>' next, relative to pos
	for {
		k := indexByte(s.buf[s.pos+from:s.end], '>')
		if k < 0 {
			if s.end-s.pos > maxTag {
				return nil, unsupported("a tag longer than %d bytes", maxTag)
			}
			from = s.end - s.pos
			if err := s.fill(); err != nil {
				return nil, eofErr(err)
			}
			continue
		}
		body := s.buf[s.pos : s.pos+from+k+1]
		if quotesClosed(body) {
			s.pos += len(body)
			return body, nil
		}
		from += k + 1
	}
}

// instruction skips a processing instruction, refusing an XML declaration
// of an encoding other than UTF-8 (encoding/xml would need a charset
// reader for it).
func (s *scanner) instruction() error {
	for {
		k := bytes.Index(s.buf[s.pos:s.end], []byte("?>"))
		if k < 0 {
			if s.end-s.pos > maxTag {
				return unsupported("a processing instruction longer than %d bytes", maxTag)
			}
			if err := s.fill(); err != nil {
				return eofErr(err)
			}
			continue
		}
		pi := s.buf[s.pos : s.pos+k]
		s.pos += k + 2
		if len(pi) == 0 || !isNameStart(pi[0]) {
			// encoding/xml wants a target name right after "<?".
			return unsupported("processing instruction without a target %q", pi)
		}
		if bytes.HasPrefix(pi, []byte("xml")) && (len(pi) == 3 || isSpace(pi[3])) {
			// As encoding/xml: version 1.0 only; UTF-8 only (excelize
			// would need a charset reader).
			if v, ok := piAttr(pi, "version"); ok && v != "1.0" {
				return unsupported("XML declaration %q", pi)
			}
			if v, ok := piAttr(pi, "encoding"); ok && !strings.EqualFold(v, "utf-8") {
				return unsupported("XML declaration %q", pi)
			}
		} else if len(pi) >= 3 && strings.EqualFold(string(pi[:3]), "xml") {
			return unsupported("processing instruction %q", pi)
		}
		return nil
	}
}

// indexByte is bytes.IndexByte, faster for the short distances between
// the tags of a sheet (often none): a plain loop first, the vectorised
// search for the rest.
func indexByte(b []byte, c byte) int {
	n := len(b)
	if n > 24 {
		n = 24
	}
	for i := 0; i < n; i++ {
		if b[i] == c {
			return i
		}
	}
	if n == len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[n:], c); i >= 0 {
		return n + i
	}
	return -1
}

// piAttr finds name="value" in a processing instruction, as encoding/xml's
// procInst does.
func piAttr(pi []byte, name string) (string, bool) {
	i := bytes.Index(pi, []byte(name))
	if i < 0 {
		return "", false
	}
	rest := bytes.TrimLeft(pi[i+len(name):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return "", true
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
		return "", true
	}
	j := bytes.IndexByte(rest[1:], rest[0])
	if j < 0 {
		return "", true
	}
	return string(rest[1 : 1+j]), true
}

func quotesClosed(b []byte) bool {
	if len(b) < 64 {
		dq, sq := 0, false
		for _, c := range b {
			if c == '"' {
				dq++
			} else if c == '\'' {
				sq = true
			}
		}
		if !sq {
			return dq%2 == 0
		}
	} else if bytes.IndexByte(b, '\'') < 0 {
		return bytes.Count(b, []byte{'"'})%2 == 0
	}
	var q byte
	for _, c := range b {
		switch {
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case c == q:
			q = 0
		}
	}
	return q == 0
}

// skipPast skips to just after term, appending the skipped bytes (line
// ends normalised, no entities) to *keep when keep is not nil.
func (s *scanner) skipPast(term string, keep *[]byte) error {
	for {
		k := bytes.Index(s.buf[s.pos:s.end], []byte(term))
		if k >= 0 {
			if keep != nil {
				if err := appendText(keep, s.buf[s.pos:s.pos+k], false, s.maxText); err != nil {
					return err
				}
			}
			s.pos += k + len(term)
			return nil
		}
		// Consume all but a possible start of term.
		upto := s.end - (len(term) - 1)
		if upto > s.pos {
			if keep != nil {
				seg := s.buf[s.pos:upto]
				if len(seg) > 0 && seg[len(seg)-1] == '\r' { // keep CR LF together
					seg = seg[:len(seg)-1]
				}
				if err := appendText(keep, seg, false, s.maxText); err != nil {
					return err
				}
				upto = s.pos + len(seg)
			}
			s.pos = upto
		}
		if err := s.fill(); err != nil {
			return eofErr(err)
		}
	}
}

// text appends the character data of the current element to dst, up to
// the next tag, which becomes the current token (returned by the next call
// of next). Entities are decoded, CDATA kept, comments dropped, line ends
// normalised, and the result checked to be XML characters in UTF-8.
func (s *scanner) text(dst []byte) ([]byte, error) {
	if s.empty || s.endTag {
		return dst, nil
	}
	for {
		i := indexByte(s.buf[s.pos:s.end], '<')
		if i < 0 {
			if s.end-s.pos > 10*s.maxText+64 {
				return dst, fmt.Errorf("%w: a cell value longer than %d bytes", ErrTooLarge, s.maxText)
			}
			if err := s.fill(); err != nil {
				return dst, eofErr(err)
			}
			continue
		}
		err := appendText(&dst, s.buf[s.pos:s.pos+i], true, s.maxText)
		if err != nil {
			return dst, err
		}
		s.pos += i + 1
		tok, err := s.markup(&dst)
		if err != nil {
			return dst, err
		}
		if tok {
			s.held = true
			return dst, nil
		}
	}
}

// appendText appends one segment of text to *dst, decoding entities when
// entities is set (not in CDATA).
func appendText(dst *[]byte, seg []byte, entities bool, max int) error {
	simple := true
	for _, c := range seg {
		if c < 0x20 || c >= 0x80 || c == '&' {
			simple = false
			break
		}
	}
	var err error
	if simple {
		*dst = append(*dst, seg...)
	} else {
		*dst, err = decodeText(*dst, seg, entities)
	}
	if err == nil && max > 0 && len(*dst) > max {
		return fmt.Errorf("%w: a cell value longer than %d bytes", ErrTooLarge, max)
	}
	return err
}

// decodeText appends seg to dst with entities decoded (when entities),
// CR LF and lone CR turned into LF, and refuses bytes that are not XML
// characters in UTF-8, as encoding/xml does.
func decodeText(dst, seg []byte, entities bool) ([]byte, error) {
	for i := 0; i < len(seg); {
		c := seg[i]
		switch {
		case c == '&' && entities:
			j := bytes.IndexByte(seg[i:], ';')
			if j < 0 {
				return dst, unsupported("an unterminated entity")
			}
			r, ok := entity(seg[i+1 : i+j])
			if !ok {
				return dst, unsupported("entity &%.20s;", seg[i+1:i+j])
			}
			dst = utf8.AppendRune(dst, r)
			i += j + 1
		case c == '\r':
			dst = append(dst, '\n')
			i++
			if i < len(seg) && seg[i] == '\n' {
				i++
			}
		case c < 0x80:
			if c < 0x20 && c != '\t' && c != '\n' {
				return dst, unsupported("control character %#x in text", c)
			}
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(seg[i:])
			if (r == utf8.RuneError && n == 1) || !isXMLChar(r) {
				return dst, unsupported("invalid UTF-8 or character in text")
			}
			dst = append(dst, seg[i:i+n]...)
			i += n
		}
	}
	return dst, nil
}

// entity decodes a predefined entity or a character reference (the text
// between '&' and ';').
func entity(name []byte) (rune, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	digits, base := name[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*base + d
	}
	return r, isXMLChar(r)
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == ':' || c == '-' || c == '.' // ASCII names only: real parts use nothing else
}

// isNameStart reports a byte that may begin an XML name.
func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func localName(q []byte) []byte {
	if i := bytes.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

// trusted reports the elements whose attributes the caller parses and
// checks itself (with attrValue), so the scanner need not check them.
func (s *scanner) trusted(name []byte) bool {
	return len(name) == 1 && name[0] == 'c' || len(name) == 3 && string(name) == "row"
}

// attrValue checks a value nextAttr returned as checkAttrs would.
func attrValue(val []byte) error {
	if bytes.IndexByte(val, '<') >= 0 {
		return unsupported("'<' in an attribute value")
	}
	return checkSkippedText(val)
}

// checkAttrs refuses attribute text encoding/xml would refuse: a value
// not in quotes, '<' in a value, a bad entity.
func checkAttrs(b []byte) error {
	for {
		name, val, rest, ok, err := nextAttr(b)
		if err != nil || !ok {
			return err
		}
		_ = name
		if err := attrValue(val); err != nil {
			return err
		}
		b = rest
	}
}

// nextAttr splits the first attribute off b: its local name and raw value.
func nextAttr(b []byte) (name, val, rest []byte, ok bool, err error) {
	name, val, rest, ok, err = nextAttrQ(b)
	return localName(name), val, rest, ok, err
}

// nextAttrQ is nextAttr giving the qualified name.
func nextAttrQ(b []byte) (name, val, rest []byte, ok bool, err error) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil, nil, false, nil
	}
	j := i
	for j < len(b) && isNameByte(b[j]) {
		j++
	}
	if j == i || !isNameStart(b[i]) {
		return nil, nil, nil, false, unsupported("malformed attribute %.40q", b)
	}
	name = b[i:j]
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if j == len(b) || b[j] != '=' {
		return nil, nil, nil, false, unsupported("attribute without a value %.40q", b)
	}
	j++
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if j == len(b) || (b[j] != '"' && b[j] != '\'') {
		return nil, nil, nil, false, unsupported("attribute value without quotes %.40q", b)
	}
	q := b[j]
	k := bytes.IndexByte(b[j+1:], q)
	if k < 0 {
		return nil, nil, nil, false, unsupported("unterminated attribute value")
	}
	val = b[j+1 : j+1+k]
	rest = b[j+2+k:]
	if len(rest) > 0 && !isSpace(rest[0]) {
		return nil, nil, nil, false, unsupported("no space between attributes %.40q", b)
	}
	return name, val, rest, true, nil
}

// skip skips the rest of the current element (after its start tag).
func (s *scanner) skip() error {
	if s.empty || s.endTag {
		return nil
	}
	d := s.depth()
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.endTag && s.depth() < d {
			return nil
		}
	}
}

// Shapes of a cell's content that fastCell reads without the general
// machinery (the forms Excel, LibreOffice, openpyxl and excelize write).
const (
	fastNone   = iota
	fastV      // <v>TEXT</v></c>
	fastInline // <is><t>TEXT</t></is></c>, <t> possibly with xml:space
)

var (
	tagV        = []byte("<v>")
	tagVEnd     = []byte("</v></c>")
	tagIsT      = []byte("<is><t")
	tagTIsEnd   = []byte("</t></is></c>")
	attrPreserv = []byte(` xml:space="preserve">`)
)

// fastCell reads the content of an unprefixed <c> (its start tag just
// read) when it has one of the common shapes and lies wholly in the
// buffer: the text is appended to dst, the element is closed, and the
// current token becomes its end tag. Otherwise nothing is consumed and it
// returns fastNone, for the general path to read.
func (s *scanner) fastCell(dst []byte) ([]byte, int, error) {
	if s.empty || len(s.qname) != 1 || s.qname[0] != 'c' {
		return dst, fastNone, nil
	}
	b := s.buf[s.pos:s.end]
	var kind, start int
	var end []byte
	switch {
	case bytes.HasPrefix(b, tagV):
		kind, start, end = fastV, len(tagV), tagVEnd
	case bytes.HasPrefix(b, tagIsT):
		rest := b[len(tagIsT):]
		switch {
		case len(rest) > 0 && rest[0] == '>':
			start = len(tagIsT) + 1
		case bytes.HasPrefix(rest, attrPreserv):
			start = len(tagIsT) + len(attrPreserv)
		default:
			return dst, fastNone, nil
		}
		kind, end = fastInline, tagTIsEnd
	default:
		return dst, fastNone, nil
	}
	i := indexByte(b[start:], '<')
	if i < 0 || !bytes.HasPrefix(b[start+i:], end) {
		return dst, fastNone, nil
	}
	n := len(dst)
	if err := appendText(&dst, b[start:start+i], true, s.maxText); err != nil {
		return dst[:n], fastNone, err
	}
	s.closeFast(start + i + len(end))
	return dst, kind, nil
}

// fastC reads the start tag of an unprefixed <c> with plain attribute
// values straight from the buffer, returning its r, s and t values (nil
// when absent). For anything else (another tag, a value with an entity,
// a tag cut by the buffer end) it consumes nothing and reports false, and
// the general path reads the tag.
func (s *scanner) fastC() (r, st, t []byte, ok bool) {
	if s.held {
		return nil, nil, nil, false
	}
	b := s.buf[s.pos:s.end]
	if len(b) < 4 || b[0] != '<' || b[1] != 'c' || b[2] != ' ' {
		return nil, nil, nil, false
	}
	i := 3
	for {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			return nil, nil, nil, false
		}
		switch b[i] {
		case '>', '/':
			empty := b[i] == '/'
			if empty {
				if i+1 >= len(b) || b[i+1] != '>' {
					return nil, nil, nil, false
				}
				i++
			}
			s.pos += i + 1
			s.endTag, s.empty, s.attrs = false, empty, nil
			if !empty {
				s.offs = append(s.offs, len(s.stack))
				s.stack = append(s.stack, 'c')
				s.qname = s.stack[len(s.stack)-1:]
			} else {
				s.qname = cName
			}
			s.name = s.qname
			return r, st, t, true
		}
		j := i
		for j < len(b) && isNameByte(b[j]) && b[j] != ':' {
			j++
		}
		if j == i || !isNameStart(b[i]) || j+1 >= len(b) || b[j] != '=' || b[j+1] != '"' {
			return nil, nil, nil, false
		}
		k := indexByte(b[j+2:], '"')
		if k < 0 {
			return nil, nil, nil, false
		}
		val := b[j+2 : j+2+k]
		for _, c := range val {
			if c < 0x20 || c >= 0x80 || c == '&' || c == '<' {
				return nil, nil, nil, false
			}
		}
		if j-i == 1 {
			switch b[i] {
			case 'r':
				r = val
			case 's':
				st = val
			case 't':
				t = val
			}
		}
		i = j + 3 + k
		if i < len(b) && b[i] != ' ' && b[i] != '>' && b[i] != '/' {
			return nil, nil, nil, false
		}
	}
}

var cName = []byte("c")

var (
	tagT      = []byte("<t")
	tagTSiEnd = []byte("</t></si>")
	siName    = []byte("si")
)

// fastSI reads the content of an unprefixed <si> (its start tag just
// read) of the common shape <t>TEXT</t></si> (<t> possibly with
// xml:space) lying wholly in the buffer, like fastCell.
func (s *scanner) fastSI(dst []byte) ([]byte, bool, error) {
	if s.empty || !bytes.Equal(s.qname, siName) {
		return dst, false, nil
	}
	b := s.buf[s.pos:s.end]
	if !bytes.HasPrefix(b, tagT) {
		return dst, false, nil
	}
	start := 0
	switch rest := b[len(tagT):]; {
	case len(rest) > 0 && rest[0] == '>':
		start = len(tagT) + 1
	case bytes.HasPrefix(rest, attrPreserv):
		start = len(tagT) + len(attrPreserv)
	default:
		return dst, false, nil
	}
	i := indexByte(b[start:], '<')
	if i < 0 || !bytes.HasPrefix(b[start+i:], tagTSiEnd) {
		return dst, false, nil
	}
	n := len(dst)
	if err := appendText(&dst, b[start:start+i], true, s.maxText); err != nil {
		return dst[:n], false, err
	}
	s.closeFast(start + i + len(tagTSiEnd))
	return dst, true, nil
}

// closeFast consumes n bytes read by a fast text path and leaves the
// scanner as after the element's end tag: the open element is popped.
func (s *scanner) closeFast(n int) {
	s.pos += n
	top := s.offs[len(s.offs)-1]
	s.endTag, s.empty, s.attrs = true, false, nil
	s.qname = s.stack[top:]
	s.name = s.qname
	s.stack = s.stack[:top]
	s.offs = s.offs[:len(s.offs)-1]
}
