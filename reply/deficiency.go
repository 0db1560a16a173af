package reply

import (
	"path"
	"strconv"
	"strings"

	"intake/parser"
)

// Deficiency builds the notice that a submission was NOT accepted: every
// finding, the file-level ones (wrong format, no spreadsheet) first with
// what to send instead, then the rest grouped by file and sheet with cell,
// column header, message and fix. Each .xlsx the agency sent that has a
// finding and can be opened is attached back annotated (see Annotate);
// one that cannot be opened is only listed. For a call that holds PII no
// workbook goes back: the notice says so and names the cells. A Receipt of "" means the mail
// carried no spreadsheet: the notice says so and names no receipt.
func (b *Builder) Deficiency(out Outcome) (*Mail, error) {
	fs := out.Submission.Findings
	v := deficiencyView{
		common:        b.common(out),
		Received:      dateTime(received(out)),
		Due:           day(out.Due),
		Late:          out.Late,
		NoSpreadsheet: out.Receipt == "",
	}
	var rest []parser.Finding
	for _, f := range group(out.Submission, fs) {
		for _, fv := range f.Findings {
			v.FileProblems = append(v.FileProblems, findingWithFile{File: f.Name, findingView: fv})
		}
	}
	for _, f := range fs {
		if f.Severity == parser.SeverityWarning {
			v.NWarnings++
		} else {
			v.NErrors++
		}
		if !fileLevel(f) {
			rest = append(rest, f)
		}
	}
	v.Groups = group(out.Submission, rest)

	var atts []attachment
	used := map[string]bool{}
	for _, in := range out.Files {
		mine := findingsFor(fs, in.Name)
		if len(mine) == 0 || !isXLSXName(in.Name) {
			continue
		}
		if out.Call != nil && out.Call.PII {
			// Personal data is not sent by email again: the notice
			// names sheet, row and column, the agency has its file.
			v.Withheld = true
			continue
		}
		data, err := Annotate(in, mine)
		if err != nil {
			continue // not a workbook we can open: the text lists its findings
		}
		name := AnnotatedName(in.Name)
		for i := 2; used[name]; i++ {
			name = strings.TrimSuffix(AnnotatedName(in.Name), ".xlsx") + " (" + strconv.Itoa(i) + ").xlsx"
		}
		used[name] = true
		atts = append(atts, attachment{Name: name, Data: data})
		v.Annotated = append(v.Annotated, name)
	}
	text, html, err := b.render(KindDeficiency, v)
	if err != nil {
		return nil, err
	}
	return b.compose(b.replyEnvelope(KindDeficiency, out), text, html, atts)
}

// findingsFor are the findings about the named file that point inside it.
func findingsFor(fs []parser.Finding, name string) []parser.Finding {
	var out []parser.Finding
	for _, f := range fs {
		if f.File == name && !fileLevel(f) {
			out = append(out, f)
		}
	}
	return out
}

func isXLSXName(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return ext == ".xlsx"
}

// AnnotatedName is the file name of the annotated copy of a workbook:
// "<name without extension> - issues.xlsx".
func AnnotatedName(name string) string {
	base := strings.TrimSuffix(name, path.Ext(name))
	if base == "" {
		base = "workbook"
	}
	return base + " - issues.xlsx"
}
