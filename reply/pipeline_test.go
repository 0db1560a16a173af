package reply_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"intake/parser"
	"intake/parser/parsertest"
	"intake/reply"
	"intake/workbook"
)

func builtinCall(t *testing.T, id string) *parser.Definition {
	t.Helper()
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no built-in call %q", id)
	return nil
}

// A deficient SES workbook checked by the real parser: the notice lists
// every finding and the annotated copy marks every finding's cell.
func TestDeficiency_fromParser(t *testing.T) {
	def := builtinCall(t, "ses-designation-review")
	pos := parsertest.GoodPositions()
	pos[1].CurrentDesignation = "Career Reservd" // not an allowed value
	pos[2].RedesignationDate = "sometime"        // not a date
	pos[3].PositionNumber = ""                   // required
	data := parsertest.SESWorkbook(t, pos, parsertest.GoodRetentions())
	in := []parser.Input{{Name: "DHS SES review.xlsx", Data: data}}
	sub := parser.Check(def, in, parser.Context{Agency: "HS", Now: now})
	if !sub.Deficient() {
		t.Fatalf("the parser accepted a deficient workbook: %+v", sub.Findings)
	}
	if len(sub.Findings) < 3 {
		t.Fatalf("the parser found %d problems, want at least the 3 made", len(sub.Findings))
	}
	copyOf, err := workbook.Annotate(context.Background(), in[0], sub.Findings, workbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := newBuilder(t).Deficiency(reply.Outcome{
		Call: def, ReplyID: "def.pipeline@intake.opm.gov", Receipt: "SES-2025-000007",
		Agency: "HS", AgencyName: "Department of Homeland Security",
		Original: original(), Submission: sub, Annotated: []reply.Annotated{{File: in[0].Name, Data: copyOf}},
		Due: time.Date(2025, 3, 24, 23, 59, 59, 0, ny), Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m.Raw)
	text := p.text(t, "text/plain")
	for _, x := range sub.Findings {
		if !strings.Contains(text, x.Message) {
			t.Errorf("finding %s at %s missing from the notice", x.Code, x.Cell())
		}
	}
	var att *part
	for i := range p.Parts {
		if p.Parts[i].Filename == "DHS SES review - issues.xlsx" {
			att = &p.Parts[i]
		}
	}
	if att == nil {
		t.Fatalf("no annotated copy in %s", p.Structure)
	}
	f := openXLSX(t, att.Body)
	commented := map[string]bool{}
	for _, s := range f.GetSheetList() {
		cs, _ := f.GetComments(s)
		for _, c := range cs {
			commented[s+"!"+c.Cell] = true
		}
	}
	for _, x := range sub.Findings {
		if x.Row > 0 && !commented[x.Sheet+"!"+markedCell(x)] {
			t.Errorf("no comment for finding %s at %s!%s", x.Code, x.Sheet, x.Cell())
		}
	}
	rows, _ := f.GetRows("Issues")
	if len(rows)-1 != len(sub.Findings) {
		t.Errorf("Issues lists %d findings, the parser gave %d", len(rows)-1, len(sub.Findings))
	}
}

// markedCell is where Annotate marks a finding: its cell, or the first
// cell of its row for a row-level finding.
func markedCell(x parser.Finding) string {
	if c := x.Cell(); c != "" {
		return c
	}
	return "A" + strconv.Itoa(x.Row)
}
