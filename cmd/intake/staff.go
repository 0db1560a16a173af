package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"intake/parser"
)

// maxWidth is the width every line of a staff command fits in, so that a
// terminal does not wrap it; `intake show` has the full text.
const maxWidth = 100

// clock is the time the staff commands judge deadlines by: the demo's
// clock in the demo, else the system's.
func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// parseNoArgs parses flags and refuses positional arguments: a word the
// command does not take is a mistake, not something to ignore.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "intake %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// callsNamed returns every data call for id "", else the one named; an
// unknown id is an error.
func (a *app) callsNamed(id string) ([]*parser.Definition, error) {
	if id == "" {
		return a.calls.All(), nil
	}
	def := a.calls.Get(id)
	if def == nil {
		return nil, unknownCall(a.calls, id)
	}
	return []*parser.Definition{def}, nil
}

func unknownCall(calls *parser.Registry, id string) error {
	var ids []string
	for _, d := range calls.All() {
		ids = append(ids, d.ID)
	}
	return fmt.Errorf("no data call %q; the calls are: %s", id, strings.Join(ids, ", "))
}

// agencyCodes returns the codes of the agencies query names
// (parser.AgencyMatches): among the configured agencies, the reference
// data's and those the store holds submissions of. None is an error.
func (a *app) agencyCodes(ctx context.Context, query string) ([]string, error) {
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("--agency: empty")
	}
	var codes []string
	add := func(code string) {
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	for _, ag := range a.agencies {
		var domains []string
		for _, s := range ag.Senders {
			if i := strings.LastIndexByte(s, '@'); i >= 0 {
				domains = append(domains, s[i:])
			}
		}
		if parser.AgencyMatches(query, ag.Code, ag.Name, domains) {
			add(ag.Code)
		}
	}
	if a.ref != nil {
		for code, name := range a.ref.Agencies {
			if parser.AgencyMatches(query, code, name, nil) {
				add(code)
			}
		}
	}
	stored, err := a.store.AgencyCodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, code := range stored {
		if parser.AgencyMatches(query, code, "", nil) {
			add(code)
		}
	}
	if len(codes) == 0 {
		return nil, fmt.Errorf("no agency matches %q (give a part of an agency's code, name or mail domain)", query)
	}
	slices.Sort(codes)
	return codes, nil
}

// fit shortens s to at most n characters (on one line), ending it with
// "…" when cut.
func fit(s string, n int) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// table prints rows in aligned columns, each line within maxWidth: the
// flex column (the sender, a note) is cut to what the others leave, at
// least minFlex characters. Cells are on one line.
type table struct {
	indent string
	head   []string
	rows   [][]string
	flex   int // index of the column cut to fit; -1: none
}

const minFlex = 12

func (t *table) add(cells ...string) {
	for i := range cells {
		cells[i] = oneLine(cells[i])
	}
	t.rows = append(t.rows, cells)
}

func (t *table) print(w io.Writer) {
	widths := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	if t.flex >= 0 {
		other := utf8.RuneCountInString(t.indent)
		for i, wd := range widths {
			if i != t.flex {
				other += wd + 2
			}
		}
		widths[t.flex] = max(min(widths[t.flex], maxWidth-other), minFlex)
	}
	for _, r := range append([][]string{t.head}, t.rows...) {
		var b strings.Builder
		b.WriteString(t.indent)
		for i, c := range r {
			c = fit(c, widths[i])
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// wrap writes text in lines of at most maxWidth characters, each starting
// with indent; a word longer than a line is cut, so nothing is lost and
// no line is longer.
func wrap(w io.Writer, indent, text string) {
	width := maxWidth - utf8.RuneCountInString(indent)
	line := ""
	flush := func() {
		if line != "" {
			fmt.Fprintln(w, indent+line)
			line = ""
		}
	}
	for _, word := range strings.Fields(text) {
		for utf8.RuneCountInString(word) > width {
			flush()
			r := []rune(word)
			fmt.Fprintln(w, indent+string(r[:width]))
			word = string(r[width:])
		}
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			flush()
			line = word
		}
	}
	flush()
}
