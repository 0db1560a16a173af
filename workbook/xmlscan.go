package workbook

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The parts Annotate rewrites (worksheets, styles, the workbook, content
// types, relationships) are streamed through a byte-level scanner: text is
// copied as it is, and each piece of markup is handed over whole so the
// caller can copy it, change an attribute, or insert elements beside it.
// encoding/xml would re-encode every token (and rename namespace
// prefixes), and would cost ten times the decompression on a large sheet.

// maxTag bounds one piece of markup (a start tag with its attributes, a
// comment, a CDATA section): real ones are a few hundred bytes.
const maxTag = 1 << 20

// token kinds.
const (
	tokText  = iota // character data, copied as is
	tokStart        // <name ...>
	tokEnd          // </name>
	tokEmpty        // <name .../>
	tokOther        // <?...?>, <!--...-->, <![CDATA[...]]>
)

var errDoctype = errors.New("a part declares a DOCTYPE")

type scanner struct {
	r      *bufio.Reader
	buf    []byte // the current markup token
	inTag  bool   // the '<' of the next token was read already
	kind   int
	raw    []byte // the current token's bytes (valid until the next call)
	name   []byte // local name of an element token
	prefix []byte // namespace prefix of an element token ("" for none)
}

func newScanner(r io.Reader) *scanner {
	return &scanner{r: bufio.NewReaderSize(r, 64<<10)}
}

// next reads the next token; io.EOF at the end of the part.
func (s *scanner) next() error {
	if !s.inTag {
		b, err := s.r.ReadSlice('<')
		switch {
		case err == nil:
			s.inTag = true
			b = b[:len(b)-1]
			if len(b) == 0 {
				return s.next()
			}
		case errors.Is(err, bufio.ErrBufferFull):
		case err == io.EOF && len(b) > 0:
		default:
			return err
		}
		s.kind, s.raw = tokText, b
		return nil
	}
	s.inTag = false
	s.buf = append(s.buf[:0], '<')
	for {
		b, err := s.r.ReadSlice('>')
		if len(s.buf)+len(b) > maxTag {
			return fmt.Errorf("markup longer than %d bytes", maxTag)
		}
		s.buf = append(s.buf, b...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if complete(s.buf) {
			break
		}
	}
	s.raw = s.buf
	t := s.buf[1:]
	switch {
	case len(t) > 0 && (t[0] == '?' || t[0] == '!'):
		if bytes.HasPrefix(t, []byte("!DOCTYPE")) {
			return errDoctype
		}
		s.kind, s.name, s.prefix = tokOther, nil, nil
		return nil
	case len(t) > 0 && t[0] == '/':
		s.kind = tokEnd
		t = t[1:]
	case bytes.HasSuffix(t, []byte("/>")):
		s.kind = tokEmpty
	default:
		s.kind = tokStart
	}
	end := bytes.IndexAny(t, " \t\r\n/>")
	if end < 0 {
		end = len(t)
	}
	s.name, s.prefix = t[:end], nil
	if i := bytes.IndexByte(s.name, ':'); i >= 0 {
		s.prefix, s.name = s.name[:i], s.name[i+1:]
	}
	return nil
}

// complete reports whether buf (from '<' to a '>') is a whole piece of
// markup: a '>' inside a quoted attribute value, a comment or a CDATA
// section does not end it.
func complete(buf []byte) bool {
	t := buf[1:]
	switch {
	case bytes.HasPrefix(t, []byte("!--")):
		return len(t) >= 5 && bytes.HasSuffix(t, []byte("-->"))
	case bytes.HasPrefix(t, []byte("![CDATA[")):
		return bytes.HasSuffix(t, []byte("]]>"))
	case bytes.HasPrefix(t, []byte("?")):
		return bytes.HasSuffix(t, []byte("?>"))
	}
	var q byte
	for _, c := range t {
		switch {
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		}
	}
	return q == 0
}

// attr returns the raw (still escaped) value of an attribute of a start
// or empty tag, matched by local name with any prefix, and whether it is
// there.
func attr(tag []byte, local string) ([]byte, bool) {
	i, j, _ := attrSpan(tag, local)
	if i < 0 {
		return nil, false
	}
	return tag[i:j], true
}

// attrSpan finds an attribute: the span of its value, and the start of
// the whole attribute (its leading space included); -1s when it is absent.
func attrSpan(tag []byte, local string) (vi, vj, whole int) {
	p := bytes.IndexAny(tag, " \t\r\n")
	if p < 0 {
		return -1, -1, -1
	}
	for p < len(tag) {
		start := p
		for p < len(tag) && isSpace(tag[p]) {
			p++
		}
		n := p
		for p < len(tag) && tag[p] != '=' && !isSpace(tag[p]) && tag[p] != '>' && tag[p] != '/' {
			p++
		}
		name := tag[n:p]
		for p < len(tag) && isSpace(tag[p]) {
			p++
		}
		if p >= len(tag) || tag[p] != '=' {
			return -1, -1, -1
		}
		p++
		for p < len(tag) && isSpace(tag[p]) {
			p++
		}
		if p >= len(tag) || (tag[p] != '"' && tag[p] != '\'') {
			return -1, -1, -1
		}
		q := tag[p]
		e := bytes.IndexByte(tag[p+1:], q)
		if e < 0 {
			return -1, -1, -1
		}
		vi, vj = p+1, p+1+e
		p = vj + 1
		if k := bytes.IndexByte(name, ':'); k >= 0 {
			if string(name[:k]) == "xmlns" {
				continue
			}
			name = name[k+1:]
		}
		if string(name) == local {
			return vi, vj, start
		}
	}
	return -1, -1, -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// setAttr returns tag with the attribute set to value (already escaped):
// replaced where it is, else added before the tag's end.
func setAttr(tag []byte, local, value string) []byte {
	out := make([]byte, 0, len(tag)+len(local)+len(value)+4)
	if i, j, _ := attrSpan(tag, local); i >= 0 {
		out = append(out, tag[:i]...)
		out = append(out, value...)
		return append(out, tag[j:]...)
	}
	end := len(tag) - 1
	if bytes.HasSuffix(tag, []byte("/>")) {
		end--
	}
	out = append(out, tag[:end]...)
	out = append(out, ' ')
	out = append(out, local...)
	out = append(out, `="`...)
	out = append(out, value...)
	out = append(out, '"')
	return append(out, tag[end:]...)
}

// dropAttr returns tag without the attribute.
func dropAttr(tag []byte, local string) []byte {
	_, j, start := attrSpan(tag, local)
	if start < 0 {
		return tag
	}
	return append(append([]byte(nil), tag[:start]...), tag[j+1:]...)
}

// opened turns an empty tag <x .../> into a start tag <x ...>.
func opened(tag []byte) []byte {
	t := bytes.TrimSuffix(tag, []byte("/>"))
	t = bytes.TrimRight(t, " \t\r\n")
	return append(append([]byte(nil), t...), '>')
}

// cellRef parses "B12" into column 2, row 12; zeros when it is not one.
func cellRef(b []byte) (col, row int) {
	i := 0
	for i < len(b) && i < 4 {
		c := b[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		col = col*26 + int(c-'a'+1)
		i++
	}
	if i == 0 || i == len(b) {
		return 0, 0
	}
	n, err := strconv.Atoi(string(b[i:]))
	if err != nil || n <= 0 {
		return 0, 0
	}
	return col, n
}

// qname is an element name with the prefix its neighbours use.
func qname(prefix []byte, local string) string {
	if len(prefix) == 0 {
		return local
	}
	return string(prefix) + ":" + local
}
