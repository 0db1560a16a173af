package reply

import (
	"path"
	"strconv"
	"strings"

	"intake/parser"
)

// Deficiency builds the notice that a submission was NOT accepted: the
// file-level findings (wrong format, no spreadsheet) first with what to
// send instead, then the rest by file and sheet with cell, column header,
// message and fix. Identical problems (same file, sheet, column and
// problem) are one line naming their rows ("Rows 2–100,001"), and at most
// maxLines such lines are listed: the notice says how many more there are
// and where they are (the Issues sheet of the attached copy). The
// annotated copies in out.Annotated are attached; for a call that holds
// PII no workbook goes back: the notice says so and names the cells. A
// Receipt of "" means the mail carried no spreadsheet: the notice says so
// and names no receipt.
func (b *Builder) Deficiency(out Outcome) (*Mail, error) {
	fs := out.Submission.Findings
	v := deficiencyView{
		common:        b.common(out),
		Received:      dateTime(received(out)),
		Due:           day(out.Due),
		Late:          out.Late,
		NoSpreadsheet: out.Receipt == "",
	}
	var whole, rest []parser.Finding
	for _, f := range fs {
		if f.Severity == parser.SeverityWarning {
			v.NWarnings++
		} else {
			v.NErrors++
		}
		if fileLevel(f) {
			whole = append(whole, f)
		} else {
			rest = append(rest, f)
		}
	}
	files, _ := group(out.Submission, whole, 0)
	for _, f := range files {
		for _, fv := range f.Findings {
			v.FileProblems = append(v.FileProblems, findingWithFile{File: f.Name, findingView: fv})
		}
	}
	var atts []attachment
	if out.Call != nil && out.Call.PII {
		// Personal data is not sent by email again: the notice names
		// sheet, row and column, the agency has its file.
		for _, f := range out.Submission.Files {
			if isXLSXName(f.Name) && len(findingsFor(fs, f.Name)) > 0 {
				v.Withheld = true
			}
		}
	} else {
		used := map[string]bool{}
		for _, a := range out.Annotated {
			name := AnnotatedName(a.File)
			for i := 2; used[name]; i++ {
				name = strings.TrimSuffix(AnnotatedName(a.File), ".xlsx") + " (" + strconv.Itoa(i) + ").xlsx"
			}
			used[name] = true
			atts = append(atts, attachment{Name: name, Data: a.Data})
			v.Annotated = append(v.Annotated, name)
		}
	}
	if len(out.Template) > 0 {
		// Blank: no agency data in it, so it goes with a PII call too.
		v.Template = TemplateName(out.Call)
		atts = append(atts, attachment{Name: v.Template, Data: out.Template})
	}
	v.Groups, v.More = group(out.Submission, rest, maxLines)
	v.MoreWhere = moreWhere(v.Annotated, v.Withheld)
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

// TemplateName is the file name of a call's blank template as attached:
// "<call id> - template.xlsx".
func TemplateName(def *parser.Definition) string {
	if def == nil || def.ID == "" {
		return "template.xlsx"
	}
	return def.ID + " - template.xlsx"
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
