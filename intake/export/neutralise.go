package export

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean drops the control characters of s (C0, DEL and C1; a tab and a
// line feed stay, as text may hold them) and replaces invalid UTF-8.
// Spreadsheet programs skip most control characters when they read a
// file, so one left before "=" would hide a formula from Neutralise; in
// XLSX they are not even allowed.
func Clean(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\t' && r != '\n') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) && r != '\t' && r != '\n' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Neutralise returns s made safe in a CSV file, whatever program opens it
// and whichever separator it picks ("CSV injection", OWASP):
//   - control characters are dropped (Clean): readers skip them;
//   - when the first character that is not white space (nor a literal
//     "_xHHHH_" escape, which XML-based readers decode) is one a
//     spreadsheet takes for the start of a formula (= + - @, or their
//     full-width forms), a single quote is put first, so the cell is text;
//   - the same holds after each semicolon, tab and line feed inside s: a
//     reader that splits on ";" or tab honours the quotes of a field only
//     when the field starts with one, so inside our comma-separated, quoted
//     field the text after such a character starts a cell (or, after a
//     line feed, a row) of its own, and a single quote is put there too
//     ("x;=1+9" becomes "x;'=1+9").
//
// Fields holding a comma, semicolon, tab, quote or line feed are also
// always quoted (csvSink). Every cell goes through it, provenance
// included: file and sheet names come from the sender too.
func Neutralise(s string) string {
	s = Clean(s)
	var b strings.Builder
	if formulaStart(s) {
		b.Grow(len(s) + 2)
		b.WriteByte('\'')
	}
	done := 0 // s[:done] is in b (when b is used)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ';', '\t', '\n':
		default:
			continue
		}
		if !formulaStart(strings.TrimLeft(s[i+1:], `"'`)) || strings.HasPrefix(s[i+1:], "'") {
			continue
		}
		b.WriteString(s[done : i+1])
		b.WriteByte('\'')
		done = i + 1
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// formulaStart reports whether s, after leading white space and _xHHHH_
// escapes, starts with a formula trigger.
func formulaStart(s string) bool {
	for s != "" {
		if n := escapeLen(s); n > 0 {
			s = s[n:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		if unicode.IsSpace(r) {
			s = s[size:]
			continue
		}
		switch r {
		case '=', '+', '-', '@', '＝', '＋', '－', '＠':
			return true
		}
		return false
	}
	return false
}

// escapeLen is the length of an "_xHHHH_" escape (ECMA-376 ST_Xstring) at
// the start of s, or 0.
func escapeLen(s string) int {
	if len(s) < 7 || s[0] != '_' || (s[1] != 'x' && s[1] != 'X') || s[6] != '_' {
		return 0
	}
	for _, c := range []byte(s[2:6]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0
		}
	}
	return 7
}
