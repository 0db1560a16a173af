package parser_test

import (
	"strings"
	"testing"

	"intake/parser"
	"intake/parser/parsertest"
)

func mustRegistry(tb testing.TB) *parser.Registry {
	tb.Helper()
	r, err := parser.BuiltinRegistry()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func ses(tb testing.TB) *parser.Definition {
	tb.Helper()
	d := mustRegistry(tb).Get("ses-designation-review")
	if d == nil {
		tb.Fatal("no ses-designation-review built-in")
	}
	return d
}

func codes(fs []parser.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code+"@"+f.Sheet+"!"+f.Cell())
	}
	return out
}

func TestCheck_goodSES(t *testing.T) {
	def := ses(t)
	data := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	sub := parser.Check(def, []parser.Input{{Name: "ses.xlsx", Data: data}}, parser.Context{Agency: "HS"})
	if len(sub.Findings) != 0 {
		for _, f := range sub.Findings {
			t.Errorf("finding: %+v", f)
		}
	}
	if got := sub.Counts(); got["position-report"] != 5 || got["retention-request"] != 1 {
		t.Errorf("counts = %v", got)
	}
	if sub.Agency != "HS" || sub.Call != def.ID {
		t.Errorf("agency %q call %q", sub.Agency, sub.Call)
	}
	r := sub.Records[1]
	if r.Fields["redesignation_date"] != "2024-12-02" || r.Fields["noncareer_majority"] != "N" || r.Row != 3 || r.Sheet != parsertest.PositionSheet {
		t.Errorf("record 1 = %+v", r)
	}
	if len(sub.Files) != 1 || len(sub.Files[0].SHA256) != 64 || sub.Files[0].Size != int64(len(data)) {
		t.Errorf("files = %+v", sub.Files)
	}
	if got := sub.Files[0].Sheets; len(got) != 2 || got[0].Kind != "position-report" || got[0].Rows != 5 || got[1].Kind != "retention-request" {
		t.Errorf("sheets = %+v", got)
	}
	if sub.Deficient() {
		t.Error("good submission deficient")
	}
	_ = strings.Join
}

func check(tb testing.TB, def *parser.Definition, data []byte, c parser.Context) parser.Submission {
	tb.Helper()
	return parser.Check(def, []parser.Input{{Name: "book.xlsx", Data: data}}, c)
}

func hasCode(fs []parser.Finding, code, cell string) bool {
	for _, f := range fs {
		if f.Code == code && (cell == "" || f.Cell() == cell) {
			return true
		}
	}
	return false
}

func TestCheck_deficientSES(t *testing.T) {
	def := ses(t)
	for _, tc := range []struct {
		name string
		edit func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention)
		code string // expected finding code
		cell string // expected cell, "" for any
	}{
		{"noncareer in career reserved", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[1].IncumbentType = "Noncareer"
			return p, r
		}, "career-reserved-incumbent", "K3"},
		{"limited term spelled loosely", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[1].IncumbentType = "limited-term "
			return p, r
		}, "career-reserved-incumbent", "K3"},
		{"missing redesignation date", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[3].RedesignationDate = ""
			return p, r
		}, "redesignation-date-required", "I5"},
		{"reverted but career reserved", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[3].ReversionStatus = "Reverted to General"
			return p, r
		}, "reverted-means-general", "H5"},
		{"redesignated without action", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[3].ReversionStatus = "N/A"
			return p, r
		}, "redesignated-needs-action", "J5"},
		{"bad enum", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[0].CurrentDesignation = "Sometimes"
			return p, r
		}, "not-allowed", "H2"},
		{"bad yes/no", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[0].NoncareerMajority = "maybe"
			return p, r
		}, "not-yes-no", "G2"},
		{"bad date text", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[1].RedesignationDate = "last winter"
			return p, r
		}, "bad-date", "I3"},
		{"duplicate position", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[4].PositionNumber = "hs-0001"
			return p, r
		}, "duplicate", "C6"},
		{"required blank", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[2].Title = "  "
			return p, r
		}, "required", "D4"},
		{"agency pattern", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			p[2].AgencyCode = "Homeland"
			return p, r
		}, "bad-format", "A4"},
		{"retention of unknown position", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			r[0].PositionNumber = "HS-9999"
			return p, r
		}, "retention-names-career-reserved-position", "A2"},
		{"retention of general position", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			r[0].PositionNumber = "HS-0005"
			return p, r
		}, "retention-names-career-reserved-position", "A2"},
		{"placeholder justification", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			r[0].Justification = "Same as above."
			return p, r
		}, "placeholder", "D2"},
		{"lorem ipsum justification", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			r[0].Justification = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."
			return p, r
		}, "placeholder", "D2"},
		{"short justification", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			r[0].Justification = "Needed for impartiality."
			return p, r
		}, "not-substantive", "D2"},
		{"bad ground", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			r[0].Ground = "Mission needs"
			return p, r
		}, "not-allowed", "C2"},
		{"empty position sheet", func(p []parsertest.Position, r []parsertest.Retention) ([]parsertest.Position, []parsertest.Retention) {
			return []parsertest.Position{}, r
		}, "no-rows", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r := tc.edit(parsertest.GoodPositions(), parsertest.GoodRetentions())
			sub := check(t, def, parsertest.SESWorkbook(t, p, r), parser.Context{Agency: "HS"})
			if !hasCode(sub.Findings, tc.code, tc.cell) {
				t.Fatalf("want %s at %q, got %v", tc.code, tc.cell, codes(sub.Findings))
			}
			if !sub.Deficient() {
				t.Error("not deficient")
			}
			for _, f := range sub.Findings {
				if f.Message == "" || f.Fix == "" || f.Severity == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
		})
	}
}

