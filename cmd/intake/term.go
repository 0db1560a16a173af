package main

import (
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// termWriter escapes what a terminal would act on in text it passes on:
// control characters other than tab and line feed (ESC starts the
// sequences that move the cursor, retitle the window or rewrite what was
// printed), C1 controls, and the Unicode controls that reorder or hide
// text (bidirectional overrides, zero-width characters). Each is written
// visibly, as \uNNNN (which keeps a JSON log line valid JSON), and
// invalid UTF-8 bytes as \xNN. Mail
// headers, bounce diagnostics, file names and cell text all come from
// outside, so every staff command's output goes through it.
type termWriter struct {
	w     io.Writer
	carry []byte // an incomplete UTF-8 sequence at the end of the last Write
}

func newTermWriter(w io.Writer) *termWriter { return &termWriter{w: w} }

func (t *termWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(t.carry) > 0 {
		p = append(t.carry, p...)
		t.carry = nil
	}
	out := make([]byte, 0, len(p)+16)
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(p) && len(p) < utf8.UTFMax {
				t.carry = append([]byte(nil), p...) // wait for the rest
				break
			}
			out = fmt.Appendf(out, `\x%02x`, p[0])
			p = p[1:]
			continue
		}
		if hidden(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, p[:size]...)
		}
		p = p[size:]
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// hidden: a character a terminal acts on or that hides or reorders text.
func hidden(r rune) bool {
	if r == '\t' || r == '\n' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != '\u00ad'
}
