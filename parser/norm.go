package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// normHeader folds a header, sheet name or alias for loose matching:
// lower case, letters and digits only, so that "Position #", "position
// number" and "POSITION\nNUMBER" meet. "#" reads as "number", "&" as "and".
func normHeader(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			switch {
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
				b.WriteRune(r)
			case 'A' <= r && r <= 'Z':
				b.WriteRune(r + 'a' - 'A')
			case r == '#':
				b.WriteString("number")
			case r == '&':
				b.WriteString("and")
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// normValue folds an enum value: lower case, letters and digits only
// ("Career-Reserved", "career reserved " and "CAREER RESERVED" meet).
func normValue(s string) string {
	var buf [64]byte
	if b, ok := appendNormASCII(buf[:0], s); ok {
		return string(b)
	}
	return normHeader(s)
}

// lookupNorm looks a value up in a map keyed by normValue, without
// allocating for short ASCII values.
func lookupNorm(m map[string]string, s string) (string, bool) {
	var buf [64]byte
	b, ok := appendNormASCII(buf[:0], s)
	if !ok {
		v, found := m[normHeader(s)]
		return v, found
	}
	v, found := m[string(b)] // the compiler does not allocate for this conversion
	return v, found
}

// appendNormASCII appends s folded as normValue folds it: the fast path
// for ASCII. It reports false, having appended part of s, when s holds a
// non-ASCII byte (normHeader then folds it).
func appendNormASCII(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b = append(b, c)
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= utf8.RuneSelf:
			return b, false
		}
	}
	return b, true
}

// normSubject folds a subject or keyword into lower-case words separated by
// single spaces.
func normSubject(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// trimCell trims spaces, including the no-break spaces Excel users paste.
func trimCell(s string) string {
	if s == "" || isPlainEnd(s[0]) && isPlainEnd(s[len(s)-1]) {
		return s // the usual cell: nothing to trim, decided from two bytes
	}
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u00a0' || r == '\u200b' || r == '\ufeff' })
}

// isPlainEnd reports an ASCII byte that is not white space: a value that
// starts and ends with one needs no trimming.
func isPlainEnd(c byte) bool {
	return c > ' ' && c < utf8.RuneSelf
}
