package email

import (
	"bytes"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// maxFilenameBytes bounds a sanitised file name.
const maxFilenameBytes = 128

// SanitizeFilename turns an untrusted attachment name into a display name:
// the last path element only (either slash), no control or bidi-override
// characters, no characters Windows forbids, no leading dots, at most 128
// bytes with the extension kept. An empty result becomes "attachment".
func SanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r),
			r == '\u200b', r == '\ufeff':
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Join(strings.Fields(b.String()), " ")
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if name == "" {
		return "attachment"
	}
	if len(name) > maxFilenameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 || len(ext) >= maxFilenameBytes/2 {
			ext = ""
		}
		stem := truncateUTF8(strings.TrimSuffix(name, ext), maxFilenameBytes-len(ext))
		name = strings.TrimRight(stem, ". ") + ext
	}
	if isReservedWindowsName(name) {
		name = "_" + name
	}
	return name
}

// isReservedWindowsName: CON, PRN, AUX, NUL, COM1-9, LPT1-9 (with any extension).
func isReservedWindowsName(name string) bool {
	stem := strings.ToUpper(name)
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	return len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) &&
		stem[3] >= '1' && stem[3] <= '9'
}

// spreadsheetExts are the file name extensions of spreadsheets.
var spreadsheetExts = []string{".xlsx", ".xlsm", ".xls", ".csv"}

// spreadsheetType reports whether a media type (lower-case) is a spreadsheet's.
func spreadsheetType(mediaType string) bool {
	switch mediaType {
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.ms-excel.sheet.macroenabled.12",
		"application/vnd.ms-excel",
		"application/x-msexcel", "application/x-excel", "application/excel",
		"text/csv", "application/csv", "text/comma-separated-values", "application/x-csv":
		return true
	}
	return false
}

// Spreadsheet reports whether the attachment is a spreadsheet, by its name
// (.xlsx .xlsm .xls .csv, any case; whatever the content type, so
// application/octet-stream counts) or by a spreadsheet content type.
func (a Attachment) Spreadsheet() bool {
	ext := strings.ToLower(path.Ext(a.Name))
	for _, e := range spreadsheetExts {
		if ext == e {
			return true
		}
	}
	return spreadsheetType(strings.ToLower(a.ContentType))
}

// extendedFilename returns the file name of a part from the RFC 2231
// extended parameters of Content-Disposition (filename*, filename*0*,
// filename*1*, ...) or Content-Type (name*...), decoded from the charset
// the first piece names (RFC 2231 section 4: percent-encoded octets of
// that charset, continued over numbered pieces). "" when there are none,
// or the charset is unknown. Go's mime package, which go-message uses,
// decodes UTF-8 and US-ASCII only: it drops a name in ISO-8859-1 (issue
// 15), and of a continued one its first piece.
func extendedFilename(h message.Header) string {
	for _, f := range []struct{ field, param string }{{"Content-Disposition", "filename"}, {"Content-Type", "name"}} {
		if v := h.Get(f.field); strings.Contains(v, "*") {
			if name, ok := extendedParam(v, f.param); ok {
				return name
			}
		}
	}
	return ""
}

// extendedParam decodes the extended parameter param of a header value.
func extendedParam(value, param string) (string, bool) {
	type piece struct {
		text     string
		extended bool
	}
	pieces := map[int]piece{}
	single, haveSingle := "", false
	for _, p := range splitParams(value) {
		attr, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		attr = strings.ToLower(strings.TrimSpace(attr))
		val = unquote(strings.TrimSpace(val))
		rest, ok := strings.CutPrefix(attr, param+"*")
		if !ok {
			continue
		}
		if rest == "" {
			single, haveSingle = val, true
			continue
		}
		ext := strings.HasSuffix(rest, "*")
		n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
		if err != nil || n < 0 || n > 100 {
			continue
		}
		pieces[n] = piece{val, ext}
	}
	var raw []byte
	cs := ""
	switch {
	case haveSingle:
		cs, raw = charsetPrefix(single)
		raw = percentDecode(raw)
	case len(pieces) > 0:
		for n := 0; ; n++ {
			p, ok := pieces[n]
			if !ok {
				break
			}
			text := []byte(p.text)
			if p.extended {
				if n == 0 {
					cs, text = charsetPrefix(p.text)
				}
				text = percentDecode(text)
			}
			raw = append(raw, text...)
		}
	default:
		return "", false
	}
	if len(raw) == 0 {
		return "", false
	}
	cs = strings.ToLower(strings.TrimSpace(cs))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" {
		return toUTF8(string(raw)), true
	}
	r, err := charset.Reader(cs, bytes.NewReader(raw))
	if err != nil {
		return "", false
	}
	out, err := io.ReadAll(io.LimitReader(r, 4<<10))
	if err != nil {
		return "", false
	}
	return string(out), true
}

// charsetPrefix splits charset'language'text (RFC 2231 section 4).
func charsetPrefix(v string) (string, []byte) {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 {
		return "", []byte(v)
	}
	return parts[0], []byte(parts[2])
}

// percentDecode decodes %XX escapes, leaving a malformed one as it is.
func percentDecode(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// splitParams splits a header value at the semicolons outside quotes,
// leaving out the value before the first (the media type or disposition).
func splitParams(v string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	out = append(out, v[start:])
	return out[1:]
}

// unquote removes the quotes of a quoted-string and its backslash escapes.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
