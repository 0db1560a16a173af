package parser

import (
	"strings"
	"unicode"
)

// AgencyMatches reports whether query names an agency, ignoring case: a
// part of its code, of its name or of one of its mail domains ("dhs"
// matches "@dhs.gov"), or the initials of its name without "of", "the",
// "and", "for" ("DHS" is the Department of Homeland Security). An empty
// query matches every agency. Staff filter lists with it, so "Homeland",
// "hs" and "DHS" find the same agency.
func AgencyMatches(query, code, name string, domains []string) bool {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return true
	}
	if strings.Contains(strings.ToLower(code), q) || strings.Contains(strings.ToLower(name), q) {
		return true
	}
	for _, d := range domains {
		if strings.Contains(strings.ToLower(d), q) {
			return true
		}
	}
	return initials(name) == q
}

// initials are the lower-case first letters of a name's words, leaving
// out the small words of agency names: "Department of the Treasury" ->
// "dt".
func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		switch strings.ToLower(w) {
		case "of", "the", "and", "for", "on", "in":
			continue
		}
		b.WriteRune(unicode.ToLower([]rune(w)[0]))
	}
	return b.String()
}
