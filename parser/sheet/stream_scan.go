package sheet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// scanner is a byte-level reader of the XML that spreadsheet parts use. It
// is strict where encoding/xml is strict, so that a part it reads without
// complaint reads the same in excelize: anything it does not understand or
// that is not well formed becomes ErrUnsupported, and the caller falls back
// to excelize. A DOCTYPE or any other declaration is ErrDoctype.
//
// It reads straight from a bufio.Reader and keeps no part in memory: a tag
// is looked at in the reader's buffer where it fits, and copied into a
// scratch buffer only when it spans a refill.
type scanner struct {
	r       *bufio.Reader
	scratch []byte // a tag spanning buffer refills
	raw     []byte // a text segment spanning buffer refills
	stack   []byte // qualified names of the open elements, each followed by 0
	offs    []int  // start of each open element's name in stack
	maxText int    // bytes of one text value (decoded)

	// The current token, valid until the next call.
	end   bool   // an end tag (else a start tag)
	name  []byte // local name
	qname []byte // qualified name as written
	attrs []byte // raw attribute text of a start tag
	empty bool   // a self-closing start tag
	held  bool   // the token was read by text and not yet returned by next
}

// maxTag bounds one tag; real tags are a few dozen bytes.
const maxTag = 1 << 20

var errEOF = errors.New("unexpected end of part")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

func newScanner(r io.Reader, buf *bufio.Reader, maxText int) *scanner {
	if buf == nil {
		buf = bufio.NewReaderSize(r, 64<<10)
	} else {
		buf.Reset(r)
	}
	return &scanner{r: buf, maxText: maxText}
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
		b, err := s.r.ReadSlice('<')
		if err == bufio.ErrBufferFull {
			if err := checkSkippedText(b); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if err == io.EOF && len(s.offs) == 0 && len(bytes.TrimSpace(b)) == 0 {
				return io.EOF
			}
			return unsupported("%v", errEOF)
		}
		if err := checkSkippedText(b[:len(b)-1]); err != nil {
			return err
		}
		tok, err := s.markup(nil, false)
		if err != nil {
			return err
		}
		if tok {
			return nil
		}
	}
}

// checkSkippedText refuses what encoding/xml refuses in text it skips: a
// bad entity. (Checking every byte of skipped text for valid UTF-8 would
// cost more than it is worth; text the reader keeps is checked in full.)
func checkSkippedText(b []byte) error {
	if bytes.IndexByte(b, '&') < 0 {
		return nil
	}
	_, err := decodeText(nil, b, true)
	return err
}

// markup reads what follows a '<'. It returns true when it read a tag
// (now the current token); false for a comment, processing instruction or
// CDATA section, whose text is appended to *text when text is not nil.
func (s *scanner) markup(text *[]byte, keep bool) (bool, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		return false, unsupported("%v", errEOF)
	}
	switch c {
	case '?':
		return false, s.skipPast("?>", nil)
	case '!':
		head, _ := s.r.Peek(7)
		switch {
		case bytes.HasPrefix(head, []byte("--")):
			s.r.Discard(2)
			return false, s.skipPast("-->", nil)
		case bytes.HasPrefix(head, []byte("[CDATA[")):
			s.r.Discard(7)
			if len(s.offs) == 0 {
				return false, unsupported("CDATA outside the root element")
			}
			if keep {
				return false, s.skipPast("]]>", text)
			}
			return false, s.skipPast("]]>", nil)
		}
		// <!DOCTYPE, <!ENTITY, <!ELEMENT...: refused, never expanded.
		return false, fmt.Errorf("%w: <!%s", ErrDoctype, bytes.TrimRight(head, "\x00"))
	case '/':
		body, err := s.tagBody()
		if err != nil {
			return false, err
		}
		body = bytes.TrimRight(body[:len(body)-1], " \t\r\n")
		if len(s.offs) == 0 {
			return false, unsupported("end tag </%s> without a start", body)
		}
		top := s.offs[len(s.offs)-1]
		open := s.stack[top : len(s.stack)-1]
		if !bytes.Equal(open, body) {
			return false, unsupported("element <%s> closed by </%s>", open, body)
		}
		s.end, s.empty, s.attrs = true, false, nil
		s.qname = open
		s.name = localName(open)
		s.stack = s.stack[:top]
		s.offs = s.offs[:len(s.offs)-1]
		return true, nil
	}
	if err := s.r.UnreadByte(); err != nil {
		return false, err
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
	if i == 0 || (i < len(body) && !isSpace(body[i])) {
		return false, unsupported("malformed tag <%.40s>", body)
	}
	s.end = false
	s.qname = body[:i]
	s.name = localName(s.qname)
	s.attrs = body[i:]
	if err := checkAttrs(s.attrs); err != nil {
		return false, err
	}
	if !s.empty {
		s.offs = append(s.offs, len(s.stack))
		s.stack = append(s.stack, s.qname...)
		s.stack = append(s.stack, 0)
	}
	return true, nil
}

