package email

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
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
