package export

// Neutralise returns s made safe to open in a spreadsheet: text that starts
// with = + - @ (or a tab or carriage return, which some spreadsheet programs
// skip before reading a formula) gets a leading single quote, so it is shown
// as text and never evaluated as a formula ("CSV injection", OWASP). Every
// cell of both formats goes through it, provenance included: file and sheet
// names come from the sender too.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