func TestCheck_allFindingsSorted(t *testing.T) {
	p := parsertest.GoodPositions()
	p[4].CurrentDesignation = "??"
	p[0].NoncareerMajority = "?"
	p[2].IncumbentType = "??"
	r := parsertest.GoodRetentions()
	r[0].Ground = "?"
	sub := check(t, ses(t), parsertest.SESWorkbook(t, p, r), parser.Context{})
	got := codes(sub.Findings)
	want := []string{"not-yes-no@Position Report!G2", "not-allowed@Position Report!K4", "not-allowed@Position Report!H6", "not-allowed@Retention Requests!C2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("findings\n got %v\nwant %v", got, want)
	}
}

func TestCheck_priorPositions(t *testing.T) {
	def := ses(t)
	first := check(t, def, parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil), parser.Context{Agency: "HS"})
	if first.Deficient() {
		t.Fatalf("position report alone deficient: %v", codes(first.Findings))
	}
	retOnly := parsertest.SESWorkbook(t, nil, parsertest.GoodRetentions())
	// Without the stored report the request names nothing.
	if sub := check(t, def, retOnly, parser.Context{Agency: "HS"}); !hasCode(sub.Findings, "retention-names-career-reserved-position", "A2") {
		t.Fatalf("no lookup finding without prior: %v", codes(sub.Findings))
	}
	prior := map[string][]parser.Record{"position-report": first.Records}
	if sub := check(t, def, retOnly, parser.Context{Agency: "HS", Prior: parser.PriorRecords(prior)}); len(sub.Findings) != 0 {
		t.Fatalf("retention request against stored report: %v", codes(sub.Findings))
	}
	// A position this submission reports supersedes the stored one.
	p := parsertest.GoodPositions()
	p[1].CurrentDesignation, p[1].ReversionStatus = "General", "Reverted to General"
	sub := check(t, def, parsertest.SESWorkbook(t, p, parsertest.GoodRetentions()), parser.Context{Agency: "HS", Prior: parser.PriorRecords(prior)})
	if !hasCode(sub.Findings, "retention-names-career-reserved-position", "A2") {
		t.Fatalf("stored record overrode the new one: %v", codes(sub.Findings))
	}
}

func TestCheck_agency(t *testing.T) {
	def := ses(t)
	p := parsertest.GoodPositions()
	p[2].AgencyCode = "TR"
	sub := check(t, def, parsertest.SESWorkbook(t, p, nil), parser.Context{Agency: "HS"})
	if !hasCode(sub.Findings, "agency-mismatch", "A4") || sub.Agency != "HS" {
		t.Errorf("agency %q findings %v", sub.Agency, codes(sub.Findings))
	}
	sub = check(t, def, parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil), parser.Context{})
	if sub.Agency != "HS" || sub.Deficient() {
		t.Errorf("agency from rows: %q %v", sub.Agency, codes(sub.Findings))
	}
	sub = check(t, def, parsertest.SESWorkbook(t, p, nil), parser.Context{})
	if !hasCode(sub.Findings, "several-agencies", "") {
		t.Errorf("several agencies not reported: %v", codes(sub.Findings))
	}
}

func TestCheck_reference(t *testing.T) {
	ref := sharedRef(t)
	p := parsertest.GoodPositions()
	p[0].AgencyCode = "XZ"
	sub := check(t, ses(t), parsertest.SESWorkbook(t, p, nil), parser.Context{Ref: ref})
	if !hasCode(sub.Findings, "unknown-agency", "A2") {
		t.Errorf("unknown agency not found: %v", codes(sub.Findings))
	}
	if sub := check(t, ses(t), parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil), parser.Context{Ref: ref}); sub.Deficient() {
		t.Errorf("good workbook with reference data: %v", codes(sub.Findings))
	}
}

func TestCheck_optionalEmptyAndNoCascade(t *testing.T) {
	def := ses(t)
	// The template's empty Retention Requests sheet is fine.
	sub := check(t, def, parsertest.SESWorkbook(t, parsertest.GoodPositions(), []parsertest.Retention{}), parser.Context{})
	if len(sub.Findings) != 0 || sub.Files[0].Sheets[1].Kind != "retention-request" {
		t.Errorf("empty optional sheet: %v %+v", codes(sub.Findings), sub.Files[0].Sheets)
	}
	// A bad date gives one finding, not also "date required" from the rule
	// that reads it.
	p := parsertest.GoodPositions()
	p[1].RedesignationDate = "sometime"
	sub = check(t, def, parsertest.SESWorkbook(t, p, nil), parser.Context{})
	if got := codes(sub.Findings); len(got) != 1 || got[0] != "bad-date@Position Report!I3" {
		t.Errorf("findings %v", got)
	}
}
