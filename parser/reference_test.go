package parser_test

import (
	"os"
	"strings"
	"testing"

	"intake/internal/testenv"
	"intake/parser"
)

func sharedRef(tb testing.TB) *parser.Reference {
	tb.Helper()
	ref, err := parser.LoadReference(os.DirFS(testenv.Shared(tb) + "/data"))
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}

func TestLoadReference(t *testing.T) {
	ref := sharedRef(t)
	if got := ref.Agency("hs"); got != "DEPARTMENT OF HOMELAND SECURITY" {
		t.Errorf("HS = %q", got)
	}
	if len(ref.Agencies) < 100 || len(ref.SubAgencies) < 400 || len(ref.PayPlans) < 100 || len(ref.Domains) < 1000 {
		t.Errorf("sizes %d %d %d %d", len(ref.Agencies), len(ref.SubAgencies), len(ref.PayPlans), len(ref.Domains))
	}
	if ref.PayPlans["ES"] == "" || ref.PayPlans["**"] != "" {
		t.Errorf("pay plans ES=%q **=%q", ref.PayPlans["ES"], ref.PayPlans["**"])
	}
	if ref.Domain("mail.opm.gov") == "" || ref.Domain("army.mil") != "" {
		t.Errorf("domains: opm %q army.mil %q", ref.Domain("mail.opm.gov"), ref.Domain("army.mil"))
	}
}

func TestParseReference_badHeader(t *testing.T) {
	_, err := parser.ParseReference(strings.NewReader("a,b\n1,2\n"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), `no column "agy"`) {
		t.Fatalf("err = %v", err)
	}
}
