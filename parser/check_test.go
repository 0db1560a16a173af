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