// tagBody returns the rest of a tag up to and including its '>', honouring
// quotes. The slice is valid until the next read.
func (s *scanner) tagBody() ([]byte, error) {
	b, err := s.r.ReadSlice('>')
	if err == nil && quotesClosed(b) {
		return b, nil
	}
	s.scratch = append(s.scratch[:0], b...)
	for {
		switch {
		case err == nil && quotesClosed(s.scratch):
			return s.scratch, nil
		case err != nil && err != bufio.ErrBufferFull:
			return nil, unsupported("%v", errEOF)
		case len(s.scratch) > maxTag:
			return nil, unsupported("a tag longer than %d bytes", maxTag)
		}
		b, err = s.r.ReadSlice('>')
		s.scratch = append(s.scratch, b...)
	}
}

func quotesClosed(b []byte) bool {
	if bytes.IndexByte(b, '"') < 0 && bytes.IndexByte(b, '\'') < 0 {
		return true
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

// skipPast skips to just after term, appending the skipped bytes (with
// line ends normalised) to *keep when keep is not nil.
func (s *scanner) skipPast(term string, keep *[]byte) error {
	last := term[len(term)-1]
	var tail [2]byte // the bytes before the current slice, for a split term
	n := 0
	for {
		b, err := s.r.ReadSlice(last)
		if err != nil && err != bufio.ErrBufferFull {
			return unsupported("%v", errEOF)
		}
		if keep != nil {
			if err := appendText(keep, b, false, s.maxText); err != nil {
				return err
			}
		}
		if err == nil {
			var probe []byte
			probe = append(probe, tail[:n]...)
			probe = append(probe, b...)
			if bytes.HasSuffix(probe, []byte(term)) {
				if keep != nil {
					*keep = (*keep)[:len(*keep)-len(term)]
				}
				return nil
			}
		}
		if len(b) >= 2 {
			tail, n = [2]byte{b[len(b)-2], b[len(b)-1]}, 2
		} else if len(b) == 1 {
			tail, n = [2]byte{tail[1], b[0]}, 2
		}
	}
}

// text appends the character data of the current element to dst, up to
// the next tag, which becomes the current token (returned by the next call
// of next). Entities are decoded, CDATA kept, comments dropped, line ends
// normalised, and the result checked to be XML characters in UTF-8.
func (s *scanner) text(dst []byte) ([]byte, error) {
	if s.empty || s.end {
		return dst, nil
	}
	for {
		b, err := s.r.ReadSlice('<')
		if err == bufio.ErrBufferFull {
			s.raw = append(s.raw, b...)
			if len(s.raw) > 10*s.maxText+64 {
				s.raw = s.raw[:0]
				return dst, fmt.Errorf("%w: a cell value longer than %d bytes", ErrTooLarge, s.maxText)
			}
			continue
		}
		if err != nil {
			return dst, unsupported("%v", errEOF)
		}
		seg := b[:len(b)-1]
		if len(s.raw) > 0 {
			s.raw = append(s.raw, seg...)
			seg = s.raw
		}
		err = appendText(&dst, seg, true, s.maxText)
		s.raw = s.raw[:0]
		if err != nil {
			return dst, err
		}
		tok, err := s.markup(&dst, true)
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
		c == '_' || c == ':' || c == '-' || c == '.' || c >= 0x80
}

func localName(q []byte) []byte {
	if i := bytes.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
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
		if bytes.IndexByte(val, '<') >= 0 {
			return unsupported("'<' in an attribute value")
		}
		if bytes.IndexByte(val, '&') >= 0 {
			if _, err := decodeText(nil, val, true); err != nil {
				return err
			}
		}
		b = rest
	}
}

// nextAttr splits the first attribute off b: its local name and raw value.
func nextAttr(b []byte) (name, val, rest []byte, ok bool, err error) {
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
	if j == i {
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
	return localName(name), val, rest, true, nil
}

// skip skips the rest of the current element (after its start tag).
func (s *scanner) skip() error {
	if s.empty || s.end {
		return nil
	}
	d := s.depth()
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.end && s.depth() < d {
			return nil
		}
	}
}
